/**
 * Fixed-point products: a ring product of two values with f fractional bits
 * has 2f, so each is followed by exact truncation by f (./truncate.ts).
 * Error: the ring product is exact, the truncation adds e in {0, 1} ulp, so
 * |result - x*y| <= 2^-f plus the inputs' own encoding error propagated.
 * Precondition (truncation): |x*y| * 2^(2f) < 2^62, i.e. |x*y| < 2^30 at f = 16,
 * and for matrix products every partial sum too.
 *
 * `thenTruncate` turns any ring-product protocol into its fixed-point form;
 * the ones the op protocols use are exported ready-made.
 */
import type { Cost, Protocol } from '../protocol.ts';
import { sumCosts } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import type { ElementwiseParams, MatmulParams } from './beaver.ts';
import { beaverMatmul, beaverMul } from './beaver.ts';
import type { TruncMaterial } from './truncate.ts';
import { truncate } from './truncate.ts';
import type { WeightMatmulParams } from './weight-matmul.ts';
import type { WeightMulParams } from './weight-mul.ts';
import { weightMul } from './weight-mul.ts';
import { weightMatmul } from './weight-matmul.ts';

/** Parameters of a fixed-point protocol: the inner protocol's plus the bits to drop. */
export type Fixed<P> = P & { readonly fracBits: number };

export interface TruncatedMaterial<M> {
  readonly inner: M;
  readonly trunc: TruncMaterial;
}

/** `inner` followed by truncation of its `outputs(params)` results by `fracBits`. */
export function thenTruncate<P, M, I>(
  name: string,
  inner: Protocol<P, M, I, Ring>,
  outputs: (p: P) => number,
): Protocol<Fixed<P>, TruncatedMaterial<M>, I, Ring> {
  const truncParams = (p: Fixed<P>) => ({ n: outputs(p), bits: p.fracBits });
  return {
    name,
    deal(p, d) {
      inner.deal(p, d);
      truncate.deal(truncParams(p), d);
    },
    material(p, s) {
      return { inner: inner.material(p, s), trunc: truncate.material(truncParams(p), s) };
    },
    async online(ctx, p, m, inputs) {
      const product = await inner.online(ctx, p, m.inner, inputs);
      return truncate.online(ctx, truncParams(p), m.trunc, product);
    },
    cost(p): Cost {
      return sumCosts(inner.cost(p), truncate.cost(truncParams(p)));
    },
  };
}

/** Secret x secret elementwise fixed-point product: 2 rounds. */
export const fixedMul = thenTruncate('fixed.mul', beaverMul, (p: ElementwiseParams) => p.n);
/** Secret x secret (batched) fixed-point matrix product: 2 rounds. */
export const fixedMatmul = thenTruncate(
  'fixed.matmul',
  beaverMatmul,
  (p: MatmulParams) => p.batch * p.m * p.n,
);
/** Secret x server-private weight, fixed point: 2 rounds (plus 1 setup round per session). */
export const fixedWeightMatmul = thenTruncate(
  'fixed.weight',
  weightMatmul,
  (p: WeightMatmulParams) => p.batch * p.m * p.n,
);

/** Secret x server-private elementwise operand, fixed point: 2 rounds (plus 1 setup round per session). */
export const fixedWeightMul = thenTruncate('fixed.weight-mul', weightMul, (p: WeightMulParams) => p.n);
