/**
 * Per-op lowering of the elementwise ONNX ops, against onnxruntime-node on
 * random inputs (lowerOnnx + the plaintext interpreter vs ORT, max abs error).
 */
import { describe, expect, test } from 'vitest';
import type { OpCase } from '../../test/fixtures/onnx-builders/single-op.ts';
import { bool, f32, floats, i64, ints, runOpCase } from '../../test/fixtures/onnx-builders/single-op.ts';

const TOL = 1e-4;
const binary = (op: string, opset = 17): OpCase => ({
  title: `${op} with broadcasting`,
  op,
  opset,
  inputs: [f32('a', [2, 3, 4]), f32('b', [3, 1])],
  ranges: { b: [0.5, 2] },
});
const unary = (op: string, range: readonly [number, number] = [-3, 3], opset = 17): OpCase => ({
  title: op,
  op,
  opset,
  inputs: [f32('x', [3, 5])],
  ranges: { x: range },
});
const compare = (op: string): OpCase => ({
  title: `${op} (int64, with ties)`,
  op,
  opset: 17,
  inputs: [i64('a', [4, 3]), i64('b', [3])],
  ranges: { a: [0, 3], b: [0, 3] },
  outputs: ['bool'],
});
const logic = (op: string): OpCase => ({
  title: op,
  op,
  opset: 17,
  inputs: [bool('a', [2, 4]), bool('b', [4])],
  outputs: ['bool'],
});

const CASES: readonly OpCase[] = [
  ...['Add', 'Sub', 'Mul', 'Div'].map((op) => binary(op)),
  { ...binary('Add'), title: 'Add of int64', inputs: [i64('a', [2, 3]), i64('b', [3])], outputs: ['int64'] },
  {
    ...binary('Div'),
    title: 'Div of int64 truncates',
    inputs: [i64('a', [2, 3]), i64('b', [3])],
    ranges: { a: [-20, 20], b: [1, 6] },
    outputs: ['int64'],
  },
  {
    title: 'Pow with a float exponent initializer (2)',
    op: 'Pow',
    opset: 17,
    inputs: [f32('x', [3, 4])],
    initializers: [floats('e', [2], [])],
  },
  {
    title: 'Pow with an int64 exponent constant',
    op: 'Pow',
    opset: 17,
    inputs: [f32('x', [3, 4])],
    initializers: [ints('e', [3], [])],
  },
  {
    title: 'Pow of positive bases, input exponent',
    op: 'Pow',
    opset: 17,
    inputs: [f32('x', [3, 4]), f32('y', [4])],
    ranges: { x: [0.5, 2] },
  },
  {
    title: 'Max of three',
    op: 'Max',
    opset: 17,
    inputs: [f32('a', [2, 3]), f32('b', [3]), f32('c', [2, 1])],
  },
  {
    title: 'Min of three',
    op: 'Min',
    opset: 17,
    inputs: [f32('a', [2, 3]), f32('b', [3]), f32('c', [2, 1])],
  },
  {
    title: 'Sum of three',
    op: 'Sum',
    opset: 17,
    inputs: [f32('a', [2, 3]), f32('b', [3]), f32('c', [2, 1])],
  },
  { title: 'Mean of two', op: 'Mean', opset: 17, inputs: [f32('a', [2, 3]), f32('b', [3])] },
  ...['Neg', 'Abs', 'Exp', 'Erf', 'Tanh', 'Relu', 'Sigmoid', 'Sin', 'Cos', 'Softplus', 'Identity'].map((op) =>
    unary(op),
  ),
  unary('Sqrt', [0, 4]),
  unary('Log', [0.1, 4]),
  unary('Reciprocal', [0.5, 3]),
  { ...unary('Gelu', [-3, 3], 20), title: 'Gelu (opset 20, exact)' },
  { ...unary('Gelu', [-3, 3], 20), title: 'Gelu (opset 20, tanh)', attrs: { approximate: 'tanh' } },
  {
    ...unary('Clip'),
    title: 'Clip with input bounds (opset 13)',
    initializers: [floats('lo', [-0.5], []), floats('hi', [1], [])],
  },
  {
    ...unary('Clip'),
    title: 'Clip with only a max (opset 13)',
    nodeInputs: ['x', '', 'hi'],
    initializers: [floats('hi', [1], [])],
  },
  {
    ...unary('Clip', [-3, 3], 6),
    title: 'Clip with attribute bounds (opset 6)',
    attrs: { min: -0.5, max: { float: 1 } },
  },
  { ...unary('Dropout', [-3, 3], 13), title: 'Dropout at inference' },
  ...['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual'].map(compare),
  { ...compare('Less'), title: 'Less of floats', inputs: [f32('a', [4, 3]), f32('b', [3])] },
  ...['And', 'Or', 'Xor'].map(logic),
  { title: 'Not', op: 'Not', opset: 17, inputs: [bool('a', [3, 2])], outputs: ['bool'] },
  {
    title: 'Where with broadcasting',
    op: 'Where',
    opset: 17,
    inputs: [bool('c', [3, 1]), f32('x', [3, 4]), f32('y', [4])],
  },
  {
    title: 'Where with a constant condition',
    op: 'Where',
    opset: 17,
    inputs: [f32('x', [2, 3]), f32('y', [2, 3])],
    nodeInputs: ['c', 'x', 'y'],
    initializers: [{ name: 'c', type: 'bool', dims: [3], values: [1, 0, 1] }],
  },
  {
    title: 'Cast float -> int64 (truncation)',
    op: 'Cast',
    opset: 17,
    inputs: [f32('x', [3, 4])],
    ranges: { x: [-5, 5] },
    attrs: { to: 7 },
    outputs: ['int64'],
  },
  {
    title: 'Cast int64 -> float',
    op: 'Cast',
    opset: 17,
    inputs: [i64('x', [3, 4])],
    ranges: { x: [-50, 50] },
    attrs: { to: 1 },
  },
  {
    title: 'Cast float -> bool',
    op: 'Cast',
    opset: 17,
    inputs: [f32('x', [3, 4])],
    ranges: { x: [-1, 1] },
    attrs: { to: 9 },
    outputs: ['bool'],
  },
  { title: 'Cast bool -> float', op: 'Cast', opset: 17, inputs: [bool('x', [3, 4])], attrs: { to: 1 } },
  {
    title: 'Cast int64 -> int32 (same IR type)',
    op: 'Cast',
    opset: 17,
    inputs: [i64('x', [3])],
    ranges: { x: [-9, 9] },
    attrs: { to: 6 },
    outputs: ['int32'],
  },
  {
    title: 'CastLike',
    op: 'CastLike',
    opset: 15,
    inputs: [i64('x', [2, 3]), f32('like', [1])],
    ranges: { x: [-9, 9] },
  },
];

describe('elementwise ops match onnxruntime', () => {
  test.each(CASES.map((c) => [c.title, c] as const))('%s', async (_title, c) => {
    const { maxError } = await runOpCase(c);
    expect(maxError).toBeLessThanOrEqual(TOL);
  });
});

test('Pow with a constant exponent 2 stays a pow op (fusion happens later)', async () => {
  const { graph } = await runOpCase(CASES.find((c) => c.title.startsWith('Pow with a float exponent'))!);
  expect(graph.nodes.map((n) => n.op)).toContain('pow');
});

test('Identity and same-type casts add no IR op', async () => {
  for (const title of ['Identity', 'Cast int64 -> int32 (same IR type)']) {
    const { graph } = await runOpCase(CASES.find((c) => c.title === title)!);
    expect(graph.nodes).toEqual([]);
    expect(graph.outputs[0]!.value).toBe('x');
  }
});
