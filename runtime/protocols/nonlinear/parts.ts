/**
 * One-opening building blocks in split form, so that independent openings of one round travel
 * in one message (./open.ts): each part has a `message` (this party's share of the values to
 * open) and a local `finish` from the opened values. The composite protocols in this folder
 * chain them and count one round per merged opening.
 *
 *  - `squarePart`, `mulPart`: Beaver square / product, in the ring (material and split-phase
 *    algebra of ../beaver.ts).
 *  - `truncPart`: exact truncation (material and split-phase algebra of ../truncate.ts; its
 *    header derives y = E + A with E = (c >>> bits) - 2^(62-bits) public and
 *    A = m (1 - msb(c)) 2^(64-bits) - r_hi shared, c the opened x + 2^62 + r).
 *    Error: y = floor(x / 2^bits) + {0, 1}; needs x in [-2^62, 2^62).
 *  - `truncMulPart`: (trunc(z) + o) * w in ONE round, opening z's truncation mask and w - b
 *    together: with y = E + A, y w = E w + A (w - b) + A b, and A b is linear in the dealer's
 *    shares of m b and r_hi b. Saves the round a truncation followed by a Beaver product needs.
 *  - `truncSquarePart`: (trunc(z) + o)^2 in ONE round: (E + o + A)^2 expands with
 *    A^2 = r_hi^2 - 2 (1 - msb(c)) 2^(64-bits) m r_hi (m^2 = m, and 2^(2(64-bits)) = 0 mod 2^64
 *    for bits <= 32), linear in the dealer's shares of r_hi^2 and m r_hi.
 * Both fused parts also return the truncated value y itself (its shares are a by-product).
 * The results are ring-exact given y; the only error is the truncation's {0, 1}.
 * Each part's `run` is the part opened on its own: one round.
 */
import { MarillError } from '../../../ir/errors.ts';
import { applyMap } from '../../mpc/layout.ts';
import type { Correlation, DealerStream, MaterialStream, PartyContext } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringBit, ringMul, ringMulScalar, ringShl, ringSub } from '../../ring/kernels.ts';
import type { SharedBitWords } from '../../twopc/bits.ts';
import { bitProducts, bitProductsCost } from '../../twopc/bits.ts';
import type { Packing } from '../../twopc/iknp.ts';
import type { PairCost } from '../../twopc/link.ts';
import { sequence } from '../../twopc/link.ts';
import type { OtSession } from '../../twopc/triples.ts';
import { sharedSquare, sharedSquareCost } from '../../twopc/triples.ts';
import type { PairMaterial, TripleMaterial } from '../beaver.ts';
import {
  beaverFinish,
  beaverMessage,
  beaverMul,
  beaverSquare,
  beaverSquareFinish,
  beaverSquareMessage,
} from '../beaver.ts';
import type { TruncMaterial, TruncParams } from '../truncate.ts';
import { openTogether } from './open.ts';
import {
  dealTruncMask,
  preprocessTruncMask,
  preprocessTruncMaskCost,
  truncMaskMaterial,
  truncMaskedShare,
  truncOpened,
  truncate,
  truncatedShare,
  truncatedShareOf,
} from '../truncate.ts';

type Index = Pick<PartyContext, 'index'>;

function need(r: Ring, n: number, what: string): void {
  if (r.length !== n) throw new MarillError(`${what}: expected ${n} elements, got ${r.length}`);
}

/** Opens one part's message on its own (one round) and finishes it. */
async function openAlone<T>(ctx: PartyContext, message: Ring, finish: (opened: Ring) => T): Promise<T> {
  const [opened] = await openTogether(ctx, [message]);
  return finish(opened!);
}

// ---- Beaver square and product ------------------------------------------------------------------

export const squarePart = {
  deal: (n: number, d: DealerStream): void => beaverSquare.deal({ n }, d),
  material: (n: number, s: MaterialStream): PairMaterial => beaverSquare.material({ n }, s),
  message(m: PairMaterial, x: Ring): Ring {
    need(x, m.a.length, 'square');
    return beaverSquareMessage(m, x);
  },
  /** x^2 in the ring (scale doubles). */
  finish: (ctx: Index, m: PairMaterial, e: Ring): Ring => beaverSquareFinish(ctx.index, m, e),
  run: (ctx: PartyContext, m: PairMaterial, x: Ring): Promise<Ring> =>
    openAlone(ctx, squarePart.message(m, x), (e) => squarePart.finish(ctx, m, e)),
  offline: (n: number): [number, number] => [0, 8 * n],
  opened: (n: number): number => n,
};

export const mulPart = {
  deal: (n: number, d: DealerStream): void => beaverMul.deal({ n }, d),
  material: (n: number, s: MaterialStream): TripleMaterial => beaverMul.material({ n }, s),
  message(m: TripleMaterial, x: Ring, y: Ring): Ring {
    const n = m.a.length;
    need(x, n, 'product x');
    need(y, n, 'product y');
    return beaverMessage(m, x, y);
  },
  /** x * y in the ring, from the opened (x - a, y - b) and this party's y share. */
  finish: (m: TripleMaterial, y: Ring, opened: Ring): Ring => beaverFinish(m, y, opened),
  run: (ctx: PartyContext, m: TripleMaterial, x: Ring, y: Ring): Promise<Ring> =>
    openAlone(ctx, mulPart.message(m, x, y), (opened) => mulPart.finish(m, y, opened)),
  offline: (n: number): [number, number] => [0, 8 * n],
  opened: (n: number): number => 2 * n,
};

// ---- truncation ---------------------------------------------------------------------------------

function checkTruncBits(bits: number, max = 62): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > max)
    throw new MarillError(`cannot truncate by ${bits} bits here`);
}

function truncMessage(ctx: Index, m: TruncMaterial, x: Ring): Ring {
  need(x, m.r.length, 'truncation');
  return truncMaskedShare(ctx.index, m, x);
}

export const truncPart = {
  deal(n: number, bits: number, d: DealerStream): void {
    checkTruncBits(bits);
    truncate.deal({ n, bits }, d);
  },
  material: (n: number, bits: number, s: MaterialStream): TruncMaterial => truncate.material({ n, bits }, s),
  message: truncMessage,
  /** floor(x / 2^bits) + {0, 1}, plus a public `offset`. */
  finish(ctx: Index, bits: number, m: TruncMaterial, c: Ring, offset = 0n): Ring {
    return truncatedShareOf(ctx.index, bits, m, c, offset);
  },
  run: (ctx: PartyContext, bits: number, m: TruncMaterial, x: Ring, offset = 0n): Promise<Ring> =>
    openAlone(ctx, truncMessage(ctx, m, x), (c) => truncPart.finish(ctx, bits, m, c, offset)),
  offline: (n: number): [number, number] => [0, 16 * n],
  opened: (n: number): number => n,
};

// ---- truncation fused with a product ------------------------------------------------------------

export interface TruncMulMaterial {
  readonly trunc: TruncMaterial;
  /** Beaver mask of w (per w element). */
  readonly b: Ring;
  /** Shares of m b and r_hi b (per w element, m and r_hi of the z element it is paired with). */
  readonly mb: Ring;
  readonly rb: Ring;
}

/**
 * Shape of a fused truncate-and-multiply: `nz` truncated values, `nw` multiplied values; w
 * element j pairs with z element zIndex[j] (absent: nz = nw, pairing j with j).
 */
export interface TruncMulShape {
  readonly nz: number;
  readonly nw: number;
  readonly zIndex: Int32Array | undefined;
  readonly bits: number;
}

function paired(z: Ring, s: TruncMulShape): Ring {
  return s.zIndex ? applyMap(z, s.zIndex) : z;
}

/**
 * Without a dealer: shares of b_j b for the mask's shared bits j >= bits (../../twopc/bits.ts,
 * two correlated OTs each, one per direction, the client as extension sender first so that
 * its flights merge with the mask's), for b paired with z elements by `s`; then msb(r) b = b_63 b and
 * r_hi b = sum_{j >= bits} 2^(j - bits) b_j b. Cheaper than a Gilboa product of r_hi and b
 * (64 OTs each way) for every bits >= 1. Product h = j - bits enters r_hi b shifted left by h,
 * so it is needed modulo 2^(64 - h) only, except h = 63 - bits, which is also m b in full
 * (`highBitPacking`).
 */
const highBitPacking = (s: TruncMulShape): Packing => {
  const high = 64 - s.bits;
  return { stride: s.nw, bits: (h) => (h === high - 1 ? 64 : 64 - h) };
};

async function highBitProducts(
  ot: OtSession,
  words: SharedBitWords,
  s: TruncMulShape,
  b: Ring,
): Promise<{ mb: Ring; rb: Ring }> {
  const high = 64 - s.bits;
  const bitsOf = paired(words.xor, s);
  const c = new BigInt64Array(high * s.nw);
  const v = new BigInt64Array(high * s.nw);
  for (let h = 0; h < high; h++) {
    ringBit(bitsOf, s.bits + h, c.subarray(h * s.nw, (h + 1) * s.nw));
    v.set(b, h * s.nw);
  }
  const products = await bitProducts(ot, c, v, 1, highBitPacking(s));
  const rb = new BigInt64Array(s.nw);
  for (let h = 0; h < high; h++) ringAdd(rb, ringShl(products.subarray(h * s.nw, (h + 1) * s.nw), h), rb);
  return { mb: products.slice((high - 1) * s.nw), rb };
}

/** A truncation mask with a Beaver mask b of w and shares of msb(r) b and r_hi b (paired). */
export const truncMulMask: Correlation<TruncMulShape, TruncMulMaterial> = {
  name: 'trunc-mul-mask',
  deal(s, d) {
    const { rHi, msb } = dealTruncMask(s.nz, s.bits, d);
    const b = d.sharedRandom(s.nw);
    d.share(ringMul(paired(msb, s), b));
    d.share(ringMul(paired(rHi, s), b));
  },
  material(s, st) {
    const trunc = truncMaskMaterial(s.nz, st);
    const b = st.sharedRandom(s.nw);
    return { trunc, b, mb: st.share(s.nw), rb: st.share(s.nw) };
  },
  async preprocess(s, pre) {
    const { mask, words } = await preprocessTruncMask(s.nz, s.bits, pre);
    const b = pre.rng.ring(s.nw);
    return { trunc: mask, b, ...(await highBitProducts(pre.ot, words, s, b)) };
  },
  preprocessCost: (s): PairCost =>
    sequence(
      preprocessTruncMaskCost(s.nz, s.bits),
      bitProductsCost((64 - s.bits) * s.nw, 1, highBitPacking(s)),
    ),
};

export const truncMulPart = {
  deal(s: TruncMulShape, d: DealerStream): void {
    checkTruncBits(s.bits);
    d.correlation(truncMulMask, s);
  },
  material: (s: TruncMulShape, st: MaterialStream): TruncMulMaterial => st.correlation(truncMulMask, s),
  message(ctx: Index, s: TruncMulShape, m: TruncMulMaterial, z: Ring, w: Ring): Ring {
    need(w, s.nw, 'fused product w');
    const out = new BigInt64Array(s.nz + s.nw);
    out.set(truncMessage(ctx, m.trunc, z));
    ringSub(w, m.b, out.subarray(s.nz));
    return out;
  },
  /** (trunc(z) + offset) * w in the ring, and trunc(z) + offset itself. */
  finish(
    ctx: Index,
    s: TruncMulShape,
    m: TruncMulMaterial,
    w: Ring,
    offset: bigint,
    opened: Ring,
  ): { product: Ring; truncated: Ring } {
    const v = truncOpened(s.bits, m.trunc, opened.subarray(0, s.nz), offset);
    const g = opened.subarray(s.nz);
    // (E + o) w + A (w - b) + A b, with A b = m b weight - r_hi b.
    const product = ringMul(paired(v.e, s), w);
    ringAdd(product, ringMul(paired(v.a, s), g), product);
    ringAdd(product, ringMul(m.mb, paired(v.weight, s)), product);
    ringSub(product, m.rb, product);
    return { product, truncated: truncatedShare(ctx.index, v) };
  },
  /** `finish` after opening on its own (one round). */
  run: (ctx: PartyContext, s: TruncMulShape, m: TruncMulMaterial, z: Ring, w: Ring, offset = 0n) =>
    openAlone(ctx, truncMulPart.message(ctx, s, m, z, w), (opened) =>
      truncMulPart.finish(ctx, s, m, w, offset, opened),
    ),
  offline: (s: TruncMulShape): [number, number] => [0, 16 * s.nz + 16 * s.nw],
  opened: (s: TruncMulShape): number => s.nz + s.nw,
};

// ---- truncation fused with a square -------------------------------------------------------------

export interface TruncSquareMaterial {
  readonly trunc: TruncMaterial;
  /** Shares of r_hi^2 and m r_hi. */
  readonly rr: Ring;
  readonly mr: Ring;
}

/** A truncation mask with shares of r_hi^2 and msb(r) r_hi. */
export const truncSquareMask: Correlation<TruncParams, TruncSquareMaterial> = {
  name: 'trunc-square-mask',
  deal({ n, bits }, d) {
    const { rHi, msb } = dealTruncMask(n, bits, d);
    d.share(ringMul(rHi, rHi));
    d.share(ringMul(msb, rHi));
  },
  material({ n }, st) {
    const trunc = truncMaskMaterial(n, st);
    return { trunc, rr: st.share(n), mr: st.share(n) };
  },
  // Without a dealer: r_hi^2 by one Gilboa product (cheaper than 2 (64 - bits) bit products
  // for bits <= 32), msb(r) r_hi by bit products with the shared bit 63; directions ordered so
  // that consecutive flights of one party merge.
  async preprocess({ n, bits }, pre) {
    const { mask, words } = await preprocessTruncMask(n, bits, pre);
    const rr = await sharedSquare(pre.ot, mask.rHi, 1);
    const mr = await bitProducts(pre.ot, ringBit(words.xor, 63), mask.rHi, 0);
    return { trunc: mask, rr, mr };
  },
  preprocessCost: ({ n, bits }): PairCost =>
    sequence(preprocessTruncMaskCost(n, bits), sharedSquareCost(n, 1), bitProductsCost(n, 0)),
};

export const truncSquarePart = {
  deal(n: number, bits: number, d: DealerStream): void {
    checkTruncBits(bits, 32);
    d.correlation(truncSquareMask, { n, bits });
  },
  material: (n: number, bits: number, st: MaterialStream): TruncSquareMaterial =>
    st.correlation(truncSquareMask, { n, bits }),
  message: (ctx: Index, m: TruncSquareMaterial, z: Ring): Ring => truncMessage(ctx, m.trunc, z),
  /** (trunc(z) + offset)^2 in the ring, and trunc(z) + offset itself. */
  finish(
    ctx: Index,
    bits: number,
    m: TruncSquareMaterial,
    offset: bigint,
    opened: Ring,
  ): { square: Ring; truncated: Ring } {
    checkTruncBits(bits, 32);
    const v = truncOpened(bits, m.trunc, opened, offset);
    // (E + A)^2 = E^2 + 2 E A + A^2, A^2 = r_hi^2 - 2 weight (m r_hi).
    const square = ringMulScalar(ringMul(v.e, v.a), 2n);
    ringAdd(square, m.rr, square);
    ringSub(square, ringMulScalar(ringMul(v.weight, m.mr), 2n), square);
    if (ctx.index === 0) ringAdd(square, ringMul(v.e, v.e), square);
    return { square, truncated: truncatedShare(ctx.index, v) };
  },
  /** `finish` after opening on its own (one round). */
  run: (ctx: PartyContext, bits: number, m: TruncSquareMaterial, z: Ring, offset = 0n) =>
    openAlone(ctx, truncSquarePart.message(ctx, m, z), (c) =>
      truncSquarePart.finish(ctx, bits, m, offset, c),
    ),
  offline: (n: number): [number, number] => [0, 32 * n],
  opened: (n: number): number => n,
};
