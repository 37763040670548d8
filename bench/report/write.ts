/**
 * The evaluation report: bench/results/REPORT.md (paper-style tables per
 * family and size, the plaintext overhead, the per-op profile, the CrypTen
 * comparison) and the SVG charts it links (communication and estimated lan
 * time per plan, stacked by op class, from the cost model's by_class).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OP_CLASSES } from '../../compiler/backend/cost.ts';
import type { CryptenRow } from '../evaluation-crypten.ts';
import type { EvaluationResult } from '../evaluation.ts';
import type { EvaluationRow } from '../evaluation-rows.ts';
import { formatBytes, formatError, formatRatio, formatSeconds, markdownTable } from './format.ts';
import type { Bar } from './svg.ts';
import { stackedBarChart } from './svg.ts';

const COLORS: Record<string, string> = {
  linear: '#4e79a7',
  softmax: '#e15759',
  gelu: '#f28e2b',
  norm: '#59a14f',
  other: '#9c9c9c',
};
const CLASS_KEYS = OP_CLASSES.map((key) => ({ key, color: COLORS[key]! }));

export function planLabel(r: EvaluationRow): string {
  return r.lora_form ? `${r.variant} (${r.lora_form})` : r.variant;
}

function groups(rows: readonly EvaluationRow[]): { family: string; size: string; rows: EvaluationRow[] }[] {
  const keys = [...new Set(rows.map((r) => `${r.family}/${r.size}`))];
  return keys.map((k) => {
    const [family, size] = k.split('/') as [string, string];
    return { family, size, rows: rows.filter((r) => r.family === family && r.size === size) };
  });
}

function chart(
  rows: readonly EvaluationRow[],
  title: string,
  metric: 'online_bytes' | 'est_seconds',
): string {
  const bars: Bar[] = rows.map((r) => ({
    label: planLabel(r),
    segments: OP_CLASSES.map((key) => ({ key, value: r.by_class_lan[key]?.[metric] ?? 0 })),
  }));
  return stackedBarChart({
    title,
    unit: metric === 'online_bytes' ? 'online bytes sent (both parties)' : 'estimated seconds, lan profile',
    keys: CLASS_KEYS,
    bars,
    format: metric === 'online_bytes' ? formatBytes : formatSeconds,
  });
}

function familyTable(rows: readonly EvaluationRow[]): string {
  return markdownTable(
    [
      'plan',
      'approx',
      'online comm',
      'preproc.',
      'rounds',
      'loopback',
      'est. lan',
      'est. wan',
      'comm ratio',
      'lan ratio',
      'wan ratio',
      'max err',
    ],
    rows.map((r) => [
      planLabel(r),
      r.approx,
      formatBytes(r.online_bytes),
      formatBytes(r.offline_bytes),
      String(r.rounds),
      formatSeconds(r.loopback_seconds),
      formatSeconds(r.est_lan_seconds),
      formatSeconds(r.est_wan_seconds),
      formatRatio(r.comm_ratio_vs_standard),
      formatRatio(r.lan_time_ratio_vs_standard),
      formatRatio(r.wan_time_ratio_vs_standard),
      formatError(r.max_abs_error),
    ]),
  );
}

/** The headline: the `marill` plan's gains (standard / marill) per family, size and approximation. */
export function headlineTable(rows: readonly EvaluationRow[]): string {
  const marill = rows.filter((r) => r.variant === 'marill');
  return markdownTable(
    [
      'model',
      'approx',
      'comm. gain',
      'lan time gain',
      'wan time gain',
      'rounds gain',
      'measured loopback gain',
    ],
    marill.map((r) => [
      `${r.family} ${r.size}`,
      r.approx,
      formatRatio(r.comm_gain_vs_standard),
      formatRatio(r.lan_time_gain_vs_standard),
      formatRatio(r.wan_time_gain_vs_standard),
      formatRatio(1 / r.rounds_ratio_vs_standard),
      formatRatio(1 / r.loopback_ratio_vs_standard),
    ]),
  );
}

function overheadTable(result: EvaluationResult): string {
  return markdownTable(
    ['model', 'interpreter', 'onnxruntime-node', 'MPC online (loopback)', 'vs interpreter', 'vs onnxruntime'],
    result.overhead.map((o) => [
      `${o.family} ${o.size}`,
      formatSeconds(o.interpreter_seconds),
      formatSeconds(o.onnxruntime_seconds),
      formatSeconds(o.mpc_loopback_seconds),
      formatRatio(o.overhead_vs_interpreter),
      formatRatio(o.overhead_vs_onnxruntime),
    ]),
  );
}

function profileSection(result: EvaluationResult): string {
  const p = result.profile;
  const classes = markdownTable(
    ['op class', 'measured online time', 'time share', 'online bytes', 'bytes share', 'predicted (lan)'],
    p.by_class.map((c) => [
      c.class,
      formatSeconds(c.measured_seconds),
      `${(100 * c.time_share).toFixed(1)}%`,
      formatBytes(c.online_bytes),
      `${(100 * c.bytes_share).toFixed(1)}%`,
      formatSeconds(c.predicted_lan_seconds),
    ]),
  );
  const top = [...p.ops].sort((a, b) => b.measured_seconds - a.measured_seconds).slice(0, 12);
  const ops = markdownTable(
    [
      'op',
      'protocol',
      'class',
      'measured time',
      'measured bytes',
      'predicted bytes',
      'rounds',
      'predicted lan',
    ],
    top.map((o) => [
      `${o.op} %${o.id}`,
      o.protocol,
      o.class,
      formatSeconds(o.measured_seconds),
      formatBytes(o.measured_online_bytes),
      formatBytes(o.predicted_online_bytes),
      String(o.predicted_rounds),
      formatSeconds(o.predicted_lan_seconds),
    ]),
  );
  return `Plan: \`${p.plan}\` (${p.ops.length} MPC ops).\n\n${classes}\n\nThe 12 slowest ops:\n\n${ops}\n`;
}

function cryptenSection(rows: readonly CryptenRow[]): string {
  if (rows.length === 0) return '(not run)\n';
  return markdownTable(
    [
      'model',
      'how',
      'CrypTen time',
      'ours (online)',
      'CrypTen rounds',
      'ours',
      'CrypTen sent',
      'ours (online)',
      'ours preproc.',
      'time gain',
      'rounds gain',
      'bytes gain',
    ],
    rows.map((r) => [
      r.model,
      r.how,
      formatSeconds(r.crypten.seconds),
      formatSeconds(r.ours.online_seconds),
      String(r.crypten.rounds),
      String(r.ours.rounds),
      formatBytes(r.crypten.bytes_sent),
      formatBytes(r.ours.online_bytes),
      formatBytes(r.ours.offline_bytes),
      formatRatio(r.time_gain),
      formatRatio(r.rounds_gain),
      formatRatio(r.bytes_gain),
    ]),
  );
}

/** Writes REPORT.md and the charts into `dir`; returns the chart file names. */
export function writeReport(dir: string, result: EvaluationResult, crypten: readonly CryptenRow[]): string[] {
  const charts: string[] = [];
  const sections: string[] = [];
  for (const g of groups(result.rows)) {
    const plain = g.rows.filter((r) => r.approx === 'none');
    const name = `${g.family}-${g.size}`;
    for (const [metric, what] of [
      ['online_bytes', 'comm'],
      ['est_seconds', 'time'],
    ] as const) {
      const file = `${what}-${name}.svg`;
      const title = `${g.family} ${g.size}: ${what === 'comm' ? 'online communication' : 'estimated lan time'} by op class`;
      writeFileSync(join(dir, file), chart(plain, title, metric));
      charts.push(file);
    }
    sections.push(
      `### ${g.family} ${g.size}\n\n${familyTable(g.rows)}\n\n![communication](comm-${name}.svg)\n![time](time-${name}.svg)\n`,
    );
  }
  const md = `# marillc evaluation report

Generated by \`npm run bench -- evaluation\` (bench/evaluation.ts) on ${result.machine.cpus} CPUs, Node ${result.machine.node},
in ${result.wall_seconds.toFixed(0)} s. Every plan was compiled and run once (dealer, server and client over TCP on
loopback, one process); bytes and rounds are measured, \`est. lan/wan\` are the cost model's estimates
(1 Gbit/s, 0.5 ms; 100 Mbit/s, 40 ms), with protocols selected for that network.

Ratios: \`ratio\` = plan / standard plan of the same family, size and approximation (below 1: cheaper);
\`gain\` = standard / plan, the paper's "x better". Communication = online bytes sent by both parties;
preprocessing (dealer) bytes are listed apart. \`approx mpcformer\` = \`--gelu quad --softmax 2quad\` on both the
plan and its standard baseline. Variants are defined in bench/models/variants.ts.

## Headline: all Marill techniques together vs standard fine-tuning

${headlineTable(result.rows)}

## Per family and size

${sections.join('\n')}
## Overhead against plaintext (standard plan, no approximation)

${overheadTable(result)}

## Where the time goes: per-op profile of the largest plan

${profileSection(result)}
## Against CrypTen (BERT-style encoder, hidden states in, every weight private)

${cryptenSection(crypten)}
`;
  writeFileSync(join(dir, 'REPORT.md'), md);
  return charts;
}
