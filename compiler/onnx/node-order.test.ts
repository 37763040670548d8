/**
 * Node order: a graph whose nodes are not in topological order (as graph
 * editors can leave it) lowers to the same function, checked against
 * onnxruntime on the sorted file; a cycle is a one-line error naming its nodes.
 */
import { describe, expect, test } from 'vitest';
import { makeTensor } from '../../ir/tensor.ts';
import { interpret } from '../../ir/interpret.ts';
import { tensorMaxAbsDiff } from '../../ir/tensor.ts';
import { differential, errorLine, lowerBytes } from '../../test/fixtures/onnx-builders/differential.ts';
import type { NodeSpec } from './write.ts';
import { encodeOnnx, makeModel } from './write.ts';

const sorted: NodeSpec[] = [
  { op: 'Relu', name: 'relu', inputs: ['x'], outputs: ['a'] },
  { op: 'Add', name: 'add', inputs: ['a', 'x'], outputs: ['b'] },
  { op: 'Neg', name: 'neg', inputs: ['x'], outputs: ['c'] },
  { op: 'Mul', name: 'mul', inputs: ['b', 'c'], outputs: ['y'] },
];

function model(nodes: NodeSpec[]): Uint8Array {
  return encodeOnnx(
    makeModel({
      opset: 17,
      inputs: [{ name: 'x', type: 'float', shape: [2, 3] }],
      outputs: [{ name: 'y', type: 'float', shape: [2, 3] }],
      nodes,
    }),
  );
}

describe('lowering order', () => {
  test('nodes listed consumers-first lower to what onnxruntime computes on the sorted file', async () => {
    const feeds = new Map([['x', makeTensor('f32', [2, 3], Float32Array.from([-1, 2, -3, 4, 0.5, -0.25]))]]);
    const { theirs, graph: inOrder } = await differential(model(sorted), feeds);
    const shuffled = lowerBytes(model([sorted[3]!, sorted[1]!, sorted[2]!, sorted[0]!]));
    const ours = interpret(shuffled, feeds);
    expect(tensorMaxAbsDiff(ours.get('y')!, theirs.get('y')!, 'y')).toBeLessThan(1e-6);
    expect(shuffled.nodes.map((n) => n.op).sort()).toEqual(inOrder.nodes.map((n) => n.op).sort());
  });

  test('a graph in file order keeps that order', () => {
    const g = lowerBytes(model(sorted));
    expect(g.nodes.map((n) => n.op)).toEqual(['relu', 'add', 'neg', 'mul']);
  });

  test('a cycle is a one-line error naming its nodes', () => {
    const cyclic: NodeSpec[] = [
      { op: 'Add', name: 'p', inputs: ['x', 'q_out'], outputs: ['p_out'] },
      { op: 'Relu', name: 'q', inputs: ['p_out'], outputs: ['q_out'] },
      { op: 'Neg', name: 'r', inputs: ['q_out'], outputs: ['y'] },
    ];
    expect(errorLine(() => lowerBytes(model(cyclic)))).toBe(
      "model.onnx: the graph has a cycle through nodes 'p', 'q'",
    );
  });
});
