/**
 * The evaluation's decoder generators with a KV cache (Family.buildCache, generateCacheFamily):
 * onnxruntime runs them step by step (a prefill, then one token per step with `present.*` fed
 * back), a step over the cache computes what one pass over the whole sequence computes, the
 * prefill equals the fixed-length model of the same weights, and the frontend + interpreter
 * agree with onnxruntime at the step shapes, including a prefill over empty past tensors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../compiler/driver.ts';
import { interpret } from '../../ir/interpret.ts';
import { fromNumbers, maxAbsDiff, tensorMaxAbsDiff, toNumbers } from '../../ir/tensor.ts';
import { OrtCacheModel } from '../../test/fixtures/ort-generate.ts';
import { runOrt } from '../../test/fixtures/ort.ts';
import { generateCacheFamily, generateFamily } from './generate.ts';
import { GPT2 } from './gpt2.ts';
import { LLAMA } from './llama.ts';
import type { Family, ModelSize } from './spec.ts';
import { SIZES } from './spec.ts';
import { VARIANTS } from './variants.ts';

const TOL = 1e-4;
const dir = mkdtempSync(join(tmpdir(), 'marill-cache-models-'));
const marill = VARIANTS.filter((v) => v.name === 'marill');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sample(family: Family, size: ModelSize): number[] {
  return family.sampleInputs(size)['input_ids']![0]!;
}

async function fullLogits(file: string, ids: readonly number[]): Promise<number[]> {
  const out = await runOrt(file, new Map([['input_ids', fromNumbers('i64', [1, ids.length], ids)]]));
  return toNumbers(out.get('logits')!);
}

describe.each([GPT2, LLAMA].map((f) => [f.name, f] as const))(
  '%s generator with a KV cache',
  (_n, family) => {
    it('tiny: onnxruntime step by step = one pass; prefill = the fixed-length model; interpreter = onnxruntime', async () => {
      const size = SIZES.tiny;
      const maxPositions = 2 * size.seq;
      const cache = generateCacheFamily(family, size, marill, dir, maxPositions);
      const plain = generateFamily(family, size, marill, dir);
      const ids = sample(family, size);
      for (const [file, fixed, heads] of [
        [cache.base, plain.base, size.heads],
        [cache.variants.get('marill')!, plain.variants.get('marill')!, size.heads / 2],
      ] as const) {
        const model = await OrtCacheModel.open(file, {
          heads: size.heads,
          headDim: size.hidden / size.heads,
        });
        try {
          // The marill structure merges heads in the top half: those layers' caches are wider.
          const top = model.layout.entries.at(-1)!.past;
          expect(top).toBe(`past_key_values.${size.layers - 1}.value`);
          const prefill = await model.run(
            ids,
            { sequence: ids.length, past: 0 },
            emptyCacheFor(model, size, heads),
          );
          expect(
            maxAbsDiff(toNumbers(prefill.get('logits')!), await fullLogits(fixed, ids)),
          ).toBeLessThanOrEqual(TOL);
          expect(prefill.get(`present.${size.layers - 1}.key`)!.shape).toEqual([
            1,
            heads,
            ids.length,
            size.hidden / heads,
          ]);
        } finally {
          await model.release();
        }
      }
      // Greedy generation to the last position the table allows; each step's logits equal those of
      // one prefill over the prompt and the tokens fed so far.
      const model = await OrtCacheModel.open(cache.base, {
        heads: size.heads,
        headDim: size.hidden / size.heads,
      });
      try {
        const run = await model.generate(ids, { maxNewTokens: maxPositions - ids.length + 1 });
        expect(run.shapes.at(-1)).toEqual({ sequence: 1, past: maxPositions - 1 });
        const fed = [...ids, ...run.tokens.slice(0, -1)];
        const whole = await model.run(fed, { sequence: fed.length, past: 0 }, model.emptyCache());
        const all = toNumbers(whole.get('logits')!);
        run.stepLogits.forEach((l, k) => {
          const at = ids.length - 1 + k;
          expect(
            maxAbsDiff(l, all.slice(at * size.vocab, (at + 1) * size.vocab)),
            `step ${k}`,
          ).toBeLessThanOrEqual(TOL);
        });
      } finally {
        await model.release();
      }
      for (const [sequence, past] of [
        [size.seq, 0],
        [1, 5],
        [1, maxPositions - 1],
      ] as const) {
        const graph = loadModel(cache.base, { shapes: { sequence: [sequence], past_sequence: [past] } });
        const feeds = new Map([['input_ids', fromNumbers('i64', [1, sequence], ids.slice(0, sequence))]]);
        for (let l = 0; l < size.layers; l++)
          for (const kind of ['key', 'value'])
            feeds.set(
              `past_key_values.${l}.${kind}`,
              fromNumbers(
                'f32',
                [1, size.heads, past, size.hidden / size.heads],
                Array.from({ length: past * size.hidden }, (_, i) => Math.sin(i + l)),
              ),
            );
        const ours = interpret(graph, feeds);
        const theirs = await runOrt(cache.base, feeds);
        for (const [name, t] of theirs)
          expect(
            tensorMaxAbsDiff(ours.get(name)!, t, name),
            `${sequence}/${past} ${name}`,
          ).toBeLessThanOrEqual(TOL);
      }
    });

    it('larger: a 32-token prompt and 32 new tokens run step by step in onnxruntime', async () => {
      const size = SIZES.larger;
      const cache = generateCacheFamily(family, size, [], dir, 2 * size.seq);
      const plain = generateFamily(family, size, [], dir);
      const ids = sample(family, size);
      const model = await OrtCacheModel.open(cache.base, {
        heads: size.heads,
        headDim: size.hidden / size.heads,
      });
      try {
        const run = await model.generate(ids, { maxNewTokens: 32 });
        expect(run.tokens).toHaveLength(32);
        expect(run.shapes.at(-1)).toEqual({ sequence: 1, past: ids.length + 30 });
        const full = await fullLogits(plain.base, ids);
        expect(maxAbsDiff(run.stepLogits[0]!, full.slice(-size.vocab))).toBeLessThanOrEqual(TOL);
      } finally {
        await model.release();
      }
    });
  },
);

function emptyCacheFor(model: OrtCacheModel, size: ModelSize, topHeads: number) {
  // Layers of the top half carry `topHeads` heads (merged in the marill structure).
  return new Map(
    model.layout.entries.map((e) => {
      const heads = e.layer >= size.layers / 2 ? topHeads : size.heads;
      return [e.past, fromNumbers('f32', [1, heads, 0, size.hidden / heads], [])];
    }),
  );
}
