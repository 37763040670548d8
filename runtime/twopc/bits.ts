/**
 * Shared random bits from correlated OT (./iknp.ts), the dealer-free pieces of
 * truncation masks (../protocols/truncate.ts, ../protocols/nonlinear/parts.ts):
 *
 *  - `randomBitWords`: n uniform 64-bit words whose bits are XOR-shared (each
 *    party draws its share alone) and also additively shared bit by bit. Bit
 *    b = b0 xor b1 = b0 + b1 - 2 b0 b1; the product b0 b1 is one correlated OT
 *    with the server as extension sender, correlation b0, the client choosing
 *    with b1: the client gets x + b1 b0, the server keeps x, so the server's
 *    share of b is b0 + 2 x and the client's b1 - 2 (x + b0 b1). The product
 *    enters only doubled, so it is needed modulo 2^63 for b modulo 2^64: the
 *    OT sends 63 bits of its correction (./iknp.ts `Packing`), and a caller
 *    that needs plane j only modulo 2^need(j) (e.g. it shifts it left by
 *    64 - need(j)) has it send need(j) - 1.
 *  - `bitProducts`: shares of c v for a XOR-shared bit c = c0 xor c1 and an
 *    additively shared v = v0 + v1, cheaper than a Gilboa product (64 OTs each
 *    way) since one factor is a bit: c v0 = c0 v0 + c1 (1 - 2 c0) v0 is one
 *    correlated OT with the holder of v0 as sender, correlation (1 - 2 c0) v0,
 *    the peer choosing with c1 (it gets x + c1 (1 - 2 c0) v0, the sender keeps
 *    c0 v0 - x); likewise c v1 the other way. Two OTs per product. A caller that
 *    needs product i only modulo 2^b has both OTs send b bits of their
 *    corrections: every term above is a sum and product in the ring, exact
 *    modulo 2^b when its inputs are.
 *
 * Party 0 is the server, party 1 the client (../protocol.ts).
 */
import type { Prg } from '../crypto/prg.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringAdd, ringBit, ringMul, ringShl, ringSub } from '../ring/kernels.ts';
import type { Packing } from './iknp.ts';
import { cotCost, cotReceive, cotSend } from './iknp.ts';
import type { PairCost, PartyIndex } from './link.ts';
import { sequence } from './link.ts';
import type { OtSession } from './triples.ts';
import { bitChoices, pad32, runs } from './triples.ts';

const BITS = 64;

/** This party's side of n shared random 64-bit words. */
export interface SharedBitWords {
  /** This party's XOR share: bit j of word e is its share of bit j of element e. */
  readonly xor: Ring;
  /**
   * This party's additive share of bit j of every element (`planes[j][e]`, 0/1 when added up),
   * modulo 2^need(j) for the `need` it was made with (exact in Z_2^64 by default).
   */
  readonly planes: readonly Ring[];
}

/** Bits of plane j needed: all of them unless the caller says fewer. */
const EXACT = (): number => BITS;

/** The conversion OTs' packing: plane j modulo 2^need(j) needs the product b0 b1 modulo 2^(need(j) - 1). */
const conversionPacking = (stride: number, need: (j: number) => number): Packing => ({
  stride,
  bits: (j) => Math.max(1, need(j) - 1),
});

/**
 * n words of shared random bits, each bit converted to additive shares by one
 * correlated OT; plane j is needed modulo 2^need(j) only (1 to 64, default 64).
 */
export async function randomBitWords(
  s: OtSession,
  n: number,
  rng: Prg,
  need: (j: number) => number = EXACT,
): Promise<SharedBitWords> {
  const stride = pad32(n);
  const xor = new BigInt64Array(stride);
  xor.set(rng.ring(n));
  // OT j * stride + e converts bit j of element e; acc holds the OT outputs in that order.
  const acc = new BigInt64Array(BITS * stride);
  const m = BITS * stride;
  const packing = conversionPacking(stride, need);
  if (s.link.index === 0) {
    const delta = (from: number, count: number): Ring => {
      const d = new BigInt64Array(count);
      runs(from, count, stride, (j, e, at, len) => d.set(ringBit(xor.subarray(e, e + len), j), at));
      return d;
    };
    await cotSend(s.sender, s.link, m, 1, delta, (from, _count, x) => acc.set(x, from), packing);
  } else {
    await cotReceive(
      s.receiver,
      s.link,
      bitChoices(xor.subarray(0, n)),
      m,
      1,
      (from, _count, out) => acc.set(out, from),
      packing,
    );
  }
  const planes = Array.from({ length: BITS }, (_, j) => {
    const twice = ringShl(acc.subarray(j * stride, j * stride + n), 1);
    const own = ringBit(xor.subarray(0, n), j);
    return s.link.index === 0 ? ringAdd(own, twice, own) : ringSub(own, twice, own);
  });
  return { xor: xor.slice(0, n), planes };
}

export function randomBitWordsCost(n: number, need: (j: number) => number = EXACT): PairCost {
  return cotCost(BITS * pad32(n), 1, 0, conversionPacking(pad32(n), need));
}

/** Every product in full. */
const ALL_BITS: Packing = { stride: Number.POSITIVE_INFINITY, bits: () => BITS };

/** One direction of `bitProducts`: the products c v_sender. Returns this party's share. */
async function bitTimesSender(
  s: OtSession,
  sender: PartyIndex,
  c: Ring,
  v: Ring,
  packing: Packing,
): Promise<Ring> {
  const k = c.length;
  const share = new BigInt64Array(k);
  if (s.link.index === sender) {
    // Correlation (1 - 2 c0) v0; the sender keeps c0 v0 - x.
    const cv = ringMul(c, v);
    const delta = ringSub(v, ringShl(cv, 1));
    await cotSend(
      s.sender,
      s.link,
      k,
      1,
      (from, count) => delta.subarray(from, from + count),
      (from, _count, x) => share.set(x, from),
      packing,
    );
    return ringSub(cv, share, share);
  }
  const choices = new Uint8Array(Math.ceil(k / 8));
  // Low 32-bit halves of the 0/1 words: no BigInt per element.
  const c32 = new Int32Array(c.buffer, c.byteOffset, 2 * k);
  for (let i = 0; i < k; i++) if (c32[2 * i]) choices[i >> 3] = choices[i >> 3]! | (1 << (i & 7));
  await cotReceive(s.receiver, s.link, choices, k, 1, (from, _count, out) => share.set(out, from), packing);
  return share;
}

/**
 * Shares of c_i v_i for XOR-shared bits c (this party passes its share bits as
 * ring 0/1) and additively shared v (its shares): two correlated OTs per
 * product, the one with `first` as extension sender first. With `need`, product
 * i is exact only modulo 2^need.bits(floor(i / need.stride)) (default: all 64 bits).
 */
export async function bitProducts(
  s: OtSession,
  c: Ring,
  v: Ring,
  first: PartyIndex,
  need: Packing = ALL_BITS,
): Promise<Ring> {
  const a = await bitTimesSender(s, first, c, v, need);
  const b = await bitTimesSender(s, first === 0 ? 1 : 0, c, v, need);
  return ringAdd(a, b, a);
}

export function bitProductsCost(k: number, first: PartyIndex, need: Packing = ALL_BITS): PairCost {
  return sequence(cotCost(k, 1, first, need), cotCost(k, 1, first === 0 ? 1 : 0, need));
}
