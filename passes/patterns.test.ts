import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.ts';
import type { Graph, ValueId } from '../ir/graph.ts';
import { fromNumbers } from '../ir/tensor.ts';
import { verifyGraph } from '../ir/verify.ts';
import type { Pattern } from './patterns.ts';
import { MatchEnv, matchPattern, near, op, oneOf, product, scalar, v } from './patterns.ts';
import type { RewriteRule } from './rewrite.ts';
import { applyRules, cap } from './rewrite.ts';

const F = (shape: number[]) => ({ dtype: 'f32' as const, shape });

/** A graph with inputs x, y and whatever `body` builds; its result is the one output. */
function graphOf(body: (b: GraphBuilder, x: ValueId, y: ValueId) => ValueId): { g: Graph; out: ValueId } {
  const b = new GraphBuilder('t');
  const x = b.addInput('x', F([2, 3]));
  const y = b.addInput('y', F([2, 3]));
  const out = body(b, x, y);
  b.setOutputs([{ name: 'out', value: out }]);
  return { g: b.build(), out };
}

const k = (b: GraphBuilder, value: number) => b.addConst(fromNumbers('f32', [], [value]));

function firstCaptures(p: Pattern, g: Graph, id: ValueId): ReadonlyMap<string, ValueId> | undefined {
  for (const st of matchPattern(p, id, new MatchEnv(g))) return st.captures;
  return undefined;
}

describe('product patterns', () => {
  const halfXY = product([v('x'), scalar(0.5), v('y')]);
  const forms: [string, (b: GraphBuilder, x: ValueId, y: ValueId) => ValueId][] = [
    ['(x * 0.5) * y', (b, x, y) => b.add1('mul', [b.add1('mul', [x, k(b, 0.5)]), y])],
    ['0.5 * (x * y)', (b, x, y) => b.add1('mul', [k(b, 0.5), b.add1('mul', [x, y])])],
    ['y * (0.5 * x)', (b, x, y) => b.add1('mul', [y, b.add1('mul', [k(b, 0.5), x])])],
    ['(x * y) / 2', (b, x, y) => b.add1('div', [b.add1('mul', [x, y]), k(b, 2)])],
  ];
  it.each(forms)('matches %s with x and y captured', (_name, body) => {
    const { g, out } = graphOf(body);
    const captures = firstCaptures(halfXY, g, out);
    expect(captures).toBeDefined();
    // x and y are interchangeable in a product: each capture is one of the inputs, and they differ.
    expect(new Set([captures!.get('x'), captures!.get('y')])).toEqual(new Set(['x', 'y']));
  });

  it('does not match the wrong constant or an extra factor', () => {
    const wrong = graphOf((b, x, y) => b.add1('mul', [b.add1('mul', [x, k(b, 0.6)]), y]));
    expect(firstCaptures(halfXY, wrong.g, wrong.out)).toBeUndefined();
    const extra = graphOf((b, x, y) => b.add1('mul', [b.add1('mul', [b.add1('mul', [x, k(b, 0.5)]), y]), x]));
    // Four leaves (x, 0.5, y, x): no reading of it as three factors has 0.5 on its own.
    expect(firstCaptures(halfXY, extra.g, extra.out)).toBeUndefined();
  });

  it('keeps a product operand whole when the pattern wants it as one factor', () => {
    // silu(x*y): (x*y) * sigmoid(x*y)
    const { g, out } = graphOf((b, x, y) => {
      const xy = b.add1('mul', [x, y]);
      return b.add1('mul', [xy, b.add1('sigmoid', [xy])]);
    });
    const captures = firstCaptures(product([v('a'), op('sigmoid', [v('a')])]), g, out);
    expect(captures?.get('a')).toBe(g.nodes.find((n) => n.op === 'mul')!.outputs[0]);
  });
});

describe('captures and alternatives', () => {
  it('requires a name used twice to be the same value', () => {
    const silu = product([v('a'), op('sigmoid', [v('a')])]);
    const other = graphOf((b, x, y) => b.add1('mul', [x, b.add1('sigmoid', [y])]));
    expect(firstCaptures(silu, other.g, other.out)).toBeUndefined();
  });

  it('tries both operand orders of a commutative op, and only then', () => {
    const { g, out } = graphOf((b, x) => b.add1('sub', [k(b, 1), x]));
    expect(firstCaptures(op('sub', [v('x'), scalar(1)]), g, out)).toBeUndefined();
    const added = graphOf((b, x) => b.add1('add', [k(b, 1), x]));
    expect(
      firstCaptures(op('add', [v('x'), scalar(1)], { commutative: true }), added.g, added.out)?.get('x'),
    ).toBe('x');
  });

  it('matches any alternative', () => {
    const square = oneOf(op('pow', [v('d'), scalar(2)]), op('mul', [v('d'), v('d')]));
    const a = graphOf((b, x) => b.add1('mul', [x, x]));
    const p = graphOf((b, x) => b.add1('pow', [x, k(b, 2)]));
    expect(firstCaptures(square, a.g, a.out)?.get('d')).toBe('x');
    expect(firstCaptures(square, p.g, p.out)?.get('d')).toBe('x');
  });

  it('compares constants within 1e-6, relative above 1', () => {
    expect(near(0.5000004, 0.5)).toBe(true);
    expect(near(0.50001, 0.5)).toBe(false);
    expect(near(1.4142135, Math.SQRT2)).toBe(true);
    expect(near(1e4 + 0.005, 1e4)).toBe(true);
  });

  it('tells weight-free values (masks) from values computed with weights', () => {
    const b = new GraphBuilder('w');
    const x = b.addInput('x', F([2, 3]));
    const w = b.addWeight('w', 'server', {
      tensor: fromNumbers('f32', [3, 3], new Array<number>(9).fill(1)),
    });
    const scores = b.add1('matmul', [x, w]);
    const mask = b.add1('mul', [b.add1('sub', [k(b, 1), x]), k(b, -1e4)]);
    b.setOutputs([{ name: 'o', value: b.add1('add', [scores, mask]) }]);
    const env = new MatchEnv(b.build());
    expect(env.isWeightFree(mask)).toBe(true);
    expect(env.isWeightFree(scores)).toBe(false);
  });
});

describe('the rewrite engine', () => {
  const doubleToAdd: RewriteRule = {
    // x * 2 = x + x
    name: 'double',
    pattern: product([v('x'), scalar(2)]),
    sameTypeAs: 'x',
    rewrite: (m, e) => [e.add1('add', [cap(m, 'x'), cap(m, 'x')])],
  };

  it('replaces the root under its own value id and drops the covered nodes', () => {
    const { g, out } = graphOf((b, x) => b.add1('relu', [b.add1('mul', [x, k(b, 2)])]));
    const before = g.nodes.find((n) => n.op === 'mul')!.outputs[0]!;
    const after = applyRules(g, [doubleToAdd]);
    verifyGraph(after);
    expect(after.nodes.map((n) => n.op)).toEqual(['add', 'relu']);
    expect(after.nodes[0]!.outputs[0]).toBe(before);
    expect(after.outputs[0]!.value).toBe(out);
  });

  it('does not rewrite when an inner value is used outside the match', () => {
    // (x * 0.5) * 4 matches as a whole, but its inner product is also a graph output.
    const b = new GraphBuilder('shared');
    const x = b.addInput('x', F([2, 3]));
    const inner = b.add1('mul', [x, k(b, 0.5)]);
    const outer = b.add1('mul', [inner, k(b, 4)]);
    b.setOutputs([
      { name: 'inner', value: inner },
      { name: 'outer', value: outer },
    ]);
    const g = b.build();
    const rule: RewriteRule = { ...doubleToAdd, pattern: product([v('x'), scalar(0.5), scalar(4)]) };
    expect(applyRules(g, [rule])).toBe(g);
  });

  it('redirects uses and outputs when a rule returns an existing value', () => {
    const identity: RewriteRule = {
      name: 'neg-neg',
      pattern: op('neg', [op('neg', [v('x')])]),
      rewrite: (m) => [cap(m, 'x')],
    };
    const { g } = graphOf((b, x) => b.add1('relu', [b.add1('neg', [b.add1('neg', [x])])]));
    const after = applyRules(g, [identity]);
    expect(after.nodes.map((n) => n.op)).toEqual(['relu']);
    expect(after.nodes[0]!.inputs).toEqual(['x']);
  });

  it('rejects a rule whose replacement has another type', () => {
    const bad: RewriteRule = {
      name: 'bad',
      pattern: op('relu', [v('x')]),
      rewrite: (m, e) => [e.add1('reduce_sum', [cap(m, 'x')], { axes: [0] })],
    };
    const { g } = graphOf((b, x) => b.add1('relu', [x]));
    expect(() => applyRules(g, [bad])).toThrow(
      /rewrite 'bad' replaced %\d+ \(client f32\[2,3\]\) with a client f32\[1,3\] value/,
    );
  });
});
