import { describe, expect, it } from 'vitest';
import { erf } from '../../../ir/kernels/erf.ts';
import { GELU, sigmoid } from '../../../ir/kernels/unary.ts';
import { encodeFixed } from '../../ring/fixed.ts';
import { TwoPartySession, openReals, splitShares } from '../../../test/runtime/two-party.ts';
import { COMPARE_VARIANTS } from './compare.ts';
import { measureError } from './spline-fit.ts';
import type { SplineFunction } from './spline-specs.ts';
import { SPLINE_TABLES } from './spline-tables.ts';
import { splineErrorBound, splineProtocol } from './spline.ts';
import { expectMeasuredCost } from '../../../test/runtime/expect-cost.ts';
import { withEdges } from '../../../test/runtime/real-inputs.ts';
import { worstAbsDiff } from '../../../ir/tensor.ts';

const F = 16;
const ulp = 2 ** -F;

/** The plaintext interpreter's definitions (ir/kernels): the oracle. */
const REFERENCE: Record<SplineFunction, (x: number) => number> = {
  'gelu.erf': GELU.erf!,
  'gelu.tanh': GELU.tanh!,
  silu: (x) => x * sigmoid(x),
  sigmoid,
  tanh: Math.tanh,
  erf,
};

const FUNCTIONS = Object.keys(REFERENCE) as SplineFunction[];

describe('spline tables', () => {
  it.each(FUNCTIONS)('%s: the fitted table stays within its stated fit error', (fn) => {
    expect(measureError(SPLINE_TABLES[fn], REFERENCE[fn], 200)).toBeLessThanOrEqual(
      SPLINE_TABLES[fn].fitError,
    );
  });
});

describe.each(COMPARE_VARIANTS)('spline protocol (%s)', (variant) => {
  it.each(FUNCTIONS)('%s is within its bound on random, knot and extreme inputs', async (fn) => {
    const knots = SPLINE_TABLES[fn].knots.flatMap((k) => [k, k - ulp, k + ulp, k - 1 / 64]);
    const edges = [0, ulp, -ulp, 8191, -8191, 100, -100, ...knots];
    const x = withEdges(edges, 600, -16, 16).map((v) => Math.round(v / ulp) * ulp);
    const p = { fn, variant, n: x.length, fracBits: F };
    const s = new TwoPartySession();
    const got = openReals(await s.run(splineProtocol, p, splitShares(encodeFixed(x, F)), fn), F);
    const { diff: error, at } = worstAbsDiff(got, Float64Array.from(x, REFERENCE[fn]));
    expect(error, `worst at x = ${x[at]}`).toBeLessThanOrEqual(splineErrorBound(fn, F));
    expectMeasuredCost(s, fn, splineProtocol.cost(p));
  });
});
