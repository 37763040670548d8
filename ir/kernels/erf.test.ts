import { describe, expect, it } from 'vitest';
import { erf } from './erf.ts';

/** The defining integral 2/sqrt(pi) * int_0^x exp(-t^2) dt by composite Simpson (error ~1e-17 here). */
function erfByQuadrature(x: number, intervals = 20_000): number {
  const h = x / intervals;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < intervals; i++) s += (i % 2 === 1 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
}

describe('erf', () => {
  it('matches published values to 1e-15', () => {
    const table: [number, number][] = [
      [0, 0],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
    ];
    for (const [x, want] of table) {
      expect(Math.abs(erf(x) - want)).toBeLessThan(1e-15);
      expect(Math.abs(erf(-x) + want)).toBeLessThan(1e-15);
    }
  });

  it('agrees with a quadrature of its integral within 1e-13 on [0, 7]', () => {
    let worst = 0;
    for (let x = 0.01; x <= 7; x += 0.07) worst = Math.max(worst, Math.abs(erf(x) - erfByQuadrature(x)));
    expect(worst).toBeLessThan(1e-13);
  });

  it('saturates to +-1 and propagates NaN', () => {
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(erf(40)).toBe(1);
    expect(Number.isNaN(erf(NaN))).toBe(true);
  });

  it('is monotone across the switch to saturation at |x| = 6', () => {
    const xs = [5.9, 5.95, 5.999, 6, 6.5];
    const ys = xs.map(erf);
    for (let i = 1; i < ys.length; i++) expect(ys[i]!).toBeGreaterThanOrEqual(ys[i - 1]!);
    expect(1 - erf(5.9)).toBeLessThan(1e-15);
  });
});
