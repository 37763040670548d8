/**
 * Every kernel against onnxruntime-node on random inputs: the same op built as
 * a one-node ONNX model, run by onnxruntime, must match evalOp within 1e-5
 * relative (plus 1e-6 absolute near zero).
 */
import { describe, expect, it } from 'vitest';
import type { OpName } from '../ops.ts';
import type { Tensor } from '../tensor.ts';
import { fromNumbers } from '../tensor.ts';
import { expectSameAsOrt, ours } from '../../test/fixtures/against-ort.ts';
import { randomF32, randomI64 } from '../../test/fixtures/random.ts';
import { seededUniform } from '../random.ts';
import { mismatch, runOrtGraph } from '../../test/fixtures/ort-op.ts';

const next = seededUniform(20240803);
const positive = (shape: number[]) => randomF32(shape, next, 0.05, 4);

describe('arithmetic with broadcasting vs onnxruntime', () => {
  const cases: [OpName, string, number[], number[]][] = [
    ['add', 'Add', [2, 3, 4], [4]],
    ['sub', 'Sub', [2, 1, 4], [3, 1]],
    ['mul', 'Mul', [1], [2, 3]],
    ['div', 'Div', [2, 3, 4], [2, 1, 4]],
    ['max', 'Max', [3, 1], [1, 5]],
    ['min', 'Min', [5], [2, 5]],
  ];
  for (const [op, onnxOp, a, b] of cases)
    it(`${op} ${JSON.stringify(a)} x ${JSON.stringify(b)}`, async () => {
      await expectSameAsOrt({ op, inputs: [randomF32(a, next), randomF32(b, next, 0.5, 3)] }, { op: onnxOp });
    });

  it('pow with fractional and negative exponents', async () => {
    await expectSameAsOrt(
      { op: 'pow', inputs: [positive([3, 4]), randomF32([4], next, -2, 2)] },
      { op: 'Pow' },
    );
  });

  it('i64 add, mul and truncating div on negative operands', async () => {
    const a = randomI64([4, 5], next, -50, 50);
    const b = randomI64([5], next, 1, 9);
    const nb = ours('neg', [b])[0]!;
    await expectSameAsOrt({ op: 'add', inputs: [a, b] }, { op: 'Add' });
    await expectSameAsOrt({ op: 'mul', inputs: [a, nb] }, { op: 'Mul' });
    await expectSameAsOrt({ op: 'div', inputs: [a, b] }, { op: 'Div' });
    await expectSameAsOrt({ op: 'div', inputs: [a, nb] }, { op: 'Div' });
  });
});

describe('unary float ops vs onnxruntime', () => {
  const cases: [OpName, string, (s: number[]) => Tensor][] = [
    ['erf', 'Erf', (s) => randomF32(s, next, -4, 4)],
    ['tanh', 'Tanh', (s) => randomF32(s, next, -5, 5)],
    ['sigmoid', 'Sigmoid', (s) => randomF32(s, next, -10, 10)],
    ['sin', 'Sin', (s) => randomF32(s, next, -7, 7)],
    ['cos', 'Cos', (s) => randomF32(s, next, -7, 7)],
    ['exp', 'Exp', (s) => randomF32(s, next, -5, 5)],
    ['log', 'Log', positive],
    ['sqrt', 'Sqrt', positive],
    ['reciprocal', 'Reciprocal', positive],
    ['abs', 'Abs', (s) => randomF32(s, next)],
    ['relu', 'Relu', (s) => randomF32(s, next)],
    ['neg', 'Neg', (s) => randomF32(s, next)],
  ];
  for (const [op, onnxOp, gen] of cases)
    it(op, async () => {
      await expectSameAsOrt({ op, inputs: [gen([6, 50])] }, { op: onnxOp });
    });

  it('gelu erf and tanh forms match ONNX Gelu (opset 20)', async () => {
    const x = randomF32([4, 64], next, -5, 5);
    await expectSameAsOrt({ op: 'gelu', inputs: [x], attrs: { approx: 'erf' } }, { op: 'Gelu', opset: 20 });
    await expectSameAsOrt(
      { op: 'gelu', inputs: [x], attrs: { approx: 'tanh' } },
      { op: 'Gelu', attrs: { approximate: 'tanh' }, opset: 20 },
    );
  });
});

describe('matmul vs onnxruntime', () => {
  const shapes: [number[], number[]][] = [
    [
      [3, 4],
      [4, 5],
    ],
    [
      [2, 3, 4],
      [4, 5],
    ],
    [
      [2, 1, 3, 4],
      [3, 4, 5],
    ],
    [
      [1, 4],
      [2, 4, 1],
    ],
  ];
  for (const [a, b] of shapes)
    it(`${JSON.stringify(a)} @ ${JSON.stringify(b)}`, async () => {
      await expectSameAsOrt(
        { op: 'matmul', inputs: [randomF32(a, next), randomF32(b, next)] },
        { op: 'MatMul' },
      );
    });

  it('768-wide dot products (BERT-base hidden size) agree within 1e-4', async () => {
    const a = randomF32([8, 768], next, -1, 1);
    const b = randomF32([768, 64], next, -1, 1);
    await expectSameAsOrt({ op: 'matmul', inputs: [a, b] }, { op: 'MatMul' }, { rel: 1e-4, abs: 1e-4 });
  });

  it('i64 matmul', async () => {
    const a = randomI64([2, 3], next, -9, 9);
    const b = randomI64([3, 4], next, -9, 9);
    await expectSameAsOrt({ op: 'matmul', inputs: [a, b] }, { op: 'MatMul' });
  });
});

describe('softmax and normalisation vs onnxruntime', () => {
  it('softmax and log_softmax on every axis', async () => {
    const x = randomF32([2, 3, 5], next, -6, 6);
    for (const axis of [-1, 0, 1]) {
      await expectSameAsOrt(
        { op: 'softmax', inputs: [x], attrs: { axis } },
        { op: 'Softmax', attrs: { axis } },
      );
      await expectSameAsOrt(
        { op: 'log_softmax', inputs: [x], attrs: { axis } },
        { op: 'LogSoftmax', attrs: { axis } },
      );
    }
  });

  it('masked softmax equals Softmax(Add(x, mask)) with a broadcast mask', async () => {
    const x = randomF32([2, 2, 3, 4], next, -4, 4);
    // An attention-style mask: 0 where attended, -10000 where padded, one row per batch.
    const m = fromNumbers('f32', [2, 1, 1, 4], [0, 0, -1e4, -1e4, 0, -1e4, 0, 0]);
    const got = ours('softmax', [x, m])[0]!;
    const [want] = await runOrtGraph({
      nodes: [
        { op: 'Add', inputs: ['x', 'm'], outputs: ['z'] },
        { op: 'Softmax', inputs: ['z'], outputs: ['y'], attrs: { axis: -1 } },
      ],
      feeds: { x, m },
      outputs: [{ name: 'y', dtype: 'f32' }],
    });
    expect(mismatch(got, want!)).toBeNull();
  });

  it('layernorm over the last axis and over the last two (LayerNormalization, opset 17)', async () => {
    const x = randomF32([2, 3, 5], next, -3, 3);
    for (const [axis, pshape] of [
      [-1, [5]],
      [-2, [3, 5]],
    ] as const) {
      const scale = randomF32(pshape, next, 0.5, 2);
      const bias = randomF32(pshape, next);
      await expectSameAsOrt(
        { op: 'layernorm', inputs: [x, scale, bias], attrs: { axis, epsilon: 1e-5 } },
        { op: 'LayerNormalization', attrs: { axis, epsilon: { float: 1e-5 } } },
      );
    }
  });

  it('rmsnorm equals the decomposed x / sqrt(mean(x^2) + eps) * scale', async () => {
    const x = randomF32([3, 8], next, -3, 3);
    const scale = randomF32([8], next, 0.5, 2);
    const got = ours('rmsnorm', [x, scale], { epsilon: 1e-6 })[0]!;
    const [want] = await runOrtGraph({
      nodes: [
        { op: 'Mul', inputs: ['x', 'x'], outputs: ['sq'] },
        { op: 'ReduceMean', inputs: ['sq'], outputs: ['ms'], attrs: { axes: [-1], keepdims: 1 } },
        { op: 'Add', inputs: ['ms', 'eps'], outputs: ['mse'] },
        { op: 'Sqrt', inputs: ['mse'], outputs: ['rms'] },
        { op: 'Div', inputs: ['x', 'rms'], outputs: ['n'] },
        { op: 'Mul', inputs: ['n', 's'], outputs: ['y'] },
      ],
      feeds: { x, s: scale, eps: fromNumbers('f32', [1], [1e-6]) },
      outputs: [{ name: 'y', dtype: 'f32' }],
    });
    expect(mismatch(got, want!)).toBeNull();
  });
});
