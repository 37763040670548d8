import { describe, expect, it } from 'vitest';
import { softmax as plainSoftmax } from '../../../ir/kernels/softmax.ts';
import { makeTensor } from '../../../ir/tensor.ts';
import { encodeFixed } from '../../ring/fixed.ts';
import { TwoPartySession, openReals, splitShares } from '../../../test/runtime/two-party.ts';
import { COMPARE_VARIANTS } from './compare.ts';
import type { MaskKind, SoftmaxApprox, SoftmaxMask, SoftmaxParams } from './softmax.ts';
import { softmaxErrorBound, softmaxProtocol } from './softmax.ts';
import { expectMeasuredCost } from '../../../test/runtime/expect-cost.ts';
import { uniform } from '../../../test/runtime/real-inputs.ts';

const F = 16;
const q = (v: number) => Math.round(v * 2 ** F) / 2 ** F;

/** A causal mask (-inf above the diagonal of [len, len] blocks) plus a padding column at -1e4. */
function causalMask(outer: number, len: number): Float32Array {
  const m = new Float32Array(outer * len * len);
  for (let o = 0; o < outer; o++)
    for (let r = 0; r < len; r++)
      for (let c = 0; c < len; c++)
        m[(o * len + r) * len + c] = c > r ? -Infinity : c === 0 && r > 2 ? -1e4 : 0.25 * c;
  return m;
}

/**
 * The 2quad softmax is stated for rows whose weight sum S = sum (z + 5)^2 lies in
 * its reciprocal's domain (S >= 2^-4, reciprocalParams in softmax.ts): a causal row
 * keeping a single value near -5 has S ~ 0 and no meaningful result (0/0). Move such
 * a row's first kept value by 1 so every row is inside the domain, with margin.
 */
function keepInQuadDomain(x: Float64Array, maskValues: Float32Array | undefined, rowsN: number, len: number) {
  for (let r = 0; r < rowsN; r++) {
    const kept = [...Array(len).keys()].filter((c) => !maskValues || maskValues[r * len + c]! > -1e4);
    const z = (c: number) => x[r * len + c]! + (maskValues ? maskValues[r * len + c]! : 0);
    const S = kept.reduce((acc, c) => acc + (z(c) + 5) ** 2, 0);
    if (S < 2 ** -3) x[r * len + kept[0]!] = q(x[r * len + kept[0]!]! + 1);
  }
}

async function check(
  approx: SoftmaxApprox,
  variant: 'dcf' | 'bool',
  mask: MaskKind,
  outer: number,
  len: number,
) {
  // Rows of `len` along the last axis: [outer * len rows when masked causally, len].
  const rowsN = mask === 'none' ? outer : outer * len;
  const x = uniform(rowsN * len, -6, 6).map(q);
  x[0] = 8;
  x[1] = 8; // a tie at the maximum
  const p: SoftmaxParams = { approx, variant, outer: rowsN, len, inner: 1, fracBits: F, mask };
  const maskValues = mask === 'none' ? undefined : causalMask(outer, len);
  if (approx === '2quad') keepInQuadDomain(x, maskValues, rowsN, len);
  const sharedMask = maskValues
    ? splitShares(
        encodeFixed(
          maskValues.map((v) => (v < -1e3 ? 0 : v)),
          F,
        ),
      )
    : undefined;
  const masks: (SoftmaxMask | undefined)[] =
    mask === 'public'
      ? [
          { kind: 'public', values: maskValues! },
          { kind: 'public', values: maskValues! },
        ]
      : mask === 'shared'
        ? [
            { kind: 'shared', share: sharedMask![0] },
            { kind: 'shared', share: sharedMask![1] },
          ]
        : [undefined, undefined];
  const xs = splitShares(encodeFixed(x, F));
  const s = new TwoPartySession();
  const got = openReals(
    await s.run(
      softmaxProtocol,
      p,
      [
        { x: xs[0], mask: masks[0] },
        { x: xs[1], mask: masks[1] },
      ],
      'softmax',
    ),
    F,
  );
  const plainMask = mask === 'shared' ? maskValues!.map((v) => (v < -1e3 ? 0 : v)) : maskValues;
  const inputs = [makeTensor('f32', [rowsN, len], Float32Array.from(x))];
  if (plainMask) inputs.push(makeTensor('f32', [rowsN, len], plainMask));
  const want = plainSoftmax(inputs, { axis: -1, approx }, [])[0]!.data as Float32Array;
  let worst = 0;
  for (let r = 0; r < rowsN; r++) {
    const kept: number[] = [];
    const z: number[] = [];
    for (let c = 0; c < len; c++) {
      const mv = plainMask ? plainMask[r * len + c]! : 0;
      if (mv > -1e4) {
        kept.push(c);
        z.push(x[r * len + c]! + mv);
      }
    }
    for (let c = 0; c < len; c++) {
      const i = r * len + c;
      const k = kept.indexOf(c);
      const bound = k < 0 ? 2 ** (1 - F) : softmaxErrorBound(p, z, k);
      worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / bound);
    }
  }
  expect(worst).toBeLessThanOrEqual(1);
  expectMeasuredCost(s, 'softmax', softmaxProtocol.cost(p));
}

describe.each(COMPARE_VARIANTS)('softmax (%s)', (variant) => {
  it.each(['exact', '2quad'] as const)('%s without a mask, odd row length', (approx) =>
    check(approx, variant, 'none', 5, 13),
  );
  it.each(['exact', '2quad'] as const)('%s with a public causal + padding mask', (approx) =>
    check(approx, variant, 'public', 2, 8),
  );
  it('exact with a shared additive mask', () => check('exact', variant, 'shared', 2, 8));
});
