/**
 * `npm run bench -- evaluation-scale`: Marill's gains at the paper's scale,
 * from the cost model only (no MPC run at this size): BERT-base (12 layers,
 * hidden 768, 12 heads, FFN 3072, vocabulary 30522, sequence 128) and
 * GPT-2-small (12 layers, hidden 768, 12 heads, FFN 3072, vocabulary 50257,
 * sequences 128 and 512), each variant of bench/models/variants.ts, with and
 * without the MPCFormer approximations (--gelu quad --softmax 2quad).
 *
 * Per row: online and dealer bytes and rounds of the lan plan (exact: the
 * bytes and rounds the runtime's protocols send, which tests hold to the
 * measurements op by op), and the calibrated lan and wan time estimates (each
 * from the plan compiled for that network; plaintext work at the default
 * engine's rates, onnxruntime). Ratios are against the standard plan of the
 * same model and approximation, and, for the approximated rows, also against
 * the exact standard plan. Models are generated into $TMPDIR/marillc-eval
 * (MARILL_EVAL_CACHE overrides), never committed. Rows are written to
 * bench/results/evaluation-scale.json as they come (a long run can be read
 * before it ends); bench/run.ts writes the whole result at the end.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlanCost } from '../compiler/backend/cost.ts';
import { costPlan } from '../compiler/backend/cost.ts';
import type { NetworkProfile } from '../compiler/backend/network.ts';
import { NETWORKS } from '../compiler/backend/network.ts';
import { loadModel, runPipeline } from '../compiler/driver.ts';
import { loadBaseModel } from '../compiler/onnx/base-model.ts';
import type { Graph } from '../ir/graph.ts';
import type { CompileOptions } from '../passes/context.ts';
import { DEFAULT_OPTIONS } from '../passes/context.ts';
import { DEFAULT_FRAC_BITS } from '../runtime/ring/fixed.ts';
import type { Approx } from './evaluation-run.ts';
import { BERT } from './models/bert.ts';
import { generateFamily } from './models/generate.ts';
import { GPT2 } from './models/gpt2.ts';
import type { Family, ModelSize } from './models/spec.ts';
import { VARIANTS, variantFits } from './models/variants.ts';

const BASE_DIMS = { layers: 12, hidden: 768, heads: 12, ffn: 3072, loraRank: 8 } as const;

const SCALES: readonly { family: Family; size: ModelSize }[] = [
  { family: BERT, size: { name: 'bert-base', ...BASE_DIMS, vocab: 30522, seq: 128 } },
  { family: GPT2, size: { name: 'gpt2-small-s128', ...BASE_DIMS, vocab: 50257, seq: 128 } },
  { family: GPT2, size: { name: 'gpt2-small-s512', ...BASE_DIMS, vocab: 50257, seq: 512 } },
];
const APPROXES: readonly Approx[] = ['none', 'mpcformer'];
const PARTIAL = join('bench', 'results', 'evaluation-scale.json');

export interface ScaleRow {
  readonly family: string;
  readonly size: string;
  readonly seq: number;
  readonly variant: string;
  readonly approx: Approx;
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
  readonly est_lan_seconds: number;
  readonly est_wan_seconds: number;
  readonly lan_plaintext_seconds: number;
  readonly by_class_lan: PlanCost['by_class'];
  /** standard / this (same approximation): the paper's "x better". */
  readonly comm_gain_vs_standard: number;
  readonly rounds_gain_vs_standard: number;
  readonly lan_time_gain_vs_standard: number;
  readonly wan_time_gain_vs_standard: number;
  /** Against the exact standard plan (approx none), for the approximated rows. */
  readonly comm_gain_vs_exact_standard: number;
  readonly lan_time_gain_vs_exact_standard: number;
  readonly wan_time_gain_vs_exact_standard: number;
  readonly compile_seconds: number;
}

function log(text: string): void {
  process.stderr.write(`evaluation-scale: ${text}\n`);
}

function options(base: CompileOptions['base'], noMarill: boolean, approx: Approx): CompileOptions {
  return {
    ...DEFAULT_OPTIONS,
    base,
    noMarill,
    ...(approx === 'mpcformer' ? { gelu: 'quad', softmax: '2quad' } : {}),
  };
}

function cost(loaded: Graph, opts: CompileOptions, network: NetworkProfile): PlanCost {
  const target = { network, fracBits: DEFAULT_FRAC_BITS };
  return costPlan(runPipeline(loaded, opts, {}, target).graph, target);
}

type Costed = Omit<
  ScaleRow,
  | 'comm_gain_vs_standard'
  | 'rounds_gain_vs_standard'
  | 'lan_time_gain_vs_standard'
  | 'wan_time_gain_vs_standard'
  | 'comm_gain_vs_exact_standard'
  | 'lan_time_gain_vs_exact_standard'
  | 'wan_time_gain_vs_exact_standard'
>;

function withGains(rows: readonly Costed[]): ScaleRow[] {
  const standard = (r: Costed, approx: Approx) =>
    rows.find((s) => s.size === r.size && s.variant === 'standard' && s.approx === approx) ?? r;
  return rows.map((r) => {
    const s = standard(r, r.approx);
    const e = standard(r, 'none');
    return {
      ...r,
      comm_gain_vs_standard: s.online_bytes / r.online_bytes,
      rounds_gain_vs_standard: s.rounds / r.rounds,
      lan_time_gain_vs_standard: s.est_lan_seconds / r.est_lan_seconds,
      wan_time_gain_vs_standard: s.est_wan_seconds / r.est_wan_seconds,
      comm_gain_vs_exact_standard: e.online_bytes / r.online_bytes,
      lan_time_gain_vs_exact_standard: e.est_lan_seconds / r.est_lan_seconds,
      wan_time_gain_vs_exact_standard: e.est_wan_seconds / r.est_wan_seconds,
    };
  });
}

export async function runEvaluationScale(): Promise<{ wall_seconds: number; rows: ScaleRow[] }> {
  const t0 = performance.now();
  const cache = process.env['MARILL_EVAL_CACHE'] ?? join(tmpdir(), 'marillc-eval');
  const rows: Costed[] = [];
  for (const { family, size } of SCALES) {
    const variants = VARIANTS.filter((v) => variantFits(v, size));
    const tg = performance.now();
    const set = generateFamily(family, size, variants, cache);
    log(`${size.name}: models in ${((performance.now() - tg) / 1000).toFixed(0)} s`);
    const base = loadBaseModel(set.base);
    for (const v of variants) {
      const loaded = loadModel(set.variants.get(v.id)!);
      for (const approx of APPROXES) {
        const tc = performance.now();
        const opts = options(base, v.noMarill, approx);
        const lan = cost(loaded, opts, NETWORKS.lan);
        const wan = cost(loaded, opts, NETWORKS.wan);
        const seconds = (performance.now() - tc) / 1000;
        rows.push({
          family: family.name,
          size: String(size.name),
          seq: size.seq,
          variant: v.id,
          approx,
          online_bytes: lan.total.online_bytes,
          offline_bytes: lan.total.offline_bytes,
          rounds: lan.total.rounds,
          est_lan_seconds: lan.total.est_seconds,
          est_wan_seconds: wan.total.est_seconds,
          lan_plaintext_seconds: lan.total.plaintext_seconds,
          by_class_lan: lan.by_class,
          compile_seconds: seconds,
        });
        writeFileSync(PARTIAL, `${JSON.stringify({ partial: true, rows: withGains(rows) }, null, 2)}\n`);
        log(
          `${size.name}/${v.id}/${approx}: ${(lan.total.online_bytes / 1e9).toFixed(2)} GB, ${lan.total.rounds} rounds, lan ${lan.total.est_seconds.toFixed(1)} s, wan ${wan.total.est_seconds.toFixed(1)} s (${seconds.toFixed(0)} s)`,
        );
      }
    }
  }
  return { wall_seconds: (performance.now() - t0) / 1000, rows: withGains(rows) };
}
