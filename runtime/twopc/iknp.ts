/**
 * OT extension (Ishai, Kilian, Nissim, Petrank, CRYPTO 2003), semi-honest:
 * 128 base OTs (./base-ot.ts, run once per direction) extended to any number of
 * random OTs (`rotSend` / `rotReceive`) and correlated OTs over Z_2^64
 * (`cotSend` / `cotReceive`).
 *
 * Setup: the extension SENDER plays base-OT receiver with a random 128-bit
 * string s and gets k_j^{s_j}; the extension RECEIVER plays base-OT sender and
 * gets both k_j^0, k_j^1. Each key seeds an AES-CTR stream G (../crypto/prg.ts),
 * read on as more OTs are made.
 *
 * Extending m OTs with choice bits r (m rounded up to a multiple of 64, extra
 * choices 0): for each column j < 128 the receiver draws t_j = G(k_j^0) and sends
 * u_j = t_j xor G(k_j^1) xor r (16 bytes per OT); the sender sets
 * q_j = G(k_j^{s_j}) xor s_j u_j = t_j xor s_j r. Transposed (rows of 128 bits,
 * ../protocols/nonlinear/bit-slice.ts): q_i = t_i xor r_i s. With the
 * correlation-robust hash H (./crhash.ts), the sender's messages are
 * H(q_i, i) and H(q_i xor s, i), the receiver's H(t_i, i) = the one for r_i;
 * the other one needs s.
 *
 * Correlated OT with correlation Delta_i (L ring elements per OT): the sender
 * keeps x_i = H(q_i) and sends y_i = H(q_i xor s) - x_i - Delta_i (8 L bytes);
 * the receiver outputs H(t_i) - r_i y_i = x_i + r_i Delta_i.
 *
 * Packed corrections (`Packing`): a caller that needs OT i's outputs only modulo
 * 2^b_i has the sender send the low b_i bits of each y_i, bit-packed across the
 * chunk. Addition and multiplication modulo 2^64 reduce to modulo 2^b_i (the low
 * bits of a sum or product depend only on the low bits of the operands), so
 * H(t_i) - r_i (y_i mod 2^b_i) = x_i + r_i Delta_i (mod 2^b_i); the bits above
 * b_i of the outputs are not specified, and each caller justifies why it never
 * reads them (e.g. it shifts the output left by 64 - b_i).
 *
 * Work is done in chunks of at most `chunkOts(blocks)` OTs (bounded memory).
 * The receiver sends all its chunks' u first and then reads the sender's
 * replies, so a correlated OT batch is two flights and a random OT batch one.
 */
import { MarillError } from '../../ir/errors.ts';
import { Prg } from '../crypto/prg.ts';
import { bitPlanes } from '../protocols/nonlinear/bit-slice.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringMul, ringSub } from '../ring/kernels.ts';
import { baseOtCost, baseOtReceive, baseOtSend } from './base-ot.ts';
import { crHash } from './crhash.ts';
import type { Link, PairCost, PartyIndex } from './link.ts';
import { NO_COST, flight, sequence } from './link.ts';

export const KAPPA = 128;
const ROW_BYTES = KAPPA / 8;

const other = (p: PartyIndex): PartyIndex => (p === 0 ? 1 : 0);
const pad64 = (m: number): number => Math.ceil(m / 64) * 64;

/** OTs per chunk for messages of `blocks` 16-byte blocks: about 8 MiB of hash output, a multiple of 64. */
export function chunkOts(blocks: number): number {
  return Math.max(64, Math.floor((1 << 19) / blocks / 64) * 64);
}

/** The chunk sizes `m` OTs are split into. */
function chunks(m: number, blocks: number): number[] {
  const size = chunkOts(blocks);
  const out: number[] = [];
  for (let from = 0; from < m; from += size) out.push(Math.min(size, m - from));
  return out;
}

/** The extension sender's state: s and the streams G(k_j^{s_j}). */
export class IknpSender {
  /** Index of the next OT (the hash tweak), the same at both ends. */
  next = 0;
  constructor(
    readonly s: Uint8Array,
    readonly streams: readonly Prg[],
  ) {}
}

/** The extension receiver's state: the streams G(k_j^0), G(k_j^1). */
export class IknpReceiver {
  next = 0;
  constructor(
    readonly streams0: readonly Prg[],
    readonly streams1: readonly Prg[],
  ) {}
}

/** Extension sender's setup: 128 base OTs as their receiver, with a random s. */
export async function iknpSenderSetup(link: Link, rng: Prg): Promise<IknpSender> {
  const s = rng.bytes(ROW_BYTES).slice();
  const choices = Array.from({ length: KAPPA }, (_, j) => ((s[j >> 3]! >> (j & 7)) & 1) === 1);
  const keys = await baseOtReceive(link, choices, rng);
  return new IknpSender(
    s,
    keys.map((k) => new Prg(k)),
  );
}

/** Extension receiver's setup: 128 base OTs as their sender. */
export async function iknpReceiverSetup(link: Link, rng: Prg): Promise<IknpReceiver> {
  const { k0, k1 } = await baseOtSend(link, KAPPA, rng);
  return new IknpReceiver(
    k0.map((k) => new Prg(k)),
    k1.map((k) => new Prg(k)),
  );
}

/** Traffic of the setup of one direction whose extension sender is `sender`. */
export function iknpSetupCost(sender: PartyIndex): PairCost {
  return baseOtCost(KAPPA, other(sender));
}

/**
 * 128 columns of `mp` bits (column j at bytes j mp/8 ..) to `mp` rows of 128
 * bits (row i at bytes 16 i ..; bit j of a row at byte j >> 3, bit j & 7).
 * Lane (c, j) of the bit slicer is word c of column j, so its plane b holds,
 * for every 64-row chunk c, row 64 c + b in words 4 c .. 4 c + 3.
 */
export function transposeColumns(cols: Uint8Array, mp: number): Uint8Array {
  const words = mp / 64;
  const src = new Uint32Array(cols.buffer, cols.byteOffset, (KAPPA * mp) / 32);
  const lanes = new BigInt64Array(words * KAPPA);
  const lanes32 = new Uint32Array(lanes.buffer);
  for (let j = 0; j < KAPPA; j++)
    for (let c = 0; c < words; c++) {
      const to = 2 * (c * KAPPA + j);
      const from = 2 * (j * words + c);
      lanes32[to] = src[from]!;
      lanes32[to + 1] = src[from + 1]!;
    }
  const planes = bitPlanes(lanes, 0, 64);
  const rows = new Uint8Array(mp * ROW_BYTES);
  const rows32 = new Uint32Array(rows.buffer);
  for (let b = 0; b < 64; b++) {
    const plane = planes[b]!;
    for (let c = 0; c < words; c++) {
      const r = 4 * (64 * c + b);
      rows32[r] = plane[4 * c]!;
      rows32[r + 1] = plane[4 * c + 1]!;
      rows32[r + 2] = plane[4 * c + 2]!;
      rows32[r + 3] = plane[4 * c + 3]!;
    }
  }
  return rows;
}

/** Receiver's half of one chunk: u to send and the rows t_i. */
function receiverChunk(rcv: IknpReceiver, choices: Uint8Array, from: number, count: number) {
  const mp = pad64(count);
  const colBytes = mp / 8;
  const r = new Uint8Array(colBytes);
  r.set(choices.subarray(from / 8, from / 8 + Math.ceil(count / 8)));
  const t = new Uint8Array(KAPPA * colBytes);
  const u = new Uint8Array(KAPPA * colBytes);
  for (let j = 0; j < KAPPA; j++) {
    const tj = rcv.streams0[j]!.bytes(colBytes);
    const gj = rcv.streams1[j]!.bytes(colBytes);
    t.set(tj, j * colBytes);
    const o = j * colBytes;
    for (let i = 0; i < colBytes; i++) u[o + i] = tj[i]! ^ gj[i]! ^ r[i]!;
  }
  const first = rcv.next;
  rcv.next += mp;
  return { u, rows: transposeColumns(t, mp), first };
}

/** Sender's half of one chunk: the rows q_i from the receiver's u. */
function senderChunk(snd: IknpSender, u: Uint8Array, count: number) {
  const mp = pad64(count);
  const colBytes = mp / 8;
  const q = new Uint8Array(KAPPA * colBytes);
  for (let j = 0; j < KAPPA; j++) {
    const gj = snd.streams[j]!.bytes(colBytes);
    const o = j * colBytes;
    if ((snd.s[j >> 3]! >> (j & 7)) & 1) for (let i = 0; i < colBytes; i++) q[o + i] = gj[i]! ^ u[o + i]!;
    else q.set(gj, o);
  }
  const first = snd.next;
  snd.next += mp;
  return { rows: transposeColumns(q, mp), first };
}

/** Rows q_i xor s. */
function xorS(rows: Uint8Array, s: Uint8Array): Uint8Array {
  const out = Uint8Array.from(rows);
  const out32 = new Uint32Array(out.buffer);
  const s32 = new Uint32Array(Uint8Array.from(s).buffer);
  for (let i = 0; i < out32.length; i += 4) {
    out32[i] = out32[i]! ^ s32[0]!;
    out32[i + 1] = out32[i + 1]! ^ s32[1]!;
    out32[i + 2] = out32[i + 2]! ^ s32[2]!;
    out32[i + 3] = out32[i + 3]! ^ s32[3]!;
  }
  return out;
}

const uBytes = (count: number): number => KAPPA * (pad64(count) / 8);

// ---- random OT ------------------------------------------------------------------------------------

/** Both messages of `m` random OTs, `blocks` 16-byte blocks each (OT i at bytes 16 blocks i ..). */
export interface RotMessages {
  readonly m0: Uint8Array;
  readonly m1: Uint8Array;
}

export async function rotSend(snd: IknpSender, link: Link, m: number, blocks = 1): Promise<RotMessages> {
  const width = 16 * blocks;
  const m0 = new Uint8Array(m * width);
  const m1 = new Uint8Array(m * width);
  let from = 0;
  for (const count of chunks(m, blocks)) {
    const u = await link.recvExactly(uBytes(count), 'OT extension columns');
    const { rows, first } = senderChunk(snd, u, count);
    m0.set(crHash(rows, count, first, blocks), from * width);
    m1.set(crHash(xorS(rows, snd.s), count, first, blocks), from * width);
    from += count;
  }
  return { m0, m1 };
}

/** The messages for the choice bits `choices` (bit i at byte i >> 3, bit i & 7). */
export async function rotReceive(
  rcv: IknpReceiver,
  link: Link,
  choices: Uint8Array,
  m: number,
  blocks = 1,
): Promise<Uint8Array> {
  checkChoices(choices, m);
  const width = 16 * blocks;
  const out = new Uint8Array(m * width);
  let from = 0;
  for (const count of chunks(m, blocks)) {
    const { u, rows, first } = receiverChunk(rcv, choices, from, count);
    link.send(u);
    out.set(crHash(rows, count, first, blocks), from * width);
    from += count;
  }
  return out;
}

/** Traffic of `m` random OTs with the extension sender at `sender`: the receiver's u, one flight. */
export function rotCost(m: number, blocks: number, sender: PartyIndex): PairCost {
  if (m === 0) return NO_COST;
  return flight(
    other(sender),
    chunks(m, blocks).reduce((s, c) => s + uBytes(c), 0),
  );
}

function checkChoices(choices: Uint8Array, m: number): void {
  if (choices.length < Math.ceil(m / 8))
    throw new MarillError(`OT extension: ${m} choices need ${Math.ceil(m / 8)} bytes, got ${choices.length}`);
}

// ---- correlated OT over Z_2^64 ----------------------------------------------------------------------

/** The first `width` ring elements of each OT's hash output (of `blocks` blocks). */
function hashRing(h: Uint8Array, count: number, blocks: number, width: number): Ring {
  const out = new BigInt64Array(count * width);
  const out32 = new Uint32Array(out.buffer);
  const h32 = new Uint32Array(h.buffer, h.byteOffset, 4 * count * blocks);
  const w2 = 2 * width;
  const stride = 4 * blocks;
  if (w2 === stride) out32.set(h32);
  else for (let j = 0; j < count; j++) for (let w = 0; w < w2; w++) out32[j * w2 + w] = h32[j * stride + w]!;
  return out;
}

const blocksFor = (width: number): number => Math.ceil(width / 2);

/**
 * How many low bits of each OT's correction are sent: OT i's are `bits(floor(i / stride))`
 * (1 to 64), the layout of OTs taken plane by plane (OT j * stride + e for bit j of element e).
 */
export interface Packing {
  readonly stride: number;
  readonly bits: (j: number) => number;
}

/** Every correction in full: the plain correlated OT over Z_2^64 (one run of all the OTs). */
const FULL: Packing = { stride: Number.POSITIVE_INFINITY, bits: () => 64 };

/** A run of `len` OTs at offset `at` of a chunk, each sending `b` bits of its correction. */
interface Run {
  readonly b: number;
  readonly at: number;
  readonly len: number;
}

/** The runs of OTs [from, from + count) with one correction width each. */
function packedRuns(p: Packing, from: number, count: number): Run[] {
  const out: Run[] = [];
  for (let pos = from; pos < from + count;) {
    const j = Math.floor(pos / p.stride);
    const len = Math.min((j + 1) * p.stride, from + count) - pos;
    const b = p.bits(j);
    if (!Number.isInteger(b) || b < 1 || b > 64)
      throw new MarillError(`correlated OT: ${b} bits per correction, expected 1 to 64`);
    out.push({ b, at: pos - from, len });
    pos += len;
  }
  return out;
}

/** Bytes of the corrections of OTs [from, from + count), `width` elements each. */
function correctionBytes(p: Packing, from: number, count: number, width: number): number {
  const bits = packedRuns(p, from, count).reduce((sum, r) => sum + r.b * r.len * width, 0);
  return Math.ceil(bits / 8);
}

/**
 * The low bits of each correction, packed LSB first into 32-bit words (little-endian
 * bytes): an element of b bits takes the low min(b, 32) bits of its low half, then
 * b - 32 of its high half. All 64 bits give the ring's own byte layout.
 */
function packCorrections(y: Ring, p: Packing, from: number, count: number, width: number): Uint8Array {
  const bytes = correctionBytes(p, from, count, width);
  const out = new Uint32Array(Math.ceil(bytes / 4) + 1);
  const y32 = new Uint32Array(y.buffer, y.byteOffset, 2 * y.length);
  // out[o] holds `pos` bits not yet complete; the loops keep them in `word`.
  let o = 0;
  let pos = 0;
  let word = 0;
  for (const { b, at, len } of packedRuns(p, from, count)) {
    const start = 2 * at * width;
    const end = 2 * (at + len) * width;
    if (b === 64 && pos === 0) {
      out.set(y32.subarray(start, end), o);
      o += end - start;
      continue;
    }
    if (b >= 32) {
      const hb = b - 32;
      const hmask = hb === 32 ? -1 : (1 << hb) - 1;
      for (let k = start; k < end; k += 2) {
        const lo = y32[k]!;
        if (pos === 0) out[o++] = lo;
        else {
          out[o++] = word | (lo << pos);
          word = lo >>> (32 - pos);
        }
        if (hb === 0) continue;
        const hi = y32[k + 1]! & hmask;
        word |= hi << pos;
        pos += hb;
        if (pos >= 32) {
          out[o++] = word;
          pos -= 32;
          word = pos === 0 ? 0 : hi >>> (hb - pos);
        }
      }
    } else {
      const mask = (1 << b) - 1;
      for (let k = start; k < end; k += 2) {
        const lo = y32[k]! & mask;
        word |= lo << pos;
        pos += b;
        if (pos >= 32) {
          out[o++] = word;
          pos -= 32;
          word = pos === 0 ? 0 : lo >>> (b - pos);
        }
      }
    }
  }
  if (pos > 0) out[o] = word;
  return new Uint8Array(out.buffer, 0, bytes);
}

/** The corrections of `packCorrections` back as ring elements (the bits not sent are 0). */
function unpackCorrections(msg: Uint8Array, p: Packing, from: number, count: number, width: number): Ring {
  const y = new BigInt64Array(count * width);
  const y32 = new Uint32Array(y.buffer);
  const words = new Uint32Array(Math.ceil(msg.byteLength / 4) + 1);
  new Uint8Array(words.buffer).set(msg);
  // Bits [pos, 32) of words[o] are the next ones.
  let o = 0;
  let pos = 0;
  for (const { b, at, len } of packedRuns(p, from, count)) {
    const start = 2 * at * width;
    const end = 2 * (at + len) * width;
    if (b === 64 && pos === 0) {
      y32.set(words.subarray(o, o + end - start), start);
      o += end - start;
      continue;
    }
    const lb = Math.min(b, 32);
    const lmask = lb === 32 ? -1 : (1 << lb) - 1;
    const hb = b - lb;
    const hmask = hb === 32 ? -1 : (1 << hb) - 1;
    for (let k = start; k < end; k += 2) {
      let v = words[o]! >>> pos;
      pos += lb;
      if (pos >= 32) {
        o++;
        pos -= 32;
        if (pos > 0) v |= words[o]! << (lb - pos);
      }
      y32[k] = v & lmask;
      if (hb === 0) continue;
      v = words[o]! >>> pos;
      pos += hb;
      if (pos >= 32) {
        o++;
        pos -= 32;
        if (pos > 0) v |= words[o]! << (hb - pos);
      }
      y32[k + 1] = v & hmask;
    }
  }
  return y;
}

/**
 * Correlated OTs, sender side: OT i has correlation Delta_i of `width` ring
 * elements, given per chunk by `delta(from, count)` (count * width elements);
 * `take(from, count, x)` receives the sender's outputs x_i for the chunk. With
 * `packing`, only the low bits it names of each correction are sent, and the
 * outputs agree only modulo 2^bits (see the module comment).
 */
export async function cotSend(
  snd: IknpSender,
  link: Link,
  m: number,
  width: number,
  delta: (from: number, count: number) => Ring,
  take: (from: number, count: number, x: Ring) => void,
  packing: Packing = FULL,
): Promise<void> {
  const blocks = blocksFor(width);
  const sizes = chunks(m, blocks);
  // Every chunk's columns first (the receiver sent them all in one flight; they are already here),
  // then every correction: so the corrections are one flight in this party's own view too.
  const columns: Uint8Array[] = [];
  for (const count of sizes) columns.push(await link.recvExactly(uBytes(count), 'OT extension columns'));
  let from = 0;
  for (const [c, count] of sizes.entries()) {
    const u = columns[c]!;
    columns[c] = new Uint8Array(0);
    const { rows, first } = senderChunk(snd, u, count);
    const x = hashRing(crHash(rows, count, first, blocks), count, blocks, width);
    const d = delta(from, count);
    if (d.length !== count * width)
      throw new MarillError(`correlated OT: correlation has ${d.length} elements, expected ${count * width}`);
    const y = ringSub(hashRing(crHash(xorS(rows, snd.s), count, first, blocks), count, blocks, width), x);
    link.send(packCorrections(ringSub(y, d, y), packing, from, count, width));
    take(from, count, x);
    from += count;
  }
}

/** Correlated OTs, receiver side: `take` gets x_i + r_i Delta_i per chunk (modulo 2^bits with `packing`). */
export async function cotReceive(
  rcv: IknpReceiver,
  link: Link,
  choices: Uint8Array,
  m: number,
  width: number,
  take: (from: number, count: number, out: Ring) => void,
  packing: Packing = FULL,
): Promise<void> {
  checkChoices(choices, m);
  const blocks = blocksFor(width);
  const sizes = chunks(m, blocks);
  const pending: { rows: Uint8Array; first: number }[] = [];
  let from = 0;
  for (const count of sizes) {
    const { u, rows, first } = receiverChunk(rcv, choices, from, count);
    link.send(u);
    pending.push({ rows, first });
    from += count;
  }
  from = 0;
  for (const [c, count] of sizes.entries()) {
    const msg = await link.recvExactly(
      correctionBytes(packing, from, count, width),
      'correlated OT corrections',
    );
    const y = unpackCorrections(msg, packing, from, count, width);
    const { rows, first } = pending[c]!;
    pending[c] = { rows: new Uint8Array(0), first };
    const h = hashRing(crHash(rows, count, first, blocks), count, blocks, width);
    const bits = new BigInt64Array(count * width);
    const bits32 = new Uint32Array(bits.buffer);
    for (let i = 0; i < count; i++) {
      const bit = (choices[(from + i) >> 3]! >> ((from + i) & 7)) & 1;
      if (bit) for (let w = 0; w < width; w++) bits32[2 * (i * width + w)] = 1;
    }
    take(from, count, ringSub(h, ringMul(y, bits, y), h));
    from += count;
  }
}

/**
 * Traffic of `m` correlated OTs of `width` elements with the extension sender at
 * `sender`: the receiver's u, then per chunk the corrections' bits rounded up to bytes.
 */
export function cotCost(m: number, width: number, sender: PartyIndex, packing: Packing = FULL): PairCost {
  if (m === 0) return NO_COST;
  let bytes = 0;
  let from = 0;
  for (const count of chunks(m, blocksFor(width))) {
    bytes += correctionBytes(packing, from, count, width);
    from += count;
  }
  return sequence(rotCost(m, blocksFor(width), sender), flight(sender, bytes));
}
