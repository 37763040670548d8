/**
 * One evaluated plan: compile a model against its base (protocols selected for
 * lan; a second compile selected for wan gives the wan estimate), write the
 * weight bundles, and run it over TCP on loopback in this process: dealer,
 * server and client in the dealer setting, server and client only in '2pc'
 * (they make the correlations in a preprocessing phase). Returns what was
 * measured and what was predicted.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadBaseModel } from '../compiler/onnx/base-model.ts';
import { planWeights, writeBundle } from '../compiler/emit/bundle.ts';
import type { PlanCost } from '../compiler/backend/cost.ts';
import { costPlan } from '../compiler/backend/cost.ts';
import { loadModel, runPipeline } from '../compiler/driver.ts';
import type { NetworkProfile } from '../compiler/backend/network.ts';
import { NETWORKS } from '../compiler/backend/network.ts';
import { COUNTED, measuredSection } from '../compiler/emit/cost-report.ts';
import type { SimulateOutcome } from '../compiler/party/run-party.ts';
import { simulate } from '../compiler/party/run-party.ts';
import type { Graph } from '../ir/graph.ts';
import type { CompileOptions } from '../passes/context.ts';
import { DEFAULT_OPTIONS } from '../passes/context.ts';
import type { Setting } from '../runtime/plan.ts';
import { DEFAULT_SETTING, makePlan } from '../runtime/plan.ts';
import { DEFAULT_FRAC_BITS } from '../runtime/ring/fixed.ts';

export type Approx = 'none' | 'mpcformer';

export interface PlanJob {
  readonly model: string;
  readonly base?: string;
  readonly input: string;
  readonly noMarill: boolean;
  readonly approx: Approx;
  /** Where the plan's weight bundles go. */
  readonly workDir: string;
  /** Where correlated randomness comes from (default '2pc-dealer'). */
  readonly setting?: Setting;
}

export interface PlanMeasurement {
  readonly setting: Setting;
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
  /** Setting '2pc': bytes both parties sent making one inference's correlations, and their flights. */
  readonly preprocess_bytes: number;
  readonly preprocess_rounds: number;
  /** Setting '2pc': the session's base OTs (once per session, apart from preprocess_bytes). */
  readonly preprocess_setup_bytes: number;
  /** Online phase: the larger party's summed protocol-op wall time. */
  readonly loopback_seconds: number;
  /** Setting '2pc': the larger party's summed preprocessing wall time (0 with a dealer). */
  readonly preprocess_seconds: number;
  /** The whole run (dealer, server, client, handshakes, plaintext work). */
  readonly wall_seconds: number;
  readonly est_lan_seconds: number;
  readonly est_wan_seconds: number;
  readonly max_abs_error: number;
  /** Whether the cost model's bytes and rounds (online, setup, preprocessing) equal the measured totals. */
  readonly prediction_exact: boolean;
  readonly lan: PlanCost;
  readonly wan: PlanCost;
  readonly run: SimulateOutcome;
}

const TIMEOUT_MS = 300_000;

function compileOptions(job: PlanJob): CompileOptions {
  return {
    ...DEFAULT_OPTIONS,
    ...(job.base !== undefined ? { base: loadBaseModel(job.base) } : {}),
    noMarill: job.noMarill,
    ...(job.approx === 'mpcformer' ? { gelu: 'quad', softmax: '2quad' } : {}),
  };
}

function compileFor(
  loaded: Graph,
  options: CompileOptions,
  network: NetworkProfile,
  setting: Setting,
): Graph {
  return runPipeline(loaded, options, {}, { network, fracBits: DEFAULT_FRAC_BITS, setting }).graph;
}

export function onlineSeconds(run: SimulateOutcome): number {
  const perParty = [0, 1].map((p) => run.report.ops.reduce((s, op) => s + op.seconds[p]!, 0));
  return Math.max(...perParty);
}

export function preprocessSeconds(run: SimulateOutcome): number {
  const perParty = [0, 1].map((p) => run.report.ops.reduce((s, op) => s + op.preprocessSeconds[p]!, 0));
  return Math.max(...perParty);
}

export interface PlanPrediction {
  /** The plan as compiled for lan (the one a measurement runs). */
  readonly graph: Graph;
  readonly lan: PlanCost;
  readonly wan: PlanCost;
}

/** Compiles `job` for lan and for wan in its setting and costs both (nothing runs). */
export function predictPlan(job: PlanJob): PlanPrediction {
  const setting = job.setting ?? DEFAULT_SETTING;
  const loaded = loadModel(job.model);
  const options = compileOptions(job);
  const graph = compileFor(loaded, options, NETWORKS.lan, setting);
  const lan = costPlan(graph, { network: NETWORKS.lan, fracBits: DEFAULT_FRAC_BITS, setting });
  const wan = costPlan(compileFor(loaded, options, NETWORKS.wan, setting), {
    network: NETWORKS.wan,
    fracBits: DEFAULT_FRAC_BITS,
    setting,
  });
  return { graph, lan, wan };
}

/** Whether every predicted count (online, setup, preprocessing, base OTs) equals the measured one. */
function countsEqual(predicted: PlanCost, run: SimulateOutcome): boolean {
  const measured = measuredSection(run.report, run.seconds).total;
  const keys = [...COUNTED, 'preprocess_setup_bytes', 'preprocess_setup_rounds'] as const;
  return keys.every((k) => predicted.total[k] === measured[k]);
}

/** Compiles `job` for lan and wan and runs the lan plan once. */
export async function measurePlan(job: PlanJob, stem: string): Promise<PlanMeasurement> {
  const setting = job.setting ?? DEFAULT_SETTING;
  const { graph, lan, wan } = predictPlan(job);
  mkdirSync(job.workDir, { recursive: true });
  const server = join(job.workDir, `${stem}.server.onnx`);
  writeBundle(server, planWeights(graph, ['public', 'server']));
  const publicWeights = planWeights(graph, ['public']);
  const client = publicWeights.length > 0 ? join(job.workDir, `${stem}.client.onnx`) : undefined;
  if (client) writeBundle(client, publicWeights);
  const plan = makePlan(graph, { fracBits: DEFAULT_FRAC_BITS, setting });
  const run = await simulate(plan, server, client, job.input, TIMEOUT_MS);
  const t = measuredSection(run.report, run.seconds).total;
  return {
    setting,
    online_bytes: t.online_bytes,
    offline_bytes: t.offline_bytes,
    rounds: t.rounds,
    preprocess_bytes: t.preprocess_bytes,
    preprocess_rounds: t.preprocess_rounds,
    preprocess_setup_bytes: t.preprocess_setup_bytes,
    loopback_seconds: onlineSeconds(run),
    preprocess_seconds: preprocessSeconds(run),
    wall_seconds: run.seconds,
    est_lan_seconds: lan.total.est_seconds,
    est_wan_seconds: wan.total.est_seconds,
    max_abs_error: run.maxAbsError,
    prediction_exact: countsEqual(lan, run),
    lan,
    wan,
    run,
  };
}
