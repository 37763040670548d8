/**
 * Fixed-point encoding of reals in Z_2^64: x is stored as round(x * 2^f)
 * (two's complement), with f = `fracBits` fractional bits.
 *
 * Default f = 16, chosen by measured accuracy (bench/runtime-bench.ts
 * `frac_bits_sweep`: one BERT-style encoder layer, seq 16, hidden 64, all
 * protocols, max abs error against the float interpreter): f = 10: 7.2e-3,
 * 12: 2.2e-3, 14: 5.1e-4, 16: 1.5e-4, 18: 1.2e-4 (by then the non-linear
 * approximations dominate). Past 16 bits accuracy barely improves while the
 * integer headroom of a product shrinks: two values with f fractional bits
 * multiply to 2f, and truncation needs the product below 2^62, so |x*y| < 2^30
 * at f = 16 but only 2^26 at f = 18.
 *
 * The valid range of an encoded value is [-2^62, 2^62): this is the
 * precondition of exact truncation (runtime/protocols/truncate.ts), so encoding
 * saturates there rather than wrapping.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Ring } from './kernels.ts';
import { arena, f32View, f64View, scoped, takeI64, wasm } from './wasm-runtime.ts';

export const DEFAULT_FRAC_BITS = 16;

/** Encoded values are kept in [-2^62, 2^62); encoding saturates to this range. */
export const ENCODED_LIMIT = 2 ** 62;
/** The largest f64 below 2^62 (2^62 - 512), the upper saturation point. */
const ENCODED_MAX_F64 = ENCODED_LIMIT - 512;

export function checkFracBits(fracBits: number): number {
  if (!Number.isInteger(fracBits) || fracBits < 0 || fracBits > 30)
    throw new MarillError(`fractional bits must be an integer in [0, 30], got ${fracBits}`);
  return fracBits;
}

/**
 * round_half_even(x * 2^f), saturated to [-2^62, 2^62 - 512]; NaN encodes as 0.
 * `fracBits` 0 encodes integers (i64/bool values shared as plain integers).
 */
export function encodeFixed(x: Float32Array | Float64Array | readonly number[], fracBits: number): Ring {
  checkFracBits(fracBits);
  const n = x.length;
  const input = x instanceof Float32Array || x instanceof Float64Array ? x : Float64Array.from(x);
  return scoped(() => {
    const out = arena.alloc(n * 8);
    const k = wasm().k;
    if (input instanceof Float32Array) {
      const src = arena.alloc(n * 4);
      f32View(src, n).set(input);
      k.encode_f32(out, src, n, 2 ** fracBits, -ENCODED_LIMIT, ENCODED_MAX_F64);
    } else {
      const src = arena.alloc(n * 8);
      f64View(src, n).set(input);
      k.encode_f64(out, src, n, 2 ** fracBits, -ENCODED_LIMIT, ENCODED_MAX_F64);
    }
    return takeI64(out, n);
  });
}

/** Encodes one real as a ring scalar (for public constants). */
export function encodeScalar(x: number, fracBits: number): bigint {
  return encodeFixed([x], fracBits)[0]!;
}

/** Reals from encoded values: signed(x) / 2^f, as f64. */
export function decodeFixed(x: Ring, fracBits: number): Float64Array {
  checkFracBits(fracBits);
  const n = x.length;
  return scoped(() => {
    const src = arena.alloc(n * 8);
    new BigInt64Array(arena.bytes(), src, n).set(x);
    const out = arena.alloc(n * 8);
    wasm().k.decode_f64(out, src, n, 2 ** -fracBits);
    return f64View(out, n).slice();
  });
}

/** Reals from encoded values, as f32 (the IR's float type). */
export function decodeFixedF32(x: Ring, fracBits: number): Float32Array {
  checkFracBits(fracBits);
  const n = x.length;
  return scoped(() => {
    const src = arena.alloc(n * 8);
    new BigInt64Array(arena.bytes(), src, n).set(x);
    const out = arena.alloc(n * 4);
    wasm().k.decode_f32(out, src, n, 2 ** -fracBits);
    return f32View(out, n).slice();
  });
}
