/**
 * Shared by the non-linear protocol tests: measured-vs-predicted cost, input generators with
 * edge values, and error measurement against a Float64 reference.
 */
import { Prg } from '../../crypto/prg.ts';

export { expectMeasuredCost } from '../../../test/runtime/expect-cost.ts';

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
