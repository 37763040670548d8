/**
 * Per-op lowering of data-movement ops against onnxruntime-node, including the
 * attribute-vs-input forms across opsets (Squeeze/Unsqueeze/Split/Slice) and
 * Slice's edge cases (negative bounds, INT64_MAX/INT64_MIN sentinels, steps).
 */
import { describe, expect, test } from 'vitest';
import type { OpCase } from '../../test/fixtures/onnx-builders/single-op.ts';
import { f32, i64, ints, runOpCase } from '../../test/fixtures/onnx-builders/single-op.ts';
import { normalizeSlice } from './ops/movement.ts';

const TOL = 1e-4;
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

const x234 = [f32('x', [2, 3, 4])];

function slice(
  title: string,
  starts: readonly (number | bigint)[],
  ends: readonly (number | bigint)[],
  axes?: number[],
  steps?: number[],
): OpCase {
  const big = (name: string, v: readonly (number | bigint)[]) => ({
    name,
    type: 'int64' as const,
    dims: [v.length],
    values: v.map(BigInt),
  });
  const initializers = [
    big('starts', starts),
    big('ends', ends),
    ...(axes ? [ints('axes', axes)] : []),
    ...(steps ? [ints('steps', steps)] : []),
  ];
  const nodeInputs = ['x', 'starts', 'ends', axes ? 'axes' : '', steps ? 'steps' : ''];
  return {
    title: `Slice ${title}`,
    op: 'Slice',
    opset: 13,
    inputs: [f32('x', [5, 6, 4])],
    initializers,
    nodeInputs,
  };
}

const CASES: readonly OpCase[] = [
  {
    title: 'Reshape with 0 and -1',
    op: 'Reshape',
    opset: 13,
    inputs: x234,
    initializers: [ints('shape', [0, -1])],
  },
  {
    title: 'Reshape allowzero=0 (opset 14)',
    op: 'Reshape',
    opset: 14,
    inputs: x234,
    initializers: [ints('shape', [-1, 0, 2])],
    attrs: { allowzero: 0 },
  },
  {
    title: 'Reshape opset 5 to 4-D',
    op: 'Reshape',
    opset: 5,
    inputs: x234,
    initializers: [ints('shape', [2, 3, 2, 2])],
  },
  ...[0, 1, 2, 3, -1].map((axis): OpCase => ({
    title: `Flatten axis ${axis}`,
    op: 'Flatten',
    opset: 13,
    inputs: x234,
    attrs: { axis },
  })),
  {
    title: 'Squeeze opset 11 axes attribute',
    op: 'Squeeze',
    opset: 11,
    inputs: [f32('x', [1, 3, 1, 4])],
    attrs: { axes: [0, -2] },
  },
  {
    title: 'Squeeze opset 13 axes input',
    op: 'Squeeze',
    opset: 13,
    inputs: [f32('x', [1, 3, 1, 4])],
    initializers: [ints('axes', [2])],
  },
  { title: 'Squeeze opset 13 no axes', op: 'Squeeze', opset: 13, inputs: [f32('x', [1, 3, 1, 4])] },
  {
    title: 'Unsqueeze opset 11 axes attribute',
    op: 'Unsqueeze',
    opset: 11,
    inputs: x234,
    attrs: { axes: [0, 4] },
  },
  {
    title: 'Unsqueeze opset 13 negative axes input',
    op: 'Unsqueeze',
    opset: 13,
    inputs: x234,
    initializers: [ints('axes', [-1, 1])],
  },
  { title: 'Transpose default perm', op: 'Transpose', opset: 13, inputs: x234 },
  { title: 'Transpose perm', op: 'Transpose', opset: 13, inputs: x234, attrs: { perm: [0, 2, 1] } },
  {
    title: 'Concat with a constant operand',
    op: 'Concat',
    opset: 13,
    inputs: [f32('a', [2, 3]), f32('b', [2, 1])],
    initializers: [{ name: 'c', type: 'float', dims: [2, 2], values: [1, 2, 3, 4] }],
    attrs: { axis: -1 },
  },
  {
    title: 'Concat int64 inputs axis 0',
    op: 'Concat',
    opset: 13,
    inputs: [i64('a', [2, 3]), i64('b', [1, 3])],
    attrs: { axis: 0 },
    outputs: ['int64'],
  },
  {
    title: 'Concat with an empty operand',
    op: 'Concat',
    opset: 13,
    inputs: [f32('a', [2, 3])],
    initializers: [{ name: 'e', type: 'float', dims: [2, 0], values: [] }],
    attrs: { axis: 1 },
  },
  {
    title: 'Slice opset 9 attributes',
    op: 'Slice',
    opset: 9,
    inputs: x234,
    attrs: { starts: [1, -3], ends: [2, 100], axes: [0, 2] },
  },
  {
    title: 'Slice opset 9 default axes',
    op: 'Slice',
    opset: 9,
    inputs: x234,
    attrs: { starts: [0, 1], ends: [1, -1] },
  },
  slice('positive bounds', [1, 2], [4, 5], [0, 1]),
  slice('negative starts and ends', [-4, -3], [-1, -1], [0, 2]),
  slice('INT64_MAX end', [2], [INT64_MAX], [1]),
  slice('INT64_MIN start clamps to 0', [INT64_MIN], [3], [0]),
  slice('step 2', [0, 1], [INT64_MAX, 6], [1, 0], [2, 2]),
  slice('negative step to the beginning (INT64_MIN end)', [-1], [INT64_MIN], [1], [-1]),
  slice('negative step -2 from INT64_MAX start', [INT64_MAX], [0], [0], [-2]),
  slice('negative axes', [1], [3], [-1]),
  slice('default axes and steps', [1, 0, 2], [3, 4, 4]),
  slice('empty result', [3], [1], [0]),
  {
    title: 'Split opset 11 split attribute',
    op: 'Split',
    opset: 11,
    inputs: x234,
    attrs: { axis: 2, split: [1, 3] },
    outputs: ['float', 'float'],
  },
  {
    title: 'Split opset 11 equal parts',
    op: 'Split',
    opset: 11,
    inputs: x234,
    attrs: { axis: 1 },
    outputs: ['float', 'float', 'float'],
  },
  {
    title: 'Split opset 13 split input',
    op: 'Split',
    opset: 13,
    inputs: x234,
    initializers: [ints('split', [3, 1])],
    attrs: { axis: -1 },
    outputs: ['float', 'float'],
  },
  {
    title: 'Split opset 13 equal parts',
    op: 'Split',
    opset: 13,
    inputs: x234,
    attrs: { axis: 2 },
    outputs: ['float', 'float'],
  },
  {
    title: 'Split opset 18 num_outputs uneven',
    op: 'Split',
    opset: 18,
    inputs: [f32('x', [2, 7])],
    attrs: { axis: 1, num_outputs: 3 },
    outputs: ['float', 'float', 'float'],
  },
  {
    title: 'Expand bidirectional',
    op: 'Expand',
    opset: 13,
    inputs: [f32('x', [3, 1])],
    initializers: [ints('shape', [2, 1, 4])],
  },
  {
    title: 'Expand to a smaller target',
    op: 'Expand',
    opset: 13,
    inputs: [f32('x', [2, 3, 1])],
    initializers: [ints('shape', [1, 5])],
  },
  {
    title: 'Tile',
    op: 'Tile',
    opset: 13,
    inputs: [f32('x', [2, 3])],
    initializers: [ints('repeats', [2, 3])],
  },
  {
    title: 'Gather axis 0 with input indices',
    op: 'Gather',
    opset: 13,
    inputs: [f32('x', [5, 3]), i64('i', [2, 4])],
    ranges: { i: [-5, 5] },
  },
  {
    title: 'Gather axis 1 with constant negative indices',
    op: 'Gather',
    opset: 13,
    inputs: [f32('x', [2, 4, 3])],
    initializers: [ints('i', [-1, 0, 2])],
    attrs: { axis: 1 },
  },
  {
    title: 'Gather scalar index',
    op: 'Gather',
    opset: 13,
    inputs: [f32('x', [2, 4, 3])],
    initializers: [ints('i', [2], [])],
    attrs: { axis: -2 },
  },
  {
    title: 'Gather from a weight (embedding)',
    op: 'Gather',
    opset: 13,
    inputs: [i64('ids', [1, 5])],
    initializers: [
      { name: 'table', type: 'float', dims: [6, 3], values: Array.from({ length: 18 }, (_, i) => i / 3) },
    ],
    nodeInputs: ['table', 'ids'],
    ranges: { ids: [0, 6] },
  },
  { title: 'Trilu upper', op: 'Trilu', opset: 14, inputs: [f32('x', [2, 4, 5])] },
  {
    title: 'Trilu lower with k = -1',
    op: 'Trilu',
    opset: 14,
    inputs: [f32('x', [4, 5])],
    initializers: [ints('k', [-1], [])],
    attrs: { upper: 0 },
  },
  {
    title: 'Trilu upper with k = 2',
    op: 'Trilu',
    opset: 14,
    inputs: [f32('x', [4, 5])],
    initializers: [ints('k', [2], [])],
  },
];

describe('data-movement ops match onnxruntime', () => {
  test.each(CASES.map((c) => [c.title, c] as const))('%s', async (_title, c) => {
    const { maxError } = await runOpCase(c);
    expect(maxError).toBeLessThanOrEqual(TOL);
  });
});

test('Flatten, Squeeze and Unsqueeze are IR reshapes with static shapes', async () => {
  for (const title of [
    'Flatten axis 2',
    'Squeeze opset 13 axes input',
    'Unsqueeze opset 13 negative axes input',
  ]) {
    const { graph } = await runOpCase(CASES.find((c) => c.title === title)!);
    expect(graph.nodes.map((n) => n.op)).toEqual(['reshape']);
  }
});

describe('normalizeSlice (ONNX clamping rules, derived by hand)', () => {
  test('positive step: negative bounds count from the end, ends clamp to the dimension', () => {
    expect(normalizeSlice([10], [-3], [Number(INT64_MAX)], [0], [1])).toMatchObject({
      starts: [7],
      ends: [10],
    });
    expect(normalizeSlice([10], [-30], [-20], [0], [1])).toMatchObject({ starts: [0], ends: [0] });
  });
  test('negative step: start clamps to d-1, end may be -1 (through the first element)', () => {
    expect(normalizeSlice([10], [Number(INT64_MAX)], [Number(INT64_MIN)], [0], [-1])).toMatchObject({
      starts: [9],
      ends: [-1],
    });
    expect(normalizeSlice([10], [-1], [-11], [0], [-3])).toMatchObject({ starts: [9], ends: [-1] });
    expect(normalizeSlice([10], [5], [2], [0], [-1])).toMatchObject({ starts: [5], ends: [2] });
  });
});
