import { describe, expect, it } from 'vitest';
import { decodeFixed, encodeFixed } from '../../ring/fixed.ts';
import { ringAdd } from '../../ring/kernels.ts';
import { TwoPartySession, openReals, splitShares } from '../../../test/runtime/two-party.ts';
import { COMPARE_VARIANTS } from './compare.ts';
import { exactCompare } from './ranges.ts';
import type { SignOp } from './sign-ops.ts';
import { signCompare, signProtocol } from './sign-ops.ts';
import { expectMeasuredCost } from '../../../test/runtime/expect-cost.ts';
import { withEdges } from '../../../test/runtime/real-inputs.ts';

const F = 16;
const ulp = 2 ** -F;
const LIMIT = 8191;

function run(variant: 'dcf' | 'bool', op: SignOp, xs: Float64Array, ys?: Float64Array) {
  const n = xs.length;
  const base = exactCompare(variant, n, 1, F, false);
  const p = { op, compare: signCompare(op, base) };
  const s = new TwoPartySession();
  const x = splitShares(encodeFixed(xs, F));
  const y = ys ? splitShares(encodeFixed(ys, F)) : undefined;
  const inputs: [BigInt64Array[], BigInt64Array[]] = y
    ? [
        [x[0], y[0]],
        [x[1], y[1]],
      ]
    : [[x[0]], [x[1]]];
  return { s, p, result: s.run(signProtocol, p, inputs, op) };
}

/** The fixed-point values reals encode to (the protocols are exact on encoded values). */
const onGrid = (v: Float64Array) => decodeFixed(encodeFixed(v, F), F);

describe.each(COMPARE_VARIANTS)('sign ops (%s)', (variant) => {
  const xs = onGrid(withEdges([0, ulp, -ulp, LIMIT, -LIMIT, 1e-9, -3.5], 2000, -LIMIT, LIMIT));
  const ys = onGrid(withEdges([0, 0, ulp, -LIMIT, LIMIT, 0, -3.5], 2000, -LIMIT, LIMIT));

  it.each([
    ['relu', (x: number) => Math.max(x, 0)],
    ['abs', (x: number) => Math.abs(x)],
  ] as const)('%s is exact', async (op, f) => {
    const { s, p, result } = run(variant, op, xs);
    const got = openReals(await result, F);
    for (let i = 0; i < xs.length; i++) expect(got[i]).toBe(f(xs[i]!));
    expectMeasuredCost(s, op, signProtocol.cost(p));
  });

  it.each([
    ['max', Math.max],
    ['min', Math.min],
  ] as const)('%s is exact', async (op, f) => {
    const { s, p, result } = run(variant, op, xs, ys);
    const got = openReals(await result, F);
    for (let i = 0; i < xs.length; i++) expect(got[i]).toBe(f(xs[i]!, ys[i]!));
    expectMeasuredCost(s, op, signProtocol.cost(p));
  });

  it.each([
    ['less', (x: number, y: number) => x < y],
    ['greater', (x: number, y: number) => x > y],
    ['equal', (x: number, y: number) => x === y],
  ] as const)('%s gives exact 0/1 shares', async (op, f) => {
    const { s, p, result } = run(variant, op, xs, ys);
    const [a, b] = await result;
    const got = ringAdd(a, b);
    for (let i = 0; i < xs.length; i++) expect(got[i]).toBe(f(xs[i]!, ys[i]!) ? 1n : 0n);
    expectMeasuredCost(s, op, signProtocol.cost(p));
  });
});
