import { describe, expect, it } from 'vitest';
import { encodeFixed } from '../../ring/fixed.ts';
import { TwoPartySession, openReals, splitShares } from '../../../test/runtime/two-party.ts';
import { COMPARE_VARIANTS } from './compare.ts';
import { expErrorBound, expProtocol } from './exp.ts';
import { expectMeasuredCost } from '../../../test/runtime/expect-cost.ts';
import { withEdges } from '../../../test/runtime/real-inputs.ts';
import { worstAbsDiff } from '../../../ir/tensor.ts';

const F = 16;

describe.each(COMPARE_VARIANTS)('exp (%s)', (variant) => {
  it('is within its stated bound on [-2^14, 0.5], clipping point and extremes included', async () => {
    const edges = [
      0,
      -(2 ** -F),
      0.5,
      -16,
      -16 + 2 ** -F,
      -16 - 2 ** -F,
      -16.2,
      -16.25,
      -17,
      -100,
      -8191,
      -16383,
      -1,
      -2,
      -3,
    ];
    const x = withEdges(edges, 3000, -20, 0.5);
    const p = { variant, n: x.length, fracBits: F };
    const s = new TwoPartySession();
    const got = openReals(await s.run(expProtocol, p, splitShares(encodeFixed(x, F)), 'exp'), F);
    const { diff: error, at } = worstAbsDiff(got, Float64Array.from(x, Math.exp));
    expect(error, `worst at x = ${x[at]}`).toBeLessThanOrEqual(expErrorBound(F));
    expectMeasuredCost(s, 'exp', expProtocol.cost(p));
  });
});
