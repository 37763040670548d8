/** `marillc advise BASE.onnx`: the cost table by fine-tuned layers and head-merge factor. */
import type { Advice } from '../../advise/advise.ts';
import { advise } from '../../advise/advise.ts';
import type { NetworkProfile } from '../../backend/network.ts';
import { emit, shapesFrom, writeJson } from './common.ts';

export interface AdviseFlags {
  network: NetworkProfile;
  shape?: string[];
  fracBits: number;
  report?: string;
}

function bytes(b: number): string {
  return b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`;
}

export function formatAdvice(a: Advice): string {
  const factors = a.headMerge.filter((h) => h.supported).map((h) => h.factor);
  const header = ['tuned layers', ...factors.map((m) => `heads/${m}: online, rounds, est. s`)];
  const rows = Array.from({ length: a.layers + 1 }, (_, k) => [
    k === a.layers ? `${k} (all: standard)` : String(k),
    ...factors.map((m) => {
      const p = a.points.find((x) => x.layers === k && x.headMerge === m)!;
      return `${bytes(p.online_bytes)}, ${p.rounds}, ${p.est_seconds.toFixed(4)}`;
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  const notes = a.headMerge
    .filter((h) => !h.supported)
    .map((h) => `head merging by ${h.factor}: not supported here: ${h.reason}`);
  return `${[
    `${a.model}: ${a.layers} layers; estimated cost per inference on the ${a.network} profile`,
    'by number of fine-tuned top layers (the rest frozen) and head-merge factor:',
    '',
    line(header),
    ...rows.map(line),
    ...(notes.length > 0 ? ['', ...notes] : []),
  ].join('\n')}\n`;
}

export function adviseCommand(model: string, flags: AdviseFlags): void {
  const advice = advise(model, {
    network: flags.network,
    fracBits: flags.fracBits,
    shapes: shapesFrom(flags.shape),
  });
  if (flags.report) writeJson(flags.report, advice);
  emit(formatAdvice(advice), undefined);
}
