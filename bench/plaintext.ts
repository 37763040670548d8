/**
 * `npm run bench -- plaintext`: the client's frozen prefix of a BERT-base-size
 * model (12 layers, hidden 768, 12 heads, FFN 3072, sequence 128; the bottom 6
 * layers and the embeddings frozen) on each plaintext engine, and the
 * onnxruntime rates the cost model's calibration states.
 *
 * The frozen variant is compiled against its base as a user compiles it; the
 * client's largest plaintext segment (the frozen prefix) is cut out as a plan
 * of its own (runtime/plaintext/segments.ts segmentGraph) and run through the
 * party sessions, as the client runs it, with --plaintext-engine ort and
 * interpreter, alternating. Session setup (onnxruntime sessions) is reported
 * apart from the per-inference time. The models are generated into
 * $TMPDIR/marillc-eval (MARILL_EVAL_CACHE overrides), never committed.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CALIBRATION } from '../compiler/backend/calibration.ts';
import { costPlan } from '../compiler/backend/cost.ts';
import { NETWORKS } from '../compiler/backend/network.ts';
import { loadModel, runPipeline } from '../compiler/driver.ts';
import { planWeights } from '../compiler/emit/bundle.ts';
import { matmulMacs } from '../compiler/emit/summary.ts';
import { loadBaseModel } from '../compiler/onnx/base-model.ts';
import { readJsonOrFail } from '../compiler/fs-util.ts';
import type { Graph } from '../ir/graph.ts';
import { evalOp } from '../ir/interpret.ts';
import type { Tensor } from '../ir/tensor.ts';
import { makeTensor } from '../ir/tensor.ts';
import { readInputs } from '../ir/tensor-json.ts';
import { DEFAULT_OPTIONS } from '../passes/context.ts';
import { inProcessFeeds } from '../runtime/dealer/feeds.ts';
import { PartyExecutor } from '../runtime/executor.ts';
import { channelPair } from '../runtime/net/channel.ts';
import type { PlaintextEngineName } from '../runtime/plaintext/engine.ts';
import { ortRunners } from '../runtime/plaintext/ort-engine.ts';
import type { Segment } from '../runtime/plaintext/segments.ts';
import { segmentGraph } from '../runtime/plaintext/segments.ts';
import type { Plan } from '../runtime/plan.ts';
import { makePlan } from '../runtime/plan.ts';
import { DEFAULT_FRAC_BITS } from '../runtime/ring/fixed.ts';
import { PartySession } from '../runtime/session.ts';
import { generateFamily } from './models/generate.ts';
import { BERT } from './models/bert.ts';
import type { ModelSize } from './models/spec.ts';
import { VARIANTS } from './models/variants.ts';

/** BERT-base dimensions; a 1000-token vocabulary (the embedding gather's cost does not grow with it). */
export const BERT_BASE_SIZE: ModelSize = {
  name: 'bert-base-vocab1000',
  layers: 12,
  hidden: 768,
  heads: 12,
  ffn: 3072,
  vocab: 1000,
  seq: 128,
  loraRank: 8,
};
const ROUNDS = { ort: 5, interpreter: 2 } as const;

interface EngineTimes {
  readonly setup_seconds: number;
  readonly inference_seconds: readonly number[];
  readonly median_seconds: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function weightMap(g: Graph, visibilities: ('public' | 'server')[]): Map<string, Tensor> {
  return new Map(planWeights(g, visibilities).map((w) => [w.name, w.tensor]));
}

/** Opens the two party sessions of a plan (in-process channel and dealer), as simulatePlan does. */
async function openSessions(
  plan: Plan,
  weights: Map<string, Tensor>,
  plaintextEngine: PlaintextEngineName,
): Promise<[PartySession, PartySession]> {
  const [toClient, toServer] = channelPair(['client', 'server']);
  const [serverFeed, clientFeed] = inProcessFeeds(plan);
  return Promise.all([
    PartySession.open({
      plan,
      party: 'server',
      channel: toClient,
      feed: serverFeed,
      weights,
      plaintextEngine,
    }),
    PartySession.open({
      plan,
      party: 'client',
      channel: toServer,
      feed: clientFeed,
      weights,
      plaintextEngine,
    }),
  ]);
}

async function timeEngine(
  plan: Plan,
  weights: Map<string, Tensor>,
  inputs: Map<string, Tensor>,
  engine: PlaintextEngineName,
  rounds: number,
): Promise<{ times: EngineTimes; outputs: Map<string, Tensor> }> {
  const t0 = performance.now();
  const [server, client] = await openSessions(plan, weights, engine);
  const setup = (performance.now() - t0) / 1000;
  const seconds: number[] = [];
  let outputs = new Map<string, Tensor>();
  try {
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      [, outputs] = await Promise.all([server.infer(new Map()), client.infer(inputs)]);
      seconds.push((performance.now() - t) / 1000);
    }
  } finally {
    server.close();
    client.close();
  }
  return {
    times: { setup_seconds: setup, inference_seconds: seconds, median_seconds: median(seconds) },
    outputs,
  };
}

/** The largest |ort - interpreter| over the live-outs, and the largest |interpreter| (its scale). */
function difference(
  a: Map<string, Tensor>,
  b: Map<string, Tensor>,
): { max_abs: number; max_abs_value: number } {
  let maxAbs = 0;
  let scale = 0;
  for (const [name, t] of b) {
    const x = a.get(name)!.data as Float32Array;
    const y = t.data as Float32Array;
    for (let i = 0; i < y.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(x[i]! - y[i]!));
      scale = Math.max(scale, Math.abs(y[i]!));
    }
  }
  return { max_abs: maxAbs, max_abs_value: scale };
}

function segmentMacs(g: Graph, s: Segment): number {
  return s.nodes.reduce(
    (sum, i) => (g.nodes[i]!.op === 'matmul' ? sum + matmulMacs(g, g.nodes[i]!) : sum),
    0,
  );
}

function random(shape: number[]): Tensor {
  let state = 12345;
  const n = shape.reduce((a, b) => a * b, 1);
  return makeTensor(
    'f32',
    shape,
    Float32Array.from({ length: n }, () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 2 ** 32 - 0.5;
    }),
  );
}

async function bestOf(n: number, run: () => unknown): Promise<number> {
  await run();
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await run();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

/** onnxruntime's single-threaded rates on BERT-base shapes: the matmuls of a layer, and its FFN-wide elementwise ops. */
async function ortRates(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [m, k, n] of [
    [128, 768, 768],
    [128, 768, 3072],
    [128, 3072, 768],
  ] as const) {
    const x = random([1, m, k]);
    const w = random([k, n]);
    const [runner] = await ortRunners(
      [
        {
          inputs: [{ name: 'x', type: { dtype: 'f32', shape: [1, m, k] } }],
          outputs: [{ name: 'y', type: { dtype: 'f32', shape: [1, m, n] } }],
          initializers: [{ name: 'w', tensor: w }],
          nodes: [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
        },
      ],
      'rate',
    );
    const s = await bestOf(5, () => runner!.run([x]));
    out[`matmul_${m}x${k}x${n}_gmac_per_s`] = (m * k * n) / s / 1e9;
    const si = await bestOf(1, () => evalOp('matmul', [x, w], {}, []));
    out[`interpreter_matmul_${m}x${k}x${n}_gmac_per_s`] = (m * k * n) / si / 1e9;
    await runner!.release();
  }
  const shape = [1, 128, 3072];
  const elements = 128 * 3072;
  for (const [name, op, attrs] of [
    ['add', 'Add', {}],
    ['gelu_erf', 'Gelu', {}],
  ] as const) {
    const [runner] = await ortRunners(
      [
        {
          inputs: [{ name: 'x', type: { dtype: 'f32', shape } }],
          outputs: [{ name: 'y', type: { dtype: 'f32', shape } }],
          initializers: [],
          nodes: [{ op, inputs: op === 'Add' ? ['x', 'x'] : ['x'], outputs: ['y'], attrs }],
        },
      ],
      'rate',
    );
    const x = random(shape);
    out[`${name}_million_elements_per_s`] = elements / (await bestOf(10, () => runner!.run([x]))) / 1e6;
    await runner!.release();
  }
  return out;
}

export async function runPlaintextBench(): Promise<unknown> {
  const cache = process.env['MARILL_EVAL_CACHE'] ?? join(tmpdir(), 'marillc-eval');
  const frozen = VARIANTS.find((v) => v.id === 'frozen')!;
  let t0 = performance.now();
  const set = generateFamily(BERT, BERT_BASE_SIZE, [frozen], cache);
  const generateSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const target = { network: NETWORKS.lan, fracBits: DEFAULT_FRAC_BITS };
  const options = { ...DEFAULT_OPTIONS, base: loadBaseModel(set.base) };
  const { graph } = runPipeline(loadModel(set.variants.get('frozen')!), options, {}, target);
  const compileSeconds = (performance.now() - t0) / 1000;
  const plan = makePlan(graph, { fracBits: DEFAULT_FRAC_BITS });
  const publicWeights = weightMap(graph, ['public']);
  const [sf, cf] = inProcessFeeds(plan);
  sf.close();
  cf.close();
  const segments = new PartyExecutor(plan, 'client', cf, publicWeights).segments;
  const prefix = [...segments].sort((a, b) => segmentMacs(graph, b) - segmentMacs(graph, a))[0]!;
  const prefixGraph = segmentGraph(graph, prefix);
  const prefixPlan = makePlan(prefixGraph, { fracBits: DEFAULT_FRAC_BITS });
  const allInputs = readInputs(graph, readJsonOrFail(set.input), set.input);
  const inputs = new Map([...allInputs].filter(([name]) => prefixGraph.inputs.includes(name)));

  // Alternate the engines: interpreter, ort, interpreter, ort (load on the machine hits both alike).
  const ort: EngineTimes[] = [];
  const interp: EngineTimes[] = [];
  let ortOut = new Map<string, Tensor>();
  let interpOut = new Map<string, Tensor>();
  for (let pass = 0; pass < 2; pass++) {
    const i = await timeEngine(prefixPlan, publicWeights, inputs, 'interpreter', ROUNDS.interpreter);
    interp.push(i.times);
    interpOut = i.outputs;
    const o = await timeEngine(prefixPlan, publicWeights, inputs, 'ort', ROUNDS.ort);
    ort.push(o.times);
    ortOut = o.outputs;
  }
  const ortMedian = median(ort.flatMap((t) => t.inference_seconds));
  const interpMedian = median(interp.flatMap((t) => t.inference_seconds));
  const lan = (engine: PlaintextEngineName) => costPlan(graph, { ...target, plaintextEngine: engine }).total;
  return {
    model: {
      family: 'bert',
      ...BERT_BASE_SIZE,
      frozen_layers: BERT_BASE_SIZE.layers / 2,
      generate_seconds: generateSeconds,
      compile_seconds: compileSeconds,
    },
    frozen_prefix: {
      client_segments: segments.length,
      nodes: prefix.nodes.length,
      matmul_gmacs: segmentMacs(graph, prefix) / 1e9,
      live_ins: prefix.inputs.length,
      live_outs: prefix.outputs.length,
    },
    ort: { runs: ort, median_seconds: ortMedian, gmac_per_s: segmentMacs(graph, prefix) / ortMedian / 1e9 },
    interpreter: {
      runs: interp,
      median_seconds: interpMedian,
      gmac_per_s: segmentMacs(graph, prefix) / interpMedian / 1e9,
    },
    speedup: interpMedian / ortMedian,
    ort_vs_interpreter: difference(ortOut, interpOut),
    ort_rates: await ortRates(),
    calibration: {
      ortMacsPerSecond: DEFAULT_CALIBRATION.ortMacsPerSecond,
      ortElementsPerSecond: DEFAULT_CALIBRATION.ortElementsPerSecond,
      floatMacsPerSecond: DEFAULT_CALIBRATION.floatMacsPerSecond,
      floatElementsPerSecond: DEFAULT_CALIBRATION.floatElementsPerSecond,
    },
    cost_model_lan: {
      ort: { est_seconds: lan('ort').est_seconds, plaintext_seconds: lan('ort').plaintext_seconds },
      interpreter: {
        est_seconds: lan('interpreter').est_seconds,
        plaintext_seconds: lan('interpreter').plaintext_seconds,
      },
    },
  };
}
