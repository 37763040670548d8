/**
 * e^x for x <= 0.5 (softmax inputs after the maximum is subtracted are <= 0).
 *
 * Method: clip x at -16 (one comparison, with select), then e^x = (e^t)^(2^k), t = x / 2^k,
 * with e^t ~ y0 = 1 + t + t^2 / 2 and k = 6 squarings. Internally the value lives at S = 30
 * fractional bits (it stays in (0, 2), so squares fit at 60 bits), which makes the squaring
 * chain's own rounding negligible; each squaring is one fused truncate-and-square round
 * (./parts.ts). Rounds: comparison + 1 (t^2) + k + 1 (back to f bits) = 9 for 'dcf'.
 *
 * Error: |result - e^x| <= 5.7e-5 (the approximation, max over [-16.25, 0.5], measured on a
 * 2e6-point grid) + 2^-f (final truncation) + 2^-22 (chain rounding), about 7.3e-5 at f = 16,
 * for -2^14 < x <= 0.5. Below -16 the result is e^-16 ~ 1e-7 instead of e^x (within the bound).
 * Online bytes per element each way: comparison + 8 (t^2) + 8k + 8; offline (client):
 * comparison + 8 + 32k + 16.
 */
import { MarillError } from '../../../ir/errors.ts';
import type { Cost, DealerStream, MaterialStream, PartyContext, Protocol } from '../../protocol.ts';
import { sumCosts } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringAddScalar, ringMulScalar, ringShl, ringSub } from '../../ring/kernels.ts';
import type { PairMaterial } from '../beaver.ts';
import type { TruncMaterial } from '../truncate.ts';
import type { CompareParams, CompareVariant } from './compare.ts';
import type { CompareMaterial } from './comparator.ts';
import { compare, compareCost, compareMaterial, dealCompare } from './comparator.ts';
import { materialCost, openingCost } from './cost-util.ts';
import type { TruncSquareMaterial } from './parts.ts';
import { squarePart, truncPart, truncSquarePart } from './parts.ts';
import { coarseCompare } from './ranges.ts';

/** Where inputs are clipped: e^-16 ~ 1.1e-7 is below every error bound here. */
export const EXP_CLIP = 16;
/** Squarings: (e^(x/64))^64. */
export const EXP_SQUARINGS = 6;
/** Internal fractional bits of the squaring chain. */
const CHAIN_BITS = 30;
/** Inputs down to -2^14 (a difference of two values below 2^13) compare correctly. */
const EXP_MAGNITUDE_BITS = 14;

/** The stated absolute error bound at f fractional bits (see the header). */
export function expErrorBound(fracBits: number): number {
  return 5.7e-5 + 2 ** -fracBits + 2 ** -22;
}

export interface ExpParams {
  readonly variant: CompareVariant;
  readonly n: number;
  readonly fracBits: number;
}

export interface ExpMaterial {
  readonly clip: CompareMaterial;
  readonly square: PairMaterial;
  readonly chain: TruncSquareMaterial[];
  readonly back: TruncMaterial;
}

function clipCompare(p: ExpParams): CompareParams {
  // Resolution 1/4: an input within 1/4 below -16 may stay unclipped, which is harmless.
  return coarseCompare(p.variant, p.n, 1, p.fracBits, 2, true, EXP_MAGNITUDE_BITS);
}

function checkExp(p: ExpParams): void {
  if (p.fracBits + EXP_SQUARINGS > CHAIN_BITS)
    throw new MarillError(
      `exp needs at most ${CHAIN_BITS - EXP_SQUARINGS} fractional bits, the session has ${p.fracBits}`,
    );
}

export function dealExp(p: ExpParams, d: DealerStream): void {
  checkExp(p);
  dealCompare(clipCompare(p), d);
  squarePart.deal(p.n, d);
  for (let j = 0; j < EXP_SQUARINGS; j++) truncSquarePart.deal(p.n, j === 0 ? CHAIN_BITS + 1 : CHAIN_BITS, d);
  truncPart.deal(p.n, 2 * CHAIN_BITS - p.fracBits, d);
}

export function expMaterial(p: ExpParams, s: MaterialStream): ExpMaterial {
  checkExp(p);
  const clip = compareMaterial(clipCompare(p), s);
  const square = squarePart.material(p.n, s);
  const chain = Array.from({ length: EXP_SQUARINGS }, (_, j) =>
    truncSquarePart.material(p.n, j === 0 ? CHAIN_BITS + 1 : CHAIN_BITS, s),
  );
  return { clip, square, chain, back: truncPart.material(p.n, 2 * CHAIN_BITS - p.fracBits, s) };
}

export async function runExp(ctx: PartyContext, p: ExpParams, m: ExpMaterial, x: Ring): Promise<Ring> {
  checkExp(p);
  const f = p.fracBits;
  const clipAt = -BigInt(EXP_CLIP) << BigInt(f);
  // x' = x - [x < -16] x + [x < -16] (-16)
  const { lt, ltx } = await compare(ctx, clipCompare(p), m.clip, x, [clipAt]);
  const clipped = ringSub(x, ltx!);
  ringAdd(clipped, ringMulScalar(lt, clipAt), clipped);
  // t = x' / 2^k at CHAIN_BITS fractional bits (an exact shift).
  const t = ringShl(clipped, CHAIN_BITS - f - EXP_SQUARINGS);
  const t2 = await squarePart.run(ctx, m.square, t);
  // 2 y0 = 2 + 2t + t^2 at 2 * CHAIN_BITS bits; the first truncation drops one bit more.
  let z = ringAdd(t2, ringShl(t, CHAIN_BITS + 1));
  if (ctx.index === 0) z = ringAddScalar(z, 1n << BigInt(2 * CHAIN_BITS + 1));
  for (let j = 0; j < EXP_SQUARINGS; j++) {
    z = (await truncSquarePart.run(ctx, j === 0 ? CHAIN_BITS + 1 : CHAIN_BITS, m.chain[j]!, z)).square;
  }
  return truncPart.run(ctx, 2 * CHAIN_BITS - f, m.back, z);
}

export function expCost(p: ExpParams): Cost {
  const n = p.n;
  return sumCosts(
    compareCost(clipCompare(p)),
    openingCost(squarePart.opened(n)),
    materialCost(squarePart.offline(n)),
    ...Array.from({ length: EXP_SQUARINGS }, () =>
      sumCosts(openingCost(truncSquarePart.opened(n)), materialCost(truncSquarePart.offline(n))),
    ),
    openingCost(truncPart.opened(n)),
    materialCost(truncPart.offline(n)),
  );
}

export const expProtocol: Protocol<ExpParams, ExpMaterial, Ring, Ring> = {
  name: 'exp',
  deal: dealExp,
  material: expMaterial,
  online: runExp,
  cost: expCost,
};
