/**
 * Numerical low-rank factorisation for the LoRA split: given a dense matrix D
 * (the difference W' - W_base of a fine-tuned weight and its base), find the
 * smallest rank r <= maxRank with D ~= L R, L [rows, r], R [r, cols], such that
 * ||D - L R||_F <= max(tolerance * ||D||_F, noiseFloor).
 *
 * Algorithm (randomised range finder, Halko-Martinsson-Tropp 2011, adaptive in blocks):
 *   0. Quick rejection: if a random 2(R+8)-square submatrix of D has sigma_{R+1} above the
 *      threshold, no rank-R fit exists (see submatrixRankExceeds); a fully fine-tuned
 *      weight is rejected here without touching the rest of D.
 *   1. Sketch D with a block of Gaussian test vectors, Y = D Omega (block columns).
 *   2. Orthonormalise Y against the basis found so far (classical Gram-Schmidt run
 *      twice, which is numerically orthogonal to working precision) and append it to Q.
 *   3. The residual of the projection is known without forming it:
 *      ||D - Q Q^T D||_F^2 = ||D||_F^2 - ||Q^T D||_F^2. Stop as soon as it meets the
 *      threshold; give up when Q has maxRank + oversample columns (D is not low rank).
 *   4. Reduce to the smallest rank inside range(Q): with C = Q^T D and C C^T = U S U^T
 *      (Jacobi eigen-decomposition of a small symmetric matrix), the best rank-r fit
 *      in range(Q) is (Q U_r)(U_r^T C), whose residual is ||D||^2 - sum_{i<r} S_i.
 *   5. Check the chosen factors directly, ||D - L R||_F, and report that relative error.
 * All arithmetic is Float64. A rank-4 difference of a 768x768 weight costs one block:
 * two passes over D with 8 vectors each, and one more for the direct check.
 *
 * The random test vectors come from a fixed seed, so a compilation is reproducible.
 */
import { mulberry32 } from '../../ir/random.ts';

export interface LowRankOptions {
  /** Largest rank accepted. */
  readonly maxRank: number;
  /** Relative Frobenius tolerance of the fit. */
  readonly tolerance: number;
  /**
   * Absolute residual always accepted (e.g. the float32 rounding noise of the
   * stored fine-tuned weight, below which a difference carries no information).
   */
  readonly noiseFloor?: number;
  /** Test vectors per sketching block (default 8). */
  readonly blockSize?: number;
  /** Extra sketch columns beyond maxRank before declaring the matrix full rank (default 8). */
  readonly oversample?: number;
  /** Seed of the test vectors (default fixed). */
  readonly seed?: number;
}

export interface LowRankFactors {
  readonly rank: number;
  /** [rows, rank], row-major, orthonormal columns. */
  readonly left: Float64Array;
  /** [rank, cols], row-major. */
  readonly right: Float64Array;
  /** ||D - left right||_F / ||D||_F. */
  readonly relativeError: number;
}

/** A dense row-major matrix. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export function frobeniusNorm(data: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i]! * data[i]!;
  return Math.sqrt(s);
}

/** Deterministic uniforms in the open interval (0, 1) (Box-Muller takes their log). */
function uniformSource(seed: number): () => number {
  const next = mulberry32(seed);
  return () => (next() + 0.5) / 4294967296;
}

/** Deterministic standard normal samples: uniforms through Box-Muller. */
function gaussianSource(seed: number): () => number {
  const uniform = uniformSource(seed);
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

/** Y = D Omega for `count` Gaussian test vectors; returns the columns of Y. */
function sketch(d: Matrix, count: number, gaussian: () => number): Float64Array[] {
  const { rows, cols, data } = d;
  const omega = new Float64Array(cols * count);
  for (let i = 0; i < omega.length; i++) omega[i] = gaussian();
  const y = new Float64Array(rows * count);
  for (let i = 0; i < rows; i++) {
    const yRow = i * count;
    for (let k = 0; k < cols; k++) {
      const dik = data[i * cols + k]!;
      if (dik === 0) continue;
      const oRow = k * count;
      for (let j = 0; j < count; j++) y[yRow + j]! += dik * omega[oRow + j]!;
    }
  }
  const columns: Float64Array[] = [];
  for (let j = 0; j < count; j++) {
    const c = new Float64Array(rows);
    for (let i = 0; i < rows; i++) c[i] = y[i * count + j]!;
    columns.push(c);
  }
  return columns;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Removes from v its components along the orthonormal basis (in place). */
function project(v: Float64Array, basis: readonly Float64Array[]): void {
  for (const q of basis) {
    const c = dot(v, q);
    for (let i = 0; i < v.length; i++) v[i]! -= c * q[i]!;
  }
}

/**
 * Orthonormalises v against the basis (Gram-Schmidt twice); undefined when v
 * lies in the span already (what is left is rounding noise of v itself).
 */
function orthonormalise(v: Float64Array, basis: readonly Float64Array[]): Float64Array | undefined {
  const before = Math.sqrt(dot(v, v));
  if (before === 0) return undefined;
  project(v, basis);
  project(v, basis);
  const after = Math.sqrt(dot(v, v));
  if (after <= 1e-12 * before) return undefined;
  for (let i = 0; i < v.length; i++) v[i]! /= after;
  return v;
}

/** Rows q_j^T D for several vectors in one pass over D (each row of D is read once, for all q_j). */
function projectRows(d: Matrix, qs: readonly Float64Array[]): Float64Array[] {
  const { rows, cols, data } = d;
  const out = qs.map(() => new Float64Array(cols));
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < qs.length; j++) {
      const qi = qs[j]![i]!;
      if (qi === 0) continue;
      const row = out[j]!;
      for (let k = 0; k < cols; k++) row[k]! += qi * data[base + k]!;
    }
  }
  return out;
}

/**
 * Eigen-decomposition of a small symmetric matrix (n x n, row-major) by cyclic
 * Jacobi rotations. Returns eigenvalues in descending order and the matching
 * eigenvectors as columns of a row-major n x n matrix.
 */
export function symmetricEigen(a: Float64Array, n: number): { values: number[]; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q]! * m[p * n + q]!;
    if (off === 0 || off < 1e-30 * frobeniusNorm(m) ** 2) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (apq === 0) continue;
        // Rotation angle that zeroes m[p][q]: tan(2 theta) = 2 apq / (aqq - app).
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p]!;
          const mkq = m[k * n + q]!;
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k]!;
          const mqk = m[q * n + k]!;
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j * n + j]! - m[i * n + i]!);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src]!;
  });
  return { values: order.map((i) => m[i * n + i]!), vectors };
}

/** ||D - L R||_F computed directly. */
function residualNorm(d: Matrix, left: Float64Array, right: Float64Array, rank: number): number {
  const { rows, cols, data } = d;
  const row = new Float64Array(cols);
  let s = 0;
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < cols; k++) row[k] = data[i * cols + k]!;
    for (let j = 0; j < rank; j++) {
      const lij = left[i * rank + j]!;
      const base = j * cols;
      for (let k = 0; k < cols; k++) row[k]! -= lij * right[base + k]!;
    }
    s += dot(row, row);
  }
  return Math.sqrt(s);
}

/** `count` distinct indices of [0, n), seeded (a partial Fisher-Yates shuffle). */
function sampleIndices(n: number, count: number, uniform: () => number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(uniform() * (n - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, count).sort((a, b) => a - b);
}

/**
 * A cheap necessary condition, checked before sketching D, that rejects full-rank
 * differences (the common case: a fully fine-tuned weight) at the cost of a small
 * eigenproblem. If D = L + E with rank(L) <= R and ||E||_F <= t, then every submatrix
 * S of D has sigma_{R+1}(S) <= ||S - L_S||_2 <= ||E||_F <= t. So a random submatrix with
 * sigma_{R+1}(S) > t proves that no rank-R fit within t exists (a factor 2 of margin
 * covers rounding in D; the eigenvalues' own rounding is allowed for). The converse
 * does not hold: passing this test decides nothing.
 */
export function submatrixRankExceeds(d: Matrix, maxRank: number, threshold: number, seed: number): boolean {
  const side = 2 * (maxRank + 8);
  const m = Math.min(d.rows, side);
  const c = Math.min(d.cols, side);
  if (Math.min(m, c) <= maxRank) return false;
  const uniform = uniformSource(seed);
  const rowIdx = sampleIndices(d.rows, m, uniform);
  const colIdx = sampleIndices(d.cols, c, uniform);
  // Gram matrix of the smaller side: its eigenvalues are the squared singular values of S.
  const byRows = m <= c;
  const n = byRows ? m : c;
  const vectors = (byRows ? rowIdx : colIdx).map((a) =>
    Float64Array.from(byRows ? colIdx : rowIdx, (b) =>
      byRows ? d.data[a * d.cols + b]! : d.data[b * d.cols + a]!,
    ),
  );
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) gram[i * n + j] = gram[j * n + i] = dot(vectors[i]!, vectors[j]!);
  const { values } = symmetricEigen(gram, n);
  // Eigenvalues of the Gram matrix carry absolute rounding error of order n eps lambda_max.
  const rounding = n * 4 * Number.EPSILON * values[0]!;
  return values[maxRank]! > 4 * threshold * threshold + rounding;
}

/** Grows an orthonormal basis of range(D) block by block until it explains D (or spans its range), or exceeds `limit` columns. */
function rangeBasis(
  d: Matrix,
  threshold: number,
  normSquared: number,
  limit: number,
  blockSize: number,
  gaussian: () => number,
): { basis: Float64Array[]; rows: Float64Array[] } | undefined {
  const basis: Float64Array[] = [];
  const projected: Float64Array[] = [];
  let explained = 0;
  while (normSquared - explained > threshold * threshold) {
    if (basis.length >= limit) return undefined;
    const block = Math.min(blockSize, limit - basis.length);
    const added: Float64Array[] = [];
    for (const y of sketch(d, block, gaussian)) {
      const q = orthonormalise(y, [...basis, ...added]);
      if (q) added.push(q);
    }
    // A block adding nothing means the basis already spans range(D): what the residual
    // estimate still shows is rounding in it, which the direct check in lowRankFactor settles.
    if (added.length === 0) break;
    for (const row of projectRows(d, added)) {
      projected.push(row);
      explained += dot(row, row);
    }
    basis.push(...added);
  }
  return { basis, rows: projected };
}

/**
 * Factors D into L R of the smallest rank <= maxRank meeting the tolerance, or
 * returns undefined when no such rank exists (D is "full rank" for our purpose).
 * A zero matrix has rank 0 (empty factors).
 */
export function lowRankFactor(d: Matrix, opts: LowRankOptions): LowRankFactors | undefined {
  const normSquared = dot(d.data, d.data);
  const norm = Math.sqrt(normSquared);
  if (norm === 0) return { rank: 0, left: new Float64Array(0), right: new Float64Array(0), relativeError: 0 };
  const threshold = Math.max(opts.tolerance * norm, opts.noiseFloor ?? 0);
  const maxRank = Math.min(opts.maxRank, d.rows, d.cols);
  const seed = opts.seed ?? 0x5eed;
  if (submatrixRankExceeds(d, maxRank, threshold, seed)) return undefined;
  const limit = Math.min(maxRank + (opts.oversample ?? 8), d.rows, d.cols);
  const found = rangeBasis(d, threshold, normSquared, limit, opts.blockSize ?? 8, gaussianSource(seed));
  if (!found) return undefined;
  const { basis, rows } = found;
  const l = basis.length;

  // Smallest rank inside range(Q): eigenvalues of C C^T are the squared singular values of C = Q^T D.
  const gram = new Float64Array(l * l);
  for (let i = 0; i < l; i++)
    for (let j = i; j < l; j++) gram[i * l + j] = gram[j * l + i] = dot(rows[i]!, rows[j]!);
  const { values, vectors } = symmetricEigen(gram, l);
  let rank = 0;
  let explained = 0;
  while (rank < l && normSquared - explained > threshold * threshold)
    explained += Math.max(0, values[rank++]!);
  if (rank > maxRank) return undefined;

  // L = Q U_r (orthonormal columns), R = U_r^T C.
  const left = new Float64Array(d.rows * rank);
  const right = new Float64Array(rank * d.cols);
  for (let j = 0; j < rank; j++) {
    for (let t = 0; t < l; t++) {
      const u = vectors[t * l + j]!;
      const q = basis[t]!;
      const c = rows[t]!;
      for (let i = 0; i < d.rows; i++) left[i * rank + j]! += u * q[i]!;
      for (let k = 0; k < d.cols; k++) right[j * d.cols + k]! += u * c[k]!;
    }
  }
  const residual = residualNorm(d, left, right, rank);
  if (residual > threshold * (1 + 1e-9)) return undefined;
  return { rank, left, right, relativeError: residual / norm };
}

/** A column range [start, end) of a matrix and the low-rank factors of that range (rank 0: all zero). */
export interface ColumnBlock {
  readonly start: number;
  readonly end: number;
  readonly factors: LowRankFactors;
}

/** A matrix factored block by block along its columns. */
export interface BlockFactors {
  readonly blocks: readonly ColumnBlock[];
  /** Sum of the block ranks. */
  readonly rank: number;
  /** ||D - approximation||_F / ||D||_F over the whole matrix. */
  readonly relativeError: number;
  /** Multiply-accumulates per row of x to apply the factors: sum of rank (rows + block width). */
  readonly macsPerRow: number;
}

/** Columns [start, end) as a matrix of their own. */
export function columnRange(d: Matrix, start: number, end: number): Matrix {
  const cols = end - start;
  const data = new Float64Array(d.rows * cols);
  for (let i = 0; i < d.rows; i++) data.set(d.data.subarray(i * d.cols + start, i * d.cols + end), i * cols);
  return { rows: d.rows, cols, data };
}

/** Maximal runs of all-zero and of non-zero columns, in order. */
export function zeroColumnRuns(d: Matrix): { start: number; end: number; zero: boolean }[] {
  const zero = new Array<boolean>(d.cols).fill(true);
  for (let i = 0; i < d.rows; i++)
    for (let k = 0; k < d.cols; k++) if (d.data[i * d.cols + k] !== 0) zero[k] = false;
  const runs: { start: number; end: number; zero: boolean }[] = [];
  for (let k = 0; k < d.cols; k++) {
    const last = runs[runs.length - 1];
    if (last && last.zero === zero[k]) last.end = k + 1;
    else runs.push({ start: k, end: k + 1, zero: zero[k]! });
  }
  return runs;
}

/**
 * Factors the given column blocks of D one by one (each under the same options,
 * its noise floor from `noiseFloor(start, end)`); undefined when a block is not
 * low rank.
 */
export function factorColumnBlocks(
  d: Matrix,
  ranges: readonly { start: number; end: number }[],
  opts: LowRankOptions,
  noiseFloor: (start: number, end: number) => number,
): BlockFactors | undefined {
  const blocks: ColumnBlock[] = [];
  let residualSquared = 0;
  for (const { start, end } of ranges) {
    const part = ranges.length === 1 && start === 0 && end === d.cols ? d : columnRange(d, start, end);
    const factors = lowRankFactor(part, { ...opts, noiseFloor: noiseFloor(start, end) });
    if (!factors) return undefined;
    residualSquared += (factors.relativeError * frobeniusNorm(part.data)) ** 2;
    blocks.push({ start, end, factors });
  }
  const norm = frobeniusNorm(d.data);
  return {
    blocks,
    rank: blocks.reduce((s, b) => s + b.factors.rank, 0),
    relativeError: norm === 0 ? 0 : Math.sqrt(residualSquared) / norm,
    macsPerRow: blocks.reduce((s, b) => s + b.factors.rank * (d.rows + b.end - b.start), 0),
  };
}
