/**
 * Bit slicing for the boolean comparison (./compare-bool.ts): ring values to
 * bit planes (plane b holds bit b of every lane, 32 lanes per word) and
 * tiling of planes. Both work a word at a time: slicing transposes 32 x 32
 * bit blocks (Hacker's Delight, "transpose32"), about 5 word operations per
 * lane and 32 bits, instead of one shift-and-or per lane and bit.
 */
import type { Ring } from '../../ring/kernels.ts';

export const planeWords = (lanes: number): number => Math.ceil(lanes / 32);

/**
 * In-place transpose of the 32 x 32 bit matrix a[0..32) (row k = a[k], column
 * c = bit 31 - c). Afterwards bit 31 - k of a[c] is what bit 31 - c of a[k] was.
 */
function transpose32(a: Uint32Array): void {
  let m = 0x0000ffff;
  for (let j = 16; j !== 0;) {
    for (let k = 0; k < 32; k = (k + j + 1) & ~j) {
      const t = (a[k]! ^ (a[k + j]! >>> j)) & m;
      a[k] = a[k]! ^ t;
      a[k + j] = a[k + j]! ^ (t << j);
    }
    j >>>= 1;
    m = (m ^ (m << j)) >>> 0;
  }
}

/**
 * Bit planes `from .. from + count - 1` of every value (plane q is bit
 * from + q), each a vector of ceil(n / 32) words with lane i at bit i & 31 of
 * word i >> 5. Bits above the count are zero in every plane.
 */
export function bitPlanes(r: Ring, from: number, count: number): Uint32Array[] {
  const n = r.length;
  const w = planeWords(n);
  const planes = Array.from({ length: count }, () => new Uint32Array(w));
  const halves = new Uint32Array(r.buffer, r.byteOffset, 2 * n);
  const block = new Uint32Array(32);
  // Which 32-bit halves of the values hold the wanted bits.
  for (let half = 0; half < 2; half++) {
    const lo = Math.max(from, 32 * half);
    const hi = Math.min(from + count, 32 * half + 32);
    if (lo >= hi) continue;
    for (let word = 0; word < w; word++) {
      const base = word * 32;
      const lanes = Math.min(32, n - base);
      // Row k holds lane 31 - k, so after the transpose a[31 - b] has bit b of lane i at bit i.
      for (let k = 0; k < 32; k++) block[31 - k] = k < lanes ? halves[2 * (base + k) + half]! : 0;
      transpose32(block);
      for (let bit = lo; bit < hi; bit++) planes[bit - from]![word] = block[31 - (bit - 32 * half)]!;
    }
  }
  return planes;
}

/** The first `n` lanes of `v` repeated `times` times (lane p n + i = lane i). */
export function tilePlane(v: Uint32Array, n: number, times: number): Uint32Array {
  if (times === 1) return v;
  const out = new Uint32Array(planeWords(n * times));
  const full = n >>> 5;
  const rest = n & 31;
  for (let p = 0; p < times; p++) {
    const at = p * n;
    const shift = at & 31;
    const first = at >>> 5;
    if (shift === 0) {
      out.set(v.subarray(0, full), first);
      if (rest) out[first + full] = out[first + full]! | (v[full]! & ((1 << rest) - 1));
      continue;
    }
    // Lanes of source word q land at bits shift.. of out[first + q] and the low bits of the next word.
    const words = planeWords(n);
    for (let q = 0; q < words; q++) {
      const src = q === full && rest ? v[q]! & ((1 << rest) - 1) : v[q]!;
      out[first + q] = out[first + q]! | (src << shift);
      const spill = src >>> (32 - shift);
      if (spill && first + q + 1 < out.length) out[first + q + 1] = out[first + q + 1]! | spill;
    }
  }
  return out;
}
