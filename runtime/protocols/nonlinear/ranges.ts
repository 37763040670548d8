/**
 * Value ranges the non-linear protocols are built for, and the comparison widths they imply.
 *
 * A comparison costs work (and, for 'dcf', key bytes) linear in its bit width, so each op
 * compares exactly as many bits as its documented input range needs: inputs are reals with
 * |x| < 2^MAGNITUDE_BITS (8192), fixed point with f fractional bits. Beyond that range the
 * comparison (and so the op) is wrong; it never fails silently for inputs within it.
 */
import type { CompareParams, CompareVariant } from './compare.ts';

/** Inputs of comparison-based ops are below 2^13 = 8192 in magnitude. */
export const MAGNITUDE_BITS = 13;

/** Integer (i64/bool) operands of comparisons are below 2^31 in magnitude. */
export const INTEGER_MAGNITUDE_BITS = 31;

/** Magnitude bits of a comparison operand at `scale` fractional bits: integers (scale 0) are wider. */
export function magnitudeBitsAt(scale: number): number {
  return scale === 0 ? INTEGER_MAGNITUDE_BITS : MAGNITUDE_BITS;
}

/**
 * An exact comparison (no dropped bits) of values with |x - t| < 2^(magnitudeBits + 1) reals at
 * `scale` fractional bits.
 */
export function exactCompare(
  variant: CompareVariant,
  n: number,
  points: number,
  scale: number,
  select: boolean,
  magnitudeBits = MAGNITUDE_BITS,
): CompareParams {
  return { variant, n, points, bits: magnitudeBits + scale + 2, drop: 0, select };
}

/**
 * A comparison resolved to 2^-resolutionBits reals (thresholds may be misjudged by that much),
 * for |x - t| < 2^(magnitudeBits + 1) reals at `scale` fractional bits.
 */
export function coarseCompare(
  variant: CompareVariant,
  n: number,
  points: number,
  scale: number,
  resolutionBits: number,
  select: boolean,
  magnitudeBits = MAGNITUDE_BITS,
): CompareParams {
  const drop = Math.max(0, scale - resolutionBits);
  return { variant, n, points, bits: magnitudeBits + scale - drop + 2, drop, select };
}
