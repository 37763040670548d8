import { describe, expect, it } from 'vitest';
import { Prg } from '../../crypto/prg.ts';
import { TwoPartySession, splitShares } from '../../../test/runtime/two-party.ts';
import { ringAdd } from '../../ring/kernels.ts';
import type { CompareParams } from './compare.ts';
import { COMPARE_VARIANTS } from './compare.ts';
import { compareCost, compareProtocol } from './comparator.ts';
import { expectMeasuredCost } from '../../../test/runtime/expect-cost.ts';

/** Random ring values with |x| < 2^(bits-1) spread over all magnitudes, plus the edges around each threshold. */
function inputs(n: number, bits: number, thresholds: readonly bigint[]): BigInt64Array {
  const x = Prg.fresh().ring(n);
  const shifts = Prg.fresh().bytes(n);
  for (let i = 0; i < n; i++)
    x[i] = BigInt.asIntN(64, x[i]!) >> BigInt(64 - bits + 1 + (shifts[i]! % (bits - 1)));
  const limit = 1n << BigInt(bits - 1);
  const edges = [0n, 1n, -1n, limit - 1n, -limit + 1n];
  for (const t of thresholds) edges.push(t, t - 1n, t + 1n);
  edges.forEach((e, i) => (x[i] = e));
  return x;
}

describe.each(COMPARE_VARIANTS)('comparison (%s)', (variant) => {
  it('shares [x < t] and [x < t] * x exactly, for several thresholds at once', async () => {
    const n = 3000;
    const bits = 40;
    const thresholds = [0n, 12345n, -(1n << 30n)];
    // thresholds are within range: |x - t| < 2^(bits-1) needs |x| < 2^(bits-2) here
    const x = inputs(n, bits - 1, thresholds);
    const p: CompareParams = { variant, n, points: thresholds.length, bits, drop: 0, select: true };
    const s = new TwoPartySession();
    const [r0, r1] = await s.run(
      compareProtocol,
      p,
      splitShares(x).map((xs) => ({ x: xs, thresholds })) as never,
      'cmp',
    );
    const lt = ringAdd(r0.lt, r1.lt);
    const ltx = ringAdd(r0.ltx!, r1.ltx!);
    let bad = 0;
    thresholds.forEach((t, k) => {
      for (let i = 0; i < n; i++) {
        const want = x[i]! < t ? 1n : 0n;
        if (lt[k * n + i] !== want || ltx[k * n + i] !== want * x[i]!) bad++;
      }
    });
    expect(bad).toBe(0);
    expectMeasuredCost(s, 'cmp', compareCost(p));
  });

  it('resolves thresholds to 2^drop ring units when dropping low bits', async () => {
    const n = 4000;
    const drop = 10;
    const bits = 20;
    const thresholds = [0n, 5000n << 10n];
    const x = inputs(n, bits + drop - 2, thresholds);
    const p: CompareParams = { variant, n, points: 2, bits, drop, select: false };
    const s = new TwoPartySession();
    const shares = splitShares(x);
    const [r0, r1] = await s.run(compareProtocol, p, [
      { x: shares[0], thresholds },
      { x: shares[1], thresholds },
    ]);
    const lt = ringAdd(r0.lt, r1.lt);
    let bad = 0;
    thresholds.forEach((t, k) => {
      for (let i = 0; i < n; i++) {
        const d = x[i]! - t;
        const got = lt[k * n + i]!;
        const ok = d >= 0n ? got === 0n : d < -(1n << BigInt(drop)) ? got === 1n : got === 0n || got === 1n;
        if (!ok) bad++;
      }
    });
    expect(bad).toBe(0);
  });
});

describe('boolean comparison tree', () => {
  it.each([2, 3, 4, 7, 8, 9, 14, 18, 31, 38, 45])(
    'is exact and costs what it states at width %i (groups of every size, 0..2 rounds of tree)',
    async (bits) => {
      const n = 700;
      // |x - t| < 2^(bits-1): x below 2^(bits-3) in magnitude, and so are the thresholds
      const thresholds = bits >= 6 ? [0n, 3n, -(1n << BigInt(bits - 4))] : [0n];
      const x = inputs(n, Math.max(2, bits - 2), thresholds);
      const p: CompareParams = { variant: 'bool', n, points: thresholds.length, bits, drop: 0, select: true };
      const s = new TwoPartySession();
      const [r0, r1] = await s.run(
        compareProtocol,
        p,
        splitShares(x).map((xs) => ({ x: xs, thresholds })) as never,
        'cmp',
      );
      const lt = ringAdd(r0.lt, r1.lt);
      const ltx = ringAdd(r0.ltx!, r1.ltx!);
      let bad = 0;
      thresholds.forEach((t, k) => {
        for (let i = 0; i < n; i++) {
          const want = x[i]! < t ? 1n : 0n;
          if (lt[k * n + i] !== want || ltx[k * n + i] !== want * x[i]!) bad++;
        }
      });
      expect(bad).toBe(0);
      expectMeasuredCost(s, 'cmp', compareCost(p));
    },
  );
});

describe('comparison costs', () => {
  it('trade rounds for material: one round with DCF keys, a tree of AND rounds with boolean sharing', () => {
    const base = { n: 1000, points: 1, bits: 32, drop: 0, select: true } as const;
    const dcf = compareCost({ ...base, variant: 'dcf' });
    const bool = compareCost({ ...base, variant: 'bool' });
    expect(dcf.rounds).toBe(1);
    // 32 - 1 = 31 tree leaves: 6 groups of up to 6 combined locally, then one round to the root
    expect(bool.rounds).toBe(1 + 1 + 1);
    expect(bool.offlineBytes[1]).toBeLessThan(dcf.offlineBytes[1] / 10);
    expect(dcf.onlineBytes[0]).toBeLessThan(bool.onlineBytes[0]);
  });
});
