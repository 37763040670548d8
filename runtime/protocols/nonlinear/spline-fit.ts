/**
 * Fitting the piecewise-cubic approximations the spline protocol (./spline.ts) evaluates.
 *
 * A spline is: knots k_1 < ... < k_K, a linear left tail on (-inf, k_1), cubic pieces on
 * [k_j, k_{j+1}), and a linear right tail on [k_K, inf) (tails are fixed by the function's
 * asymptotes: 0, 1, -1 or x). Each cubic is a near-minimax fit (Lawson's iteratively reweighted
 * least squares on Chebyshev nodes) over its interval widened by the comparison resolution, so
 * an input misjudged by that much near a knot is still approximated within the bound. Knots are
 * placed greedily from the left: each piece grows while its error stays below the target.
 *
 * This runs offline (./spline-generate.ts writes ./spline-tables.ts): both parties must use
 * bit-identical public coefficients, so they are fixed in source rather than recomputed.
 */

/** A polynomial by increasing powers of x. */
export type Poly = readonly number[];

export interface SplineTable {
  readonly knots: readonly number[];
  /** pieces[j] holds on [knots[j], knots[j+1]); length knots.length - 1. */
  readonly pieces: readonly Poly[];
  readonly left: Poly;
  readonly right: Poly;
  /** Max |spline - f| measured over the whole real line (see measureError), rounded up. */
  readonly fitError: number;
}

export interface SplineSpec {
  readonly f: (x: number) => number;
  /** Fitted range [-T, T]; beyond it the tails hold. */
  readonly range: number;
  readonly left: Poly;
  readonly right: Poly;
  readonly target: number;
  /** Knots are resolved to this (the comparison's resolution). */
  readonly resolution: number;
}

export function evalPoly(p: Poly, x: number): number {
  let v = 0;
  for (let k = p.length - 1; k >= 0; k--) v = v * x + p[k]!;
  return v;
}

export function evalSpline(t: SplineTable, x: number): number {
  if (x < t.knots[0]!) return evalPoly(t.left, x);
  for (let j = 0; j < t.pieces.length; j++) if (x < t.knots[j + 1]!) return evalPoly(t.pieces[j]!, x);
  return evalPoly(t.right, x);
}

/** Solves the 4x4 (or smaller) system a x = b in place by Gaussian elimination with pivoting. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[pivot]![c]!)) pivot = r;
    [a[c], a[pivot]] = [a[pivot]!, a[c]!];
    [b[c], b[pivot]] = [b[pivot]!, b[c]!];
    for (let r = c + 1; r < n; r++) {
      const k = a[r]![c]! / a[c]![c]!;
      for (let j = c; j < n; j++) a[r]![j]! -= k * a[c]![j]!;
      b[r]! -= k * b[c]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let j = r + 1; j < n; j++) s -= a[r]![j]! * x[j]!;
    x[r] = s / a[r]![r]!;
  }
  return x;
}

/** Coefficients in x of sum_k c_k ((x - mid) / half)^k. */
function toMonomials(c: readonly number[], mid: number, half: number): number[] {
  const out = new Array<number>(c.length).fill(0);
  // (x - mid)^k / half^k expanded with binomial coefficients.
  for (let k = 0; k < c.length; k++) {
    let binom = 1;
    for (let i = 0; i <= k; i++) {
      out[i]! += (c[k]! / half ** k) * binom * (-mid) ** (k - i);
      binom = (binom * (k - i)) / (i + 1);
    }
  }
  return out;
}

const NODES = 96;
const LAWSON_STEPS = 60;

/** Near-minimax polynomial of `degree` for f on [lo, hi], and its max error on a dense grid. */
export function fitPiece(
  f: (x: number) => number,
  lo: number,
  hi: number,
  degree = 3,
): { poly: number[]; error: number } {
  const mid = (lo + hi) / 2;
  const half = (hi - lo) / 2;
  const u = Array.from({ length: NODES }, (_, i) => Math.cos((Math.PI * (i + 0.5)) / NODES));
  const y = u.map((ui) => f(mid + half * ui));
  const w = new Array<number>(NODES).fill(1 / NODES);
  let c: number[] = [];
  for (let step = 0; step < LAWSON_STEPS; step++) {
    const a = Array.from({ length: degree + 1 }, () => new Array<number>(degree + 1).fill(0));
    const b = new Array<number>(degree + 1).fill(0);
    for (let i = 0; i < NODES; i++)
      for (let r = 0; r <= degree; r++) {
        b[r]! += w[i]! * u[i]! ** r * y[i]!;
        for (let s = 0; s <= degree; s++) a[r]![s]! += w[i]! * u[i]! ** (r + s);
      }
    c = solve(a, b);
    // Lawson: weight each node by its current error, pulling the fit toward equal ripple.
    let total = 0;
    for (let i = 0; i < NODES; i++) {
      w[i]! *= Math.abs(evalPoly(c, u[i]!) - y[i]!) + 1e-300;
      total += w[i]!;
    }
    for (let i = 0; i < NODES; i++) w[i]! /= total;
  }
  const poly = toMonomials(c, mid, half);
  let error = 0;
  for (let i = 0; i <= 2000; i++) {
    const x = lo + ((hi - lo) * i) / 2000;
    error = Math.max(error, Math.abs(evalPoly(poly, x) - f(x)));
  }
  return { poly, error };
}

/** Max |spline - f| on a dense grid around the knots and far into both tails. */
export function measureError(t: SplineTable, f: (x: number) => number, extent = 64): number {
  const lo = t.knots[0]! - extent;
  const hi = t.knots[t.knots.length - 1]! + extent;
  let error = 0;
  const samples = 400_000;
  for (let i = 0; i <= samples; i++) {
    const x = lo + ((hi - lo) * i) / samples;
    error = Math.max(error, Math.abs(evalSpline(t, x) - f(x)));
  }
  return error;
}

/** Greedy knots and fitted pieces for `spec`. */
export function fitSpline(spec: SplineSpec): SplineTable {
  const { f, range, target, resolution } = spec;
  const step = 1 / 16;
  const knots = [-range];
  const pieces: number[][] = [];
  let a = -range;
  while (a < range - 1e-12) {
    let b = Math.min(a + step, range);
    let best = fitPiece(f, a - resolution, b + resolution);
    while (b < range) {
      const next = Math.min(b + step, range);
      const trial = fitPiece(f, a - resolution, next + resolution);
      if (trial.error > target) break;
      b = next;
      best = trial;
    }
    knots.push(b);
    pieces.push(best.poly);
    a = b;
  }
  const table: SplineTable = { knots, pieces, left: spec.left, right: spec.right, fitError: 0 };
  // Misjudged comparisons evaluate a neighbour piece within `resolution` of a knot: include them.
  let error = measureError(table, f);
  for (let j = 0; j < knots.length; j++) {
    for (let i = 0; i <= 64; i++) {
      const x = knots[j]! - resolution + (2 * resolution * i) / 64;
      const neighbours = [
        j === 0 ? spec.left : pieces[j - 1]!,
        j === pieces.length ? spec.right : pieces[j]!,
      ];
      for (const p of neighbours) error = Math.max(error, Math.abs(evalPoly(p, x) - f(x)));
    }
  }
  return { ...table, fitError: roundUp(error * 1.05) };
}

/** x rounded up to two significant digits. */
function roundUp(x: number): number {
  const unit = 10 ** (Math.floor(Math.log10(x)) - 1);
  return Number((Math.ceil(x / unit) * unit).toPrecision(2));
}
