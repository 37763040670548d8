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
 */
import { MarillError } from '../../ir/errors.ts';
import type { Cost, DealerStream, MaterialStream, PartyContext, Protocol } from '../protocol.ts';
import { cost } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import {
  ringAdd,
  ringAddScalar,
  ringMsb,
  ringMul,
  ringNeg,
  ringShl,
  ringShrLogical,
  ringSub,
} from '../ring/kernels.ts';

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

export const truncate: Protocol<TruncParams, TruncMaterial, Ring, Ring> = {
  name: 'truncate',

  deal({ n, bits }: TruncParams, d: DealerStream): void {
    checkBits(bits);
    const r = d.sharedRandom(n);
    d.share(ringShrLogical(r, bits));
    d.share(ringMsb(r));
  },

  material({ n }: TruncParams, s: MaterialStream): TruncMaterial {
    return { r: s.sharedRandom(n), rHi: s.share(n), msb: s.share(n) };
  },

  async online(ctx: PartyContext, { n, bits }: TruncParams, m: TruncMaterial, x: Ring): Promise<Ring> {
    checkBits(bits);
    if (x.length !== n) throw new MarillError(`truncate expects ${n} elements, got ${x.length}`);
    const masked = ringAdd(x, m.r);
    if (ctx.index === 0) ringAddScalar(masked, OFFSET, masked);
    const c = ringAdd(masked, await ctx.exchangeRing(masked));
    // notWrapWeight = (1 - msb(c)) * 2^(64-bits): public.
    const notMsb = ringAddScalar(ringNeg(ringMsb(c)), 1n);
    const weight = ringShl(notMsb, 64 - bits, notMsb);
    const y = ringSub(ringMul(m.msb, weight), m.rHi);
    if (ctx.index === 0) {
      ringAdd(y, ringShrLogical(c, bits), y);
      ringAddScalar(y, -(OFFSET >> BigInt(bits)), y);
    }
    return y;
  },

  cost({ n }: TruncParams): Cost {
    return cost({ onlineBytes: [8 * n, 8 * n], rounds: 1, offlineBytes: [0, 16 * n] });
  },
};
