/**
 * Real-valued inputs for the non-linear protocol tests: fresh uniform reals (each run draws
 * new ones, so repeated runs cover more of the range), optionally after listed edge values.
 */
import { Prg } from '../../runtime/crypto/prg.ts';

/** n uniform reals in [lo, hi) from a fresh seed. */
export function uniform(n: number, lo: number, hi: number): Float64Array {
  const u = new Uint32Array(Prg.fresh().bytes(4 * n).buffer);
  return Float64Array.from(u, (v) => lo + ((hi - lo) * v) / 2 ** 32);
}

/** `values` followed by n uniform reals in [lo, hi). */
export function withEdges(values: readonly number[], n: number, lo: number, hi: number): Float64Array {
  const out = new Float64Array(values.length + n);
  out.set(values);
  out.set(uniform(n, lo, hi), values.length);
  return out;
}
