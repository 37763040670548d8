/**
 * The example models compiled with `--setting 2pc` (in process, through the
 * driver), with the correlations' real two-party `preprocess`: every protocol
 * node of the plan runs without a dealer (`bindInSetting` accepts it), the
 * plan states the setting, and the cost model's preprocessing figures are the
 * runtime's binding per op and the ops' flights back to back per plan.
 *
 * These need every correlation the examples read to have its `preprocess`
 * (arithmetic triples and truncation masks, boolean comparison masks, weight
 * products): until then the compile is refused, naming the first node with
 * no dealer-free protocol.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS } from '../../passes/context.ts';
import { bindInSetting, isProtocolNode, nodeSpec } from '../../runtime/bound-plan.ts';
import { makePlan, planSpec } from '../../runtime/plan.ts';
import { DEFAULT_FRAC_BITS } from '../../runtime/ring/fixed.ts';
import { preprocessingCost } from '../../runtime/twopc/correlations.ts';
import { loadModel, runPipeline } from '../driver.ts';
import { loadBaseModel } from '../onnx/base-model.ts';
import { costPlan } from './cost.ts';
import { NETWORKS } from './network.ts';

const CASES: { family: string; variant: string; shapes: Record<string, number[]> }[] = [
  { family: 'gpt2', variant: 'lora-merged', shapes: {} },
  { family: 'bert', variant: 'frozen', shapes: { input_ids: [1, 16], attention_mask: [1, 16] } },
  { family: 'llama', variant: 'full', shapes: { input_ids: [1, 12] } },
];

describe("examples compiled for setting '2pc'", () => {
  for (const { family, variant, shapes } of CASES) {
    it(`${family}/${variant}: no protocol needs a dealer; preprocessing as the runtime binds it`, () => {
      const loaded = loadModel(`examples/${family}/${variant}.onnx`, { shapes });
      const options = { ...DEFAULT_OPTIONS, base: loadBaseModel(`examples/${family}/base.onnx`) };
      const target = { network: NETWORKS.wan, fracBits: DEFAULT_FRAC_BITS, setting: '2pc' as const };
      const { graph } = runPipeline(loaded, options, {}, target);
      const plan = makePlan(graph, { fracBits: DEFAULT_FRAC_BITS, setting: '2pc' });
      expect(plan.setting).toBe('2pc');
      expect(planSpec(plan).setting).toBe('2pc');
      const nodes = graph.nodes.filter(isProtocolNode);
      const bound = nodes.map((n) => bindInSetting('2pc', nodeSpec(graph, n), n.protocol, plan));
      for (const n of nodes) expect(n.protocol!.endsWith('.dcf')).toBe(false);
      const cost = costPlan(graph, target);
      expect(cost.total.offline_bytes).toBe(0);
      bound.forEach((b, k) => {
        const o = cost.ops[k]!;
        expect(o.preprocess_bytes).toBe(b.bound.cost.preprocessBytes[0] + b.bound.cost.preprocessBytes[1]);
        expect(o.preprocess_rounds).toBe(b.bound.cost.preprocessRounds);
      });
      const all = bound.map((b) => preprocessingCost(b.correlations));
      expect(cost.total.preprocess_bytes).toBe(all.reduce((s, c) => s + c.bytes[0] + c.bytes[1], 0));
      expect(cost.total.preprocess_rounds).toBe(all.reduce((s, c) => s + c.flights, 0));
      // Without a dealer the parties make what a dealer would have sent, and more.
      const dealer = costPlan(runPipeline(loaded, options, {}, { ...target, setting: '2pc-dealer' }).graph, {
        ...target,
        setting: '2pc-dealer',
      });
      expect(cost.total.preprocess_bytes).toBeGreaterThan(dealer.total.offline_bytes);
    });
  }
});
