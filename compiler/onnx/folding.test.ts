/**
 * Dynamic-shape plumbing as exporters emit it (Shape -> Gather -> Unsqueeze ->
 * Concat -> Reshape, Range/ConstantOfShape/Expand/Where mask building) folds
 * to constants and static attributes; the lowered graph still matches
 * onnxruntime-node. Also the IR conventions of lowering (ids, visibility,
 * weights vs constants, origin).
 */
import { describe, expect, test } from 'vitest';
import { differential, errorLine, lowerBytes } from '../../test/fixtures/onnx-builders/differential.ts';
import { randomTensor } from '../../test/fixtures/random.ts';
import { seededUniform } from '../../ir/random.ts';
import type { ModelSpec, NodeSpec } from './write.ts';
import { encodeOnnx, makeModel } from './write.ts';

const TOL = 1e-4;
const node = (op: string, inputs: string[], outputs: string[], attrs?: NodeSpec['attrs']): NodeSpec => ({
  op,
  name: outputs[0]!,
  inputs,
  outputs,
  ...(attrs ? { attrs } : {}),
});
const i64 = (values: number[], dims: number[] = [values.length]) => ({
  type: 'int64' as const,
  dims,
  values,
});

function bytesOf(spec: ModelSpec): Uint8Array {
  return encodeOnnx(makeModel(spec));
}

describe('shape plumbing folds to static shapes', () => {
  // x: [batch, seq, 8] -> reshape to [batch, seq, 2, 4] via Shape/Gather/Unsqueeze/Concat -> transpose
  const headSplit: ModelSpec = {
    opset: 17,
    inputs: [{ name: 'x', type: 'float', shape: ['batch', 'seq', 8] }],
    outputs: [{ name: 'y', type: 'float', shape: ['batch', 2, 'seq', 4] }],
    nodes: [
      node('Shape', ['x'], ['s']),
      node('Constant', [], ['c0'], { value: i64([0], []) }),
      node('Constant', [], ['c1'], { value: i64([1], []) }),
      node('Constant', [], ['ax'], { value: i64([0]) }),
      node('Gather', ['s', 'c0'], ['b'], { axis: 0 }),
      node('Gather', ['s', 'c1'], ['n'], { axis: 0 }),
      node('Unsqueeze', ['b', 'ax'], ['b1']),
      node('Unsqueeze', ['n', 'ax'], ['n1']),
      node('Constant', [], ['heads'], { value_ints: [2, 4] }),
      node('Concat', ['b1', 'n1', 'heads'], ['shape'], { axis: 0 }),
      node('Reshape', ['x', 'shape'], ['r']),
      node('Transpose', ['r'], ['y'], { perm: [0, 2, 1, 3] }),
    ],
  };

  test('Shape -> Gather -> Unsqueeze -> Concat -> Reshape becomes one static reshape', async () => {
    const feeds = new Map([['x', randomTensor('f32', [3, 5, 8], seededUniform(1))]]);
    const { maxError, graph } = await differential(bytesOf(headSplit), feeds, { shapes: { x: [3, 5, 8] } });
    expect(maxError).toBeLessThanOrEqual(TOL);
    expect(graph.nodes.map((n) => n.op)).toEqual(['reshape', 'transpose']);
    expect(graph.nodes[0]!.attrs['shape']).toEqual([3, 5, 2, 4]);
  });

  test('the same model lowers for another fixed shape', () => {
    const g = lowerBytes(bytesOf(headSplit), { x: [1, 7, 8] });
    expect(g.values.get(g.outputs[0]!.value)!.type.shape).toEqual([1, 2, 7, 4]);
  });

  // causal mask: Range(0, seq) -> Unsqueeze -> Less -> Where(mask, 0, -1e9) added to scores; ConstantOfShape; Expand; Cast
  const causal: ModelSpec = {
    opset: 17,
    inputs: [{ name: 'scores', type: 'float', shape: [1, 'seq', 'seq'] }],
    outputs: [{ name: 'p', type: 'float' }],
    nodes: [
      node('Shape', ['scores'], ['s']),
      node('Constant', [], ['two'], { value: i64([2], []) }),
      node('Gather', ['s', 'two'], ['n'], { axis: 0 }),
      node('Constant', [], ['zero'], { value_int: 0 }),
      node('Constant', [], ['one'], { value_int: 1 }),
      node('Range', ['zero', 'n', 'one'], ['pos']),
      node('Constant', [], ['a0'], { value_ints: [0] }),
      node('Constant', [], ['a1'], { value_ints: [1] }),
      node('Unsqueeze', ['pos', 'a0'], ['row']),
      node('Unsqueeze', ['pos', 'a1'], ['col']),
      node('Greater', ['row', 'col'], ['future']),
      node('Constant', [], ['neg'], { value_float: { float: -1e9 } }),
      node('Constant', [], ['zf'], { value: { type: 'float', dims: [], values: [0] } }),
      node('Where', ['future', 'neg', 'zf'], ['bias2d']),
      node('Shape', ['scores'], ['s2']),
      node('Expand', ['bias2d', 's2'], ['bias']),
      node('ConstantOfShape', ['s2'], ['ones'], { value: { type: 'float', dims: [1], values: [1] } }),
      node('Mul', ['scores', 'ones'], ['scaled']),
      node('Add', ['scaled', 'bias'], ['masked']),
      node('Softmax', ['masked'], ['probs'], { axis: -1 }),
      node('Cast', ['future'], ['futf'], { to: 1 }),
      node('Equal', ['pos', 'pos'], ['same']),
      node('Cast', ['same'], ['samef'], { to: 1 }),
      node('Sum', ['probs', 'futf', 'samef'], ['p']),
    ],
  };

  test('Range / Greater / Where / Expand / ConstantOfShape / Equal / Cast fold; only the data path remains', async () => {
    const feeds = new Map([['scores', randomTensor('f32', [1, 6, 6], seededUniform(2))]]);
    const { maxError, graph } = await differential(bytesOf(causal), feeds, { shapes: { scores: [1, 6, 6] } });
    expect(maxError).toBeLessThanOrEqual(TOL);
    const ops = graph.nodes.map((n) => n.op).filter((op) => op !== 'const');
    expect(ops).toEqual(['mul', 'add', 'softmax', 'add', 'add']);
  });

  test('a GPT-2 style causal-mask buffer sliced by the runtime length becomes a constant condition', async () => {
    const n = 8;
    const tri = Array.from({ length: n * n }, (_, i) => (i % n <= Math.floor(i / n) ? 1 : 0));
    const spec: ModelSpec = {
      opset: 13,
      inputs: [{ name: 'w', type: 'float', shape: [1, 1, 'seq', 'seq'] }],
      outputs: [{ name: 'y', type: 'float' }],
      initializers: [{ name: 'bias', type: 'bool', dims: [1, 1, n, n], values: tri }],
      nodes: [
        node('Shape', ['w'], ['s']),
        node('Constant', [], ['k'], { value: i64([-1], []) }),
        node('Gather', ['s', 'k'], ['len'], { axis: 0 }),
        node('Constant', [], ['ax'], { value: i64([0]) }),
        node('Unsqueeze', ['len', 'ax'], ['len1']),
        node('Constant', [], ['z'], { value: i64([0, 0]) }),
        node('Concat', ['len1', 'len1'], ['ends'], { axis: 0 }),
        node('Constant', [], ['axes'], { value: i64([2, 3]) }),
        node('Slice', ['bias', 'z', 'ends', 'axes'], ['mask']),
        node('Constant', [], ['minv'], {
          value: { type: 'float', dims: [], values: [-3.4028234663852886e38] },
        }),
        node('Where', ['mask', 'w', 'minv'], ['y']),
      ],
    };
    const feeds = new Map([['w', randomTensor('f32', [1, 1, 5, 5], seededUniform(3))]]);
    const { maxError, graph } = await differential(bytesOf(spec), feeds, { shapes: { w: [1, 1, 5, 5] } });
    expect(maxError).toBeLessThanOrEqual(TOL);
    const where = graph.nodes.find((x) => x.op === 'where')!;
    const condition = graph.nodes.find((x) => x.outputs[0] === where.inputs[0])!;
    expect(condition.op).toBe('const');
    expect(graph.values.get(condition.outputs[0]!)!.type.shape).toEqual([1, 1, 5, 5]);
  });

  test('Range over a value computed from the inputs is an error naming the node', () => {
    const spec: ModelSpec = {
      opset: 17,
      inputs: [{ name: 'limit', type: 'int64', shape: [] }],
      outputs: [{ name: 'r', type: 'int64' }],
      nodes: [
        node('Constant', [], ['z'], { value_int: 0 }),
        node('Constant', [], ['o'], { value_int: 1 }),
        node('Range', ['z', 'limit', 'o'], ['r']),
      ],
    };
    expect(errorLine(() => lowerBytes(bytesOf(spec)))).toBe(
      "model.onnx: node 'r' (Range): input 'limit' (limit) must be a compile-time constant, but it depends on the model's inputs",
    );
  });
});

describe('lowering conventions', () => {
  const spec: ModelSpec = {
    opset: 17,
    inputs: [{ name: 'ids', type: 'int32', shape: [1, 4] }],
    outputs: [{ name: 'out', type: 'float', shape: [1, 4, 3] }],
    initializers: [
      {
        name: 'emb',
        type: 'float',
        dims: [10, 3],
        values: Array.from({ length: 30 }, (_, i) => Math.sin(i)),
      },
      { name: 'scale', type: 'float', dims: [], values: [2] },
      { name: 'unused', type: 'float', dims: [2], values: [1, 2] },
      { name: 'shape', type: 'int64', dims: [3], values: [1, 4, 3] },
    ],
    nodes: [
      node('Gather', ['emb', 'ids'], ['g']),
      node('Mul', ['g', 'scale'], ['m']),
      node('Reshape', ['m', 'shape'], ['out']),
    ],
  };

  test('int32 graph inputs become i64, match onnxruntime', async () => {
    const feeds = new Map([['ids', randomTensor('i64', [1, 4], seededUniform(4), 0, 10)]]);
    const { maxError } = await differential(bytesOf(spec), feeds, { int32Inputs: ['ids'] });
    expect(maxError).toBeLessThanOrEqual(TOL);
  });

  test('inputs keep their names and are client; float initializers are server weights; unused ones are dropped', () => {
    const g = lowerBytes(bytesOf(spec));
    expect(g.inputs).toEqual(['ids']);
    expect(g.values.get('ids')).toMatchObject({
      visibility: 'client',
      type: { dtype: 'i64', shape: [1, 4] },
    });
    const weights = g.nodes.filter((n) => n.op === 'weight');
    expect(weights.map((w) => w.attrs['name']).sort()).toEqual(['emb', 'scale']);
    for (const w of weights) expect(g.values.get(w.outputs[0]!)!.visibility).toBe('server');
    expect(g.nodes.filter((n) => n.op !== 'weight').map((n) => [n.op, n.origin])).toEqual([
      ['gather', 'g'],
      ['mul', 'm'],
    ]);
    expect(g.outputs).toEqual([{ name: 'out', value: g.nodes[g.nodes.length - 1]!.outputs[0] }]);
    // client ids x server embedding: the join rule makes the result secret
    expect(g.values.get(g.outputs[0]!.value)!.visibility).toBe('secret');
  });
});
