/**
 * One evaluated plan: compile a model against its base (protocols selected for
 * lan; a second compile selected for wan gives the wan estimate), write the
 * weight bundles, and run it with dealer, server and client over TCP on
 * loopback in this process. Returns what was measured and what was predicted.
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
import type { SimulateOutcome } from '../compiler/party/run-party.ts';
import { simulate } from '../compiler/party/run-party.ts';
import type { Graph } from '../ir/graph.ts';
import type { CompileOptions } from '../passes/context.ts';
import { DEFAULT_OPTIONS } from '../passes/context.ts';
import { makePlan } from '../runtime/plan.ts';
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
}

export interface PlanMeasurement {
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
  /** Online phase: the larger party's summed protocol-op wall time. */
  readonly loopback_seconds: number;
  /** The whole run (dealer, server, client, handshakes, plaintext work). */
  readonly wall_seconds: number;
  readonly est_lan_seconds: number;
  readonly est_wan_seconds: number;
  readonly max_abs_error: number;
  /** Whether the cost model's bytes and rounds equal the measured totals. */
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

function compileFor(loaded: Graph, options: CompileOptions, network: NetworkProfile): Graph {
  return runPipeline(loaded, options, {}, { network, fracBits: DEFAULT_FRAC_BITS }).graph;
}

export function onlineSeconds(run: SimulateOutcome): number {
  const perParty = [0, 1].map((p) => run.report.ops.reduce((s, op) => s + op.seconds[p]!, 0));
  return Math.max(...perParty);
}

/** Compiles `job` for lan and wan and runs the lan plan once. */
export async function measurePlan(job: PlanJob, stem: string): Promise<PlanMeasurement> {
  const loaded = loadModel(job.model);
  const options = compileOptions(job);
  const graph = compileFor(loaded, options, NETWORKS.lan);
  const lan = costPlan(graph, { network: NETWORKS.lan, fracBits: DEFAULT_FRAC_BITS });
  const wan = costPlan(compileFor(loaded, options, NETWORKS.wan), {
    network: NETWORKS.wan,
    fracBits: DEFAULT_FRAC_BITS,
  });
  mkdirSync(job.workDir, { recursive: true });
  const server = join(job.workDir, `${stem}.server.onnx`);
  writeBundle(server, planWeights(graph, ['public', 'server']));
  const publicWeights = planWeights(graph, ['public']);
  const client = publicWeights.length > 0 ? join(job.workDir, `${stem}.client.onnx`) : undefined;
  if (client) writeBundle(client, publicWeights);
  const plan = makePlan(graph, { fracBits: DEFAULT_FRAC_BITS });
  const run = await simulate(plan, server, client, job.input, TIMEOUT_MS);
  const t = run.report.totals;
  return {
    online_bytes: t.onlineBytes,
    offline_bytes: t.offlineBytes,
    rounds: t.rounds,
    loopback_seconds: onlineSeconds(run),
    wall_seconds: run.seconds,
    est_lan_seconds: lan.total.est_seconds,
    est_wan_seconds: wan.total.est_seconds,
    max_abs_error: run.maxAbsError,
    prediction_exact:
      lan.total.online_bytes === t.onlineBytes &&
      lan.total.offline_bytes === t.offlineBytes &&
      lan.total.rounds === t.rounds,
    lan,
    wan,
    run,
  };
}
