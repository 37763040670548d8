import { describe, expect, it } from 'vitest';
import { MarillError } from '../../ir/errors.ts';
import { fromNumbers, makeTensor, toNumbers } from '../../ir/tensor.ts';
import { cacheLayout, emptyCache, lastLogits, nextCache, stepInputs } from './cache-layout.ts';
import { generateTokens } from './loop.ts';
import { argmax, checkSamplingOptions, sampleFrom, tokenPicker, topKIds } from './sampling.ts';
import type { StepShape } from './schedule.ts';
import { contextNeeded, generationSchedule } from './schedule.ts';

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof MarillError) return e.format();
    throw e;
  }
  throw new Error('expected a MarillError');
}

describe('generation schedule', () => {
  it('prefill then one-token decode steps over a growing cache', () => {
    expect(generationSchedule(3, 4)).toEqual([
      { sequence: 3, past: 0 },
      { sequence: 1, past: 3 },
      { sequence: 1, past: 4 },
      { sequence: 1, past: 5 },
    ]);
    expect(generationSchedule(5, 1)).toEqual([{ sequence: 5, past: 0 }]);
  });

  it('the context needed is the last step past + sequence (the last token is never fed back)', () => {
    for (const [p, n] of [
      [1, 1],
      [3, 4],
      [32, 32],
    ] as const) {
      const last = generationSchedule(p, n).at(-1)!;
      expect(contextNeeded(p, n)).toBe(last.past + last.sequence);
      expect(contextNeeded(p, n)).toBe(p + n - 1);
    }
  });

  it('an empty prompt or no new tokens is an error', () => {
    expect(message(() => generationSchedule(0, 3))).toMatch(/at least one token/);
    expect(message(() => generationSchedule(2, 0))).toMatch(/positive integer/);
    expect(message(() => contextNeeded(2, 1.5))).toMatch(/positive integer/);
  });
});

describe('token picking', () => {
  it('greedy is argmax with ties to the lowest id', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(argmax([-5, -7])).toBe(0);
    expect(argmax(Float32Array.from([0, 0, 0.5]))).toBe(2);
    expect(tokenPicker({ maxNewTokens: 1 })([0.1, 0.9, 0.9])).toBe(1);
  });

  it('NaN or empty logits are errors', () => {
    expect(message(() => argmax([1, NaN]))).toMatch(/logit 1 is NaN/);
    expect(message(() => argmax([]))).toMatch(/no logits/);
  });

  it('top-k orders by logit, ties by id', () => {
    expect(topKIds([0.5, 2, 0.5, 3], 3)).toEqual([3, 1, 0]);
    expect(topKIds([1, 1, 1])).toEqual([0, 1, 2]);
  });

  it('sampling follows softmax(logits / T): frequencies of 30000 seeded draws', () => {
    const logits = [Math.log(1), Math.log(2), Math.log(3), -Infinity];
    const pick = tokenPicker({ maxNewTokens: 1, temperature: 1, seed: 12345 });
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 30000; i++) counts[pick(logits)]!++;
    expect(counts[3]).toBe(0);
    [1 / 6, 2 / 6, 3 / 6].forEach((p, i) => expect(Math.abs(counts[i]! / 30000 - p)).toBeLessThan(0.015));
  });

  it('temperature sharpens: T = 0.5 squares the odds', () => {
    // softmax([0, ln 2] / 0.5) = [1/5, 4/5]; u below 1/5 picks 0, above picks 1.
    expect(sampleFrom([0, Math.log(2)], [1, 0], 0.5, 0.79)).toBe(1);
    expect(sampleFrom([0, Math.log(2)], [1, 0], 0.5, 0.81)).toBe(0);
  });

  it('top-k never picks outside the k best; top-1 is greedy; a seed reproduces', () => {
    const logits = [0.3, 0.1, 0.2, 0.25, 0.05];
    const topTwo = tokenPicker({ maxNewTokens: 1, temperature: 2, topK: 2, seed: 9 });
    for (let i = 0; i < 500; i++) expect([0, 3]).toContain(topTwo(logits));
    const topOne = tokenPicker({ maxNewTokens: 1, temperature: 5, topK: 1, seed: 9 });
    expect(topOne(logits)).toBe(argmax(logits));
    const draws = (seed: number) => {
      const p = tokenPicker({ maxNewTokens: 1, temperature: 1, seed });
      return Array.from({ length: 20 }, () => p(logits));
    };
    expect(draws(4)).toEqual(draws(4));
    expect(draws(4)).not.toEqual(draws(5));
  });

  it('options that mean nothing are rejected, naming the flag', () => {
    expect(message(() => checkSamplingOptions({ maxNewTokens: 0 }))).toMatch(/--max-new-tokens/);
    expect(message(() => checkSamplingOptions({ maxNewTokens: 1, temperature: -1 }))).toMatch(
      /--temperature/,
    );
    expect(message(() => checkSamplingOptions({ maxNewTokens: 1, topK: 0 }))).toMatch(/--top-k/);
    expect(message(() => checkSamplingOptions({ maxNewTokens: 1, seed: 2 ** 32 }))).toMatch(/--seed/);
    expect(message(() => checkSamplingOptions({ maxNewTokens: 1, eos: -1 }))).toMatch(/--eos/);
  });
});

/** A toy model over 10 ids: the next token is (sum of all ids seen so far) mod 10. */
function toyModel() {
  const seen: number[] = [];
  const calls: { ids: number[]; shape: StepShape }[] = [];
  const step = (ids: readonly number[], shape: StepShape) => {
    expect(shape.past).toBe(seen.length);
    calls.push({ ids: [...ids], shape });
    seen.push(...ids);
    const next = seen.reduce((a, b) => a + b, 0) % 10;
    return Promise.resolve(Float32Array.from({ length: 10 }, (_, i) => (i === next ? 1 : 0)));
  };
  return { step, calls };
}

describe('generation loop', () => {
  it('feeds the prompt, then each new token, and returns the new tokens in order', async () => {
    const { step, calls } = toyModel();
    const streamed: number[] = [];
    const tokens = await generateTokens(step, [1, 2], { maxNewTokens: 4 }, (id) => streamed.push(id));
    // sums: 3 -> 3; 3+3 = 6 -> 6; 12 -> 2; 14 -> 4
    expect(tokens).toEqual([3, 6, 2, 4]);
    expect(streamed).toEqual(tokens);
    expect(calls.map((c) => c.ids)).toEqual([[1, 2], [3], [6], [2]]);
    expect(calls.map((c) => c.shape)).toEqual(generationSchedule(2, 4));
  });

  it('stops after the eos id, which ends the output', async () => {
    const { step, calls } = toyModel();
    expect(await generateTokens(step, [1, 2], { maxNewTokens: 10, eos: 2 })).toEqual([3, 6, 2]);
    expect(calls).toHaveLength(3);
  });
});

describe('cache layout', () => {
  const inputs = [
    'input_ids',
    'past_key_values.0.key',
    'past_key_values.0.value',
    'past_key_values.1.value',
    'past_key_values.1.key',
  ];
  const outputs = ['logits', 'present.0.key', 'present.0.value', 'present.1.key', 'present.1.value'];

  it('pairs past inputs with present outputs, by layer, key first', () => {
    const layout = cacheLayout(inputs, outputs);
    expect(layout.layers).toBe(2);
    expect(layout.entries.map((e) => `${e.past}->${e.present}`)).toEqual([
      'past_key_values.0.key->present.0.key',
      'past_key_values.0.value->present.0.value',
      'past_key_values.1.key->present.1.key',
      'past_key_values.1.value->present.1.value',
    ]);
  });

  it('names what is missing or foreign', () => {
    expect(message(() => cacheLayout(['input_ids'], ['logits']))).toMatch(/no past_key_values/);
    expect(message(() => cacheLayout(inputs.slice(0, 4), outputs))).toMatch(
      /no input 'past_key_values.1.key'/,
    );
    expect(message(() => cacheLayout(inputs, outputs.slice(0, 4)))).toMatch(
      /has no output 'present.1.value'/,
    );
    expect(message(() => cacheLayout([...inputs, 'token_type_ids'], outputs))).toMatch(
      /'token_type_ids' is not part/,
    );
    expect(message(() => cacheLayout(inputs, ['present.0.key']))).toMatch(/no output 'logits'/);
  });

  it('builds step inputs: ids, the cache, an all-ones mask and positions when declared', () => {
    const layout = cacheLayout(['input_ids', 'attention_mask', 'position_ids', ...inputs.slice(1)], outputs);
    const cache = emptyCache(layout, () => [1, 2, 0, 4]);
    const prefill = stepInputs(layout, [7, 8, 9], { sequence: 3, past: 0 }, cache);
    expect(toNumbers(prefill.get('input_ids')!)).toEqual([7, 8, 9]);
    expect(prefill.get('past_key_values.1.key')!.shape).toEqual([1, 2, 0, 4]);
    expect(toNumbers(prefill.get('attention_mask')!)).toEqual([1, 1, 1]);
    const grown = new Map([...cache.keys()].map((k) => [k, makeTensor('f32', [1, 2, 3, 4])]));
    const decode = stepInputs(layout, [5], { sequence: 1, past: 3 }, grown);
    expect(toNumbers(decode.get('position_ids')!)).toEqual([3]);
    expect(decode.get('attention_mask')!.shape).toEqual([1, 4]);
    expect(message(() => stepInputs(layout, [5], { sequence: 1, past: 2 }, grown))).toMatch(
      /holds 3 positions/,
    );
    expect(message(() => stepInputs(layout, [5, 6], { sequence: 1, past: 3 }, grown))).toMatch(/given 2 ids/);
  });

  it('present outputs become the next past; the last position of logits is picked', () => {
    const layout = cacheLayout(inputs, outputs);
    const t = makeTensor('f32', [1, 2, 1, 4]);
    const outs = new Map(outputs.map((n) => [n, t]));
    expect([...nextCache(layout, outs).keys()].sort()).toEqual(inputs.slice(1).sort());
    outs.delete('present.1.value');
    expect(message(() => nextCache(layout, outs))).toMatch(/present.1.value/);
    const logits = fromNumbers('f32', [1, 2, 3], [1, 2, 3, 4, 5, 6]);
    expect([...lastLogits(logits)]).toEqual([4, 5, 6]);
    expect(message(() => emptyCache(layout, () => [1, 2, 3, 4]))).toMatch(
      /expected \[batch, heads, 0, head_dim\]/,
    );
  });
});
