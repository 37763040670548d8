/**
 * softmax(x + mask) along an axis, exactly ('exact': e^(z - max) / sum) or with MPCFormer's 2Quad
 * ('2quad': (z + 5)^2 / sum), matching ir/kernels/softmax.ts:
 *
 *  - A public mask (attention or causal masks are plaintext to both parties) is applied
 *    locally: a position whose mask is <= -1e4 (MASK_EXCLUDED) is left out (weight exactly 0,
 *    and it never wins the maximum), the others get the mask added. A secret (shared) mask is
 *    added to the shares; the sum must stay within the input range (no exclusion).
 *  - exact: row maximum by the comparison tree (./max.ts), e^(z - max) (./exp.ts), row sums
 *    (local), 1/sum by Newton (./newton.ts, domain [1/2, 2 len]: the maximum contributes e^0),
 *    then e * (1/sum) with the reciprocal's last truncation fused into the product.
 *  - 2quad: (z + 5)^2 by a Beaver square, truncated, row sums, 1/sum (domain
 *    [2^-4, 2^(12 + log2 len)], i.e. |z + 5| < 64) and the fused product.
 * A row with every position excluded gives zeros (the interpreter's convention for 2quad;
 * exact softmax of such a row is uniform over garbage in plaintext and 0 here).
 *
 * Rounds ('dcf', len L): exact ceil(log2 L) + 9 + 4 + 2 (22 for L = 128); 2quad 1 + 1 + 4 + 2.
 * Errors (softmaxErrorBound, per output from the true row): exact — with per-element exp
 * errors d_j = min(5.7e-5, 0.19 e_j + 1.3e-7) + 2^-f + 2^-22 (e_j = e^(z_j - max)) and
 * D = sum d_j, S = sum e_j, p_i = e_i / S: (d_i + p_i D) / (S - D) + r (p_i + d_i) + 2^(1-f),
 * r the reciprocal's relative error bound; 2quad — the same with d_j = 2^-f (truncation of
 * the square) and e_j = (z_j + 5)^2. Inputs: |x + mask| < 2^13 for kept positions.
 */
import { MarillError } from '../../../ir/errors.ts';
import { MASK_EXCLUDED, TWO_QUAD_SHIFT } from '../../../ir/kernels/softmax.ts';
import { applyMap, scatterAdd } from '../../mpc/layout.ts';
import type { Cost, DealerStream, MaterialStream, PartyContext, Protocol } from '../../protocol.ts';
import { sumCosts } from '../../protocol.ts';
import { encodeFixed } from '../../ring/fixed.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringAddScalar, ringMul, ringSub } from '../../ring/kernels.ts';
import type { PairMaterial } from '../beaver.ts';
import type { TruncMaterial } from '../truncate.ts';
import type { CompareVariant } from './compare.ts';
import { materialCost, openingCost } from './cost-util.ts';
import type { ExpMaterial, ExpParams } from './exp.ts';
import { dealExp, expCost, expErrorBound, expMaterial, runExp } from './exp.ts';
import type { TreeMaterial, TreeParams } from './max.ts';
import { dealTree, runTree, treeCost, treeMaterial } from './max.ts';
import type { NewtonMaterial, NewtonParams } from './newton.ts';
import {
  dealNewton,
  newtonCost,
  newtonErrorBound,
  newtonMaterial,
  newtonScale,
  runNewton,
} from './newton.ts';
import type { TruncMulMaterial, TruncMulShape } from './parts.ts';
import { squarePart, truncMulPart, truncPart } from './parts.ts';
import { MAGNITUDE_BITS, exactCompare } from './ranges.ts';

export type SoftmaxApprox = 'exact' | '2quad';
export type MaskKind = 'none' | 'public' | 'shared';

export interface SoftmaxParams {
  readonly approx: SoftmaxApprox;
  readonly variant: CompareVariant;
  /** x as [outer, len, inner]: softmax over len. */
  readonly outer: number;
  readonly len: number;
  readonly inner: number;
  readonly fracBits: number;
  readonly mask: MaskKind;
}

/** The mask as a party holds it, broadcast to x's shape. */
export type SoftmaxMask =
  | { readonly kind: 'public'; readonly values: Float32Array }
  | { readonly kind: 'shared'; readonly share: Ring };

/** Excluded positions enter the maximum with this value (below every kept input). */
const EXCLUDED_INPUT = -(2 ** MAGNITUDE_BITS - 1);
/** 2quad inputs satisfy |z + 5| < 2^QUAD_INPUT_BITS. */
const QUAD_INPUT_BITS = 6;

const elements = (p: SoftmaxParams) => p.outer * p.len * p.inner;
const rows = (p: SoftmaxParams) => p.outer * p.inner;

/** Row of each element ([outer, len, inner] -> [outer, inner]). */
export function rowIndex(p: SoftmaxParams): Int32Array {
  const map = new Int32Array(elements(p));
  for (let o = 0; o < p.outer; o++)
    for (let k = 0; k < p.len; k++)
      for (let i = 0; i < p.inner; i++) map[(o * p.len + k) * p.inner + i] = o * p.inner + i;
  return map;
}

function treeParams(p: SoftmaxParams): TreeParams {
  return {
    outer: p.outer,
    len: p.len,
    inner: p.inner,
    compare: exactCompare(p.variant, 0, 1, p.fracBits, true),
    withIndex: false,
  };
}

function expParams(p: SoftmaxParams): ExpParams {
  return { variant: p.variant, n: elements(p), fracBits: p.fracBits };
}

export function reciprocalParams(p: SoftmaxParams): NewtonParams {
  const lenBits = Math.ceil(Math.log2(Math.max(2, p.len)));
  const domain =
    p.approx === 'exact' ? { lo: -1, hi: lenBits + 1 } : { lo: -4, hi: lenBits + 2 * QUAD_INPUT_BITS };
  return {
    kind: 'reciprocal',
    variant: p.variant,
    n: rows(p),
    fracBits: p.fracBits,
    ...domain,
    perOctave: 8,
    iterations: 2,
  };
}

/**
 * 1/sum is truncated to fy fractional bits inside the fused product: as many as the product
 * y w (outputs <= 1) at fy + f bits leaves room for below 2^61.
 */
function outputScale(p: SoftmaxParams): { fy: number; shape: TruncMulShape } {
  const { fN, q } = newtonScale(reciprocalParams(p));
  const valueScale = 2 * fN + q;
  const fy = Math.min(valueScale - 1, 60 - p.fracBits);
  return { fy, shape: { nz: rows(p), nw: elements(p), zIndex: undefined, bits: valueScale - fy } };
}

export interface SoftmaxMaterial {
  readonly tree: TreeMaterial | undefined;
  readonly exp: ExpMaterial | undefined;
  readonly square: PairMaterial | undefined;
  readonly squareTrunc: TruncMaterial | undefined;
  readonly newton: NewtonMaterial;
  readonly product: TruncMulMaterial;
  readonly back: TruncMaterial;
}

function checkSoftmax(p: SoftmaxParams): void {
  if (p.len < 1 || p.outer < 0 || p.inner < 0) throw new MarillError(`softmax over a bad shape`);
}

export function dealSoftmax(p: SoftmaxParams, d: DealerStream): void {
  checkSoftmax(p);
  const n = elements(p);
  if (p.approx === 'exact') {
    dealTree(treeParams(p), d);
    dealExp(expParams(p), d);
  } else {
    squarePart.deal(n, d);
    truncPart.deal(n, p.fracBits, d);
  }
  dealNewton(reciprocalParams(p), d);
  const { fy, shape } = outputScale(p);
  truncMulPart.deal({ ...shape, zIndex: rowIndex(p) }, d);
  truncPart.deal(n, fy, d);
}

export function softmaxMaterial(p: SoftmaxParams, s: MaterialStream): SoftmaxMaterial {
  checkSoftmax(p);
  const n = elements(p);
  const exact = p.approx === 'exact';
  const tree = exact ? treeMaterial(treeParams(p), s) : undefined;
  const exp = exact ? expMaterial(expParams(p), s) : undefined;
  const square = exact ? undefined : squarePart.material(n, s);
  const squareTrunc = exact ? undefined : truncPart.material(n, p.fracBits, s);
  const newton = newtonMaterial(reciprocalParams(p), s);
  const { fy, shape } = outputScale(p);
  const product = truncMulPart.material({ ...shape, zIndex: rowIndex(p) }, s);
  return { tree, exp, square, squareTrunc, newton, product, back: truncPart.material(n, fy, s) };
}

/** z = x + mask with excluded positions replaced, and the public keep mask (undefined: keep all). */
function applyMask(
  ctx: PartyContext,
  p: SoftmaxParams,
  x: Ring,
  mask: SoftmaxMask | undefined,
): { z: Ring; keep: Ring | undefined } {
  if (p.mask === 'none') return { z: x, keep: undefined };
  if (!mask || mask.kind !== p.mask) throw new MarillError(`softmax expects a ${p.mask} mask`);
  if (mask.kind === 'shared') return { z: ringAdd(x, mask.share), keep: undefined };
  const n = elements(p);
  const keep = new BigInt64Array(n);
  const added = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const m = mask.values[i]!;
    const kept = m > MASK_EXCLUDED;
    keep[i] = kept ? 1n : 0n;
    added[i] = kept ? m : p.approx === 'exact' ? EXCLUDED_INPUT : 0;
  }
  const z = ringMul(x, keep);
  if (ctx.index === 0) ringAdd(z, encodeFixed(added, p.fracBits), z);
  return { z, keep };
}

export async function runSoftmax(
  ctx: PartyContext,
  p: SoftmaxParams,
  m: SoftmaxMaterial,
  x: Ring,
  mask?: SoftmaxMask,
): Promise<Ring> {
  checkSoftmax(p);
  const f = p.fracBits;
  const map = rowIndex(p);
  const { z, keep } = applyMask(ctx, p, x, mask);
  let weights: Ring;
  if (p.approx === 'exact') {
    const { max } = await runTree(ctx, treeParams(p), m.tree!, z);
    weights = await runExp(ctx, expParams(p), m.exp!, ringSub(z, applyMap(max, map)));
  } else {
    const u = ctx.index === 0 ? ringAddScalar(z, BigInt(TWO_QUAD_SHIFT) << BigInt(f)) : z;
    const sq = await squarePart.run(ctx, m.square!, u);
    weights = await truncPart.run(ctx, f, m.squareTrunc!, sq);
  }
  if (keep) weights = ringMul(weights, keep);
  const sums = scatterAdd(weights, map, rows(p));
  const { value } = await runNewton(ctx, reciprocalParams(p), m.newton, sums);
  const { fy, shape } = outputScale(p);
  const fused = { ...shape, zIndex: map };
  const { product } = await truncMulPart.run(ctx, fused, m.product, value, weights);
  return truncPart.run(ctx, fy, m.back, product);
}

export function softmaxCost(p: SoftmaxParams): Cost {
  const n = elements(p);
  const { shape } = outputScale(p);
  const parts: Cost[] = [];
  if (p.approx === 'exact') parts.push(treeCost(treeParams(p)), expCost(expParams(p)));
  else
    parts.push(
      openingCost(squarePart.opened(n)),
      materialCost(squarePart.offline(n)),
      openingCost(truncPart.opened(n)),
      materialCost(truncPart.offline(n)),
    );
  parts.push(
    newtonCost(reciprocalParams(p)),
    openingCost(truncMulPart.opened(shape)),
    materialCost(truncMulPart.offline(shape)),
    openingCost(truncPart.opened(n)),
    materialCost(truncPart.offline(n)),
  );
  return sumCosts(...parts);
}

export const softmaxProtocol: Protocol<
  SoftmaxParams,
  SoftmaxMaterial,
  { x: Ring; mask?: SoftmaxMask },
  Ring
> = {
  name: 'softmax',
  deal: dealSoftmax,
  material: softmaxMaterial,
  online: (ctx, p, m, { x, mask }) => runSoftmax(ctx, p, m, x, mask),
  cost: softmaxCost,
};

/** Per-output error bound from the true (float64) row, as stated in the header. */
export function softmaxErrorBound(p: SoftmaxParams, z: readonly number[], i: number): number {
  const f = p.fracBits;
  const weights =
    p.approx === 'exact'
      ? z.map((v) => Math.exp(v - Math.max(...z)))
      : z.map((v) => (v + TWO_QUAD_SHIFT) ** 2);
  const perElement = (e: number) =>
    p.approx === 'exact'
      ? Math.min(expErrorBound(f) - 2 ** -f - 2 ** -22, 0.19 * e + 1.3e-7) + 2 ** -f + 2 ** -22
      : 2 ** -f;
  const S = weights.reduce((s, e) => s + e, 0);
  const D = weights.reduce((s, e) => s + perElement(e), 0);
  const pi = weights[i]! / S;
  const di = perElement(weights[i]!);
  const rp = reciprocalParams(p);
  const r = newtonErrorBound(rp, S) * S;
  return (di + pi * D) / (S - D) + r * (pi + di) + 2 ** (1 - f);
}
