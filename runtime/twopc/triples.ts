/**
 * Correlated randomness made by the two parties alone, from OT extension
 * (./iknp.ts): Gilboa products and the triples the protocols take from a dealer
 * today (arithmetic Beaver triples, matrix triples, triples with a
 * server-private factor, AND triples).
 *
 * Gilboa product (Gilboa, CRYPTO 1999) of a (sender) and b (receiver) in
 * Z_2^64: one correlated OT per bit j of b, choice b_j, correlation a 2^j; the
 * receiver gets x_j + b_j a 2^j, the sender keeps -x_j, and the sums over j add
 * up to a b. A matrix product X Y (X at the receiver, Y at the sender) takes one
 * OT per bit of each element X[i, l] with the row Y[l, :] 2^j as a vector
 * correlation. OT j of element e is OT number j * pad32(elements) + e, so the
 * choices are X's bit planes (../protocols/nonlinear/bit-slice.ts).
 *
 * Packed (`gilboaPacking`): OT j runs with correlation a (not a 2^j) and only
 * the low 64 - j bits of its correction are sent (./iknp.ts `Packing`), so its
 * outputs satisfy out_j = x_j + b_j a (mod 2^(64 - j)); both parties shift their
 * output left by j. That is exact modulo 2^64: 2^j times a multiple of
 * 2^(64 - j) is a multiple of 2^64, so the bits the OT leaves unspecified are
 * shifted out, and 2^j out_j = 2^j x_j + b_j a 2^j. The corrections of one
 * product take sum_j (64 - j) = 2080 bits (260 bytes) per correlation element
 * instead of 64 x 64 bits.
 *
 * AND triple from two random OTs (one per direction): for a0 b1, the client
 * chooses b1 and gets m_{b1}; the server takes a0 = m0 xor m1 and u0 = m0, so
 * u0 xor m_{b1} = a0 b1; likewise for a1 b0. No bytes beyond the OT extension.
 *
 * Party 0 is the server, party 1 the client (../protocol.ts). Each party passes
 * its own PRG: with fixed seeds every output and every byte sent is reproducible.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Prg } from '../crypto/prg.ts';
import { bitPlanes } from '../protocols/nonlinear/bit-slice.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringAdd, ringMatmulBatched, ringMul, ringShl, ringSub } from '../ring/kernels.ts';
import type { IknpReceiver, IknpSender, Packing } from './iknp.ts';
import {
  cotCost,
  cotReceive,
  cotSend,
  iknpReceiverSetup,
  iknpSenderSetup,
  iknpSetupCost,
  rotCost,
  rotReceive,
  rotSend,
} from './iknp.ts';
import type { Link, PairCost, PartyIndex } from './link.ts';
import { sequence } from './link.ts';

const BITS = 64;
/** Elements per bit plane of a batch of OTs, one OT per bit of each element. */
export const pad32 = (n: number): number => Math.ceil(n / 32) * 32;

/** One party's OT extension in both directions: as sender and as receiver. */
export class OtSession {
  constructor(
    readonly link: Link,
    readonly sender: IknpSender,
    readonly receiver: IknpReceiver,
  ) {}
}

/** Base OTs for both directions: first the one whose extension sender is party 0. */
export async function otSessionSetup(link: Link, rng: Prg): Promise<OtSession> {
  if (link.index === 0) {
    const sender = await iknpSenderSetup(link, rng);
    return new OtSession(link, sender, await iknpReceiverSetup(link, rng));
  }
  const receiver = await iknpReceiverSetup(link, rng);
  return new OtSession(link, await iknpSenderSetup(link, rng), receiver);
}

export function otSessionSetupCost(): PairCost {
  return sequence(iknpSetupCost(0), iknpSetupCost(1));
}

/** Choice bits of every bit of `x`: OT j * pad32(n) + e has bit j of x[e]. */
export function bitChoices(x: Ring): Uint8Array {
  const planes = bitPlanes(x, 0, BITS);
  const words = pad32(x.length) / 32;
  const out = new Uint32Array(BITS * words);
  planes.forEach((p, j) => out.set(p, j * words));
  return new Uint8Array(out.buffer);
}

/**
 * Calls `visit(j, e, at, len)` for each run of OTs in [from, from + count) with
 * one bit j: elements e .. e + len - 1 at offset `at` in the chunk.
 */
export function runs(
  from: number,
  count: number,
  stride: number,
  visit: (j: number, e: number, at: number, len: number) => void,
): void {
  for (let pos = from; pos < from + count;) {
    const j = Math.floor(pos / stride);
    const e = pos % stride;
    const len = Math.min(stride - e, from + count - pos);
    visit(j, e, pos - from, len);
    pos += len;
  }
}

// ---- elementwise Gilboa products ------------------------------------------------------------------

/** OT j of a Gilboa product needs its output modulo 2^(64 - j) only (see the module comment). */
export const gilboaPacking = (stride: number): Packing => ({ stride, bits: (j) => BITS - j });

/**
 * Shares of a * b elementwise, a at the extension sender of `link` direction
 * `sender` (party `sender` passes a, the other party b). Returns this party's share.
 */
export async function gilboaProduct(s: OtSession, sender: PartyIndex, mine: Ring): Promise<Ring> {
  const n = mine.length;
  const stride = pad32(n);
  const m = BITS * stride;
  const acc = new BigInt64Array(stride);
  // 2^j out_j: the shift drops the bits the packed OT j leaves unspecified.
  const fold = (at: Ring, from: number, count: number, op: typeof ringAdd) =>
    runs(from, count, stride, (j, e, off, len) => {
      const seg = acc.subarray(e, e + len);
      const out = at.subarray(off, off + len);
      op(seg, j === 0 ? out : ringShl(out, j, out), seg);
    });
  if (s.link.index === sender) {
    const a = new BigInt64Array(stride);
    a.set(mine);
    const delta = (from: number, count: number): Ring => {
      const d = new BigInt64Array(count);
      runs(from, count, stride, (_j, e, off, len) => d.set(a.subarray(e, e + len), off));
      return d;
    };
    await cotSend(
      s.sender,
      s.link,
      m,
      1,
      delta,
      (from, count, x) => fold(x, from, count, ringSub),
      gilboaPacking(stride),
    );
  } else {
    await cotReceive(
      s.receiver,
      s.link,
      bitChoices(mine),
      m,
      1,
      (from, count, out) => fold(out, from, count, ringAdd),
      gilboaPacking(stride),
    );
  }
  return acc.slice(0, n);
}

export function gilboaProductCost(n: number, sender: PartyIndex): PairCost {
  return cotCost(BITS * pad32(n), 1, sender, gilboaPacking(pad32(n)));
}

// ---- matrix Gilboa products -----------------------------------------------------------------------

/** Shapes of a matrix product X [n, k] times Y [k, w], or of `batch` such products (batch-major). */
export interface MatmulShape {
  readonly n: number;
  readonly k: number;
  readonly w: number;
  /** Independent products (default 1): X [batch, n, k], Y [batch, k, w], result [batch, n, w]. */
  readonly batch?: number;
}

/**
 * Shares of X Y with Y [k, w] at party `sender` and X [n, k] at the other
 * (each passes its own matrix). Returns this party's share of the [n, w] product.
 * Batched products run as one batch of OTs (X's elements of every product in
 * turn, each with its own product's row of Y), so they take the flights of one.
 */
export async function gilboaMatmul(
  s: OtSession,
  sender: PartyIndex,
  shape: MatmulShape,
  mine: Ring,
): Promise<Ring> {
  const { n, k, w } = shape;
  const batch = shape.batch ?? 1;
  const isSender = s.link.index === sender;
  const expected = batch * (isSender ? k * w : n * k);
  if (mine.length !== expected)
    throw new MarillError(`Gilboa matmul: operand has ${mine.length} elements, expected ${expected}`);
  const elements = batch * n * k;
  const stride = pad32(elements);
  const m = BITS * stride;
  const acc = new BigInt64Array(batch * n * w);
  // 2^j out_j, row by row: the shift drops the bits the packed OT j leaves unspecified.
  const fold = (at: Ring, from: number, count: number, op: typeof ringAdd) =>
    runs(from, count, stride, (j, e0, off, len) => {
      const used = Math.min(len, elements - e0);
      if (used <= 0) return;
      // In place: the chunk's outputs are this function's own.
      const shifted = at.subarray(off * w, (off + used) * w);
      if (j > 0) ringShl(shifted, j, shifted);
      for (let t = 0; t < used; t++) {
        // Row of the result over all products: product b's row i is b n + i = floor(e / k).
        const i = Math.floor((e0 + t) / k);
        const row = acc.subarray(i * w, (i + 1) * w);
        op(row, shifted.subarray(t * w, (t + 1) * w), row);
      }
    });
  const packing = gilboaPacking(stride);
  if (isSender) {
    const delta = (from: number, count: number): Ring => {
      const d = new BigInt64Array(count * w);
      runs(from, count, stride, (_j, e0, off, len) => {
        for (let t = 0; t < len && e0 + t < elements; t++) {
          const e = e0 + t;
          // Row l of product b's Y.
          const row = Math.floor(e / (n * k)) * k + (e % k);
          d.set(mine.subarray(row * w, (row + 1) * w), (off + t) * w);
        }
      });
      return d;
    };
    await cotSend(s.sender, s.link, m, w, delta, (from, count, x) => fold(x, from, count, ringSub), packing);
  } else {
    await cotReceive(
      s.receiver,
      s.link,
      bitChoices(mine),
      m,
      w,
      (from, count, out) => fold(out, from, count, ringAdd),
      packing,
    );
  }
  return acc;
}

export function gilboaMatmulCost(shape: MatmulShape, sender: PartyIndex): PairCost {
  const stride = pad32((shape.batch ?? 1) * shape.n * shape.k);
  return cotCost(BITS * stride, shape.w, sender, gilboaPacking(stride));
}

// ---- triples --------------------------------------------------------------------------------------

/** This party's share of a triple: a, b uniform, a b = c, elementwise or as matrices. */
export interface Triple {
  readonly a: Ring;
  readonly b: Ring;
  readonly c: Ring;
}

/**
 * Shares of x y elementwise for shared x and y (this party passes its shares):
 * x0 y0 + x1 y1 + [x0 y1] + [x1 y0], the brackets by Gilboa (the server's x
 * times the client's y first, then the reverse).
 */
export async function sharedProduct(s: OtSession, x: Ring, y: Ring): Promise<Ring> {
  const first = await gilboaProduct(s, 0, s.link.index === 0 ? x : y);
  const second = await gilboaProduct(s, 1, s.link.index === 1 ? x : y);
  const c = ringMul(x, y);
  ringAdd(c, first, c);
  return ringAdd(c, second, c);
}

export function sharedProductCost(n: number): PairCost {
  return sequence(gilboaProductCost(n, 0), gilboaProductCost(n, 1));
}

/**
 * Shares of x^2 elementwise for shared x: x0^2 + x1^2 + 2 [x0 x1], one Gilboa
 * product with the extension sender at `sender` (a choice that lets a caller
 * merge flights with what runs before).
 */
export async function sharedSquare(s: OtSession, x: Ring, sender: PartyIndex = 0): Promise<Ring> {
  const cross = await gilboaProduct(s, sender, x);
  const c = ringMul(x, x);
  return ringAdd(c, ringShl(cross, 1), c);
}

export function sharedSquareCost(n: number, sender: PartyIndex = 0): PairCost {
  return gilboaProductCost(n, sender);
}

/** n arithmetic Beaver triples: a, b uniform shared, c = a b by `sharedProduct`. */
export async function beaverTriples(s: OtSession, n: number, rng: Prg): Promise<Triple> {
  const a = rng.ring(n).slice();
  const b = rng.ring(n).slice();
  return { a, b, c: await sharedProduct(s, a, b) };
}

export function beaverTriplesCost(n: number): PairCost {
  return sharedProductCost(n);
}

/** A matrix triple A [n, k], B [k, w], C = A B (per product when batched), both factors shared. */
export async function matrixTriple(s: OtSession, shape: MatmulShape, rng: Prg): Promise<Triple> {
  const { n, k, w } = shape;
  const batch = shape.batch ?? 1;
  const a = rng.ring(batch * n * k).slice();
  const b = rng.ring(batch * k * w).slice();
  // A1 B0 (server's B as the correlation), then A0 B1.
  const first = await gilboaMatmul(s, 0, shape, s.link.index === 0 ? b : a);
  const second = await gilboaMatmul(s, 1, shape, s.link.index === 1 ? b : a);
  const c = ringMatmulBatched(a, b, batch, n, k, w);
  ringAdd(c, first, c);
  return { a, b, c: ringAdd(c, second, c) };
}

export function matrixTripleCost(shape: MatmulShape): PairCost {
  return sequence(gilboaMatmulCost(shape, 0), gilboaMatmulCost(shape, 1));
}

/**
 * The correlation of a product with a server-private weight (../protocols/weight-beaver.ts):
 * A [n, k] uniform at the client, B [k, w] at the server (fixed for the session there),
 * shares of C = A B. The client passes A, the server B; one Gilboa matmul.
 */
export function weightTriple(s: OtSession, shape: MatmulShape, mine: Ring): Promise<Ring> {
  return gilboaMatmul(s, 0, shape, mine);
}

export function weightTripleCost(shape: MatmulShape): PairCost {
  return gilboaMatmulCost(shape, 0);
}

/** This party's share of n AND triples, bits packed (bit i at byte i >> 3, bit i & 7). */
export interface AndTriple {
  readonly a: Uint8Array;
  readonly b: Uint8Array;
  readonly c: Uint8Array;
}

/** Bit 0 of each 16-byte message, packed. */
function lowBits(messages: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(n / 8));
  for (let i = 0; i < n; i++) out[i >> 3] = out[i >> 3]! | ((messages[16 * i]! & 1) << (i & 7));
  return out;
}

export async function andTriples(s: OtSession, n: number, rng: Prg): Promise<AndTriple> {
  const bytes = Math.ceil(n / 8);
  const b = rng.bytes(bytes).slice();
  if (n % 8) b[bytes - 1] = b[bytes - 1]! & ((1 << (n % 8)) - 1);
  let a: Uint8Array;
  let u: Uint8Array;
  let v: Uint8Array;
  const own = async () => {
    const { m0, m1 } = await rotSend(s.sender, s.link, n);
    const x0 = lowBits(m0, n);
    const x1 = lowBits(m1, n);
    return { a: x0.map((x, i) => x ^ x1[i]!), u: x0 };
  };
  if (s.link.index === 0) {
    ({ a, u } = await own());
    v = lowBits(await rotReceive(s.receiver, s.link, b, n), n);
  } else {
    v = lowBits(await rotReceive(s.receiver, s.link, b, n), n);
    ({ a, u } = await own());
  }
  const c = a.map((x, i) => (x & b[i]!) ^ u[i]! ^ v[i]!);
  return { a, b, c };
}

export function andTriplesCost(n: number): PairCost {
  return sequence(rotCost(n, 1, 0), rotCost(n, 1, 1));
}
