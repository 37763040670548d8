import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.ts';
import type { Graph } from '../ir/graph.ts';
import { printGraph } from '../ir/print.ts';
import { fromNumbers } from '../ir/tensor.ts';
import { verifyGraph } from '../ir/verify.ts';
import { expectTextFile } from '../test/expect-text.ts';
import { loadMir, maxOutputDifference, opCounts, randomInputs } from '../test/passes/pass-harness.ts';
import { fuse } from './fuse.ts';

const DIR = 'test/passes/fuse';

function fuseCounting(g: Graph): { out: Graph; rules: Record<string, number> } {
  const rules: Record<string, number> = {};
  const out = fuse(g, (rule) => {
    rules[rule] = (rules[rule] ?? 0) + 1;
  });
  return { out, rules };
}

/** Rule applications per fixture, counted by hand from the fixture's comments. */
const CASES: { name: string; rules: Record<string, number>; gone: string[] }[] = [
  { name: 'gelu-erf', rules: { 'gelu-erf': 4 }, gone: ['erf', 'mul', 'div', 'add'] },
  { name: 'gelu-tanh', rules: { 'gelu-tanh': 2 }, gone: ['tanh', 'pow', 'mul', 'add'] },
  {
    name: 'layernorm',
    rules: { layernorm: 3, 'div-sqrt-to-mul-rsqrt': 2, 'rsqrt-from-reciprocal': 1 },
    gone: ['reduce_mean', 'sub', 'pow', 'sqrt', 'rsqrt', 'div', 'reciprocal', 'add'],
  },
  {
    name: 'rmsnorm',
    rules: { rmsnorm: 2, 'rsqrt-from-div': 1, 'rsqrt-from-pow': 1 },
    gone: ['reduce_mean', 'pow', 'sqrt', 'rsqrt', 'div', 'add', 'mul'],
  },
  { name: 'silu-gated', rules: { silu: 1 }, gone: ['sigmoid'] },
  { name: 'softmax-mask', rules: { 'softmax-additive-mask': 1 }, gone: ['add'] },
  {
    name: 'softmax-where',
    rules: { 'softmax-where-mask': 2, 'softmax-additive-mask': 2 },
    gone: ['where'],
  },
  // Only the canonical rsqrt rewrite applies (to the two norm-like trees that are not norms).
  { name: 'negative', rules: { 'div-sqrt-to-mul-rsqrt': 2 }, gone: [] },
];

describe('fuse: text IR in, expected text IR out', () => {
  it.each(CASES)('$name', ({ name, rules, gone }) => {
    const g = loadMir(`${DIR}/${name}.in.mir`);
    const { out, rules: applied } = fuseCounting(g);
    expectTextFile(printGraph(out), `${DIR}/${name}.out.mir`);
    verifyGraph(out);
    expect(applied).toEqual(rules);
    const counts = opCounts(out);
    for (const op of gone) expect(counts.get(op) ?? 0, `${op} left in ${name}`).toBe(0);
    // Fusion is exact up to float rounding.
    for (const seed of [1, 2, 3])
      expect(maxOutputDifference(g, out, randomInputs(g, seed))).toBeLessThan(1e-4);
  });
});

describe('fuse: what the fused ops say', () => {
  it('keeps the gated MLP as silu(gate) * up', () => {
    const out = fuse(loadMir(`${DIR}/silu-gated.in.mir`));
    const silu = out.nodes.find((n) => n.op === 'silu')!;
    const gateMul = out.nodes.filter((n) => n.op === 'mul');
    expect(gateMul).toHaveLength(1);
    expect(gateMul[0]!.inputs).toContain(silu.outputs[0]);
  });

  it('captures epsilon and the normalised axis of a layernorm', () => {
    const out = fuse(loadMir(`${DIR}/layernorm.in.mir`));
    const norms = out.nodes.filter((n) => n.op === 'layernorm');
    expect(norms.map((n) => n.attrs['epsilon'])).toEqual(expect.arrayContaining([1e-12, 1e-5]));
    for (const n of norms) expect(n.attrs['axis']).toBe(-1);
  });

  it('keeps the head count visible: softmax over [b, heads, s, s] with the mask apart', () => {
    const g = loadMir(`${DIR}/softmax-mask.in.mir`);
    const out = fuse(g);
    const softmax = out.nodes.find((n) => n.op === 'softmax')!;
    expect(softmax.inputs).toHaveLength(2);
    expect(out.values.get(softmax.inputs[0]!)!.type.shape).toEqual([1, 2, 4, 4]);
    // The mask is the client's [1,1,1,4] padding mask, not the scores.
    expect(out.values.get(softmax.inputs[1]!)!.type.shape).toEqual([1, 1, 1, 4]);
    expect(out.values.get(softmax.inputs[1]!)!.visibility).toBe('client');
  });

  it("turns GPT-2's where(tril, x, -big) into a public additive mask of 0 and -big", () => {
    const out = fuse(loadMir(`${DIR}/softmax-where.in.mir`));
    const first = out.nodes.find((n) => n.op === 'softmax')!;
    const mask = out.nodes.find((n) => n.outputs[0] === first.inputs[1])!;
    expect(mask.op).toBe('const');
    expect(out.values.get(mask.outputs[0]!)!.visibility).toBe('public');
    const big = -3.4028234663852886e38; // f32 max, as the fixture's fill
    expect(mask.attrs['value']).toEqual([0, big, big, 0, 0, big, 0, 0, 0]);
  });

  it('fuses a LayerNorm with no scale by giving it a scale of ones', () => {
    // (x - mean) / sqrt(var + eps) alone, built directly.
    const b = new GraphBuilder('bare');
    const x = b.addInput('x', { dtype: 'f32', shape: [2, 3] });
    const mean = b.add1('reduce_mean', [x], { axes: [1] });
    const d = b.add1('sub', [x, mean]);
    const two = b.addConst(fromNumbers('f32', [], [2]));
    const v = b.add1('reduce_mean', [b.add1('pow', [d, two])], { axes: [1] });
    const eps = b.addConst(fromNumbers('f32', [], [1e-5]));
    const y = b.add1('div', [d, b.add1('sqrt', [b.add1('add', [v, eps])])]);
    b.setOutputs([{ name: 'y', value: y }]);
    const g = b.build();
    const out = fuse(g);
    const ln = out.nodes.find((n) => n.op === 'layernorm')!;
    expect(ln).toBeDefined();
    const scale = out.nodes.find((n) => n.outputs[0] === ln.inputs[1])!;
    expect(scale.attrs['value']).toEqual([1, 1, 1]);
    expect(maxOutputDifference(g, out, randomInputs(g))).toBeLessThan(1e-4);
  });

  it('leaves a graph with nothing to fuse as the same graph object', () => {
    const b = new GraphBuilder('plain');
    const x = b.addInput('x', { dtype: 'f32', shape: [2] });
    b.setOutputs([{ name: 'y', value: b.add1('relu', [x]) }]);
    const g = b.build();
    expect(fuse(g)).toBe(g);
  });
});
