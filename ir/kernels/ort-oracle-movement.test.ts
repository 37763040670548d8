/**
 * Movement, reduction, logic and cast kernels against onnxruntime-node. Where
 * ONNX takes a shape or index list as an input (Slice, Expand, Trilu, Split,
 * ReduceSum), onnxruntime gets it as an i64 tensor and the IR op as an attribute.
 */
import { describe, it } from 'vitest';
import type { OpName } from '../ops.ts';
import { fromNumbers } from '../tensor.ts';
import { expectSameAsOrt } from '../../test/fixtures/against-ort.ts';
import { randomBool, randomF32, randomI64 } from '../../test/fixtures/random.ts';
import { seededUniform } from '../random.ts';
import { i64 } from '../../test/fixtures/ort-op.ts';

const next = seededUniform(7);

describe('reductions vs onnxruntime', () => {
  const x = randomF32([2, 3, 4], next);
  const axesCases = [[1], [0, 2], [-1]];
  for (const axes of axesCases)
    for (const keepdims of [0, 1]) {
      it(`reduce_sum/mean/max axes ${JSON.stringify(axes)} keepdims ${keepdims}`, async () => {
        await expectSameAsOrt(
          { op: 'reduce_sum', inputs: [x], attrs: { axes, keepdims } },
          { op: 'ReduceSum', inputs: [x, i64([axes.length], axes)], attrs: { keepdims } },
        );
        await expectSameAsOrt(
          { op: 'reduce_mean', inputs: [x], attrs: { axes, keepdims } },
          { op: 'ReduceMean', attrs: { axes, keepdims } },
        );
        await expectSameAsOrt(
          { op: 'reduce_max', inputs: [x], attrs: { axes, keepdims } },
          { op: 'ReduceMax', attrs: { axes, keepdims } },
        );
      });
    }

  it('argmax on each axis, with and without keepdims', async () => {
    for (const axis of [0, 1, -1])
      for (const keepdims of [0, 1])
        await expectSameAsOrt(
          { op: 'argmax', inputs: [x], attrs: { axis, keepdims } },
          { op: 'ArgMax', attrs: { axis, keepdims } },
        );
  });

  it('i64 reduce_sum', async () => {
    const n = randomI64([3, 4], next, -100, 100);
    await expectSameAsOrt(
      { op: 'reduce_sum', inputs: [n], attrs: { axes: [1], keepdims: 0 } },
      { op: 'ReduceSum', inputs: [n, i64([1], [1])], attrs: { keepdims: 0 } },
    );
  });
});

describe('movement ops vs onnxruntime', () => {
  it('gather with negative indices on axis 0 and 2-D indices on axis 1', async () => {
    const table = randomF32([6, 4], next);
    const rows = i64([4], [0, -1, 3, -6]);
    await expectSameAsOrt(
      { op: 'gather', inputs: [table, rows], attrs: { axis: 0 } },
      { op: 'Gather', attrs: { axis: 0 } },
    );
    const cols = i64([2, 3], [0, -1, 3, -4, 2, 1]);
    await expectSameAsOrt(
      { op: 'gather', inputs: [table, cols], attrs: { axis: 1 } },
      { op: 'Gather', attrs: { axis: 1 } },
    );
  });

  it('transpose', async () => {
    const x = randomF32([2, 3, 4, 5], next);
    for (const perm of [
      [0, 2, 1, 3],
      [3, 1, 0, 2],
    ])
      await expectSameAsOrt(
        { op: 'transpose', inputs: [x], attrs: { perm } },
        { op: 'Transpose', attrs: { perm } },
      );
  });

  it('slice with steps, including a negative step running to the start', async () => {
    const x = randomF32([5, 6], next);
    const slices = [
      { ir: { starts: [1, 0], ends: [4, 6], axes: [0, 1], steps: [1, 2] }, onnxEnds: [4, 6] },
      { ir: { starts: [4], ends: [-1], axes: [1], steps: [-2] }, onnxEnds: [-7] },
      { ir: { starts: [3], ends: [0], axes: [0], steps: [-1] }, onnxEnds: [0] },
    ];
    for (const { ir, onnxEnds } of slices) {
      const list = (v: number[]) => i64([v.length], v);
      await expectSameAsOrt(
        { op: 'slice', inputs: [x], attrs: ir },
        { op: 'Slice', inputs: [x, list(ir.starts), list(onnxEnds), list(ir.axes), list(ir.steps)] },
      );
    }
  });

  it('concat and split', async () => {
    const a = randomF32([2, 3], next);
    const b = randomF32([2, 1], next);
    const c = randomF32([2, 2], next);
    await expectSameAsOrt(
      { op: 'concat', inputs: [a, b, c], attrs: { axis: 1 } },
      { op: 'Concat', attrs: { axis: 1 } },
    );
    const x = randomF32([6, 2], next);
    await expectSameAsOrt(
      { op: 'split', inputs: [x], attrs: { axis: 0, sizes: [1, 3, 2] } },
      { op: 'Split', inputs: [x, i64([3], [1, 3, 2])], attrs: { axis: 0 }, opset: 13 },
    );
  });

  it('expand and reshape', async () => {
    const x = randomF32([3, 1], next);
    await expectSameAsOrt(
      { op: 'expand', inputs: [x], attrs: { shape: [2, 3, 4] } },
      { op: 'Expand', inputs: [x, i64([3], [2, 3, 4])] },
    );
    const y = randomF32([2, 6], next);
    await expectSameAsOrt(
      { op: 'reshape', inputs: [y], attrs: { shape: [3, -1] } },
      { op: 'Reshape', inputs: [y, i64([2], [3, -1])] },
    );
  });

  it('trilu upper and lower with offsets (opset 14)', async () => {
    const x = randomF32([2, 4, 5], next);
    for (const upper of [0, 1])
      for (const k of [-1, 0, 2])
        await expectSameAsOrt(
          { op: 'trilu', inputs: [x], attrs: { upper, k } },
          { op: 'Trilu', inputs: [x, i64([], [k])], attrs: { upper }, opset: 14 },
        );
  });

  it('where with three-way broadcasting', async () => {
    const cond = randomBool([2, 1, 4], next);
    await expectSameAsOrt(
      { op: 'where', inputs: [cond, randomF32([3, 1], next), randomF32([4], next)] },
      { op: 'Where' },
    );
  });
});

describe('logic and cast vs onnxruntime', () => {
  const a = fromNumbers('f32', [2, 3], [1, -2, 3.5, 0, 2, -7]);
  const b = fromNumbers('f32', [3], [1, 0, 4]);
  const pairs: [OpName, string][] = [
    ['equal', 'Equal'],
    ['less', 'Less'],
    ['greater', 'Greater'],
  ];
  for (const [op, onnxOp] of pairs)
    it(op, async () => {
      await expectSameAsOrt({ op, inputs: [a, b] }, { op: onnxOp });
      const n = randomI64([4, 3], next, -2, 2);
      await expectSameAsOrt({ op, inputs: [n, randomI64([3], next, -2, 2)] }, { op: onnxOp });
    });

  it('and, or, not', async () => {
    const p = randomBool([3, 4], next);
    const q = randomBool([4], next);
    await expectSameAsOrt({ op: 'and', inputs: [p, q] }, { op: 'And' });
    await expectSameAsOrt({ op: 'or', inputs: [p, q] }, { op: 'Or' });
    await expectSameAsOrt({ op: 'not', inputs: [p] }, { op: 'Not' });
  });

  it('cast between f32, i64 and bool (f32 -> i64 truncates toward zero)', async () => {
    const x = fromNumbers('f32', [6], [-2.7, -0.5, 0, 0.5, 2.7, 1e6]);
    const ONNX_CODE = { f32: 1, i64: 7, bool: 9 } as const;
    for (const to of ['i64', 'bool'] as const)
      await expectSameAsOrt(
        { op: 'cast', inputs: [x], attrs: { to } },
        { op: 'Cast', attrs: { to: ONNX_CODE[to] } },
      );
    const n = randomI64([5], next, -3, 3);
    for (const to of ['f32', 'bool'] as const)
      await expectSameAsOrt(
        { op: 'cast', inputs: [n], attrs: { to } },
        { op: 'Cast', attrs: { to: ONNX_CODE[to] } },
      );
    const flag = randomBool([5], next);
    for (const to of ['f32', 'i64'] as const)
      await expectSameAsOrt(
        { op: 'cast', inputs: [flag], attrs: { to } },
        { op: 'Cast', attrs: { to: ONNX_CODE[to] } },
      );
  });
});
