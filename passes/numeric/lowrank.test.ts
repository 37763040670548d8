import { describe, expect, it } from 'vitest';
import { seededUniform } from '../../ir/random.ts';
import type { Matrix } from './lowrank.ts';
import { frobeniusNorm, lowRankFactor, submatrixRankExceeds, symmetricEigen } from './lowrank.ts';
import { maxAbsDiff } from '../../ir/tensor.ts';

/** Seeded uniforms in [-0.5, 0.5). */
function randomValues(n: number, seed: number): Float64Array {
  const next = seededUniform(seed);
  return Float64Array.from({ length: n }, () => next() - 0.5);
}

/** An exactly rank-r matrix, built as the product of random [rows, r] and [r, cols] factors. */
function rankR(rows: number, cols: number, r: number, seed: number): Matrix {
  const l = randomValues(rows * r, seed);
  const rt = randomValues(r * cols, seed + 1);
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let t = 0; t < r; t++)
      for (let k = 0; k < cols; k++) data[i * cols + k]! += l[i * r + t]! * rt[t * cols + k]!;
  return { rows, cols, data };
}

function product(
  left: Float64Array,
  right: Float64Array,
  rows: number,
  rank: number,
  cols: number,
): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let t = 0; t < rank; t++)
      for (let k = 0; k < cols; k++) out[i * cols + k]! += left[i * rank + t]! * right[t * cols + k]!;
  return out;
}

describe('symmetricEigen', () => {
  it('diagonalises [[2,1],[1,2]]: eigenvalues 3 and 1, eigenvectors (1,1)/sqrt2 and (1,-1)/sqrt2', () => {
    const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(1, 12);
    expect(Math.abs(vectors[0]!)).toBeCloseTo(Math.SQRT1_2, 12);
    expect(vectors[0]! * vectors[2]!).toBeCloseTo(0.5, 12); // same sign: (1, 1) direction
    expect(vectors[1]! * vectors[3]!).toBeCloseTo(-0.5, 12); // opposite signs: (1, -1)
  });

  it('reconstructs a random symmetric matrix as V diag(values) V^T', () => {
    const n = 6;
    const r = randomValues(n * n, 7);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = r[i * n + j]! + r[j * n + i]!;
    const { values, vectors } = symmetricEigen(a, n);
    const back = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        for (let t = 0; t < n; t++)
          back[i * n + j]! += vectors[i * n + t]! * values[t]! * vectors[j * n + t]!;
    expect(maxAbsDiff(back, a)).toBeLessThan(1e-12);
    for (let t = 1; t < n; t++) expect(values[t]!).toBeLessThanOrEqual(values[t - 1]!);
  });
});

describe('lowRankFactor', () => {
  it.each([
    [40, 40, 1],
    [64, 48, 3],
    [20, 50, 6],
    [96, 32, 4],
  ])('finds the rank of an exactly rank-r %ix%i matrix (r = %i) and factors it', (rows, cols, r) => {
    const d = rankR(rows, cols, r, rows * 31 + cols);
    const f = lowRankFactor(d, { maxRank: 16, tolerance: 1e-6 });
    expect(f).toBeDefined();
    expect(f!.rank).toBe(r);
    const back = product(f!.left, f!.right, rows, r, cols);
    expect(maxAbsDiff(back, d.data)).toBeLessThan(1e-10 * frobeniusNorm(d.data));
    expect(f!.relativeError).toBeLessThan(1e-10);
    // Left factor columns are orthonormal: L^T L = I.
    for (let a = 0; a < r; a++)
      for (let b = 0; b < r; b++) {
        let s = 0;
        for (let i = 0; i < rows; i++) s += f!.left[i * r + a]! * f!.left[i * r + b]!;
        expect(s).toBeCloseTo(a === b ? 1 : 0, 10);
      }
  });

  it('accepts an exactly low-rank matrix even at a tolerance below double rounding of the residual estimate', () => {
    const d = rankR(40, 30, 3, 29);
    const f = lowRankFactor(d, { maxRank: 8, tolerance: 1e-12 });
    expect(f?.rank).toBe(3);
    expect(f!.relativeError).toBeLessThanOrEqual(1e-12);
  });

  it('rejects a full-rank matrix', () => {
    const d: Matrix = { rows: 48, cols: 48, data: randomValues(48 * 48, 3) };
    expect(lowRankFactor(d, { maxRank: 16, tolerance: 1e-4 })).toBeUndefined();
  });

  it('rejects a matrix whose rank exceeds maxRank', () => {
    expect(lowRankFactor(rankR(40, 40, 6, 11), { maxRank: 4, tolerance: 1e-6 })).toBeUndefined();
    expect(lowRankFactor(rankR(40, 40, 6, 11), { maxRank: 6, tolerance: 1e-6 })?.rank).toBe(6);
  });

  it('treats small noise by the tolerance: accepted at 1e-4, rejected at 1e-12', () => {
    const d = rankR(50, 40, 2, 5);
    const noise = randomValues(d.data.length, 9);
    const scale = 1e-8 * frobeniusNorm(d.data);
    const noisy: Matrix = { ...d, data: Float64Array.from(d.data, (x, i) => x + scale * noise[i]!) };
    const loose = lowRankFactor(noisy, { maxRank: 16, tolerance: 1e-4 });
    expect(loose?.rank).toBe(2);
    expect(loose!.relativeError).toBeLessThan(1e-4);
    expect(lowRankFactor(noisy, { maxRank: 16, tolerance: 1e-12 })).toBeUndefined();
  });

  it('accepts a residual under the absolute noise floor', () => {
    const d = rankR(30, 30, 2, 17);
    const noise = randomValues(d.data.length, 19);
    const noisy: Matrix = { ...d, data: Float64Array.from(d.data, (x, i) => x + 1e-6 * noise[i]!) };
    expect(lowRankFactor(noisy, { maxRank: 8, tolerance: 1e-12 })).toBeUndefined();
    // The best rank-2 fit leaves at most the noise (D itself is rank 2); the range finder's fit
    // lies within a few percent of the best, so the floor is the noise's norm with a margin.
    const floor = 1.5e-6 * frobeniusNorm(noise);
    expect(lowRankFactor(noisy, { maxRank: 8, tolerance: 1e-12, noiseFloor: floor })?.rank).toBe(2);
  });

  it('gives rank 0 for the zero matrix', () => {
    expect(
      lowRankFactor({ rows: 5, cols: 7, data: new Float64Array(35) }, { maxRank: 4, tolerance: 1e-4 })?.rank,
    ).toBe(0);
  });

  it('is deterministic: the same input gives the same factors', () => {
    const d = rankR(30, 20, 3, 23);
    const a = lowRankFactor(d, { maxRank: 8, tolerance: 1e-6 })!;
    const b = lowRankFactor(d, { maxRank: 8, tolerance: 1e-6 })!;
    expect(Array.from(a.left)).toEqual(Array.from(b.left));
  });
});

describe('submatrixRankExceeds', () => {
  it('proves a full-rank matrix is not rank 4, and never rejects an exactly rank-4 one', () => {
    const full: Matrix = { rows: 60, cols: 50, data: randomValues(3000, 41) };
    expect(submatrixRankExceeds(full, 4, 1e-4 * frobeniusNorm(full.data), 1)).toBe(true);
    for (let seed = 1; seed <= 5; seed++) {
      const low = rankR(60, 50, 4, 43 + seed);
      expect(submatrixRankExceeds(low, 4, 1e-9 * frobeniusNorm(low.data), seed)).toBe(false);
    }
  });

  it('decides nothing when the submatrix cannot exceed the rank', () => {
    const full: Matrix = { rows: 4, cols: 50, data: randomValues(200, 47) };
    expect(submatrixRankExceeds(full, 4, 0, 1)).toBe(false);
  });
});

describe('lowRankFactor past the quick rejection', () => {
  it('rejects a rank-11 matrix whose high-rank part hides in 10 of 200 rows (the submatrix misses it)', () => {
    const d = rankR(200, 200, 1, 61);
    const extra = randomValues(10 * 200, 63);
    for (let i = 0; i < 10 * 200; i++) d.data[i]! += extra[i]!; // rows 0..9 (row-major: the first 2000 values) get a full-rank block
    const threshold = 1e-4 * frobeniusNorm(d.data);
    // The sampled submatrix sees (almost) none of those rows, so only the range finder can tell.
    expect(submatrixRankExceeds(d, 4, threshold, 0x5eed)).toBe(false);
    expect(lowRankFactor(d, { maxRank: 4, tolerance: 1e-4 })).toBeUndefined();
    expect(lowRankFactor(d, { maxRank: 11, tolerance: 1e-6 })?.rank).toBe(11);
  });
});
