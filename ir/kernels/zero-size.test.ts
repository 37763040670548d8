/**
 * Zero-size tensors (a prefill's empty KV cache, [1, heads, 0, head_dim]) through the
 * kernels a cache graph uses, against onnxruntime-node: the IR must agree with ONNX on
 * shapes and values when a dimension is 0 (a matmul over an empty inner axis is zeros).
 */
import { describe, expect, it } from 'vitest';
import { MarillError } from '../errors.ts';
import { interpret } from '../interpret.ts';
import { parseGraph } from '../parse.ts';
import { printGraph } from '../print.ts';
import { verifyGraph } from '../verify.ts';
import { fromNumbers } from '../tensor.ts';
import { expectSameAsOrt, ours } from '../../test/fixtures/against-ort.ts';
import { randomF32 } from '../../test/fixtures/random.ts';
import { seededUniform } from '../random.ts';
import { i64 } from '../../test/fixtures/ort-op.ts';

const next = seededUniform(11);
const empty = (shape: number[]) => fromNumbers('f32', shape, []);

describe('zero-size tensors vs onnxruntime', () => {
  it('concat of an empty cache with new keys', async () => {
    const past = empty([1, 2, 0, 4]);
    const k = randomF32([1, 2, 3, 4], next);
    await expectSameAsOrt(
      { op: 'concat', inputs: [past, k], attrs: { axis: 2 } },
      { op: 'Concat', attrs: { axis: 2 } },
    );
  });

  it('concat of two empty tensors is empty', async () => {
    await expectSameAsOrt(
      { op: 'concat', inputs: [empty([1, 0, 2]), empty([1, 0, 2])], attrs: { axis: 1 } },
      { op: 'Concat', attrs: { axis: 1 } },
    );
  });

  it('matmul with an empty outer dimension, and over an empty inner dimension (zeros)', async () => {
    const q = randomF32([1, 2, 3, 4], next);
    await expectSameAsOrt({ op: 'matmul', inputs: [q, empty([1, 2, 4, 0])] }, { op: 'MatMul' });
    await expectSameAsOrt(
      { op: 'matmul', inputs: [empty([1, 2, 3, 0]), empty([1, 2, 0, 4])] },
      { op: 'MatMul' },
    );
    const [zeros] = ours('matmul', [empty([3, 0]), empty([0, 2])]);
    expect(zeros!.shape).toEqual([3, 2]);
    expect([...(zeros!.data as Float32Array)]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('transpose and reshape of an empty tensor', async () => {
    const x = empty([1, 2, 0, 4]);
    await expectSameAsOrt(
      { op: 'transpose', inputs: [x], attrs: { perm: [0, 2, 1, 3] } },
      { op: 'Transpose', attrs: { perm: [0, 2, 1, 3] } },
    );
    await expectSameAsOrt(
      { op: 'reshape', inputs: [x], attrs: { shape: [1, 0, 8] } },
      { op: 'Reshape', inputs: [x, i64([3], [1, 0, 8])], attrs: { allowzero: 1 }, opset: 14 },
    );
  });

  it('slice to an empty range, and softmax / add on empty tensors', async () => {
    const x = randomF32([1, 1, 4, 4], next);
    await expectSameAsOrt(
      { op: 'slice', inputs: [x], attrs: { starts: [2], ends: [2], axes: [2], steps: [1] } },
      { op: 'Slice', inputs: [x, i64([1], [2]), i64([1], [2]), i64([1], [2])] },
    );
    const e = empty([1, 2, 0, 3]);
    await expectSameAsOrt(
      { op: 'softmax', inputs: [e], attrs: { axis: -1 } },
      { op: 'Softmax', attrs: { axis: -1 } },
    );
    await expectSameAsOrt({ op: 'add', inputs: [e, randomF32([3], next)] }, { op: 'Add' });
  });
});

describe('zero-size tensors in text IR', () => {
  it('an empty cache input parses, prints back and runs through concat / matmul / transpose / reshape', () => {
    const text = `graph @prefill(%past: client f32[1,2,0,4], %k: client f32[1,2,3,4], %q: client f32[1,2,3,4]) -> (present: f32[1,2,3,4], scores: f32[1,2,3,3], flat: f32[1,0,8]) {
  %0 = concat %past, %k {axis = 2} : client f32[1,2,3,4]
  %1 = transpose %0 {perm = [0, 1, 3, 2]} : client f32[1,2,4,3]
  %2 = matmul %q, %1 : client f32[1,2,3,3]
  %3 = transpose %past {perm = [0, 2, 1, 3]} : client f32[1,0,2,4]
  %4 = reshape %3 {shape = [1, 0, 8]} : client f32[1,0,8]
  return %0, %2, %4
}`;
    const g = parseGraph(text, 'prefill.mir');
    verifyGraph(g);
    expect(parseGraph(printGraph(g), 'again.mir').values.get(g.outputs[2]!.value)!.type.shape).toEqual([
      1, 0, 8,
    ]);
    const k = randomF32([1, 2, 3, 4], next);
    const q = randomF32([1, 2, 3, 4], next);
    const out = interpret(
      g,
      new Map([
        ['past', empty([1, 2, 0, 4])],
        ['k', k],
        ['q', q],
      ]),
    );
    expect([...(out.get('present')!.data as Float32Array)]).toEqual([...(k.data as Float32Array)]);
    expect(out.get('scores')!.shape).toEqual([1, 2, 3, 3]);
    expect(out.get('flat')!.data.length).toBe(0);
  });

  it('a zero-size operand of the wrong shape is still a type error', () => {
    const text = `graph @bad(%past: client f32[1,2,0,5], %k: client f32[1,2,3,4]) -> (y: f32[1,2,3,4]) {
  %0 = concat %past, %k {axis = 2} : client f32[1,2,3,4]
  return %0
}`;
    expect(() => verifyGraph(parseGraph(text, 'bad.mir'))).toThrow(MarillError);
  });
});
