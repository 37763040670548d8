/**
 * The 2quad softmax with a data-dependent mask, spelled out in primitive ops
 * (part of pass `approximate`).
 *
 * Why: 2quad excludes a masked position by giving it weight 0, not by adding a
 * large negative number (which (x + c)^2 would turn into a huge weight). A
 * public (causal) mask tells the protocol which positions those are; a mask
 * computed from the client's input (BERT's padding mask) is secret-shared
 * under MPC, so the fused protocol cannot see it. The client can: it knows its
 * own mask in plaintext, so it computes the 0/1 `keep` tensor itself and only
 * the product with `keep` needs MPC.
 *
 * Preconditions: softmax nodes carry approx = "2quad"; the mask is the second
 * operand; the softmax axis is the last one.
 * Rewrite (algebra), for softmax_2quad(x, mask) along the last axis with n
 * positions and c = 5:
 *     keep = cast(mask > MASK_EXCLUDED)             client plaintext
 *     z    = x + mask * keep                        (excluded positions add nothing)
 *     w    = (z + c)^2 * keep                       excluded positions weigh 0
 *     y    = (w / n) * (1 / mean(w))                = w / sum(w)
 * Dividing by the mean rather than the sum keeps 1/. inside the reciprocal
 * protocol's domain for long rows. A row whose every position is excluded has
 * mean 0 (the fused form returns zeros there); padding masks never exclude a
 * whole row.
 */
import { fromNumbers } from '../ir/tensor.ts';
import { MASK_EXCLUDED, TWO_QUAD_SHIFT } from '../ir/kernels/softmax.ts';
import type { Graph } from '../ir/graph.ts';
import type { Pattern } from './patterns.ts';
import { op, v } from './patterns.ts';
import type { RewriteRule } from './rewrite.ts';
import { applyRules, cap } from './rewrite.ts';

function isLastAxis(axis: unknown, rank: number): boolean {
  return axis === -1 || axis === rank - 1;
}

const MASKED_2QUAD: Pattern = op('softmax', [v('x'), v('mask')], {
  name: 'y',
  test: (n, env) =>
    n.attrs['approx'] === '2quad' &&
    env.producer(n.inputs[1]!)?.op !== 'const' &&
    isLastAxis(n.attrs['axis'], env.info(n.inputs[0]!).type.shape.length),
});

const RULE: RewriteRule = {
  name: 'masked-2quad',
  pattern: MASKED_2QUAD,
  rewrite: (m, e) => {
    const x = cap(m, 'x');
    const mask = cap(m, 'mask');
    const shape = e.info(x).type.shape;
    const n = shape[shape.length - 1]!;
    const scalar = (value: number) => e.addConst(fromNumbers('f32', [], [value]));
    const keep = e.add1('cast', [e.add1('greater', [mask, scalar(MASK_EXCLUDED)])], { to: 'f32' });
    const z = e.add1('add', [x, e.add1('mul', [mask, keep])]);
    const u = e.add1('add', [z, scalar(TWO_QUAD_SHIFT)]);
    const w = e.add1('mul', [e.add1('mul', [u, u]), keep]);
    const mean = e.add1('reduce_mean', [w], { axes: [-1], keepdims: 1 });
    const inverse = e.add1('expand', [e.add1('reciprocal', [mean])], { shape: [...shape] });
    return [e.add1('mul', [e.add1('mul', [w, scalar(1 / n)]), inverse])];
  },
};

/** Spells out every 2quad softmax whose mask is not a constant. */
export function expandMasked2Quad(g: Graph): Graph {
  return applyRules(g, [RULE]);
}
