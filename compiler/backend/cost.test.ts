/**
 * The cost model's promise (docs/cost-model.md): predicted bytes and rounds equal
 * what the runtime measures, op by op, exactly. The oracle is the runtime's
 * own accounting of a real two-party run (in-process channel, real protocols).
 */
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../ir/tensor.ts';
import { readInputs } from '../../ir/tensor-json.ts';
import { DEFAULT_OPTIONS } from '../../passes/context.ts';
import { makePlan } from '../../runtime/plan.ts';
import { DEFAULT_FRAC_BITS } from '../../runtime/ring/fixed.ts';
import { simulatePlan } from '../../runtime/session.ts';
import { loadBaseModel } from '../onnx/base-model.ts';
import { planWeights } from '../emit/bundle.ts';
import { costPlan } from './cost.ts';
import { costMismatches, measuredSection } from '../emit/cost-report.ts';
import { loadModel, runPipeline } from '../driver.ts';
import { readJsonOrFail } from '../fs-util.ts';
import { NETWORKS, parseNetwork, transferSeconds } from './network.ts';

const CASES: { family: string; variant: string; shapes: Record<string, number[]> }[] = [
  { family: 'gpt2', variant: 'lora-merged', shapes: {} },
  { family: 'bert', variant: 'frozen', shapes: { input_ids: [1, 16], attention_mask: [1, 16] } },
  { family: 'llama', variant: 'full', shapes: { input_ids: [1, 12] } },
];

function weightMap(list: { name: string; tensor: Tensor }[]): Map<string, Tensor> {
  return new Map(list.map((w) => [w.name, w.tensor]));
}

describe('predicted == measured, op by op', () => {
  for (const { family, variant, shapes } of CASES) {
    it(`${family}/${variant}`, async () => {
      const loaded = loadModel(`examples/${family}/${variant}.onnx`, { shapes });
      const options = { ...DEFAULT_OPTIONS, base: loadBaseModel(`examples/${family}/base.onnx`) };
      const target = { network: NETWORKS.lan, fracBits: DEFAULT_FRAC_BITS };
      const { graph } = runPipeline(loaded, options, {}, target);
      const plan = makePlan(graph, { fracBits: DEFAULT_FRAC_BITS });
      const inputs = readInputs(graph, readJsonOrFail(`examples/${family}/input.json`), 'input.json');
      const run = await simulatePlan(
        plan,
        {
          server: weightMap(planWeights(graph, ['public', 'server'])),
          client: weightMap(planWeights(graph, ['public'])),
        },
        { client: inputs },
        { inferences: 2 },
      );
      const predicted = costPlan(graph, target);
      expect(predicted.ops.length).toBeGreaterThan(0);
      // Two inferences: measured per-op figures are sums, so compare per inference.
      const perInference = {
        ...run.report,
        ops: run.report.ops.map((o) => ({
          ...o,
          onlineBytes: [o.onlineBytes[0] / 2, o.onlineBytes[1] / 2] as [number, number],
          offlineBytes: [o.offlineBytes[0] / 2, o.offlineBytes[1] / 2] as [number, number],
          rounds: o.rounds / 2,
        })),
      };
      const measured = measuredSection(perInference, 0);
      expect(costMismatches(predicted, measured)).toEqual([]);
    });
  }
});

describe('network profiles', () => {
  it('lan and wan are the documented figures', () => {
    expect(NETWORKS.lan.bytesPerSecond * 8).toBe(1e9);
    expect(NETWORKS.lan.latencySeconds).toBe(0.5e-3);
    expect(NETWORKS.wan.bytesPerSecond * 8).toBe(100e6);
    expect(NETWORKS.wan.latencySeconds).toBe(40e-3);
  });

  it('a custom profile is Mbit/s and one-way ms', () => {
    const p = parseNetwork('200,10');
    expect(p.bytesPerSecond).toBe(25e6);
    expect(p.latencySeconds).toBe(0.01);
    expect(() => parseNetwork('fast')).toThrow(/--network expects/);
  });

  it('transfer time: a latency per round, directions in parallel', () => {
    // 3 rounds of 1 ms, 2 MB the larger direction at 1 MB/s.
    expect(
      transferSeconds({ name: 't', bytesPerSecond: 1e6, latencySeconds: 1e-3 }, [2e6, 1e6], 3),
    ).toBeCloseTo(2.003, 9);
  });
});
