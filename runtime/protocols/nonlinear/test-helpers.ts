/**
 * Shared by the non-linear protocol tests: measured-vs-predicted cost, input generators with
 * edge values, and error measurement against a Float64 reference.
 */
import { expect } from 'vitest';
import { Prg } from '../../crypto/prg.ts';
import type { Cost } from '../../protocol.ts';
import type { TwoPartySession } from '../../testing/two-party.ts';

/** The accounting of `opId` equals `c` exactly (per run). */
export function expectMeasuredCost(s: TwoPartySession, opId: string, c: Cost): void {
  const r = s.stats(opId);
  expect(r.onlineBytes).toEqual([...c.onlineBytes]);
  expect(r.rounds).toBe(c.rounds);
  expect(r.offlineBytes).toEqual([...c.offlineBytes]);
  expect(r.setupBytes).toEqual([...c.setupBytes]);
  expect(r.setupRounds).toBe(c.setupRounds);
}

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

/** Largest |got - want|, and where. */
export function maxAbsError(got: ArrayLike<number>, want: ArrayLike<number>): { error: number; at: number } {
  let error = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    if (!(e <= error)) {
      error = e;
      at = i;
    }
  }
  return { error, at };
}
