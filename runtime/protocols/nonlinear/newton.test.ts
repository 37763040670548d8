import { describe, expect, it } from 'vitest';
import { encodeFixed } from '../../ring/fixed.ts';
import { TwoPartySession, openReals, splitShares } from '../../../test/runtime/two-party.ts';
import { COMPARE_VARIANTS } from './compare.ts';
import type { NewtonKind, NewtonParams } from './newton.ts';
import { finishedNewton, guessThresholds, newtonErrorBound } from './newton.ts';
import { sqrtErrorBound, sqrtProtocol } from './sqrt.ts';
import { expectMeasuredCost } from '../../../test/runtime/expect-cost.ts';

const F = 16;
const ulp = 2 ** -F;

/** Log-uniform values over the domain, its ends, and thresholds with their neighbours. */
function domainValues(p: NewtonParams, n: number): Float64Array {
  const thresholds = guessThresholds(p);
  const edges = [2 ** p.lo, 2 ** p.hi, ...thresholds.flatMap((t) => [t, t - ulp, t + ulp])];
  const out = new Float64Array(edges.length + n);
  out.set(edges);
  for (let i = 0; i < n; i++) out[edges.length + i] = 2 ** (p.lo + ((p.hi - p.lo) * i) / n);
  // The protocol sees the encoded value: compare against the same.
  return out.map((v) => Math.round(v / ulp) * ulp);
}

describe.each(COMPARE_VARIANTS)('Newton protocols (%s)', (variant) => {
  it.each([
    ['reciprocal', 8],
    ['rsqrt', 4],
  ] as [NewtonKind, number][])('%s is within its bound over the domain', async (kind, perOctave) => {
    const p0 = { kind, variant, n: 0, fracBits: F, lo: -6, hi: 12, perOctave, iterations: 2 };
    const x = domainValues(p0, 600);
    const p = { ...p0, n: x.length };
    const s = new TwoPartySession();
    const got = openReals(await s.run(finishedNewton, p, splitShares(encodeFixed(x, F)), kind), F);
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      const want = kind === 'reciprocal' ? 1 / x[i]! : 1 / Math.sqrt(x[i]!);
      const excess = Math.abs(got[i]! - want) / newtonErrorBound(p, x[i]!);
      worst = Math.max(worst, excess);
    }
    expect(worst).toBeLessThanOrEqual(1);
    expectMeasuredCost(s, kind, finishedNewton.cost(p));
  });
});

describe.each(COMPARE_VARIANTS)('square root (%s)', (variant) => {
  it('is within its bound over the domain and exact at 0', async () => {
    const p0: NewtonParams = {
      kind: 'rsqrt',
      variant,
      n: 0,
      fracBits: F,
      lo: -10,
      hi: 20,
      perOctave: 4,
      iterations: 2,
    };
    const x = Float64Array.from([0, ...domainValues(p0, 400)]);
    const p = { ...p0, n: x.length };
    const s = new TwoPartySession();
    const got = openReals(await s.run(sqrtProtocol, p, splitShares(encodeFixed(x, F)), 'sqrt'), F);
    expect(got[0]).toBe(0);
    let worst = 0;
    for (let i = 1; i < x.length; i++)
      worst = Math.max(worst, Math.abs(got[i]! - Math.sqrt(x[i]!)) / sqrtErrorBound(p, x[i]!));
    expect(worst).toBeLessThanOrEqual(1);
    expectMeasuredCost(s, 'sqrt', sqrtProtocol.cost(p));
  });
});

describe('Newton costs', () => {
  it('take 2 rounds per 1/x step and 3 per 1/sqrt x step after the first, on a one-round guess', () => {
    const base = { variant: 'dcf' as const, n: 10, fracBits: F, lo: 0, hi: 8, perOctave: 4 };
    expect(finishedNewton.cost({ ...base, kind: 'reciprocal', iterations: 3 }).rounds).toBe(
      1 + 1 + 2 * 2 + 1,
    );
    expect(finishedNewton.cost({ ...base, kind: 'rsqrt', iterations: 3 }).rounds).toBe(1 + 1 + 3 * 2 + 1);
  });
});
