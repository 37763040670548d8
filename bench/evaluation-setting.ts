/**
 * `npm run bench -- evaluation-2pc` (and part of `npm run bench -- evaluation`):
 * Marill's gains in both settings, side by side: with a dealer ('2pc-dealer')
 * and without one ('2pc', the parties make every correlation in a
 * preprocessing phase).
 *
 * For each family and every variant (bench/models/variants.ts), no
 * approximation:
 *   tiny    every plan compiled and run in both settings (loopback TCP, in
 *           this process): bytes, rounds, online and preprocessing time,
 *           error against plaintext, and whether the cost model's counts equal
 *           the measured ones;
 *   larger  every plan compiled in both settings and costed by the cost model
 *           (its bytes and rounds are exact: the tiny runs and the tests hold
 *           them to the measured ones), except the plans named in
 *           `measureLarger`, which are run as at tiny. Standard plans at this
 *           size need gigabytes of preprocessing without a dealer (weight
 *           products by OT), minutes per run, hence predicted.
 *
 * Rows and gains: bench/evaluation-setting-rows.ts (what communication and
 * time mean per setting). Writes bench/results/evaluation-2pc.json (returned
 * to bench/run.ts, or written by runEvaluationWithSettings).
 */
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Setting } from '../runtime/plan.ts';
import { SETTINGS } from '../runtime/plan.ts';
import type { PlanJob, PlanMeasurement, PlanPrediction } from './evaluation-run.ts';
import { measurePlan, predictPlan } from './evaluation-run.ts';
import type { SettingEntry, SettingFigures, SettingRow, TargetCheck } from './evaluation-setting-rows.ts';
import { settingRows, targetChecks } from './evaluation-setting-rows.ts';
import { FAMILIES } from './evaluation.ts';
import { generateFamily } from './models/generate.ts';
import type { Family, FamilyName, SizeName } from './models/spec.ts';
import { SIZES } from './models/spec.ts';
import { VARIANTS, variantFits } from './models/variants.ts';

export interface SettingEvaluationOptions {
  readonly sizes?: readonly SizeName[];
  /** Plans of the larger size that are run rather than only costed: family and variant id. */
  readonly measureLarger?: readonly { readonly family: FamilyName; readonly variant: string }[];
}

export interface SettingEvaluationResult {
  readonly machine: { readonly cpus: number; readonly node: string };
  readonly wall_seconds: number;
  readonly rows: readonly SettingRow[];
  /** All techniques vs standard in '2pc' against the targets. */
  readonly targets: readonly TargetCheck[];
}

/** The all-techniques plan of BERT at the larger size: its '2pc' run takes about 40 s here (1 GB of preprocessing). */
const MEASURE_LARGER = [{ family: 'bert', variant: 'marill' }] as const;

/**
 * `MARILL_EVAL_MEASURE_LARGER=bert/standard,bert/marill`: the larger plans to run (2pc) instead of
 * costing; a standard plan there takes about 5 minutes (9.5 GB of preprocessing).
 */
function measureLargerFromEnv(): SettingEvaluationOptions['measureLarger'] {
  const text = process.env['MARILL_EVAL_MEASURE_LARGER'];
  if (text === undefined || text === '') return undefined;
  return text.split(',').map((item) => {
    const [family, variant] = item.split('/');
    if (!family || !variant || !['bert', 'gpt2', 'llama'].includes(family))
      throw new Error(`MARILL_EVAL_MEASURE_LARGER: '${item}' is not family/variant (e.g. bert/standard)`);
    return { family: family as FamilyName, variant };
  });
}

function log(text: string): void {
  process.stderr.write(`evaluation-2pc: ${text}\n`);
}

function predictedFigures(p: PlanPrediction): SettingFigures {
  return {
    online_bytes: p.lan.total.online_bytes,
    offline_bytes: p.lan.total.offline_bytes,
    rounds: p.lan.total.rounds,
    preprocess_bytes: p.lan.total.preprocess_bytes,
    preprocess_rounds: p.lan.total.preprocess_rounds,
    preprocess_setup_bytes: p.lan.total.preprocess_setup_bytes,
    est_lan_seconds: p.lan.total.total_seconds,
    est_wan_seconds: p.wan.total.total_seconds,
    measured: null,
  };
}

function measuredFigures(m: PlanMeasurement): SettingFigures {
  return {
    online_bytes: m.online_bytes,
    offline_bytes: m.offline_bytes,
    rounds: m.rounds,
    preprocess_bytes: m.preprocess_bytes,
    preprocess_rounds: m.preprocess_rounds,
    preprocess_setup_bytes: m.preprocess_setup_bytes,
    est_lan_seconds: m.lan.total.total_seconds,
    est_wan_seconds: m.wan.total.total_seconds,
    measured: {
      online_seconds: m.loopback_seconds,
      preprocess_seconds: m.preprocess_seconds,
      max_abs_error: m.max_abs_error,
      prediction_exact: m.prediction_exact,
      wall_seconds: m.wall_seconds,
    },
  };
}

function describe(e: SettingEntry): string {
  const f = e.figures;
  const run = f.measured
    ? `measured ${f.measured.online_seconds.toFixed(2)} s online + ${f.measured.preprocess_seconds.toFixed(2)} s preprocessing, exact ${String(f.measured.prediction_exact)}`
    : 'predicted';
  return (
    `${e.family}/${e.size}/${e.setting}/${e.variant}: ${f.online_bytes} B online, ${f.preprocess_bytes} B preprocessing, ` +
    `${f.rounds}+${f.preprocess_rounds} rounds, est lan ${f.est_lan_seconds.toFixed(2)} s; ${run}`
  );
}

async function evaluateFamily(
  family: Family,
  sizeName: SizeName,
  cache: string,
  measureLarger: SettingEvaluationOptions['measureLarger'],
): Promise<SettingEntry[]> {
  const size = SIZES[sizeName];
  const variants = VARIANTS.filter((v) => variantFits(v, size));
  const set = generateFamily(family, size, variants, cache);
  const entries: SettingEntry[] = [];
  for (const setting of SETTINGS as readonly Setting[])
    for (const v of variants) {
      const job: PlanJob = {
        model: set.variants.get(v.id)!,
        base: set.base,
        input: set.input,
        noMarill: v.noMarill,
        approx: 'none',
        workDir: join(set.dir, 'plans'),
        setting,
      };
      const run =
        sizeName === 'tiny' ||
        (measureLarger ?? []).some(
          (m) => m.family === family.name && m.variant === v.id && setting === '2pc',
        );
      const figures = run
        ? measuredFigures(await measurePlan(job, `${v.id}-${setting}`))
        : predictedFigures(predictPlan(job));
      const entry: SettingEntry = { family: family.name, size: size.name, setting, variant: v.id, figures };
      log(describe(entry));
      entries.push(entry);
    }
  return entries;
}

export async function runSettingEvaluation(
  opts: SettingEvaluationOptions = {},
): Promise<SettingEvaluationResult> {
  const t0 = performance.now();
  const cache = process.env['MARILL_EVAL_CACHE'] ?? join(tmpdir(), 'marillc-eval');
  const entries: SettingEntry[] = [];
  for (const size of opts.sizes ?? (['tiny', 'larger'] as const))
    for (const family of FAMILIES)
      entries.push(
        ...(await evaluateFamily(
          family,
          size,
          cache,
          opts.measureLarger ?? measureLargerFromEnv() ?? MEASURE_LARGER,
        )),
      );
  const rows = settingRows(entries);
  const result: SettingEvaluationResult = {
    machine: { cpus: availableParallelism(), node: process.version },
    wall_seconds: (performance.now() - t0) / 1000,
    rows,
    targets: targetChecks(rows),
  };
  log(`done in ${result.wall_seconds.toFixed(0)} s`);
  return result;
}
