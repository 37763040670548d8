/**
 * Z_2^64 arithmetic on little-endian 32-bit word pairs, for the FSS hot loops.
 *
 * Ring elements live in BigInt64Array buffers; the loops here read and write them through a
 * Uint32Array view of the same memory (word 2i = low half, 2i + 1 = high half of element i), so no
 * BigInt is created per element. Indices are word indices (always even).
 */

/** A Uint32Array view of a ring-element buffer (same memory). */
export function wordsOf(ring: BigInt64Array): Uint32Array {
  return new Uint32Array(ring.buffer, ring.byteOffset, ring.length * 2);
}

/** a[ai] += b[bi] (mod 2^64). */
export function add64(a: Uint32Array, ai: number, b: Uint32Array, bi: number): void {
  const lo = a[ai]! + b[bi]!;
  a[ai] = lo;
  a[ai + 1] = a[ai + 1]! + b[bi + 1]! + (lo > 0xffffffff ? 1 : 0);
}

/** a[ai] -= b[bi] (mod 2^64). */
export function sub64(a: Uint32Array, ai: number, b: Uint32Array, bi: number): void {
  const lo = a[ai]! - b[bi]!;
  a[ai] = lo;
  a[ai + 1] = a[ai + 1]! - b[bi + 1]! - (lo < 0 ? 1 : 0);
}

/** a[ai] = -a[ai] (mod 2^64). */
export function neg64(a: Uint32Array, ai: number): void {
  const lo = a[ai]!;
  const hi = a[ai + 1]!;
  a[ai] = -lo;
  a[ai + 1] = lo === 0 ? -hi : ~hi;
}

/** Bit `k` (0 = least significant) of the 64-bit element at word index `wi`. */
export function bit64(a: Uint32Array, wi: number, k: number): number {
  return k < 32 ? (a[wi]! >>> k) & 1 : (a[wi + 1]! >>> (k - 32)) & 1;
}
