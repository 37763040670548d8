import { describe, expect, it } from 'vitest';
import { mulberry32, seededUniform } from './random.ts';

describe('seeded PRG', () => {
  it('gives the same stream for the same seed and another for another seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const sa = Array.from({ length: 8 }, () => a());
    expect(Array.from({ length: 8 }, () => b())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c())).not.toEqual(sa);
  });

  it('draws 32-bit words, and uniforms in [0, 1) that pass a chi-square test on 16 bins', () => {
    const words = mulberry32(7);
    for (let i = 0; i < 1000; i++) {
      const w = words();
      expect(Number.isInteger(w) && w >= 0 && w < 2 ** 32).toBe(true);
    }
    const next = seededUniform(7);
    const n = 64_000;
    const bins = new Array<number>(16).fill(0);
    for (let i = 0; i < n; i++) {
      const u = next();
      expect(u >= 0 && u < 1).toBe(true);
      bins[Math.floor(u * 16)]!++;
    }
    const expected = n / 16;
    const chi2 = bins.reduce((s, k) => s + (k - expected) ** 2 / expected, 0);
    // 15 degrees of freedom: P(chi2 > 37.7) = 0.001.
    expect(chi2).toBeLessThan(37.7);
  });
});
