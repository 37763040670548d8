/**
 * LayerNorm and RMSNorm over rows of `size` elements, matching ir/kernels/norm.ts:
 *   layernorm  (x - mean) / sqrt(var + eps) * gamma + beta      (population variance)
 *   rmsnorm    x / sqrt(mean(x^2) + eps) * gamma
 * gamma and beta are public (plaintext to both) or shared (e.g. server-private parameters,
 * shared from the server at no cost).
 *
 * Method, with c = x - mean (layernorm) or x (rmsnorm):
 *   mean = trunc(sum(x) * round(2^s / size), s)          1 round (s = 32: relative 1e-9)
 *   V = sum(c^2) + size * eps                              Beaver square + 1 truncation round
 *       (truncated from 2f bits straight to the Newton iteration's input scale, fN - q = 17)
 *   y = 1/sqrt(V) by Newton (./newton.ts, domain [2^-8, 2^24], K = 4, 2 steps)
 *   out = c * y * sqrt(size) * gamma (+ beta): since var + eps = V / size, 1/sqrt(var + eps)
 *   is sqrt(size) y. With public gamma, c * round(sqrt(size) gamma 2^12) is local and one fused
 *   truncate-and-multiply by y (truncated to 25 bits) plus a final truncation finish it; a
 *   shared gamma costs one more fused product.
 * Rounds ('dcf'): layernorm 10 (public gamma) / 11 (shared gamma); rmsnorm one fewer (no mean).
 * Preconditions: |x| < 2^13, 2^-8 <= size * (var(x) + eps) <= 2^24 (e.g. var + eps in [5e-6, 2e4] for
 * size 768), |out| < 2^8. A row far below that (constant rows) gives beta within ~1e-2.
 * Error (normErrorBound, per output from the true row): |gamma| sqrt(size) (|c| y rho + y dc)
 * + 2^-f with dc = 2^-f (mean) and rho the relative error of y: Newton's bound, V's rounding
 * (size dc^2 + 2 sum|c| dc + 2^(1-17)) / (2V), y's truncation and the constant's encoding.
 */
import { MarillError } from '../../../ir/errors.ts';
import { applyMap, scatterAdd } from '../../mpc/layout.ts';
import type { Cost, DealerStream, MaterialStream, PartyContext, Protocol } from '../../protocol.ts';
import { sumCosts } from '../../protocol.ts';
import { encodeFixed, encodeScalar } from '../../ring/fixed.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringAddScalar, ringMul, ringMulScalar, ringSub } from '../../ring/kernels.ts';
import type { PairMaterial } from '../beaver.ts';
import type { TruncMaterial } from '../truncate.ts';
import type { CompareVariant } from './compare.ts';
import { materialCost, openingCost } from './cost-util.ts';
import type { NewtonMaterial, NewtonParams } from './newton.ts';
import {
  dealNewton,
  newtonCost,
  newtonErrorBound,
  newtonMaterial,
  newtonScale,
  runNewton,
} from './newton.ts';
import type { TruncMulMaterial, TruncMulShape } from './parts.ts';
import { squarePart, truncMulPart, truncPart } from './parts.ts';

export type NormKind = 'layernorm' | 'rmsnorm';

export interface NormParams {
  readonly kind: NormKind;
  readonly variant: CompareVariant;
  readonly rows: number;
  readonly size: number;
  readonly fracBits: number;
  readonly epsilon: number;
  readonly gamma: 'public' | 'shared';
  /** layernorm only. */
  readonly beta: 'none' | 'public' | 'shared';
}

/** A row parameter as a party holds it (size elements). */
export type NormParam =
  | { readonly kind: 'public'; readonly values: Float32Array }
  | { readonly kind: 'shared'; readonly share: Ring };

export interface NormInputs {
  readonly x: Ring;
  readonly gamma: NormParam;
  readonly beta?: NormParam;
}

/** 2^s / size carries s bits: the mean's relative error from the constant is 2^-s. */
const MEAN_BITS = 32;
/** sqrt(size) gamma is encoded with this many fractional bits. */
const CONSTANT_BITS = 12;
/** 1/sqrt(V) enters the product with this many fractional bits. */
const Y_BITS = 25;
/** Newton domain for V = sum(c^2) + size eps. */
const V_DOMAIN = { lo: -8, hi: 24 };

export interface NormMaterial {
  readonly mean: TruncMaterial | undefined;
  readonly square: PairMaterial;
  readonly sumTrunc: TruncMaterial;
  readonly newton: NewtonMaterial;
  readonly product: TruncMulMaterial;
  /** Shared gamma: the product by gamma. */
  readonly gammaProduct: TruncMulMaterial | undefined;
  readonly back: TruncMaterial;
}

const elements = (p: NormParams) => p.rows * p.size;

export function rsqrtParams(p: NormParams): NewtonParams {
  const base: NewtonParams = {
    kind: 'rsqrt',
    variant: p.variant,
    n: p.rows,
    fracBits: p.fracBits,
    ...V_DOMAIN,
    perOctave: 4,
    iterations: 2,
  };
  // sum(c^2) (2f bits) is truncated straight to the iteration's input scale.
  const { fN, q } = newtonScale(base);
  return { ...base, inputBits: fN - q };
}

/** Bits sum(c^2) (at 2f) drops to become Newton's input. */
function sumBits(p: NormParams): number {
  return 2 * p.fracBits - rsqrtParams(p).inputBits!;
}

function rowIndex(p: NormParams): Int32Array {
  // A plain loop: Int32Array.from with a callback costs more than the norm's arithmetic here.
  const out = new Int32Array(elements(p));
  for (let j = 0; j < out.length; j++) out[j] = Math.floor(j / p.size);
  return out;
}

function productShape(p: NormParams): { shape: TruncMulShape; outBits: number } {
  const { fN, q } = newtonScale(rsqrtParams(p));
  const valueScale = 2 * fN + q / 2 + 1;
  const shape = { nz: p.rows, nw: elements(p), zIndex: undefined, bits: valueScale - Y_BITS };
  // c * K (f + CONSTANT_BITS) times y (Y_BITS): truncate back to f.
  return { shape, outBits: Y_BITS + CONSTANT_BITS };
}

/** Shared gamma: the normalised value (still at f + Y_BITS + CONSTANT_BITS bits) times gamma. */
function gammaShape(p: NormParams): TruncMulShape {
  return { nz: elements(p), nw: elements(p), zIndex: undefined, bits: Y_BITS + CONSTANT_BITS };
}

function checkNorm(p: NormParams): void {
  if (p.size < 1) throw new MarillError(`${p.kind} over empty rows`);
  if (p.kind === 'rmsnorm' && p.beta !== 'none') throw new MarillError('rmsnorm has no bias');
  if (!(p.epsilon >= 0)) throw new MarillError(`${p.kind}: epsilon must be >= 0`);
}

export function dealNorm(p: NormParams, d: DealerStream): void {
  checkNorm(p);
  const n = elements(p);
  if (p.kind === 'layernorm') truncPart.deal(p.rows, MEAN_BITS, d);
  squarePart.deal(n, d);
  truncPart.deal(p.rows, sumBits(p), d);
  dealNewton(rsqrtParams(p), d);
  truncMulPart.deal({ ...productShape(p).shape, zIndex: rowIndex(p) }, d);
  if (p.gamma === 'shared') truncMulPart.deal(gammaShape(p), d);
  truncPart.deal(n, backBits(p), d);
}

/** The final truncation: from c y sqrt(size) gamma's scale (public gamma) or normalised x gamma's (2f). */
function backBits(p: NormParams): number {
  return p.gamma === 'public' ? productShape(p).outBits : p.fracBits;
}

export function normMaterial(p: NormParams, s: MaterialStream): NormMaterial {
  checkNorm(p);
  const n = elements(p);
  const mean = p.kind === 'layernorm' ? truncPart.material(p.rows, MEAN_BITS, s) : undefined;
  const square = squarePart.material(n, s);
  const sumTrunc = truncPart.material(p.rows, sumBits(p), s);
  const newton = newtonMaterial(rsqrtParams(p), s);
  const product = truncMulPart.material({ ...productShape(p).shape, zIndex: rowIndex(p) }, s);
  const gammaProduct = p.gamma === 'shared' ? truncMulPart.material(gammaShape(p), s) : undefined;
  return {
    mean,
    square,
    sumTrunc,
    newton,
    product,
    gammaProduct,
    back: truncPart.material(n, backBits(p), s),
  };
}

/** A row parameter as this party's share (public values: party 0 holds them). */
function paramShare(ctx: PartyContext, p: NormParams, v: NormParam): Ring {
  if (v.kind === 'shared') return v.share;
  const enc = encodeFixed(v.values, p.fracBits);
  return ctx.index === 0 ? enc : new BigInt64Array(enc.length);
}

/** Repeats a row parameter over all rows. */
function tiled(p: NormParams, r: Ring): Ring {
  if (r.length !== p.size)
    throw new MarillError(`${p.kind} parameter has ${r.length} elements, rows have ${p.size}`);
  const out = new BigInt64Array(elements(p));
  for (let i = 0; i < p.rows; i++) out.set(r, i * p.size);
  return out;
}

export async function runNorm(
  ctx: PartyContext,
  p: NormParams,
  m: NormMaterial,
  inputs: NormInputs,
): Promise<Ring> {
  checkNorm(p);
  const map = rowIndex(p);
  const { x } = inputs;
  let c = x;
  if (p.kind === 'layernorm') {
    const sums = scatterAdd(x, map, p.rows);
    const mean = await truncPart.run(
      ctx,
      MEAN_BITS,
      m.mean!,
      ringMulScalar(sums, BigInt(Math.round(2 ** MEAN_BITS / p.size))),
    );
    c = ringSub(x, applyMap(mean, map));
  }
  const squares = await squarePart.run(ctx, m.square, c);
  const rp = rsqrtParams(p);
  let v = await truncPart.run(ctx, sumBits(p), m.sumTrunc, scatterAdd(squares, map, p.rows));
  if (ctx.index === 0) v = ringAddScalar(v, encodeScalar(p.size * p.epsilon, rp.inputBits!));
  const { value } = await runNewton(ctx, rp, m.newton, v);
  const fused = { ...productShape(p).shape, zIndex: map };
  // w = c * round(sqrt(size) * gamma * 2^CONSTANT_BITS) for public gamma, else c * sqrt(size).
  const rootSize = Math.sqrt(p.size);
  let w: Ring;
  if (inputs.gamma.kind === 'public') {
    if (p.gamma !== 'public') throw new MarillError(`${p.kind} expects a shared gamma`);
    const k = Float64Array.from(inputs.gamma.values, (g) => Math.round(rootSize * g * 2 ** CONSTANT_BITS));
    w = ringMul(
      c,
      tiled(
        p,
        BigInt64Array.from(k, (v) => BigInt(v)),
      ),
    );
  } else {
    if (p.gamma !== 'shared') throw new MarillError(`${p.kind} expects a public gamma`);
    w = ringMulScalar(c, BigInt(Math.round(rootSize * 2 ** CONSTANT_BITS)));
  }
  const { product } = await truncMulPart.run(ctx, fused, m.product, value, w);
  let scaled = product;
  if (p.gamma === 'shared') {
    const gamma = tiled(p, paramShare(ctx, p, inputs.gamma));
    const shape = gammaShape(p);
    scaled = (await truncMulPart.run(ctx, shape, m.gammaProduct!, product, gamma)).product;
  }
  let out = await truncPart.run(ctx, backBits(p), m.back, scaled);
  if (p.beta !== 'none') {
    if (!inputs.beta || inputs.beta.kind !== p.beta)
      throw new MarillError(`layernorm expects a ${p.beta} bias`);
    out = ringAdd(out, tiled(p, paramShare(ctx, p, inputs.beta)));
  }
  return out;
}

export function normCost(p: NormParams): Cost {
  const n = elements(p);
  const trunc = (k: number) => sumCosts(openingCost(truncPart.opened(k)), materialCost(truncPart.offline(k)));
  const fused = (s: TruncMulShape) =>
    sumCosts(openingCost(truncMulPart.opened(s)), materialCost(truncMulPart.offline(s)));
  const parts: Cost[] = [];
  if (p.kind === 'layernorm') parts.push(trunc(p.rows));
  parts.push(openingCost(squarePart.opened(n)), materialCost(squarePart.offline(n)), trunc(p.rows));
  parts.push(newtonCost(rsqrtParams(p)), fused(productShape(p).shape), trunc(n));
  if (p.gamma === 'shared') parts.push(fused(gammaShape(p)));
  return sumCosts(...parts);
}

export const normProtocol: Protocol<NormParams, NormMaterial, NormInputs, Ring> = {
  name: 'norm',
  deal: dealNorm,
  material: normMaterial,
  online: runNorm,
  cost: normCost,
};

/** Error bound of output i of a row (float64 values), as stated in the header. */
export function normErrorBound(p: NormParams, row: readonly number[], i: number, gamma: number): number {
  const f = p.fracBits;
  const ulp = 2 ** -f;
  const mean = p.kind === 'layernorm' ? row.reduce((s, v) => s + v, 0) / p.size : 0;
  const c = row.map((v) => v - mean);
  const dc = p.kind === 'layernorm' ? ulp + Math.abs(mean) * 2 ** -MEAN_BITS : 0;
  const sumSq = c.reduce((s, v) => s + v * v, 0);
  const V = sumSq + p.size * p.epsilon;
  const y = 1 / Math.sqrt(V);
  const sumAbs = c.reduce((s, v) => s + Math.abs(v), 0);
  const rp = rsqrtParams(p);
  const dV = p.size * dc * dc + 2 * sumAbs * dc + 2 * 2 ** -rp.inputBits!;
  const rho =
    dV / (2 * Math.max(V - dV, 1e-300)) +
    newtonErrorBound(rp, Math.max(V - dV, 2 ** rp.lo)) / y +
    2 ** -Y_BITS / y +
    2 ** -(CONSTANT_BITS + 1) / (Math.sqrt(p.size) * Math.max(Math.abs(gamma), 1e-3));
  const scale = Math.abs(gamma) * Math.sqrt(p.size);
  const sharedGammaUlps = p.gamma === 'shared' ? (1 + Math.abs(gamma)) * ulp : 0;
  return scale * (Math.abs(c[i]!) * y * rho + y * dc) + ulp + sharedGammaUlps;
}
