import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './builder.ts';
import { MarillError } from './errors.ts';
import { KERNELS, evalOp, interpret } from './interpret.ts';
import { OP_NAMES } from './ops.ts';
import type { Tensor } from './tensor.ts';
import { fromNumbers, toNumbers } from './tensor.ts';

const f32 = (shape: number[], values: number[]) => fromNumbers('f32', shape, values);
const i64 = (shape: number[], values: number[]) => fromNumbers('i64', shape, values);

function caught(f: () => unknown): MarillError {
  try {
    f();
  } catch (e) {
    if (e instanceof MarillError) return e;
    throw e;
  }
  throw new Error('expected a MarillError');
}

/** relu(x @ W + b) with x: client f32[2,2], W: server weight, b: const. */
function smallMlp() {
  const b = new GraphBuilder('mlp');
  const x = b.addInput('x', { dtype: 'f32', shape: [2, 2] });
  const w = b.addWeight('fc.weight', 'server', { tensor: f32([2, 3], [1, 0, -1, 0, 1, 1]) });
  const bias = b.addConst(f32([3], [0, -10, 1]));
  const mm = b.add1('matmul', [x, w], {}, { origin: "node 'MatMul_0'" });
  const sum = b.add1('add', [mm, bias]);
  const y = b.add1('relu', [sum]);
  b.setOutputs([
    { name: 'y', value: y },
    { name: 'pre', value: sum },
  ]);
  return b.build();
}

describe('interpret', () => {
  it('runs a graph and returns outputs by name (hand-computed)', () => {
    // x = [[1,2],[3,-4]]: x@W = [[1,2,1],[3,-4,-7]]; + b = [[1,-8,2],[3,-14,-6]]
    const out = interpret(smallMlp(), new Map([['x', f32([2, 2], [1, 2, 3, -4])]]));
    expect([...out.keys()]).toEqual(['y', 'pre']);
    expect(toNumbers(out.get('pre')!)).toEqual([1, -8, 2, 3, -14, -6]);
    expect(toNumbers(out.get('y')!)).toEqual([1, 0, 2, 3, 0, 0]);
  });

  it('keeps values that are both an output and read later, and handles multi-result ops', () => {
    const b = new GraphBuilder('g');
    const x = b.addInput('x', { dtype: 'i64', shape: [4] });
    const [lo, hi] = b.add('split', [x], { axis: 0, sizes: [1, 3] });
    const doubled = b.add1('add', [hi!, hi!]);
    const joined = b.add1('concat', [doubled, lo!], { axis: 0 });
    b.setOutputs([
      { name: 'hi', value: hi! },
      { name: 'joined', value: joined },
    ]);
    const out = interpret(b.build(), new Map([['x', i64([4], [1, 2, 3, 4])]]));
    expect(toNumbers(out.get('hi')!)).toEqual([2, 3, 4]);
    expect(toNumbers(out.get('joined')!)).toEqual([4, 6, 8, 1]);
  });

  it('builds a const without a tensor from its value attribute', () => {
    const b = new GraphBuilder('c');
    const x = b.addInput('x', { dtype: 'f32', shape: [2] });
    const k = b.addConst(f32([2], [2, 3]));
    b.setOutputs([{ name: 'y', value: b.add1('mul', [x, k]) }]);
    const g = b.build();
    const withoutTensors = g.nodes.map(({ tensor: _dropped, ...rest }) => rest);
    const out = interpret({ ...g, nodes: withoutTensors }, new Map([['x', f32([2], [5, 7])]]));
    expect(toNumbers(out.get('y')!)).toEqual([10, 21]);
  });

  it('a weight parsed from text (no data) is an error naming it and the node', () => {
    const b = new GraphBuilder('t');
    const x = b.addInput('x', { dtype: 'f32', shape: [2] });
    const w = b.addWeight('head.bias', 'server', { type: { dtype: 'f32', shape: [2] }, hash: 'ab12' });
    b.setOutputs([{ name: 'y', value: b.add1('add', [x, w]) }]);
    const e = caught(() => interpret(b.build(), new Map([['x', f32([2], [1, 2])]]), { file: 'm.mir' }));
    expect(e.format()).toMatch(/^m\.mir: %\w+ = weight: weight 'head\.bias' has no data/);
  });

  it('wraps kernel errors with the node, its origin and the file', () => {
    const b = new GraphBuilder('gx');
    const table = b.addInput('table', { dtype: 'f32', shape: [3, 2] });
    const ids = b.addInput('ids', { dtype: 'i64', shape: [2] });
    b.setOutputs([{ name: 'y', value: b.add1('gather', [table, ids], {}, { origin: "node 'Gather_7'" }) }]);
    const inputs = new Map<string, Tensor>([
      ['table', f32([3, 2], [1, 2, 3, 4, 5, 6])],
      ['ids', i64([2], [0, 5])],
    ]);
    const e = caught(() => interpret(b.build(), inputs, { file: 'model.onnx' }));
    expect(e.location.file).toBe('model.onnx');
    expect(e.location.what).toBe("%0 = gather (node 'Gather_7')");
    expect(e.message).toMatch(/index 5 is out of range for axis 0 of size 3/);
  });

  it('rejects missing, mistyped and unknown inputs, naming them', () => {
    const g = smallMlp();
    expect(caught(() => interpret(g, new Map())).format()).toMatch(
      /input 'x': is missing \(the graph needs f32\[2,2\]\)/,
    );
    expect(caught(() => interpret(g, new Map([['x', f32([4], [1, 2, 3, 4])]]))).format()).toMatch(
      /input 'x': is f32\[4\], the graph needs f32\[2,2\]/,
    );
    const extra = new Map([
      ['x', f32([2, 2], [1, 2, 3, 4])],
      ['z', f32([1], [0])],
    ]);
    expect(caught(() => interpret(g, extra)).format()).toMatch(/input 'z': is not an input of the graph/);
  });
});

describe('evalOp', () => {
  it('has a kernel for every op but the sources', () => {
    const computing = OP_NAMES.filter((op) => op !== 'weight' && op !== 'const').sort();
    expect(Object.keys(KERNELS).sort()).toEqual(computing);
  });

  it('fills default attributes, and checks results against the declared types', () => {
    const x = f32([2], [0, Math.LN2]);
    expect(toNumbers(evalOp('softmax', [x], {}, [{ dtype: 'f32', shape: [2] }])[0]!)[1]).toBeCloseTo(
      2 / 3,
      6,
    );
    expect(() => evalOp('softmax', [x], {}, [{ dtype: 'f32', shape: [3] }])).toThrow(/declared f32\[3\]/);
  });

  it('rejects bad arity and unknown attributes', () => {
    expect(() => evalOp('add', [f32([1], [1])], {}, [])).toThrow(/takes 2 operands, got 1/);
    expect(() => evalOp('relu', [f32([1], [1])], { alpha: 1 }, [])).toThrow(/has no attribute 'alpha'/);
  });

  it('const builds from its value and type; weight has no data', () => {
    const [k] = evalOp('const', [], { value: [1, 0, 3] }, [{ dtype: 'bool', shape: [3] }]);
    expect(k!.dtype).toBe('bool');
    expect(toNumbers(k!)).toEqual([1, 0, 1]);
    expect(() => evalOp('weight', [], { name: 'w', hash: 'x' }, [])).toThrow(/weight 'w' has no data/);
  });

  it('share and reveal are the identity in plaintext', () => {
    const x = f32([2], [1.5, -2]);
    expect(evalOp('share', [x], { from: 'client' }, [])[0]).toBe(x);
    expect(evalOp('reveal', [x], { to: 'client' }, [])[0]).toBe(x);
  });
});
