/**
 * Piecewise-cubic functions (GeLU erf/tanh, SiLU, sigmoid, tanh, erf) in three rounds.
 *
 * A table (./spline-tables.ts) has knots k_1 < ... < k_K, integer-coefficient linear tails
 * outside [k_1, k_K) and cubic pieces Q_i inside. With lt_j = [x < k_j] and ltx_j = lt_j x from
 * ONE comparison opening (all K thresholds share it):
 *   tails  L(x) = Q_0(x) lt_1 + Q_K(x) (1 - lt_K)                     (integer coefficients: exact)
 *   inside C(x) = sum_j lt_j D_j(x),  D_j = Q_{j-1} - Q_j  (Q_0 = Q_K = 0 here)
 * C is exactly 0 outside [k_1, k_K): the differences telescope in the ring (they are taken on
 * encoded coefficients), so huge tail inputs never disturb it. C is evaluated in s = x / 2^e
 * (the same ring integer read with g = f + e fractional bits, e from the fitted range) so the
 * cubic coefficients keep their precision: C = A(s) + s^2 B(s) with A, B linear in the lt and
 * ltx planes (local), s^2 from a Beaver square whose opening rides with the comparison's, then
 * one fused truncate-and-multiply s^2 B and one final truncation:
 *   round 1: x + r and x - a opened together (+ the 'bool' comparison's own rounds)
 *   round 2: (trunc(s^2) B) fused      round 3: truncation of A + s^2 B to f bits
 * Error: the table's fit error (which already covers knots misjudged by the comparison's
 * 2^-6 resolution) + 2^-f (final truncation) + (max|B| + 4) 2^-g (s^2 truncation and
 * coefficient encoding); splineErrorBound states it per function. Inputs |x| < 2^13.
 * Cost per element: comparison with K thresholds (select) + 8 (square) + 16 + 8 online bytes
 * each way; offline (client) comparison + 8 + 32 + 16.
 */
import { MarillError } from '../../../ir/errors.ts';
import type { Cost, DealerStream, MaterialStream, PartyContext, Protocol } from '../../protocol.ts';
import { sumCosts } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringPlaneCombine } from '../../ring/fused.ts';
import { ringAdd, ringAddScalar, ringMulScalar } from '../../ring/kernels.ts';
import type { PairMaterial } from '../beaver.ts';
import type { TruncMaterial } from '../truncate.ts';
import type { CompareParams, CompareVariant } from './compare.ts';
import type { CompareMaterial } from './comparator.ts';
import { compareCost, compareMaterial, dealCompare, finishCompare, maskedInput } from './comparator.ts';
import { materialCost, openingCost } from './cost-util.ts';
import { openTogether } from './open.ts';
import type { TruncMulMaterial, TruncMulShape } from './parts.ts';
import { squarePart, truncMulPart, truncPart } from './parts.ts';
import { coarseCompare } from './ranges.ts';
import type { Poly, SplineTable } from './spline-fit.ts';
import { evalPoly } from './spline-fit.ts';
import { SPLINE_RESOLUTION_BITS } from './spline-specs.ts';
import type { SplineFunction } from './spline-specs.ts';
import { SPLINE_TABLES } from './spline-tables.ts';

export interface SplineParams {
  readonly fn: SplineFunction;
  readonly variant: CompareVariant;
  readonly n: number;
  readonly fracBits: number;
}

export interface SplineMaterial {
  readonly compare: CompareMaterial;
  readonly square: PairMaterial;
  readonly fused: TruncMulMaterial;
  readonly back: TruncMaterial;
}

/** e: inner pieces are evaluated in s = x / 2^e, keeping |s| near 1 over the fitted range. */
function inputShift(t: SplineTable): number {
  const range = Math.max(-t.knots[0]!, t.knots[t.knots.length - 1]!);
  return Math.max(0, Math.ceil(Math.log2(range)) - 1);
}

function compareOf(p: SplineParams): CompareParams {
  const knots = SPLINE_TABLES[p.fn].knots.length;
  return coarseCompare(p.variant, p.n, knots, p.fracBits, SPLINE_RESOLUTION_BITS, true);
}

function scales(p: SplineParams): { g: number; back: number } {
  const g = p.fracBits + inputShift(SPLINE_TABLES[p.fn]);
  return { g, back: 3 * g - p.fracBits };
}

function fusedShape(p: SplineParams): TruncMulShape {
  return { nz: p.n, nw: p.n, zIndex: undefined, bits: scales(p).g };
}

function checkTable(fn: SplineFunction, fracBits: number): void {
  const t = SPLINE_TABLES[fn];
  for (const tail of [t.left, t.right])
    if (tail.length > 2 || tail.some((c) => !Number.isInteger(c)))
      throw new MarillError(`spline '${fn}': tails must be linear with integer coefficients`);
  if (3 * (fracBits + inputShift(t)) > 60)
    throw new MarillError(`spline '${fn}' needs fewer than ${fracBits} fractional bits`);
}

const encode = (c: number, bits: number): bigint => BigInt(Math.round(c * 2 ** bits));

/** The inner piece i (1..K-1) in s = x / 2^e, encoded: s^0 at 3g, s^1 and s^2 at 2g, s^3 at g bits. */
function encodedPiece(t: SplineTable, i: number, e: number, g: number): bigint[] {
  if (i === 0 || i === t.knots.length) return [0n, 0n, 0n, 0n];
  const c: Poly = t.pieces[i - 1]!;
  const inS = [0, 1, 2, 3].map((k) => (c[k] ?? 0) * 2 ** (e * k));
  return [encode(inS[0]!, 3 * g), encode(inS[1]!, 2 * g), encode(inS[2]!, 2 * g), encode(inS[3]!, g)];
}

export function splineErrorBound(fn: SplineFunction, fracBits: number): number {
  const t = SPLINE_TABLES[fn];
  const e = inputShift(t);
  let maxB = 0;
  t.pieces.forEach((c, i) => {
    const b: Poly = [(c[2] ?? 0) * 4 ** e, (c[3] ?? 0) * 8 ** e];
    for (let k = 0; k <= 100; k++) {
      const x = t.knots[i]! + ((t.knots[i + 1]! - t.knots[i]!) * k) / 100;
      maxB = Math.max(maxB, Math.abs(evalPoly(b, x / 2 ** e)));
    }
  });
  return t.fitError + 2 ** -fracBits + (maxB + 4) * 2 ** -(fracBits + e);
}

export function dealSpline(p: SplineParams, d: DealerStream): void {
  checkTable(p.fn, p.fracBits);
  dealCompare(compareOf(p), d);
  squarePart.deal(p.n, d);
  truncMulPart.deal(fusedShape(p), d);
  truncPart.deal(p.n, scales(p).back, d);
}

export function splineMaterial(p: SplineParams, s: MaterialStream): SplineMaterial {
  checkTable(p.fn, p.fracBits);
  return {
    compare: compareMaterial(compareOf(p), s),
    square: squarePart.material(p.n, s),
    fused: truncMulPart.material(fusedShape(p), s),
    back: truncPart.material(p.n, scales(p).back, s),
  };
}

export async function runSpline(
  ctx: PartyContext,
  p: SplineParams,
  m: SplineMaterial,
  x: Ring,
): Promise<Ring> {
  checkTable(p.fn, p.fracBits);
  const t = SPLINE_TABLES[p.fn];
  const f = p.fracBits;
  const { g, back } = scales(p);
  const e = inputShift(t);
  const K = t.knots.length;
  const cmp = compareOf(p);
  const [xhat, sqOpen] = await openTogether(ctx, [
    maskedInput(m.compare, x),
    squarePart.message(m.square, x),
  ]);
  const { lt, ltx } = await finishCompare(
    ctx,
    cmp,
    m.compare,
    x,
    xhat!,
    t.knots.map((k) => encode(k, f)),
  );
  const s2 = squarePart.finish(ctx, m.square, sqOpen!);
  // Tails at f bits: Q_0(x) lt_1 + Q_K(x) (1 - lt_K), integer coefficients; inside: A (3g bits)
  // and B (2g bits) from the pieces' differences. Each is a combination of the lt and ltx
  // planes with public coefficients: one fused pass over the planes for all three.
  const [l0, l1] = [t.left[0] ?? 0, t.left[1] ?? 0].map(BigInt) as [bigint, bigint];
  const [r0, r1] = [t.right[0] ?? 0, t.right[1] ?? 0].map(BigInt) as [bigint, bigint];
  const one = 1n << BigInt(f);
  const tailCoefs = Array.from({ length: K }, (): [bigint, bigint] => [0n, 0n]);
  tailCoefs[0] = [l0 * one, l1];
  // Q_K(x) (1 - lt_K) = r0 + r1 x - r0 lt_K - r1 ltx_K (with K = 1 the planes coincide).
  tailCoefs[K - 1] = [tailCoefs[K - 1]![0] - r0 * one, tailCoefs[K - 1]![1] - r1];
  const aCoefs: [bigint, bigint][] = [];
  const bCoefs: [bigint, bigint][] = [];
  for (let j = 1; j <= K; j++) {
    const before = encodedPiece(t, j - 1, e, g);
    const after = encodedPiece(t, j, e, g);
    const d = before.map((v, k) => v - after[k]!);
    aCoefs.push([d[0]!, d[1]!]);
    bCoefs.push([d[2]!, d[3]!]);
  }
  const [tails, a, b] = ringPlaneCombine(lt, ltx!, p.n, [tailCoefs, aCoefs, bCoefs]) as [Ring, Ring, Ring];
  ringAdd(tails, ringMulScalar(x, r1), tails);
  if (ctx.index === 0 && r0 !== 0n) ringAddScalar(tails, r0 * one, tails);
  const shape = fusedShape(p);
  const inner = ringAdd(a, (await truncMulPart.run(ctx, shape, m.fused, s2, b)).product);
  return ringAdd(tails, await truncPart.run(ctx, back, m.back, inner));
}

export function splineCost(p: SplineParams): Cost {
  const shape = fusedShape(p);
  const cmp = compareCost(compareOf(p));
  return sumCosts(
    cmp,
    // The square's opening shares the comparison's first round.
    { ...openingCost(squarePart.opened(p.n)), rounds: 0 },
    materialCost(squarePart.offline(p.n)),
    openingCost(truncMulPart.opened(shape)),
    materialCost(truncMulPart.offline(shape)),
    openingCost(truncPart.opened(p.n)),
    materialCost(truncPart.offline(p.n)),
  );
}

export const splineProtocol: Protocol<SplineParams, SplineMaterial, Ring, Ring> = {
  name: 'spline',
  deal: dealSpline,
  material: splineMaterial,
  online: runSpline,
  cost: splineCost,
};
