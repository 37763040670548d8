/**
 * Secure comparison of a shared value with public thresholds, the building block of every
 * non-linear protocol here. Two interchangeable variants (./compare-dcf.ts, ./compare-bool.ts)
 * share the masked-opening structure below; the cost model picks one per network profile.
 *
 * For shared x (n elements) and P public thresholds t_p, the parties learn shares of
 *     lt[p, i]      = [x_i < t_p]            (ring 0/1)
 *     ltx[p, i]     = [x_i < t_p] * x_i      (only with `select`; same scale as x)
 * from ONE opening of x^ = x + r (r uniform from the dealer, so x^ reveals nothing), no matter
 * how many thresholds. Let d = `drop`, m = `bits`, R = (r >> d) mod 2^m. For one threshold,
 * Y = ((x^ - t) >> d) mod 2^m equals (W + R) mod 2^m with W = floor((x - t) / 2^d) + carry,
 * carry in {0, 1} from the dropped low bits. If W fits in m signed bits, its sign is
 *     [W < 0] = Y_{m-1} xor R_{m-1} xor [Y mod 2^{m-1} < R mod 2^{m-1}]     (borrow of Y - R)
 * with Y public. The variants differ only in how they share z = R_{m-1} xor [y < alpha],
 * y = Y mod 2^{m-1}, alpha = R mod 2^{m-1}; then lt = a + (1 - 2a) z with a = Y_{m-1} public,
 * and, since x = x^ - r, ltx = a x + (1 - 2a) (z x^ - z r) from shares of z and z*r.
 *
 * Exactness: with d = 0, lt is exact whenever |x - t| < 2^(m-1) ring units. With d > 0 the
 * carry can turn x - t in [-2^d, 0) into "not less": thresholds are then resolved to 2^d ring
 * units (callers choose d where that is harmless, e.g. spline knots), and everything else is
 * exact as long as |x - t| < 2^(m-1+d) ring units. Outside that range the result is garbage:
 * callers size m from the value range their op documents.
 */
import { MarillError } from '../../../ir/errors.ts';
import type { PartyContext } from '../../protocol.ts';
import { ringOpenedParts } from '../../ring/fused.ts';
import type { Ring } from '../../ring/kernels.ts';
import {
  ringAdd,
  ringAddScalar,
  ringAndScalar,
  ringBit,
  ringMul,
  ringMulScalar,
  ringShrLogical,
  ringSub,
} from '../../ring/kernels.ts';

export type CompareVariant = 'dcf' | 'bool';
export const COMPARE_VARIANTS: readonly CompareVariant[] = ['dcf', 'bool'];

/** Static parameters of one batched comparison. */
export interface CompareParams {
  readonly variant: CompareVariant;
  /** Elements of x. */
  readonly n: number;
  /** Thresholds, each compared with every element (planes of the outputs). */
  readonly points: number;
  /** m: bits of (x - t) >> drop that are compared, 2..64 - drop. */
  readonly bits: number;
  /** d: low bits ignored (thresholds resolved to 2^d ring units). */
  readonly drop: number;
  /** Also share [x < t] * x. */
  readonly select: boolean;
}

export interface CompareResult {
  /** Shares of [x_i < t_p], plane p at p * n. */
  readonly lt: Ring;
  /** Shares of [x_i < t_p] * x_i (with `select`), same layout. */
  readonly ltx: Ring | undefined;
}

export function checkCompareParams(p: CompareParams): void {
  const { n, points, bits, drop } = p;
  if (!Number.isInteger(n) || n < 0) throw new MarillError(`comparison over ${n} elements`);
  if (!Number.isInteger(points) || points < 1)
    throw new MarillError(`comparison needs >= 1 threshold, got ${points}`);
  if (!Number.isInteger(drop) || drop < 0 || drop > 62)
    throw new MarillError(`comparison cannot drop ${drop} bits`);
  if (!Number.isInteger(bits) || bits < 2 || bits + drop > 64)
    throw new MarillError(`comparison width ${bits} bits (dropping ${drop}) is outside 2..${64 - drop}`);
}

/** R = (r >> drop) mod 2^bits's two parts: the top bit and the low bits, as ring arrays. */
export function maskParts(r: Ring, p: CompareParams): { top: Ring; low: Ring } {
  const shifted = p.drop > 0 ? ringShrLogical(r, p.drop) : r;
  return { top: ringBit(shifted, p.bits - 1), low: ringAndScalar(shifted, lowMask(p.bits)) };
}

function lowMask(bits: number): bigint {
  return BigInt.asIntN(64, (1n << BigInt(bits - 1)) - 1n);
}

/**
 * The public parts of every (threshold, element) pair from the opened x^: a = Y_{m-1} and
 * y = Y mod 2^{m-1}, planes of n per threshold.
 */
export function openedParts(
  xhat: Ring,
  thresholds: readonly bigint[],
  p: CompareParams,
): { a: Ring; y: Ring } {
  return ringOpenedParts(xhat, thresholds, p.drop, p.bits);
}

/** `r` repeated `times` times, back to back. */
export function tile(r: Ring, times: number): Ring {
  if (times === 1) return r;
  const out = new BigInt64Array(r.length * times);
  for (let k = 0; k < times; k++) out.set(r, k * r.length);
  return out;
}

/**
 * lt and ltx from shares of z (and z*r), the public a, this party's x share and the opened x^
 * (both tiled to the thresholds' planes).
 */
export function combineSign(
  ctx: Pick<PartyContext, 'index'>,
  a: Ring,
  z: Ring,
  zr: Ring | undefined,
  x: Ring,
  xhat: Ring,
): CompareResult {
  // 1 - 2a: public, +-1.
  const flip = ringMulScalar(a, -2n);
  ringAddScalar(flip, 1n, flip);
  const lt = ringMul(flip, z);
  if (ctx.index === 0) ringAdd(lt, a, lt);
  if (zr === undefined) return { lt, ltx: undefined };
  // In place from here on: these arrays are fresh and not used elsewhere.
  const ltx = ringMulPlanes(z, xhat);
  ringSub(ltx, zr, ltx);
  ringMul(flip, ltx, ltx);
  ringAdd(ltx, ringMulPlanes(a, x), ltx);
  return { lt, ltx };
}

/**
 * a (planes of b.length elements) times b repeated over the planes: the same
 * as ringMul(a, tile(b, planes)) without building the tiled copy.
 */
export function ringMulPlanes(a: Ring, b: Ring): Ring {
  const n = b.length;
  if (n === 0 || a.length === n) return ringMul(a, b);
  const out = new BigInt64Array(a.length);
  for (let at = 0; at < a.length; at += n) ringMul(a.subarray(at, at + n), b, out.subarray(at, at + n));
  return out;
}
