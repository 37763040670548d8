/**
 * The KV-cache example exports (examples/manifest.json `cache`), lowered at the
 * (sequence, past_sequence) shapes generation uses (a prefill over an empty cache
 * [1, heads, 0, head_dim], one-token decode steps, a multi-token step over a cache, the
 * last position gpt2's table allows) and run by the interpreter, against onnxruntime-node
 * on every output (logits and each present.*).
 */
import { describe, expect, test } from 'vitest';
import { loadModel } from '../driver.ts';
import type { CacheFamily } from '../../examples/manifest.ts';
import { examplePath, loadExamplesManifest } from '../../examples/manifest.ts';
import { MarillError } from '../../ir/errors.ts';
import { interpret } from '../../ir/interpret.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { fromNumbers, tensorMaxAbsDiff } from '../../ir/tensor.ts';
import { seededUniform } from '../../ir/random.ts';
import { runOrt } from '../../test/fixtures/ort.ts';

const TOL = 1e-4;
const caches = loadExamplesManifest().cache;

function shapesFor(cache: CacheFamily): [number, number][] {
  const last = (cache.maxPositions ?? 40) - 1;
  return [
    [5, 0],
    [1, 0],
    [1, 5],
    [3, 4],
    [1, last],
  ];
}

function feeds(cache: CacheFamily, sequence: number, past: number, seed: number): Map<string, Tensor> {
  const next = seededUniform(seed);
  const ids = Array.from({ length: sequence }, () => Math.floor(next() * cache.vocab));
  const out = new Map<string, Tensor>([['input_ids', fromNumbers('i64', [1, sequence], ids)]]);
  const shape = [1, cache.heads, past, cache.headDim];
  for (const input of cache.inputs.slice(1)) {
    const n = cache.heads * past * cache.headDim;
    out.set(
      input.name,
      fromNumbers(
        'f32',
        shape,
        Array.from({ length: n }, () => 2 * next() - 1),
      ),
    );
  }
  return out;
}

describe.each(caches.map((c) => [c.family, c] as const))(
  '%s cache exports match onnxruntime',
  (_name, cache) => {
    for (const variant of cache.variants)
      test.each(shapesFor(cache))(
        `${variant.file} at sequence=%i past_sequence=%i`,
        async (sequence, past) => {
          const path = examplePath(variant.file);
          const graph = loadModel(path, { shapes: { sequence: [sequence], past_sequence: [past] } });
          const x = feeds(cache, sequence, past, 1000 * sequence + past);
          const ours = interpret(graph, x);
          const theirs = await runOrt(path, x);
          expect([...ours.keys()]).toEqual([...theirs.keys()]);
          for (const [name, expected] of theirs) {
            expect(ours.get(name)!.shape).toEqual(expected.shape);
            expect(tensorMaxAbsDiff(ours.get(name)!, expected, name), name).toBeLessThanOrEqual(TOL);
          }
        },
      );
  },
);

describe('cache exports: shapes the model cannot take are located errors', () => {
  const gpt2 = caches.find((c) => c.family === 'gpt2')!;
  const file = examplePath(gpt2.variants[0]!.file);

  function loadError(shapes: Record<string, number[]>): string {
    try {
      loadModel(file, { shapes });
    } catch (e) {
      if (e instanceof MarillError) return e.format();
      throw e;
    }
    throw new Error('expected a MarillError');
  }

  test('past + sequence beyond the position table', () => {
    const max = gpt2.maxPositions!;
    expect(loadError({ sequence: [1], past_sequence: [max] })).toMatch(
      /cache-base\.onnx: node '[^']*' \(\w+\): .*do not broadcast/,
    );
  });

  test('a past input whose length contradicts past_sequence', () => {
    const shapes = {
      sequence: [2],
      past_sequence: [3],
      'past_key_values.0.key': [1, gpt2.heads, 2, gpt2.headDim],
    };
    expect(loadError(shapes)).toMatch(/cache-base\.onnx: node '[^']*' \(\w+\): .*differ/);
  });

  test('past_sequence left open names the dimension to fix', () => {
    expect(loadError({ sequence: [2] })).toMatch(/--shape past_sequence=<size>/);
  });
});
