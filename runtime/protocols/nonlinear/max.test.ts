import { describe, expect, it } from 'vitest';
import { encodeFixed } from '../../ring/fixed.ts';
import { ringAdd } from '../../ring/kernels.ts';
import { TwoPartySession, openReals, splitShares } from '../../../test/runtime/two-party.ts';
import { COMPARE_VARIANTS } from './compare.ts';
import type { TreeParams } from './max.ts';
import { maxTreeProtocol } from './max.ts';
import { exactCompare } from './ranges.ts';
import { expectMeasuredCost } from '../../../test/runtime/expect-cost.ts';
import { uniform } from '../../../test/runtime/real-inputs.ts';

const F = 16;

/** Plain max and first argmax of [outer, len, inner] over the middle axis. */
function reference(x: Float64Array, outer: number, len: number, inner: number) {
  const max = new Float64Array(outer * inner);
  const arg = new Array<number>(outer * inner).fill(0);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let best = -Infinity;
      for (let k = 0; k < len; k++) {
        const v = x[(o * len + k) * inner + i]!;
        if (v > best) {
          best = v;
          arg[o * inner + i] = k;
        }
      }
      max[o * inner + i] = best;
    }
  return { max, arg };
}

describe.each(COMPARE_VARIANTS)('max and argmax trees (%s)', (variant) => {
  it.each([
    [4, 7, 3],
    [2, 16, 1],
    [3, 7, 1],
    [3, 1, 2],
    [5, 2, 4],
  ])('reduce [%i, %i, %i] exactly, keeping the first of ties', async (outer, len, inner) => {
    // Quantised values so ties happen often; edges at the range limits.
    const x = Float64Array.from(uniform(outer * len * inner, -8, 8), (v) => Math.round(v) + 0); // integers: on the grid
    x[0] = 8191;
    x[1] = -8191;
    const p: TreeParams = {
      outer,
      len,
      inner,
      compare: exactCompare(variant, 0, 1, F, true),
      withIndex: true,
    };
    const s = new TwoPartySession();
    const [r0, r1] = await s.run(maxTreeProtocol, p, splitShares(encodeFixed(x, F)), 'tree');
    const want = reference(x, outer, len, inner);
    expect(Array.from(openReals([r0.max, r1.max], F))).toEqual(Array.from(want.max));
    expect(Array.from(ringAdd(r0.index!, r1.index!), Number)).toEqual(want.arg);
    expectMeasuredCost(s, 'tree', maxTreeProtocol.cost(p));
  });

  it('costs one comparison round per level without indices', () => {
    const p: TreeParams = {
      outer: 8,
      len: 128,
      inner: 1,
      compare: exactCompare(variant, 0, 1, F, true),
      withIndex: false,
    };
    // bool: opening, 1 tree round (30 leaves: 6 local groups, then the root), conversion
    const perLevel = variant === 'dcf' ? 1 : 3;
    expect(maxTreeProtocol.cost(p).rounds).toBe(7 * perLevel);
  });
});
