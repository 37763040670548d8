import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLES_DIR, examplePath, loadExamplesManifest } from '../../examples/manifest.ts';
import { makeGenerationPlan } from '../../runtime/generate/plan.ts';
import { costGeneration } from '../emit/generation-cost.ts';
import { compileGeneration, stepGraph } from '../generate/compile-steps.ts';
import { mapLayers } from './advise-layers.ts';
import { decoderCache } from '../generate/decoder-cache.ts';
import { loadBaseModel } from '../onnx/base-model.ts';
import { loadOnnx } from '../onnx/load.ts';
import { MarillError } from '../../ir/errors.ts';
import { DEFAULT_FRAC_BITS } from '../../runtime/ring/fixed.ts';
import { DEFAULT_OPTIONS } from '../../passes/context.ts';
import type { Advice, AdvicePoint } from './advise.ts';
import { advise, fineTuneOptions } from './advise.ts';
import { costPlan } from '../backend/cost.ts';
import { loadModel, runPipeline } from '../driver.ts';
import { NETWORKS } from '../backend/network.ts';
import { makeModel, writeOnnx } from '../onnx/write.ts';

const SHAPES: Record<string, Record<string, number[]>> = {
  bert: { input_ids: [1, 16], attention_mask: [1, 16] },
  gpt2: {},
  llama: { input_ids: [1, 12] },
};
const target = { network: NETWORKS.lan, fracBits: DEFAULT_FRAC_BITS };
const base = (family: string) => join(EXAMPLES_DIR, family, 'base.onnx');

const cache = new Map<string, Advice>();
function adviceFor(family: string): Advice {
  if (!cache.has(family)) cache.set(family, advise(base(family), { ...target, shapes: SHAPES[family]! }));
  return cache.get(family)!;
}

const at = (a: Advice, k: number, m: number): AdvicePoint =>
  a.points.find((p) => p.layers === k && p.headMerge === m)!;

describe.each(['bert', 'gpt2', 'llama'])('marillc advise on examples/%s', (family) => {
  it('finds the 4 layers and costs more for every further fine-tuned layer', () => {
    const a = adviceFor(family);
    expect(a.layers).toBe(4);
    for (const m of a.headMerge.filter((h) => h.supported).map((h) => h.factor))
      for (let k = 1; k <= a.layers; k++) {
        expect(at(a, k, m).online_bytes).toBeGreaterThanOrEqual(at(a, k - 1, m).online_bytes);
        expect(at(a, k, m).est_seconds).toBeGreaterThanOrEqual(at(a, k - 1, m).est_seconds);
      }
    // Nothing fine-tuned: nothing private, no MPC at all.
    expect(at(a, 0, 1).online_bytes).toBe(0);
  });

  it('for all layers and no head merging, equals the --no-marill compile', () => {
    const a = adviceFor(family);
    const graph = runPipeline(
      loadModel(join(EXAMPLES_DIR, family, 'full.onnx'), { shapes: SHAPES[family]! }),
      { ...DEFAULT_OPTIONS, noMarill: true },
      {},
      target,
    ).graph;
    const cost = costPlan(graph, target).total;
    const p = at(a, a.layers, 1);
    expect(p.online_bytes).toBe(cost.online_bytes);
    expect(p.rounds).toBe(cost.rounds);
    expect(p.est_seconds).toBeCloseTo(cost.est_seconds, 9);
  });
});

describe('head merging in marillc advise', () => {
  it.each(['bert', 'gpt2'])('%s: merging by 2 never costs more softmax', (family) => {
    const a = adviceFor(family);
    expect(a.headMerge.find((h) => h.factor === 2)?.supported).toBe(true);
    for (let k = 1; k <= a.layers; k++)
      expect(at(a, k, 2).softmax_online_bytes).toBeLessThan(at(a, k, 1).softmax_online_bytes);
  });

  it('llama: says merging is not supported (rotary tables are tied to the head size)', () => {
    const a = adviceFor('llama');
    const two = a.headMerge.find((h) => h.factor === 2)!;
    expect(two.supported).toBe(false);
    expect(two.reason).toMatch(/head size/);
    expect(a.points.every((p) => p.headMerge === 1)).toBe(true);
  });
});

describe('marillc advise on a model without layer names', () => {
  it('fails with a clear error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'advise-'));
    const file = join(dir, 'flat.onnx');
    writeOnnx(
      file,
      makeModel({
        opset: 17,
        inputs: [{ name: 'x', type: 'float', shape: [1, 4] }],
        outputs: [{ name: 'y', type: 'float', shape: [1, 4] }],
        initializers: [{ name: 'proj.weight', type: 'float', dims: [4, 4], values: new Array(16).fill(0.5) }],
        nodes: [{ op: 'MatMul', inputs: ['x', 'proj.weight'], outputs: ['y'] }],
      }),
    );
    expect(() => advise(file, target)).toThrow(MarillError);
    expect(() => advise(file, target)).toThrow(/cannot identify the model's transformer layers/);
  });
});

describe('marillc advise on a decoder with a KV cache', () => {
  const cacheFamily = loadExamplesManifest().cache.find((c) => c.family === 'gpt2')!;
  const file = (name: string) => examplePath(cacheFamily.variants.find((v) => v.name === name)!.file);

  it('costs a generation of P + N tokens as the generation plan of a real fine-tune of those layers', () => {
    const a = advise(file('cache-base'), { ...target, factors: [1], promptLength: 2, newTokens: 2 });
    const gen = a.generation!;
    expect([gen.prompt_length, gen.new_tokens]).toEqual([2, 2]);
    for (let k = 1; k <= a.layers; k++)
      expect(gen.points[k]!.online_bytes).toBeGreaterThan(gen.points[k - 1]!.online_bytes);
    // cache-frozen fine-tunes the top layers and the final norm; its LM head equals the base's,
    // which advise counts with the top layer. Compiled against the base, with advise's private
    // set declared (its LM head private too): the same cost.
    const frozen = cacheFamily.variants.find((v) => v.name === 'cache-frozen')!;
    const k = frozen.privateLayers.length;
    const model = loadOnnx(file('cache-frozen'));
    const cache = decoderCache(model)!;
    const map = mapLayers(stepGraph(model, cache, { sequence: 1, past: 0 }, new Set()), 'm');
    const heads = fineTuneOptions(map, k).privateGlobs;
    const compiled = compileGeneration(model, cache, {
      options: { ...DEFAULT_OPTIONS, base: loadBaseModel(file('cache-base')), privateGlobs: heads },
      target,
      maxContext: 3,
    });
    const plan = makeGenerationPlan(compiled.steps, {
      maxContext: 3,
      tokens: 'input_ids',
      logits: 'logits',
      fracBits: target.fracBits,
    });
    const real = costGeneration(plan, { ...target, promptLength: 2, newTokens: 2 });
    const point = gen.points.find((p) => p.layers === k)!;
    expect([point.online_bytes, point.rounds]).toEqual([real.total.online_bytes, real.total.rounds]);
    expect(at(a, k, 1).online_bytes).toBe(real.prefill.online_bytes);
  }, 120_000);
});
