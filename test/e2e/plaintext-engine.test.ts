/**
 * The onnxruntime plaintext engine against the interpreter on the example
 * models, through the party sessions (simulatePlan), compiled as a user
 * compiles them:
 *   - the base model against itself (every weight public): the whole model is
 *     client plaintext, one segment; outputs agree within 1e-4 relative;
 *   - the frozen variant against the base: the client's frozen prefix is a
 *     segment; that prefix alone (its live-outs as outputs) agrees within 1e-4
 *     relative, and the whole plan's outputs stay within the MPC tolerance of
 *     the plaintext reference with either engine.
 */
import { describe, expect, it } from 'vitest';
import { planWeights } from '../../compiler/emit/bundle.ts';
import { NETWORKS } from '../../compiler/backend/network.ts';
import { runPipeline } from '../../compiler/driver.ts';
import { readJsonOrFail } from '../../compiler/fs-util.ts';
import { loadBaseModel } from '../../compiler/onnx/base-model.ts';
import type { ExampleFamily } from '../../examples/manifest.ts';
import { examplePath, loadExamplesManifest } from '../../examples/manifest.ts';
import type { Graph } from '../../ir/graph.ts';
import { interpret } from '../../ir/interpret.ts';
import { readInputs } from '../../ir/tensor-json.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { tensorMaxAbsDiff } from '../../ir/tensor.ts';
import { DEFAULT_OPTIONS } from '../../passes/context.ts';
import { inProcessFeeds } from '../../runtime/dealer/feeds.ts';
import { PartyExecutor } from '../../runtime/executor.ts';
import type { PlaintextEngineName } from '../../runtime/plaintext/engine.ts';
import type { Segment } from '../../runtime/plaintext/segments.ts';
import { segmentGraph } from '../../runtime/plaintext/segments.ts';
import type { Plan } from '../../runtime/plan.ts';
import { makePlan } from '../../runtime/plan.ts';
import { DEFAULT_FRAC_BITS } from '../../runtime/ring/fixed.ts';
import { simulatePlan } from '../../runtime/session.ts';
import { loadExampleVariant } from '../fixtures/examples.ts';
import { mismatch } from '../fixtures/ort-op.ts';

const FAMILIES = loadExamplesManifest().families;
const MPC_TOLERANCE = 1e-2;

interface Compiled {
  readonly graph: Graph;
  readonly plan: Plan;
  readonly inputs: Map<string, Tensor>;
  readonly weights: { server: Map<string, Tensor>; client: Map<string, Tensor> };
}

function weightMap(graph: Graph, visibilities: ('public' | 'server')[]): Map<string, Tensor> {
  return new Map(planWeights(graph, visibilities).map((w) => [w.name, w.tensor]));
}

function compile(family: ExampleFamily, variant: string): Compiled {
  const options = { ...DEFAULT_OPTIONS, base: loadBaseModel(examplePath(`${family.name}/base.onnx`)) };
  const target = { network: NETWORKS.lan, fracBits: DEFAULT_FRAC_BITS };
  const { graph } = runPipeline(loadExampleVariant(family, variant), options, {}, target);
  return {
    graph,
    plan: makePlan(graph, { fracBits: DEFAULT_FRAC_BITS }),
    inputs: readInputs(graph, readJsonOrFail(examplePath(family.inputFile)), family.inputFile),
    weights: { server: weightMap(graph, ['public', 'server']), client: weightMap(graph, ['public']) },
  };
}

function clientSegments(c: Compiled): readonly Segment[] {
  const [serverFeed, clientFeed] = inProcessFeeds(c.plan);
  serverFeed.close();
  clientFeed.close();
  return new PartyExecutor(c.plan, 'client', clientFeed, c.weights.client).segments;
}

async function run(c: Compiled, plaintextEngine: PlaintextEngineName): Promise<Map<string, Tensor>> {
  return (await simulatePlan(c.plan, c.weights, { client: c.inputs }, { plaintextEngine })).outputs;
}

/** The plan cut to one client segment (its live-outs as outputs). */
function segmentAlone(c: Compiled, s: Segment): Compiled {
  const graph = segmentGraph(c.graph, s);
  const inputs = new Map([...c.inputs].filter(([name]) => graph.inputs.includes(name)));
  return { ...c, graph, plan: makePlan(graph, { fracBits: DEFAULT_FRAC_BITS }), inputs };
}

describe('onnxruntime engine on the example models', () => {
  for (const family of FAMILIES) {
    it(`${family.name}: base against itself runs as one client segment, equal to the interpreter`, async () => {
      const c = compile(family, 'base');
      const segments = clientSegments(c);
      const clientNodes = c.graph.nodes.filter((n) => n.placement === 'client').length;
      expect(segments.length).toBe(1);
      expect(segments[0]!.nodes.length).toBeGreaterThanOrEqual(clientNodes);
      const ort = await run(c, 'ort');
      const reference = await run(c, 'interpreter');
      for (const [name, t] of reference) expect(mismatch(ort.get(name)!, t, 1e-4, 1e-5), name).toBeNull();
    });

    it(`${family.name}: the frozen prefix is a client segment equal to the interpreter's`, async () => {
      const c = compile(family, 'frozen');
      const segments = clientSegments(c);
      const prefix = segments.find((s) => s.nodes.some((i) => c.graph.nodes[i]!.op === 'matmul'));
      expect(prefix, 'a client segment with the frozen layers').toBeDefined();
      expect(prefix!.outputs.length).toBeGreaterThan(0);
      const alone = segmentAlone(c, prefix!);
      const ort = await run(alone, 'ort');
      const reference = await run(alone, 'interpreter');
      expect(ort.size).toBe(prefix!.outputs.length);
      for (const [name, t] of reference) expect(mismatch(ort.get(name)!, t, 1e-4, 1e-5), name).toBeNull();
      // the whole plan (MPC after the prefix), with the plaintext reference as the oracle
      const plain = interpret(withTensors(c), c.inputs);
      for (const engine of ['ort', 'interpreter'] as const) {
        const out = await run(c, engine);
        for (const [name, t] of plain)
          expect(tensorMaxAbsDiff(out.get(name)!, t, name), `${engine} ${name}`).toBeLessThan(MPC_TOLERANCE);
      }
    });
  }
});

/** The plan's graph with each weight's tensor (for the plaintext reference). */
function withTensors(c: Compiled): Graph {
  const all = new Map([...c.weights.client, ...c.weights.server]);
  return {
    ...c.graph,
    nodes: c.graph.nodes.map((n) =>
      n.op === 'weight' ? { ...n, tensor: all.get(String(n.attrs['name']))! } : n,
    ),
  };
}
