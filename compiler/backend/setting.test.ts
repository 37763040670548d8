/**
 * The setting at compile time (docs/cost-model.md, "Without a dealer"):
 * selection in '2pc' only picks protocols that run without a dealer and says
 * which node has none; the cost model's preprocessing figures are the
 * runtime's (`bindInSetting`) per op and, for the plan, the ops' flights back
 * to back with adjacent flights of one sender merged (counted here by hand);
 * the dealer setting's selection, costs and plan hash do not change.
 *
 * Until every correlation has its two-party `preprocess`, the '2pc' cases run
 * with made-up exact costs for the missing ones (test/fixtures/correlations.ts):
 * selection and the cost model read only costs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MarillError } from '../../ir/errors.ts';
import type { Graph } from '../../ir/graph.ts';
import { DEFAULT_OPTIONS } from '../../passes/context.ts';
import { bindInSetting, isProtocolNode, nodeSpec } from '../../runtime/bound-plan.ts';
import { makeGenerationPlan } from '../../runtime/generate/plan.ts';
import { makePlan, planSpec } from '../../runtime/plan.ts';
import { DEFAULT_FRAC_BITS } from '../../runtime/ring/fixed.ts';
import { preprocessingCost } from '../../runtime/twopc/correlations.ts';
import type { PairCost } from '../../runtime/twopc/link.ts';
import { otSessionSetupCost } from '../../runtime/twopc/triples.ts';
import {
  graphCorrelations,
  withTestPreprocess,
  withoutPreprocess,
} from '../../test/fixtures/correlations.ts';
import { loadModel, runPipeline } from '../driver.ts';
import type { SelectionTarget } from '../driver.ts';
import { generateGenerationPlanModule, generatePlanModule } from '../emit/codegen.ts';
import { costGeneration } from '../emit/generation-cost.ts';
import { compileGeneration } from '../generate/compile-steps.ts';
import { decoderCache } from '../generate/decoder-cache.ts';
import { loadBaseModel } from '../onnx/base-model.ts';
import { loadOnnx } from '../onnx/load.ts';
import { loadAnyPlanModule } from '../party/plan-module.ts';
import { scratchDir } from '../../test/cli-harness.ts';
import { DEFAULT_CALIBRATION } from './calibration.ts';
import { costPlan } from './cost.ts';
import { NETWORKS } from './network.ts';
import { selectProtocols } from './select.ts';

const FRAC = DEFAULT_FRAC_BITS;
const OPTIONS = { ...DEFAULT_OPTIONS, base: loadBaseModel('examples/bert/base.onnx') };
const loaded = loadModel('examples/bert/frozen.onnx', {
  shapes: { input_ids: [1, 16], attention_mask: [1, 16] },
});
const placed = runPipeline(loaded, OPTIONS).graph;
const correlations = graphCorrelations(placed, FRAC);

function compile(target: SelectionTarget): Graph {
  return runPipeline(loaded, OPTIONS, {}, target).graph;
}

function thrown(f: () => unknown): MarillError {
  try {
    f();
  } catch (e) {
    if (e instanceof MarillError) return e;
    throw e;
  }
  throw new Error('expected a MarillError');
}

const protocolNodes = (g: Graph) => g.nodes.filter(isProtocolNode);

describe('the dealer setting is unchanged when no setting is given', () => {
  it('same selection, same costs, no preprocessing, same plan hash; a 2pc plan states its setting', () => {
    const target = { network: NETWORKS.wan, fracBits: FRAC };
    const implicit = compile(target);
    const explicit = compile({ ...target, setting: '2pc-dealer' });
    expect(explicit.nodes.map((n) => n.protocol)).toEqual(implicit.nodes.map((n) => n.protocol));
    const cost = costPlan(implicit, target);
    expect(costPlan(explicit, { ...target, setting: '2pc-dealer' })).toEqual(cost);
    expect(cost.setting).toBe('2pc-dealer');
    expect(cost.total.offline_bytes).toBeGreaterThan(0);
    for (const o of cost.ops)
      expect([o.preprocess_bytes, o.preprocess_rounds, o.preprocess_seconds]).toEqual([0, 0, 0]);
    expect(cost.total.preprocess_setup_bytes).toBe(0);
    expect(cost.total.total_seconds).toBe(cost.total.est_seconds);

    const weightKey = new Uint8Array(32).fill(7);
    const a = makePlan(implicit, { fracBits: FRAC, weightKey });
    const b = makePlan(explicit, { fracBits: FRAC, weightKey, setting: '2pc-dealer' });
    expect(b.hash).toBe(a.hash);
    expect('setting' in planSpec(a)).toBe(false);
    const c = makePlan(implicit, { fracBits: FRAC, weightKey, setting: '2pc' });
    expect(planSpec(c).setting).toBe('2pc');
    expect(c.hash).not.toBe(a.hash);
  });
});

describe("selection without a dealer ('2pc')", () => {
  let restore: () => void;
  beforeAll(() => {
    restore = withTestPreprocess(correlations);
  });
  afterAll(() => restore());

  it('never picks a protocol that needs a dealer (on wan, where the dealer setting picks DCF ones)', () => {
    const withDealer = compile({ network: NETWORKS.wan, fracBits: FRAC });
    expect(protocolNodes(withDealer).some((n) => n.protocol!.endsWith('.dcf'))).toBe(true);
    const g = compile({ network: NETWORKS.wan, fracBits: FRAC, setting: '2pc' });
    for (const n of protocolNodes(g)) {
      expect(n.protocol).toBeDefined();
      expect(n.protocol!.endsWith('.dcf')).toBe(false);
      expect(() => bindInSetting('2pc', nodeSpec(g, n), n.protocol, { fracBits: FRAC })).not.toThrow();
    }
  });

  it('a node that names a protocol needing a dealer is refused, naming the node', () => {
    const i = placed.nodes.findIndex((n) => n.op === 'gelu' && n.placement === 'mpc');
    const pinned = {
      ...placed,
      nodes: placed.nodes.map((n, k) => (k === i ? { ...n, protocol: 'gelu.erf.dcf' } : n)),
    };
    const e = thrown(() => selectProtocols(pinned, NETWORKS.lan, FRAC, DEFAULT_CALIBRATION, '2pc'));
    expect(e.format()).toMatch(
      new RegExp(`^%${placed.nodes[i]!.outputs[0]} = gelu.*: protocol 'gelu.erf.dcf' sends dealer keys`),
    );
    // The same node is kept with a dealer.
    const kept = selectProtocols(pinned, NETWORKS.lan, FRAC, DEFAULT_CALIBRATION, '2pc-dealer');
    expect(kept.nodes[i]!.protocol).toBe('gelu.erf.dcf');
  });
});

describe('a node with no protocol that runs without a dealer', () => {
  let restore: () => void;
  beforeAll(() => {
    restore = withoutPreprocess(correlations);
  });
  afterAll(() => restore());

  it('is refused in one line naming the node, the op and why each protocol is out', () => {
    const e = thrown(() => selectProtocols(placed, NETWORKS.lan, FRAC, DEFAULT_CALIBRATION, '2pc'));
    const line = e.format();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(
      /^%\S+ = (\w+).*: no protocol runs '\w+' on [a-z, ]+ operands without a dealer \(setting '2pc'\) \(/,
    );
    expect(line).toContain('which only a dealer makes');
    // With a dealer the same graph selects.
    expect(() =>
      selectProtocols(placed, NETWORKS.lan, FRAC, DEFAULT_CALIBRATION, '2pc-dealer'),
    ).not.toThrow();
  });
});

describe("the cost model without a dealer ('2pc')", () => {
  let restore: () => void;
  beforeAll(() => {
    restore = withTestPreprocess(correlations);
  });
  afterAll(() => restore());

  it("per op, the runtime's binding; per plan, the ops' sums; time from the formula", () => {
    const net = NETWORKS.wan;
    const target = { network: net, fracBits: FRAC, setting: '2pc' as const };
    const g = compile(target);
    const cost = costPlan(g, target);
    expect(cost.setting).toBe('2pc');
    const nodes = protocolNodes(g);
    expect(cost.ops.map((o) => o.id)).toEqual(nodes.map((n) => n.outputs[0]));
    const pairs: PairCost[] = [];
    const bytes: [number, number] = [0, 0];
    nodes.forEach((n, k) => {
      const b = bindInSetting('2pc', nodeSpec(g, n), n.protocol, { fracBits: FRAC });
      const o = cost.ops[k]!;
      expect(o.offline_bytes).toBe(0);
      expect(o.preprocess_bytes).toBe(b.bound.cost.preprocessBytes[0] + b.bound.cost.preprocessBytes[1]);
      expect(o.preprocess_rounds).toBe(b.bound.cost.preprocessRounds);
      const pair = preprocessingCost(b.correlations);
      pairs.push(pair);
      bytes[0] += pair.bytes[0];
      bytes[1] += pair.bytes[1];
    });
    expect(cost.total.preprocess_bytes).toBe(bytes[0] + bytes[1]);
    expect(cost.total.preprocess_bytes).toBeGreaterThan(0);
    // Rounds add up op by op (each party counts each op's flights on their own).
    const flights = pairs.reduce((s, p) => s + p.flights, 0);
    expect(flights).toBeGreaterThan(0);
    expect(cost.total.preprocess_rounds).toBe(flights);
    // Time: flights x latency + the larger direction at the bandwidth + local work per byte.
    const seconds =
      flights * net.latencySeconds +
      Math.max(bytes[0], bytes[1]) / net.bytesPerSecond +
      (bytes[0] + bytes[1]) / DEFAULT_CALIBRATION.preprocessBytesPerSecond;
    expect(cost.total.preprocess_seconds).toBeCloseTo(seconds, 12);
    expect(cost.total.total_seconds).toBeCloseTo(cost.total.est_seconds + seconds, 12);
    // The session's base OTs, once, apart.
    const setup = otSessionSetupCost();
    expect(cost.total.preprocess_setup_bytes).toBe(setup.bytes[0] + setup.bytes[1]);
    expect(cost.total.preprocess_setup_rounds).toBe(setup.flights);
    expect(cost.total.preprocess_setup_seconds).toBeGreaterThanOrEqual(
      DEFAULT_CALIBRATION.baseOtSetupSeconds,
    );
    // By class: the ops' own preprocessing.
    const byClass = Object.values(cost.by_class).reduce((s, c) => s + c.preprocess_bytes, 0);
    expect(byClass).toBe(cost.total.preprocess_bytes);
  });

  it('selection minimises online plus preprocessing time: no other candidate of a node does better', () => {
    const target = { network: NETWORKS.lan, fracBits: FRAC, setting: '2pc' as const };
    const g = compile(target);
    const opSeconds = (graph: Graph) =>
      costPlan(graph, target).ops.reduce((s, o) => s + o.est_seconds + o.preprocess_seconds, 0);
    const chosen = opSeconds(g);
    let alternatives = 0;
    g.nodes.forEach((n, i) => {
      if (!isProtocolNode(n) || n.op === 'share' || n.op === 'reveal') return;
      const others = [`${n.op}.bool`, 'beaver', 'beaver.weight', 'linear'].filter((p) => p !== n.protocol);
      for (const p of others) {
        const pinned = { ...g, nodes: g.nodes.map((m, k) => (k === i ? { ...m, protocol: p } : m)) };
        let seconds: number;
        try {
          seconds = opSeconds(pinned);
        } catch {
          continue; // not a protocol of this op, or not without a dealer
        }
        alternatives += 1;
        expect(chosen).toBeLessThanOrEqual(seconds + 1e-12);
      }
    });
    expect(alternatives).toBeGreaterThan(0);
  });
});

describe("plans of the '2pc' setting, written and read back", () => {
  let restore: () => void;
  const dir = scratchDir('marillc-setting-plans-');
  beforeAll(() => {
    restore = withTestPreprocess(correlations);
  });
  afterAll(() => restore());

  it('a plan module states the setting, and reads back with it and its hash', () => {
    const target = { network: NETWORKS.lan, fracBits: FRAC, setting: '2pc' as const };
    const plan = makePlan(compile(target), { fracBits: FRAC, setting: '2pc' });
    const file = join(dir, 'plan.ts');
    writeFileSync(file, generatePlanModule(plan, { source: 'bert/frozen.onnx', command: 'test' }));
    const read = loadAnyPlanModule(file);
    expect(read.kind).toBe('plan');
    expect(read.plan.setting).toBe('2pc');
    expect(read.plan.hash).toBe(plan.hash);
  });

  it('a generation plan: every step in the setting, the costs per step and in total', () => {
    const model = loadOnnx('examples/gpt2/cache-frozen.onnx');
    const target = { network: NETWORKS.lan, fracBits: FRAC, setting: '2pc' as const };
    const base = loadBaseModel('examples/gpt2/cache-base.onnx');
    const options = { ...DEFAULT_OPTIONS, base };
    // The decoder's own correlations (its ops' parameters differ from BERT's).
    const placedStep = compileGeneration(model, decoderCache(model)!, {
      options,
      target: { network: NETWORKS.lan, fracBits: FRAC },
      maxContext: 3,
    });
    const undo = withTestPreprocess(placedStep.steps.flatMap((s) => graphCorrelations(s.graph, FRAC)));
    try {
      const compiled = compileGeneration(model, decoderCache(model)!, { options, target, maxContext: 3 });
      const layout = compiled.layout;
      const g = makeGenerationPlan(compiled.steps, {
        maxContext: compiled.maxContext,
        tokens: layout.tokens,
        logits: layout.logits,
        fracBits: FRAC,
        setting: '2pc',
      });
      expect(g.setting).toBe('2pc');
      for (const step of g.steps.values()) expect(step.setting).toBe('2pc');
      const cost = costGeneration(g, {
        network: NETWORKS.lan,
        fracBits: FRAC,
        promptLength: 2,
        newTokens: 2,
      });
      expect(cost.setting).toBe('2pc');
      expect(cost.total.offline_bytes).toBe(0);
      expect(cost.total.preprocess_bytes).toBe(cost.steps.reduce((s, x) => s + x.preprocess_bytes, 0));
      expect(cost.total.preprocess_bytes).toBeGreaterThan(0);
      const file = join(dir, 'generation.ts');
      writeFileSync(
        file,
        generateGenerationPlanModule(g, { source: 'gpt2/cache-frozen.onnx', command: 'test' }),
      );
      const read = loadAnyPlanModule(file);
      expect(read.kind).toBe('generation');
      expect(read.plan.setting).toBe('2pc');
      expect(read.plan.hash).toBe(g.hash);
    } finally {
      undo();
    }
  });
});
