/**
 * `npm run bench -- evaluation`: does marillc deliver Marill's gains?
 *
 * For each family (BERT-, GPT-2-, LLaMA-style) x size (tiny, larger) x variant
 * (bench/models/variants.ts) x approximation (none; mpcformer = --gelu quad
 * --softmax 2quad), generates the models, compiles against the family's base
 * (the standard plan with --no-marill), runs each plan over loopback TCP
 * (dealer, server, client) and records measured bytes, rounds, online time and
 * error, with the cost model's lan/wan estimates. Also, in the same run: the
 * plaintext overhead (interpreter and onnxruntime-node on the standard model),
 * the per-op profile of the largest plan and the CrypTen comparison.
 *
 * Writes bench/results/evaluation.json (returned to bench/run.ts),
 * crypten-comparison.json, REPORT.md and the SVG charts. Models are generated
 * into $TMPDIR/marillc-eval (MARILL_EVAL_CACHE overrides), never committed.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CryptenRow } from './evaluation-crypten.ts';
import { cryptenComparison } from './evaluation-crypten.ts';
import type { PlaintextTimes } from './evaluation-plaintext.ts';
import { plaintextTimes } from './evaluation-plaintext.ts';
import type { Profile } from './evaluation-profile.ts';
import { profileRun } from './evaluation-profile.ts';
import type { EvaluationRow, Measured } from './evaluation-rows.ts';
import { evaluationRows } from './evaluation-rows.ts';
import type { Approx, PlanMeasurement } from './evaluation-run.ts';
import { measurePlan } from './evaluation-run.ts';
import { BERT } from './models/bert.ts';
import { generateFamily } from './models/generate.ts';
import { GPT2 } from './models/gpt2.ts';
import { LLAMA } from './models/llama.ts';
import type { Family, SizeName } from './models/spec.ts';
import { SIZES } from './models/spec.ts';
import { VARIANTS, variantFits } from './models/variants.ts';
import { writeReport } from './report/write.ts';

export const FAMILIES: readonly Family[] = [BERT, GPT2, LLAMA];
const APPROXES: readonly Approx[] = ['none', 'mpcformer'];
export const RESULTS_DIR = join('bench', 'results');

export interface OverheadRow extends PlaintextTimes {
  readonly family: string;
  readonly size: string;
  readonly mpc_loopback_seconds: number;
  readonly mpc_wall_seconds: number;
  readonly overhead_vs_interpreter: number;
  readonly overhead_vs_onnxruntime: number;
}

export interface EvaluationResult {
  readonly machine: { readonly cpus: number; readonly node: string };
  readonly wall_seconds: number;
  readonly rows: readonly EvaluationRow[];
  readonly overhead: readonly OverheadRow[];
  readonly profile: Profile;
}

function log(text: string): void {
  process.stderr.write(`evaluation: ${text}\n`);
}

interface FamilyRun {
  readonly measured: Measured[];
  readonly overhead: OverheadRow;
  readonly largest: { readonly label: string; readonly m: PlanMeasurement };
}

async function evaluateFamily(family: Family, sizeName: SizeName, cache: string): Promise<FamilyRun> {
  const size = SIZES[sizeName];
  const variants = VARIANTS.filter((v) => variantFits(v, size));
  const set = generateFamily(family, size, variants, cache);
  const measured: Measured[] = [];
  for (const approx of APPROXES)
    for (const v of variants) {
      const m = await measurePlan(
        {
          model: set.variants.get(v.id)!,
          base: set.base,
          input: set.input,
          noMarill: v.noMarill,
          approx,
          workDir: join(set.dir, 'plans'),
        },
        `${v.id}-${approx}`,
      );
      log(
        `${family.name}/${size.name}/${v.id}/${approx}: ${m.online_bytes} B, ${m.rounds} rounds, ${m.loopback_seconds.toFixed(2)} s`,
      );
      measured.push({
        family: family.name,
        size: size.name,
        variant: v.name,
        loraForm: v.loraForm ?? null,
        approx,
        m,
      });
    }
  const standard = measured.find((r) => r.variant === 'standard' && r.approx === 'none')!.m;
  const plain = await plaintextTimes(set.variants.get('standard')!, set.input);
  return {
    measured,
    overhead: {
      family: family.name,
      size: size.name,
      ...plain,
      mpc_loopback_seconds: standard.loopback_seconds,
      mpc_wall_seconds: standard.wall_seconds,
      overhead_vs_interpreter: standard.loopback_seconds / plain.interpreter_seconds,
      overhead_vs_onnxruntime: standard.loopback_seconds / plain.onnxruntime_seconds,
    },
    largest: { label: `${family.name}/${size.name}/standard/none`, m: standard },
  };
}

export async function runEvaluation(
  sizes: readonly SizeName[] = ['tiny', 'larger'],
  withCrypten = true,
): Promise<EvaluationResult> {
  const t0 = performance.now();
  const cache = process.env['MARILL_EVAL_CACHE'] ?? join(tmpdir(), 'marillc-eval');
  const runs: FamilyRun[] = [];
  for (const size of sizes)
    for (const family of FAMILIES) runs.push(await evaluateFamily(family, size, cache));
  const largest = runs.map((r) => r.largest).reduce((a, b) => (b.m.online_bytes > a.m.online_bytes ? b : a));
  const crypten: CryptenRow[] = withCrypten ? await cryptenComparison(cache) : [];
  if (withCrypten)
    writeFileSync(
      join(RESULTS_DIR, 'crypten-comparison.json'),
      `${JSON.stringify({ rows: crypten }, null, 2)}\n`,
    );
  const result: EvaluationResult = {
    machine: { cpus: (await import('node:os')).availableParallelism(), node: process.version },
    wall_seconds: (performance.now() - t0) / 1000,
    rows: evaluationRows(runs.flatMap((r) => r.measured)),
    overhead: runs.map((r) => r.overhead),
    profile: profileRun(largest.label, largest.m.run.report, largest.m.lan),
  };
  writeReport(RESULTS_DIR, result, crypten);
  log(`done in ${result.wall_seconds.toFixed(0)} s`);
  return result;
}
