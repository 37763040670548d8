/**
 * How predicted and measured costs are shown: the `--emit cost` table, the
 * run summary lines, the JSON report sections (`cost`, `measured`), and the
 * op-by-op comparison that holds the cost model to the runtime's counts.
 */
import type { RunReport } from '../../runtime/mpc/accounting.ts';
import { OT_SETUP_ID } from '../../runtime/twopc/feed.ts';
import type { CostTotals, OpClass, OpCost, PlanCost, TrafficCounts } from '../backend/cost.ts';
import { OP_CLASSES } from '../backend/cost.ts';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

function table(rows: readonly (readonly string[])[], leftColumns = 1): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const CLASS_LABEL: Record<OpClass, string> = {
  linear: 'linear',
  softmax: 'softmax',
  gelu: 'GeLU/act.',
  norm: 'norm',
  other: 'other',
};

const ms = (seconds: number): string => (seconds * 1e3).toFixed(2);

/**
 * `--emit cost`: every protocol op, then totals and where the time goes. With a
 * dealer, its bytes per op (offline); without one (setting '2pc'), the
 * parties' preprocessing per op: bytes, flights and estimated time.
 */
export function formatCostTable(c: PlanCost): string {
  const dealerFree = c.setting === '2pc';
  const head = dealerFree
    ? ['online', 'rounds', 'est. ms', 'preproc.', 'p. rounds', 'p. ms']
    : ['online', 'offline', 'rounds', 'est. ms'];
  const figures = (x: OpCost | CostTotals): string[] =>
    dealerFree
      ? [
          formatBytes(x.online_bytes),
          String(x.rounds),
          ms(x.est_seconds),
          formatBytes(x.preprocess_bytes),
          String(x.preprocess_rounds),
          ms(x.preprocess_seconds),
        ]
      : [formatBytes(x.online_bytes), formatBytes(x.offline_bytes), String(x.rounds), ms(x.est_seconds)];
  const rows: string[][] = [['id', 'op', 'protocol', ...head]];
  for (const o of c.ops) rows.push([`%${o.id}`, o.op, o.protocol, ...figures(o)]);
  rows.push(['total', '', '', ...figures(c.total)]);
  return `${table(rows, 3)}\n\n${formatClassTable(c)}${formatCostLine(c)}\n`;
}

/** Where the predicted time and bytes go, by op class (and, without a dealer, the preprocessing). */
export function formatClassTable(c: PlanCost): string {
  const t = c.total;
  const dealerFree = c.setting === '2pc';
  const classes: string[][] = [
    [
      'class',
      'online',
      'rounds',
      'est. ms',
      'share of time',
      ...(dealerFree ? ['preproc.', 'p. ms', 'share of p.'] : []),
    ],
  ];
  const share = (part: number, whole: number) => `${(whole > 0 ? (100 * part) / whole : 0).toFixed(1)}%`;
  for (const k of OP_CLASSES) {
    const x = c.by_class[k];
    classes.push([
      CLASS_LABEL[k],
      formatBytes(x.online_bytes),
      String(x.rounds),
      ms(x.est_seconds),
      share(x.est_seconds, t.est_seconds),
      ...(dealerFree
        ? [
            formatBytes(x.preprocess_bytes),
            ms(x.preprocess_seconds),
            // Of the ops' own preprocessing times (the plan's total merges some flights).
            share(
              x.preprocess_seconds,
              OP_CLASSES.reduce((s, j) => s + c.by_class[j].preprocess_seconds, 0),
            ),
          ]
        : []),
    ]);
  }
  return `${table(classes)}\n`;
}

/** One line: the plan's predicted totals. */
export function formatCostLine(c: PlanCost): string {
  const t = c.total;
  const setup =
    t.setup_bytes > 0 ? `; once per session ${formatBytes(t.setup_bytes)}, ${t.setup_rounds} rounds` : '';
  if (c.setting !== '2pc')
    return (
      `predicted (${c.setting}, ${c.network}): online ${formatBytes(t.online_bytes)} in ${t.rounds} rounds, ` +
      `preprocessing ${formatBytes(t.offline_bytes)}${setup}; est. ${t.est_seconds.toFixed(3)} s`
    );
  return (
    `predicted (${c.setting}, ${c.network}): online ${formatBytes(t.online_bytes)} in ${t.rounds} rounds, est. ${t.est_seconds.toFixed(3)} s; ` +
    `preprocessing by the parties ${formatBytes(t.preprocess_bytes)} in ${t.preprocess_rounds} rounds, est. ${t.preprocess_seconds.toFixed(3)} s${setup}; ` +
    `base OTs once per session ${formatBytes(t.preprocess_setup_bytes)} in ${t.preprocess_setup_rounds} rounds, est. ${t.preprocess_setup_seconds.toFixed(3)} s; ` +
    `est. ${t.total_seconds.toFixed(3)} s per inference with preprocessing`
  );
}

/** Counts of a measured run: what the cost model predicts (docs/cost-model.md). */
export type MeasuredCounts = TrafficCounts;

export interface MeasuredSection {
  readonly total: MeasuredCounts & {
    readonly seconds: number;
    /** Setting '2pc': the session's base OTs (pseudo-op `ot-setup` of the runtime's report). */
    readonly preprocess_setup_bytes: number;
    readonly preprocess_setup_rounds: number;
  };
  readonly ops: readonly (MeasuredCounts & {
    readonly id: string;
    readonly op: string;
    readonly protocol: string;
    readonly seconds: number;
  })[];
}

export function measuredSection(r: RunReport, seconds: number): MeasuredSection {
  // The base OTs belong to no op: the runtime accounts them to a pseudo-op, reported apart here.
  const ot = r.ops.find((o) => o.id === OT_SETUP_ID);
  const otBytes = ot ? ot.setupBytes[0] + ot.setupBytes[1] : 0;
  return {
    total: {
      online_bytes: r.totals.onlineBytes,
      offline_bytes: r.totals.offlineBytes,
      rounds: r.totals.rounds,
      setup_bytes: r.totals.setupBytes - otBytes,
      setup_rounds: r.totals.setupRounds - (ot?.setupRounds ?? 0),
      preprocess_bytes: r.totals.preprocessBytes,
      preprocess_rounds: r.totals.preprocessRounds,
      preprocess_setup_bytes: otBytes,
      preprocess_setup_rounds: ot?.setupRounds ?? 0,
      seconds,
    },
    ops: r.ops
      .filter((o) => o.id !== OT_SETUP_ID)
      .map((o) => ({
        id: o.id,
        op: o.op,
        protocol: o.protocol,
        online_bytes: o.onlineBytes[0] + o.onlineBytes[1],
        offline_bytes: o.offlineBytes[0] + o.offlineBytes[1],
        rounds: o.rounds,
        setup_bytes: o.setupBytes[0] + o.setupBytes[1],
        setup_rounds: o.setupRounds,
        preprocess_bytes: o.preprocessBytes[0] + o.preprocessBytes[1],
        preprocess_rounds: o.preprocessRounds,
        seconds: Math.max(o.seconds[0], o.seconds[1]),
      })),
  };
}

export function formatMeasuredLine(m: MeasuredSection): string {
  const t = m.total;
  const setup =
    t.setup_bytes > 0 ? `; once per session ${formatBytes(t.setup_bytes)}, ${t.setup_rounds} rounds` : '';
  const preprocessing =
    t.preprocess_bytes > 0
      ? `preprocessing by the parties ${formatBytes(t.preprocess_bytes)} in ${t.preprocess_rounds} rounds` +
        `, base OTs ${formatBytes(t.preprocess_setup_bytes)} in ${t.preprocess_setup_rounds} rounds`
      : `preprocessing ${formatBytes(t.offline_bytes)}`;
  return (
    `measured: online ${formatBytes(t.online_bytes)} in ${t.rounds} rounds, ` +
    `${preprocessing}${setup}; ${t.seconds.toFixed(3)} s wall`
  );
}

/** The counts of an op the cost model predicts and a run measures. */
export const COUNTED = [
  'online_bytes',
  'offline_bytes',
  'rounds',
  'setup_bytes',
  'setup_rounds',
  'preprocess_bytes',
  'preprocess_rounds',
] as const;

/**
 * Ops whose measured bytes or rounds differ from the prediction (one line
 * each; empty when the cost model's promise holds).
 */
export function costMismatches(predicted: PlanCost, measured: MeasuredSection): string[] {
  const byId = new Map(measured.ops.map((o) => [o.id, o]));
  const out: string[] = [];
  for (const p of predicted.ops) {
    const m = byId.get(p.id);
    if (!m) {
      out.push(`%${p.id} ${p.op}: predicted but not measured`);
      continue;
    }
    for (const key of COUNTED)
      if (p[key] !== m[key])
        out.push(`%${p.id} ${p.op} (${p.protocol}): ${key} predicted ${p[key]}, measured ${m[key]}`);
  }
  for (const m of measured.ops)
    if (!predicted.ops.some((p) => p.id === m.id)) out.push(`%${m.id}: measured but not predicted`);
  return out;
}
