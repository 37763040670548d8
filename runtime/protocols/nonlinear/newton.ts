/**
 * Reciprocal and reciprocal square root of positive values by Newton's method from a
 * piecewise-constant first guess.
 *
 * First guess: one comparison of x with the thresholds 2^(lo + j/K), j = 0..(hi - lo) K (one
 * opening, any number of thresholds), and y0 = the relative-minimax constant of x's interval,
 * 2 / (a + b) for 1/x and 2 / (sqrt a + sqrt b) for 1/sqrt x on [a, b]. y0 is a public linear
 * combination of the comparison bits [x < t_j], and x y0 (x y0^2) one of the selected
 * [x < t_j] x: both local. Relative error of y0: (r - 1)/(r + 1) with r = 2^(1/K) (1/x) or its
 * square root (1/sqrt x); K = 4 gives 0.087 and 0.043.
 * Newton steps (relative error e -> e^2 for 1/x, ~1.5 e^2 for 1/sqrt x):
 *   1/x:       y <- y (2 - x y)          first step 1 round, later ones 2 (fused truncations)
 *   1/sqrt x:  y <- y (3 - x y^2) / 2    first step 1 round, later ones 3 (x y^2 as (x y) y)
 * Two steps from K = 8 (1/x) or K = 4 (1/sqrt x) leave a method error of 4.1e-6 and 1.6e-5
 * (relative, newtonMethodError); fixed point adds a few ulps (2^-f) scaled by the result, see
 * newtonErrorBound.
 * Domain: x in [2^lo, 2^hi]; outside it the guess is off and Newton may not converge.
 *
 * Internal precision: results such as 1/x for x near 2^hi would keep only a few bits at the
 * session's f fractional bits, so the iteration runs on x' = x / 2^q read with fN > f bits (the
 * same ring integer shifted left: exact), choosing fN and q (newtonScale) so that every product
 * of the iteration fits below 2^61 at 2fN bits while y' = 1/x' (or 1/sqrt x') keeps >= 14
 * significant bits over the domain. The result is returned before its last truncation, as a
 * value with `valueScale` fractional bits, so that a caller multiplying it into something
 * (softmax, normalisation) fuses that truncation with its product (./parts.ts truncMulPart) at
 * whatever precision its magnitude allows; `finishedNewton` truncates it alone to f bits.
 */
import { MarillError } from '../../../ir/errors.ts';
import type { Cost, DealerStream, MaterialStream, PartyContext, Protocol } from '../../protocol.ts';
import { sumCosts } from '../../protocol.ts';
import { encodeScalar } from '../../ring/fixed.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringMulScalar, ringNeg, ringShl } from '../../ring/kernels.ts';
import type { TruncMaterial } from '../truncate.ts';
import type { CompareParams, CompareVariant } from './compare.ts';
import type { CompareMaterial } from './comparator.ts';
import { compare, compareCost, compareMaterial, dealCompare } from './comparator.ts';
import { materialCost, openingCost } from './cost-util.ts';
import type { TruncMulMaterial, TruncMulShape } from './parts.ts';
import { truncMulPart, truncPart } from './parts.ts';
import { coarseCompare } from './ranges.ts';

export type NewtonKind = 'reciprocal' | 'rsqrt';

export interface NewtonParams {
  readonly kind: NewtonKind;
  readonly variant: CompareVariant;
  readonly n: number;
  /** Fractional bits of the input x (the session's f). */
  readonly fracBits: number;
  /** Domain [2^lo, 2^hi]. */
  readonly lo: number;
  readonly hi: number;
  /** Thresholds per octave (K). */
  readonly perOctave: number;
  readonly iterations: number;
  /**
   * Fractional bits x arrives with, if not `fracBits`: a caller holding x at more bits can
   * truncate it straight to the iteration's fN - q (see newtonScale) in a round it needs anyway.
   */
  readonly inputBits?: number;
}

/** The iteration runs on x' = x / 2^q with fN fractional bits. */
export interface NewtonScale {
  readonly fN: number;
  readonly q: number;
}

/** Products of the iteration stay below 2^(MARGIN_BITS - 2 fN) at 2 fN bits. */
const MARGIN_BITS = 61;

/** The most precise (fN, q) satisfying the constraints in the header; throws if none does. */
export function newtonScale(p: NewtonParams): NewtonScale {
  const K = Math.ceil(Math.log2(p.perOctave));
  for (const precision of [16, 14, 12, 10]) {
    for (let fN = 30; fN >= p.fracBits; fN--) {
      for (let q = 0; q <= fN - p.fracBits; q += p.kind === 'rsqrt' ? 2 : 1) {
        const lo = p.lo - q;
        const hi = p.hi - q;
        // log2 of the largest magnitude at 2fN bits and of the smallest result.
        const largest =
          p.kind === 'reciprocal' ? Math.max(1 - lo, 1) + 0.3 : Math.max(1 - lo / 2, hi / 2, 1.6) + 0.3;
        const smallest = p.kind === 'reciprocal' ? -hi : -hi / 2;
        if (largest >= MARGIN_BITS - 2 * fN) continue;
        if (smallest + fN < precision) continue;
        if (lo + fN < 7 + K) continue; // the lowest thresholds stay resolvable
        if (fN - q < (p.inputBits ?? p.fracBits)) continue; // x' from x by an exact left shift
        return { fN, q };
      }
    }
  }
  throw new MarillError(
    `${p.kind}: domain [2^${p.lo}, 2^${p.hi}] is too wide for fixed point with ${p.fracBits} bits`,
  );
}

/** The first guess as a step function of x': y0 = values[j] on [thresholds[j-1], thresholds[j]). */
export function firstGuess(p: NewtonParams): { thresholds: number[]; values: number[] } {
  const { q } = newtonScale(p);
  const thresholds: number[] = [];
  for (let j = 0; j <= (p.hi - p.lo) * p.perOctave; j++) thresholds.push(2 ** (p.lo - q + j / p.perOctave));
  const ratio = 2 ** (1 / p.perOctave);
  const best = (a: number, b: number) =>
    p.kind === 'reciprocal' ? 2 / (a + b) : 2 / (Math.sqrt(a) + Math.sqrt(b));
  const values = [best(thresholds[0]! / ratio, thresholds[0]!)];
  for (let j = 1; j < thresholds.length; j++) values.push(best(thresholds[j - 1]!, thresholds[j]!));
  const top = thresholds[thresholds.length - 1]!;
  values.push(best(top, top * ratio));
  return { thresholds, values };
}

/** The first guess's thresholds in units of x (not x'). */
export function guessThresholds(p: NewtonParams): number[] {
  const { q } = newtonScale(p);
  return firstGuess(p).thresholds.map((t) => t * 2 ** q);
}

/**
 * Relative error of the method (no rounding) after the configured steps. The first guess may
 * use a neighbouring interval's constant for x within 1/(64K) (relative) of a threshold (the
 * comparison's resolution), which adds that much (half of it for 1/sqrt x) to its error.
 */
export function newtonMethodError(p: NewtonParams): number {
  const r = 2 ** (1 / p.perOctave);
  const fuzz = 1 / (64 * p.perOctave);
  let e =
    p.kind === 'reciprocal' ? (r - 1) / (r + 1) + fuzz : (Math.sqrt(r) - 1) / (Math.sqrt(r) + 1) + fuzz / 2;
  for (let k = 0; k < p.iterations; k++) e = p.kind === 'reciprocal' ? e * e : 1.5 * e * e + 0.5 * e * e * e;
  return e;
}

/**
 * Absolute error bound of `finishedNewton` at x in the domain: the method's relative error times
 * y, plus the last step's rounding at fN bits in terms of y' (y' + 2 ulps for 1/x;
 * y'^2/2 + y' + 2 for 1/sqrt x, where the truncated x y carries into x y^2 times y, halved),
 * scaled back by 2^q (2^(q/2)), plus the final truncation to f bits.
 */
export function newtonErrorBound(p: NewtonParams, x: number): number {
  const { fN, q } = newtonScale(p);
  const y = p.kind === 'reciprocal' ? 1 / x : 1 / Math.sqrt(x);
  const back = p.kind === 'reciprocal' ? 2 ** q : 2 ** (q / 2);
  const yi = y * back;
  const ulps = p.kind === 'reciprocal' ? yi + 2 : (yi * yi) / 2 + yi + 2;
  return newtonMethodError(p) * y + (ulps * 2 ** -fN) / back + 2 ** -p.fracBits;
}

function checkNewton(p: NewtonParams): void {
  if (!Number.isInteger(p.lo) || !Number.isInteger(p.hi) || p.lo >= p.hi)
    throw new MarillError(`${p.kind}: bad domain [2^${p.lo}, 2^${p.hi}]`);
  if (!Number.isInteger(p.iterations) || p.iterations < 1)
    throw new MarillError(`${p.kind}: needs >= 1 Newton step`);
  newtonScale(p);
}

function guessCompare(p: NewtonParams): CompareParams {
  const { fN, q } = newtonScale(p);
  const points = (p.hi - p.lo) * p.perOctave + 1;
  // Thresholds resolved to 1/(64K) of the lowest one: the guess's error grows by at most 1/64 of a step.
  const resolution = 6 + Math.ceil(Math.log2(p.perOctave)) - (p.lo - q);
  return coarseCompare(p.variant, p.n, points, fN, resolution, true, p.hi - q + 1);
}

const sameShape = (n: number, bits: number): TruncMulShape => ({ nz: n, nw: n, zIndex: undefined, bits });

/** Product j of step k >= 1: 1/sqrt x's first one truncates 2y (fN + 1 bits), all others fN bits. */
function mulShape(p: NewtonParams, _k: number, j: number): TruncMulShape {
  const { fN } = newtonScale(p);
  return sameShape(p.n, p.kind === 'rsqrt' && j === 0 ? fN + 1 : fN);
}

/**
 * Fused products per step after the first: 1/x: (y x), (y (2 - x y)); 1/sqrt x: (y x), (x y) y,
 * (y (3 - x y^2)). x y^2 is formed as (x y) y, not x (y^2): y^2 can be far below 1 and would
 * lose its relative precision when truncated, while x y is near sqrt x.
 */
function laterMuls(kind: NewtonKind): number {
  return kind === 'reciprocal' ? 2 : 3;
}

interface StepMaterial {
  readonly muls: TruncMulMaterial[];
}

export interface NewtonMaterial {
  readonly guess: CompareMaterial;
  readonly first: TruncMulMaterial;
  readonly steps: StepMaterial[];
}

export function dealNewton(p: NewtonParams, d: DealerStream): void {
  checkNewton(p);
  dealCompare(guessCompare(p), d);
  truncMulPart.deal(sameShape(p.n, newtonScale(p).fN), d);
  for (let k = 1; k < p.iterations; k++)
    for (let j = 0; j < laterMuls(p.kind); j++) truncMulPart.deal(mulShape(p, k, j), d);
}

export function newtonMaterial(p: NewtonParams, s: MaterialStream): NewtonMaterial {
  checkNewton(p);
  const guess = compareMaterial(guessCompare(p), s);
  const first = truncMulPart.material(sameShape(p.n, newtonScale(p).fN), s);
  const steps: StepMaterial[] = [];
  for (let k = 1; k < p.iterations; k++)
    steps.push({
      muls: Array.from({ length: laterMuls(p.kind) }, (_, j) => truncMulPart.material(mulShape(p, k, j), s)),
    });
  return { guess, first, steps };
}

/** One fused round: (trunc(z) + offset) * w, and trunc(z) + offset. */
async function fusedMul(
  ctx: PartyContext,
  n: number,
  bits: number,
  m: TruncMulMaterial,
  z: Ring,
  w: Ring,
  offset: bigint,
): Promise<{ product: Ring; truncated: Ring }> {
  const shape = sameShape(n, bits);
  return truncMulPart.run(ctx, shape, m, z, w, offset);
}

/** The result y = 1/x (1/sqrt x) as a ring value with `valueScale` fractional bits. */
export interface UnfinishedNewton {
  readonly value: Ring;
  readonly valueScale: number;
}

export async function runNewton(
  ctx: PartyContext,
  p: NewtonParams,
  m: NewtonMaterial,
  x: Ring,
): Promise<UnfinishedNewton> {
  checkNewton(p);
  const { fN, q } = newtonScale(p);
  // x' = x / 2^q at fN bits: the same integer, shifted left by fN - q - (input bits).
  const shift = fN - q - (p.inputBits ?? p.fracBits);
  const xs = shift > 0 ? ringShl(x, shift) : x;
  const { thresholds, values } = firstGuess(p);
  const enc = (v: number) => encodeScalar(v, fN);
  const { lt, ltx } = await compare(ctx, guessCompare(p), m.guess, xs, thresholds.map(enc));
  // y0 = v_P + sum_j (v_j - v_{j+1}) [x < t_j]; the same with squared values for x y0^2.
  const last = values.length - 1;
  const coefficient = (j: number, sq: boolean) =>
    sq ? enc(values[j]! ** 2 - values[j + 1]! ** 2) : enc(values[j]! - values[j + 1]!);
  const y0 = new BigInt64Array(p.n);
  const xy = ringMulScalar(xs, p.kind === 'reciprocal' ? enc(values[last]!) : enc(values[last]! ** 2));
  if (ctx.index === 0) y0.fill(enc(values[last]!));
  for (let j = 0; j < thresholds.length; j++) {
    ringAdd(y0, ringMulScalar(lt.subarray(j * p.n, (j + 1) * p.n), coefficient(j, false)), y0);
    ringAdd(xy, ringMulScalar(ltx!.subarray(j * p.n, (j + 1) * p.n), coefficient(j, p.kind === 'rsqrt')), xy);
  }
  const target = BigInt(p.kind === 'reciprocal' ? 2 : 3) << BigInt(fN);
  // y1 = y0 (c - x y0^e): one fused round (x y0^e is already at 2fN bits).
  let y = (await fusedMul(ctx, p.n, fN, m.first, ringNeg(xy), y0, target)).product;
  // 1/sqrt x carries 2y (the halving is folded into the next truncation).
  const yBits = p.kind === 'reciprocal' ? fN : fN + 1;
  for (const step of m.steps) {
    // y x, and y itself (truncated from its 2fN-bit form).
    const first = await fusedMul(ctx, p.n, yBits, step.muls[0]!, y, xs, 0n);
    const yf = first.truncated;
    let power = first.product;
    if (p.kind === 'rsqrt') power = (await fusedMul(ctx, p.n, fN, step.muls[1]!, power, yf, 0n)).product;
    y = (await fusedMul(ctx, p.n, fN, step.muls[step.muls.length - 1]!, ringNeg(power), yf, target)).product;
  }
  // y' = 2^q / x (2^(q/2) / sqrt x): y = y' / 2^q, so the scale grows by q (q/2, and 1 for 2y).
  const valueScale = p.kind === 'reciprocal' ? 2 * fN + q : 2 * fN + q / 2 + 1;
  return { value: y, valueScale };
}

export function newtonCost(p: NewtonParams): Cost {
  const shape = sameShape(p.n, newtonScale(p).fN);
  const fused = sumCosts(openingCost(truncMulPart.opened(shape)), materialCost(truncMulPart.offline(shape)));
  const parts: Cost[] = [compareCost(guessCompare(p)), fused];
  for (let k = 1; k < p.iterations; k++) for (let j = 0; j < laterMuls(p.kind); j++) parts.push(fused);
  return sumCosts(...parts);
}

/** Bits from the unfinished value's scale down to f. */
function finishBits(p: NewtonParams): number {
  const { fN, q } = newtonScale(p);
  return (p.kind === 'reciprocal' ? 2 * fN + q : 2 * fN + q / 2 + 1) - p.fracBits;
}

/** The Newton result truncated to f fractional bits (one more round). */
export const finishedNewton: Protocol<
  NewtonParams,
  { newton: NewtonMaterial; back: TruncMaterial },
  Ring,
  Ring
> = {
  name: 'newton',
  deal(p: NewtonParams, d: DealerStream): void {
    dealNewton(p, d);
    truncPart.deal(p.n, finishBits(p), d);
  },
  material(p: NewtonParams, s: MaterialStream): { newton: NewtonMaterial; back: TruncMaterial } {
    const newton = newtonMaterial(p, s);
    return { newton, back: truncPart.material(p.n, finishBits(p), s) };
  },
  async online(
    ctx: PartyContext,
    p: NewtonParams,
    m: { newton: NewtonMaterial; back: TruncMaterial },
    x: Ring,
  ) {
    const { value } = await runNewton(ctx, p, m.newton, x);
    return truncPart.run(ctx, finishBits(p), m.back, value);
  },
  cost(p: NewtonParams): Cost {
    return sumCosts(newtonCost(p), openingCost(truncPart.opened(p.n)), materialCost(truncPart.offline(p.n)));
  },
};
