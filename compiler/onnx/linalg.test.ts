/**
 * Per-op lowering of products, normalisations and reductions, against
 * onnxruntime-node: MatMul (incl. 1-D operands), Gemm (transA/transB,
 * alpha/beta), Softmax/LogSoftmax per opset, LayerNormalization, Reduce* with
 * axes as attribute (old opsets) and as input (new opsets), ArgMax/ArgMin.
 */
import { describe, expect, test } from 'vitest';
import { makeTensor } from '../../ir/tensor.ts';
import type { OpCase } from '../../test/fixtures/onnx-builders/single-op.ts';
import { f32, floats, ints, runOpCase } from '../../test/fixtures/onnx-builders/single-op.ts';

const TOL = 1e-4;

const matmul = (title: string, a: number[], b: number[]): OpCase => ({
  title: `MatMul ${title}`,
  op: 'MatMul',
  opset: 17,
  inputs: [f32('a', a), f32('b', b)],
});

const gemm = (title: string, extra: Partial<OpCase>): OpCase => ({
  title: `Gemm ${title}`,
  op: 'Gemm',
  opset: 13,
  inputs: [f32('a', [3, 4]), f32('b', [4, 5]), f32('c', [5])],
  ...extra,
});

const softmax = (op: string, opset: number, shape: number[], axis?: number): OpCase => ({
  title: `${op} opset ${opset} rank ${shape.length} axis ${axis ?? 'default'}`,
  op,
  opset,
  inputs: [f32('x', shape)],
  ranges: { x: [-4, 4] },
  ...(axis !== undefined ? { attrs: { axis } } : {}),
});

const reduce = (op: string, opset: number, title: string, extra: Partial<OpCase>): OpCase => ({
  title: `${op} opset ${opset} ${title}`,
  op,
  opset,
  inputs: [f32('x', [2, 3, 4])],
  ...extra,
});

/** Floats drawn from {0, 1, 2} so that ArgMax/ArgMin meet ties. */
function tiedFloats(shape: number[]) {
  const t = makeTensor('f32', shape);
  for (let i = 0; i < t.data.length; i++) (t.data as Float32Array)[i] = (i * 7) % 3;
  return new Map([['x', t]]);
}

const CASES: readonly OpCase[] = [
  matmul('2-D', [3, 4], [4, 5]),
  matmul('batched with broadcast batch dims', [2, 1, 3, 4], [5, 4, 2]),
  matmul('1-D left operand', [4], [2, 4, 3]),
  matmul('1-D right operand', [2, 3, 4], [4]),
  matmul('1-D both (dot product)', [4], [4]),
  {
    ...matmul('against a weight', [2, 3, 4], [4, 2]),
    inputs: [f32('a', [2, 3, 4])],
    initializers: [floats('w', [0.1, -0.2, 0.3, 0.4, 0.5, -0.6, 0.7, 0.8], [4, 2])],
  },
  gemm('plain', {}),
  gemm('transA', { inputs: [f32('a', [4, 3]), f32('b', [4, 5]), f32('c', [5])], attrs: { transA: 1 } }),
  gemm('transB', { inputs: [f32('a', [3, 4]), f32('b', [5, 4]), f32('c', [5])], attrs: { transB: 1 } }),
  gemm('transA transB alpha beta', {
    inputs: [f32('a', [4, 3]), f32('b', [5, 4]), f32('c', [3, 1])],
    attrs: { transA: 1, transB: 1, alpha: 0.5, beta: { float: 2 } },
  }),
  gemm('without C', { inputs: [f32('a', [3, 4]), f32('b', [4, 5])] }),
  gemm('with beta 0', { attrs: { beta: { float: 0 } } }),
  gemm('opset 9 with weight operands', {
    opset: 9,
    inputs: [f32('a', [3, 4])],
    initializers: [
      floats(
        'b',
        Array.from({ length: 20 }, (_, i) => i / 10 - 1),
        [5, 4],
      ),
      floats('c', [1, 2, 3, 4, 5]),
    ],
    attrs: { transB: 1 },
  }),
  softmax('Softmax', 13, [2, 3, 4]),
  softmax('Softmax', 13, [2, 3, 4], 1),
  softmax('Softmax', 11, [2, 3, 4]),
  softmax('Softmax', 11, [2, 3, 4], 2),
  softmax('Softmax', 11, [2, 3, 4], 0),
  softmax('Softmax', 11, [2, 3, 4], -2),
  softmax('LogSoftmax', 13, [2, 3, 4], -1),
  softmax('LogSoftmax', 11, [2, 3, 4], 1),
  {
    title: 'LayerNormalization last axis with bias',
    op: 'LayerNormalization',
    opset: 17,
    inputs: [f32('x', [2, 3, 6]), f32('scale', [6]), f32('bias', [6])],
    attrs: { epsilon: { float: 1e-5 } },
  },
  {
    title: 'LayerNormalization axis -2 without bias',
    op: 'LayerNormalization',
    opset: 17,
    inputs: [f32('x', [2, 3, 4]), f32('scale', [3, 4])],
    attrs: { axis: -2 },
  },
  {
    title: 'LayerNormalization with weight parameters',
    op: 'LayerNormalization',
    opset: 17,
    inputs: [f32('x', [3, 4])],
    initializers: [floats('g', [1, 2, 3, 4]), floats('b', [0, 0.5, -0.5, 1])],
  },
  {
    title: 'RMSNormalization (opset 23)',
    op: 'RMSNormalization',
    opset: 23,
    inputs: [f32('x', [2, 3, 6]), f32('g', [6])],
    attrs: { epsilon: { float: 1e-6 } },
  },
  reduce('ReduceMean', 13, 'axes attribute', { attrs: { axes: [-1] } }),
  reduce('ReduceMean', 13, 'axes attribute keepdims 0', { attrs: { axes: [0, 2], keepdims: 0 } }),
  reduce('ReduceMean', 18, 'axes input', { initializers: [ints('axes', [1])] }),
  reduce('ReduceMean', 18, 'no axes (all)', {}),
  reduce('ReduceSum', 11, 'axes attribute', { attrs: { axes: [1, 2] } }),
  reduce('ReduceSum', 13, 'axes input keepdims 0', {
    initializers: [ints('axes', [-1])],
    attrs: { keepdims: 0 },
  }),
  reduce('ReduceSum', 13, 'empty axes with noop', { attrs: { noop_with_empty_axes: 1 } }),
  reduce('ReduceSum', 13, 'empty axes without noop', {}),
  reduce('ReduceMax', 13, 'axes attribute', { attrs: { axes: [2] } }),
  reduce('ReduceMax', 18, 'axes input', { initializers: [ints('axes', [0])] }),
  reduce('ReduceMin', 13, 'axes attribute', { attrs: { axes: [1], keepdims: 0 } }),
  {
    title: 'ArgMax axis 1 with ties',
    op: 'ArgMax',
    opset: 13,
    inputs: [f32('x', [2, 5, 3])],
    feeds: tiedFloats([2, 5, 3]),
    attrs: { axis: 1 },
    outputs: ['int64'],
  },
  {
    title: 'ArgMax keepdims 0 select_last_index',
    op: 'ArgMax',
    opset: 13,
    inputs: [f32('x', [2, 5, 3])],
    feeds: tiedFloats([2, 5, 3]),
    attrs: { axis: -1, keepdims: 0, select_last_index: 1 },
    outputs: ['int64'],
  },
  {
    title: 'ArgMin axis 0 with ties',
    op: 'ArgMin',
    opset: 13,
    inputs: [f32('x', [4, 3])],
    feeds: tiedFloats([4, 3]),
    outputs: ['int64'],
  },
];

describe('linear algebra, normalisation and reductions match onnxruntime', () => {
  test.each(CASES.map((c) => [c.title, c] as const))('%s', async (_title, c) => {
    const { maxError } = await runOpCase(c);
    expect(maxError).toBeLessThanOrEqual(TOL);
  });
});

test('Gemm lowers to transpose + matmul + mul/add', async () => {
  const { graph } = await runOpCase(CASES.find((c) => c.title === 'Gemm transA transB alpha beta')!);
  expect(graph.nodes.map((n) => n.op).filter((op) => op !== 'const')).toEqual([
    'transpose',
    'transpose',
    'matmul',
    'mul',
    'mul',
    'add',
  ]);
});

test('opset-11 Softmax on an inner axis is computed on the 2-D coercion', async () => {
  const { graph } = await runOpCase(CASES.find((c) => c.title === 'Softmax opset 11 rank 3 axis default')!);
  expect(graph.nodes.map((n) => n.op)).toEqual(['reshape', 'softmax', 'reshape']);
  expect(graph.nodes[0]!.attrs['shape']).toEqual([2, 12]);
});
