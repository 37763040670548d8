// Fixed-point encode/decode against hand-derived values and float arithmetic.
import { describe, expect, it } from 'vitest';
import { DEFAULT_FRAC_BITS, decodeFixed, decodeFixedF32, encodeFixed, encodeScalar } from './fixed.ts';

describe('fixed point', () => {
  it('encodes by round-half-even of x * 2^f', () => {
    const f = 4;
    // 1.03125 * 16 = 16.5 -> 16 (even); 1.09375 * 16 = 17.5 -> 18; negatives mirror.
    const r = encodeFixed([0, 1, -1, 1.03125, 1.09375, -1.09375, 0.25], f);
    expect([...r]).toEqual([0n, 16n, -16n, 16n, 18n, -18n, 4n]);
  });

  it('round trip is within half an ulp, for f32 and f64 inputs', () => {
    const f = DEFAULT_FRAC_BITS;
    const xs = Float64Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 9) - 3));
    const back = decodeFixed(encodeFixed(xs, f), f);
    for (let i = 0; i < xs.length; i++)
      expect(Math.abs(back[i]! - xs[i]!)).toBeLessThanOrEqual(2 ** -(f + 1));
    const x32 = Float32Array.from(xs);
    const back32 = decodeFixedF32(encodeFixed(x32, f), f);
    for (let i = 0; i < xs.length; i++)
      expect(Math.abs(back32[i]! - x32[i]!)).toBeLessThanOrEqual(
        2 ** -(f + 1) + Math.abs(x32[i]!) * 2 ** -23,
      );
  });

  it('saturates at the clip range instead of wrapping; NaN encodes as 0', () => {
    const f = 16;
    const big = encodeFixed([1e30, -1e30, Infinity, -Infinity, NaN], f);
    expect(big[0]).toBe((1n << 62n) - 512n);
    expect(big[1]).toBe(-(1n << 62n));
    expect(big[2]).toBe((1n << 62n) - 512n);
    expect(big[3]).toBe(-(1n << 62n));
    expect(big[4]).toBe(0n);
    // just inside the range encodes exactly
    expect(encodeScalar(2 ** 40, f)).toBe(1n << 56n);
  });

  it('rejects bad fractional bits', () => {
    expect(() => encodeFixed([1], 31)).toThrow(/fractional bits/);
  });
});
