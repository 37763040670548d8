/**
 * Exact truncation of shared values: y = floor(x / 2^bits) + e with e in {0, 1}
 * (so |y - x / 2^bits| <= 1 ulp), for every x in [-2^62, 2^62), with
 * probability 1: no input and no randomness gives a large error. (The local
 * share-truncation of SecureML-style frameworks is instead off by ~2^(64-bits)
 * with probability ~|x| / 2^63 per element.)
 *
 * Dealer: uniform r (both shares from the seeds), shares of r_hi = r >>> bits
 * and of m = msb(r). Offline: 16 bytes per element to the client.
 *
 * Online (one exchange, 8 bytes per element each way): open c = x + 2^62 + r.
 * With x' = x + 2^62 in [0, 2^63), the addition x' + r wraps mod 2^64 exactly
 * when msb(r) = 1 and msb(c) = 0 (if msb(r) = 0 the sum is below 2^64; if it is
 * 1 the sum is at least 2^63 and below 2^64 + 2^63, so it wrapped iff c < 2^63).
 * Over the integers x' + r = c + wrap * 2^64, hence
 *     floor(x' / 2^bits) = (c >>> bits) - r_hi + wrap * 2^(64-bits) - borrow,
 * where borrow in {0,1} is the carry out of the low bits. Dropping borrow and
 * the 2^(62-bits) offset gives y = floor(x / 2^bits) + borrow. wrap = m * (1 -
 * msb(c)) is linear in the shared m because msb(c) is public.
 *
 * The pieces are exported in split form (`dealTruncMask` / `truncMaskMaterial`,
 * `truncMaskedShare`, `truncOpened` / `truncatedShare`) for protocols that fuse the
 * truncation's opening with other openings (./nonlinear/parts.ts).
 */
import { MarillError } from '../../ir/errors.ts';
import type {
  Correlation,
  Cost,
  DealerStream,
  MaterialStream,
  PartyContext,
  Preprocessor,
  Protocol,
} from '../protocol.ts';
import { cost } from '../protocol.ts';
import { ringTruncatedShare, ringTruncOpened } from '../ring/fused.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringAdd, ringAddScalar, ringMsb, ringShl, ringShrLogical } from '../ring/kernels.ts';
import type { SharedBitWords } from '../twopc/bits.ts';
import { randomBitWords, randomBitWordsCost } from '../twopc/bits.ts';
import type { PairCost } from '../twopc/link.ts';

export interface TruncParams {
  /** Elements. */
  readonly n: number;
  /** Bits to drop (1..62), usually the session's fracBits. */
  readonly bits: number;
}

export interface TruncMaterial {
  readonly r: Ring;
  readonly rHi: Ring;
  readonly msb: Ring;
}

const OFFSET = 1n << 62n;

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 62)
    throw new MarillError(`cannot truncate by ${bits} bits`);
}

/**
 * Deals the mask of n truncations by `bits`: uniform r from the seeds, then shares of
 * r_hi = r >>> bits and m = msb(r); returns r_hi and m for material fused with them.
 */
export function dealTruncMask(n: number, bits: number, d: DealerStream): { rHi: Ring; msb: Ring } {
  const r = d.sharedRandom(n);
  const rHi = ringShrLogical(r, bits);
  const msb = ringMsb(r);
  d.share(rHi);
  d.share(msb);
  return { rHi, msb };
}

/** A party's side of `dealTruncMask`. */
export function truncMaskMaterial(n: number, s: MaterialStream): TruncMaterial {
  return { r: s.sharedRandom(n), rHi: s.share(n), msb: s.share(n) };
}

/**
 * The mask from shared random bits b_j (../twopc/bits.ts), all linear in their
 * additive shares: r = sum_j 2^j b_j, r_hi = sum_{j >= bits} 2^(j - bits) b_j
 * (= r >>> bits exactly: no carries, each b_j is 0 or 1), msb = b_63.
 */
export function truncMaskFromBits(words: SharedBitWords, bits: number): TruncMaterial {
  const n = words.xor.length;
  const r = new BigInt64Array(n);
  const rHi = new BigInt64Array(n);
  words.planes.forEach((plane, j) => {
    ringAdd(r, ringShl(plane, j), r);
    if (j >= bits) ringAdd(rHi, ringShl(plane, j - bits), rHi);
  });
  return { r, rHi, msb: words.planes[63]!.slice() };
}

/**
 * Without a dealer: the mask from 64 shared random bits per element, each
 * converted to additive shares by one correlated OT (64 n OTs in one batch, two
 * flights). Also returns the bits, which fused masks multiply (./nonlinear/parts.ts).
 *
 * Why all 64 bits: r must be uniform on Z_2^64 (c = x + 2^62 + r then hides x
 * perfectly, as with a dealer), so every bit of r is random and must enter the
 * additive shares of r; the material's msb is bit 63 as a full ring value, and
 * r_hi needs bit j modulo 2^(64 - j + bits). The low `bits` bits cannot come
 * cheaper: additive shares l0 + l1 of a low part carry into bit `bits` about
 * half the time, which breaks r_hi = r >>> bits (computing that carry is a
 * comparison, dearer than the `bits` OTs it would save), and low bits known to
 * one party reveal x's low bits to it through c. What does shrink is each OT's
 * correction (`truncPlaneBits`), not their number.
 */
/**
 * Bits of plane j the mask needs: r = sum 2^j b_j needs b_j modulo 2^(64 - j),
 * r_hi = sum_{j >= bits} 2^(j - bits) b_j modulo 2^(64 - j + bits) (a left shift
 * by s drops every bit above 64 - s), msb = b_63 as a full ring value.
 */
const truncPlaneBits =
  (bits: number) =>
  (j: number): number =>
    j === 63 ? 64 : Math.min(64, 64 - j + bits);

export async function preprocessTruncMask(
  n: number,
  bits: number,
  pre: Preprocessor,
): Promise<{ mask: TruncMaterial; words: SharedBitWords }> {
  checkBits(bits);
  const words = await randomBitWords(pre.ot, n, pre.rng, truncPlaneBits(bits));
  return { mask: truncMaskFromBits(words, bits), words };
}

export function preprocessTruncMaskCost(n: number, bits: number): PairCost {
  return randomBitWordsCost(n, truncPlaneBits(bits));
}

/** The mask of n truncations by `bits`: r uniform, shares of r >>> bits and msb(r). */
export const truncMask: Correlation<TruncParams, TruncMaterial> = {
  name: 'trunc-mask',
  deal: ({ n, bits }, d) => void dealTruncMask(n, bits, d),
  material: ({ n }, s) => truncMaskMaterial(n, s),
  preprocess: async ({ n, bits }, pre) => (await preprocessTruncMask(n, bits, pre)).mask,
  preprocessCost: ({ n, bits }) => preprocessTruncMaskCost(n, bits),
};

/** This party's share of the opened c = x + 2^62 + r (party 0 adds the offset). */
export function truncMaskedShare(index: 0 | 1, m: TruncMaterial, x: Ring): Ring {
  const masked = ringAdd(x, m.r);
  if (index === 0) ringAddScalar(masked, OFFSET, masked);
  return masked;
}

/**
 * The truncation after c is opened, as y = E + A: the public E = (c >>> bits) - 2^(62-bits)
 * plus a public `offset`, this party's share of A = m weight - r_hi, and the public
 * weight = (1 - msb(c)) 2^(64-bits).
 */
export interface TruncOpened {
  readonly e: Ring;
  readonly a: Ring;
  readonly weight: Ring;
}

export function truncOpened(bits: number, m: TruncMaterial, c: Ring, offset = 0n): TruncOpened {
  return ringTruncOpened(c, m.msb, m.rHi, bits, offset - (OFFSET >> BigInt(bits)));
}

/** This party's share of y = E + A (party 0 adds the public E). */
export function truncatedShare(index: 0 | 1, v: TruncOpened): Ring {
  return index === 0 ? ringAdd(v.a, v.e) : v.a;
}

/** truncatedShare(index, truncOpened(bits, m, c, offset)) in one pass. */
export function truncatedShareOf(index: 0 | 1, bits: number, m: TruncMaterial, c: Ring, offset = 0n): Ring {
  return ringTruncatedShare(c, m.msb, m.rHi, bits, offset - (OFFSET >> BigInt(bits)), index === 0);
}

export const truncate: Protocol<TruncParams, TruncMaterial, Ring, Ring> = {
  name: 'truncate',

  deal({ n, bits }: TruncParams, d: DealerStream): void {
    checkBits(bits);
    d.correlation(truncMask, { n, bits });
  },

  material(p: TruncParams, s: MaterialStream): TruncMaterial {
    return s.correlation(truncMask, p);
  },

  async online(ctx: PartyContext, { n, bits }: TruncParams, m: TruncMaterial, x: Ring): Promise<Ring> {
    checkBits(bits);
    if (x.length !== n) throw new MarillError(`truncate expects ${n} elements, got ${x.length}`);
    const masked = truncMaskedShare(ctx.index, m, x);
    const c = ringAdd(masked, await ctx.exchangeRing(masked));
    return truncatedShareOf(ctx.index, bits, m, c);
  },

  cost({ n }: TruncParams): Cost {
    return cost({ onlineBytes: [8 * n, 8 * n], rounds: 1, offlineBytes: [0, 16 * n] });
  },
};
