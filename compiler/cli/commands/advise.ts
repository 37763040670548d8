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
  promptLength?: number;
  maxNewTokens?: number;
}

function bytes(b: number): string {
  return b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`;
}

export function formatAdvice(a: Advice): string {
  const factors = a.headMerge.filter((h) => h.supported).map((h) => h.factor);
  const gen = a.generation;
  const header = [
    'tuned layers',
    ...factors.map((m) => `heads/${m}: online, rounds, est. s`),
    ...(gen
      ? factors.map(
          (m) => `heads/${m}, ${gen.prompt_length}+${gen.new_tokens} tokens: online, rounds, est. s`,
        )
      : []),
  ];
  const rows = Array.from({ length: a.layers + 1 }, (_, k) => [
    k === a.layers ? `${k} (all: standard)` : String(k),
    ...factors.map((m) => {
      const p = a.points.find((x) => x.layers === k && x.headMerge === m)!;
      return `${bytes(p.online_bytes)}, ${p.rounds}, ${p.est_seconds.toFixed(4)}`;
    }),
    ...(gen
      ? factors.map((m) => {
          const p = gen.points.find((x) => x.layers === k && x.headMerge === m)!;
          return `${bytes(p.online_bytes)}, ${p.rounds}, ${p.est_seconds.toFixed(4)}`;
        })
      : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  const notes = a.headMerge
    .filter((h) => !h.supported)
    .map((h) => `head merging by ${h.factor}: not supported here: ${h.reason}`);
  return `${[
    gen
      ? `${a.model}: ${a.layers} layers, a decoder with a KV cache; estimated cost on the ${a.network} profile of the prefill of ${gen.prompt_length} tokens and of a generation of ${gen.prompt_length} + ${gen.new_tokens} new tokens (docs/generation.md)`
      : `${a.model}: ${a.layers} layers; estimated cost per inference on the ${a.network} profile`,
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
    ...(flags.promptLength !== undefined ? { promptLength: flags.promptLength } : {}),
    ...(flags.maxNewTokens !== undefined ? { newTokens: flags.maxNewTokens } : {}),
  });
  if (flags.report) writeJson(flags.report, advice);
  emit(formatAdvice(advice), undefined);
}
