/**
 * The spelled-out 2quad softmax equals the fused one (the interpreter's
 * definition) on rows with masked positions, and a constant mask is left to the
 * fused protocol.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.ts';
import type { Graph } from '../ir/graph.ts';
import { interpret } from '../ir/interpret.ts';
import { fromNumbers } from '../ir/tensor.ts';
import { approximate } from './approximate.ts';

const SHAPE = [1, 2, 3, 5];

function attention(constMask: boolean): Graph {
  const b = new GraphBuilder('attn');
  const x = b.addInput('x', { dtype: 'f32', shape: SHAPE });
  const mask = constMask
    ? b.addConst(fromNumbers('f32', [1, 1, 1, 5], [0, 0, 0, -1e4, -1e4]))
    : b.addInput('mask', { dtype: 'f32', shape: [1, 1, 1, 5] });
  const y = b.add1('softmax', [x, mask], { axis: -1 });
  b.setOutputs([{ name: 'y', value: y }]);
  return b.build();
}

function randomInput(seed: number): Map<string, ReturnType<typeof fromNumbers>> {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 6 - 3;
  const x = Array.from({ length: 30 }, next);
  return new Map([
    ['x', fromNumbers('f32', SHAPE, x)],
    ['mask', fromNumbers('f32', [1, 1, 1, 5], [0, -1e4, 0, 0, -3.4e38])],
  ]);
}

describe('masked 2quad softmax', () => {
  const g = attention(false);
  const fused = {
    ...g,
    nodes: g.nodes.map((n) => (n.op === 'softmax' ? { ...n, attrs: { ...n.attrs, approx: '2quad' } } : n)),
  };
  const expanded = approximate(g, 'exact', '2quad');

  it('is spelled out in primitive ops when the mask is data', () => {
    expect(expanded.nodes.some((n) => n.op === 'softmax')).toBe(false);
    expect(expanded.nodes.filter((n) => n.op === 'reciprocal')).toHaveLength(1);
  });

  it('equals the fused 2quad form: masked positions weigh exactly 0', () => {
    for (const seed of [1, 2, 3]) {
      const inputs = randomInput(seed);
      const want = interpret(fused, inputs).get('y')!.data as Float32Array;
      const got = interpret(expanded, inputs).get('y')!.data as Float32Array;
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-6);
      for (let i = 1; i < got.length; i += 5) expect(got[i]).toBe(0);
    }
  });

  it('leaves a softmax with a constant (public) mask to the fused protocol', () => {
    const kept = approximate(attention(true), 'exact', '2quad');
    const softmax = kept.nodes.filter((n) => n.op === 'softmax');
    expect(softmax).toHaveLength(1);
    expect(softmax[0]!.attrs['approx']).toBe('2quad');
  });
});
