/**
 * XOR shares of products of XOR-shared bits, made by the two parties with one
 * random OT per variable and lane (./iknp.ts), bit-sliced (32 lanes a word).
 *
 * Party 1 (the client) is the OT receiver and chooses with its own shares.
 * For a product of k variables, party 0's function of party 1's k bits c,
 *     f(c) = AND_p (x0_p xor c_p),
 * is sent as a table of 2^k - 1 masked entries (one 1-out-of-2^k OT built
 * from the variables' k random OTs): entry c is f(c) xor o xor pad_c, with
 * party 0's output share o = f(0) xor pad_0 (so entry 0 needs no bytes) and
 *     pad_c = XOR_p m_{p, c_p}[segment of this product, index c without bit p].
 * Party 1 knows m_{p, c*_p} only, so it can unmask entry c* alone and gets
 * f(c*) xor o; for any other c some m_{p, 1 - c*_p} bit masks the entry, and
 * different entries and products use different bits. A product of k
 * variables costs 2^k - 1 bits per lane; each variable's random OT costs
 * 16 bytes per lane (`rotCost`), its messages being long enough for all the
 * segments it takes part in (2^(k-1) bits per product).
 *
 * A batch may also reserve `ringSlots` ring values at the start of every
 * message: each a correlated OT over Z_2^64 with the variable's bit as the
 * choice, the sender's correction sent by the caller (`ringSlot`).
 */
import type { Prg } from '../crypto/prg.ts';
import type { Ring } from '../ring/kernels.ts';
import { bitPlanes } from '../protocols/nonlinear/bit-slice.ts';
import { rotCost, rotReceive, rotSend } from './iknp.ts';
import type { PairCost } from './link.ts';
import { NO_COST, sequence } from './link.ts';
import type { OtSession } from './triples.ts';

/** Variables over the same lanes (`words` words of 32 lanes each), and the products wanted. */
export interface ProductBatch {
  readonly vars: number;
  readonly words: number;
  /** Ring values at the start of each message (correlated-OT slots). */
  readonly ringSlots: number;
  /** Each product: the indices of its variables (2 or more, distinct). */
  readonly products: readonly (readonly number[])[];
}

/** Where each product's segments lie in its variables' messages. */
export interface BatchLayout {
  /** offsets[k][p]: first pad bit of product k in the messages of its p-th variable. */
  readonly offsets: readonly (readonly number[])[];
  /** Pad bits of each variable's messages. */
  readonly bits: readonly number[];
  /** Message length in 16-byte blocks (ring slots, then pad bits). */
  readonly blocks: number;
  /** Random OTs: variable v's lane l is OT v * 32 words + l. */
  readonly ots: number;
}

export function batchLayout(b: ProductBatch): BatchLayout {
  const bits = new Array<number>(b.vars).fill(0);
  const offsets = b.products.map((vars) =>
    vars.map((v) => {
      const at = bits[v]!;
      bits[v] = at + 2 ** (vars.length - 1);
      return at;
    }),
  );
  const longest = Math.max(0, ...bits) + 64 * b.ringSlots;
  return { offsets, bits, blocks: Math.max(1, Math.ceil(longest / 128)), ots: b.vars * 32 * b.words };
}

/** Words of the tables party 0 sends (products of k variables: 2^k - 1 entries). */
export function tableWords(b: ProductBatch): number {
  return b.products.reduce((s, vars) => s + (2 ** vars.length - 1) * b.words, 0);
}

/** Bytes of one side's messages per chunk, at most (bounded memory for any number of lanes). */
const CHUNK_BYTES = 1 << 22;

/** The batch over words [from, from + words) of its lanes: how a large batch is processed, chunk by chunk. */
export function batchChunks(b: ProductBatch): { readonly from: number; readonly batch: ProductBatch }[] {
  const { blocks } = batchLayout(b);
  const size = Math.max(1, Math.floor(CHUNK_BYTES / (Math.max(1, b.vars) * 32 * 16 * blocks)));
  const out: { from: number; batch: ProductBatch }[] = [];
  for (let from = 0; from < b.words; from += size)
    out.push({ from, batch: { ...b, words: Math.min(size, b.words - from) } });
  return out;
}

/** Words [from, from + words) of each of `vars` vectors of `total` words. */
export function chunkRows(
  v: Uint32Array,
  vars: number,
  total: number,
  from: number,
  words: number,
): Uint32Array {
  const out = new Uint32Array(vars * words);
  for (let r = 0; r < vars; r++) out.set(v.subarray(r * total + from, r * total + from + words), r * words);
  return out;
}

/** Writes a chunk's rows (`words` words each) back at word `from` of rows of `total` words. */
export function putRows(
  into: Uint32Array,
  rows: Uint32Array,
  total: number,
  from: number,
  words: number,
): void {
  for (let r = 0; r < rows.length / Math.max(1, words); r++)
    into.set(rows.subarray(r * words, (r + 1) * words), r * total + from);
}

/** The random OTs of a batch, chunk by chunk (party 1 sends them all: one flight). */
export function batchOtCost(b: ProductBatch): PairCost {
  return sequence(
    NO_COST,
    ...batchChunks(b).map(({ batch }) => {
      const { ots, blocks } = batchLayout(batch);
      return rotCost(ots, blocks, 0);
    }),
  );
}

/** Party 0's side of the batch's random OTs: both messages of every OT. */
export function batchOtSend(ot: OtSession, b: ProductBatch): Promise<{ m0: Uint8Array; m1: Uint8Array }> {
  const { ots, blocks } = batchLayout(b);
  return rotSend(ot.sender, ot.link, ots, blocks);
}

/** Party 1's side: the messages chosen by its shares (`vars * words` words, variable by variable). */
export function batchOtReceive(ot: OtSession, b: ProductBatch, shares: Uint32Array): Promise<Uint8Array> {
  const { ots, blocks } = batchLayout(b);
  return rotReceive(
    ot.receiver,
    ot.link,
    new Uint8Array(shares.buffer, shares.byteOffset, ots / 8),
    ots,
    blocks,
  );
}

/** Ring slot `slot` of variable v's first `count` lanes. */
export function ringSlot(
  b: ProductBatch,
  messages: Uint8Array,
  v: number,
  slot: number,
  count: number,
): Ring {
  const { blocks } = batchLayout(b);
  const all = new BigInt64Array(messages.buffer, messages.byteOffset, messages.byteLength / 8);
  const out = new BigInt64Array(count);
  const first = v * 32 * b.words;
  for (let l = 0; l < count; l++) out[l] = all[(first + l) * 2 * blocks + slot]!;
  return out;
}

/** Variable v's pad bits as lane vectors (plane i: pad bit i of every lane). */
function padPlanes(b: ProductBatch, layout: BatchLayout, messages: Uint8Array, v: number): Uint32Array[] {
  const { blocks } = layout;
  const lanes = 32 * b.words;
  const all = new BigInt64Array(messages.buffer, messages.byteOffset, messages.byteLength / 8);
  const planes: Uint32Array[] = [];
  const col = new BigInt64Array(lanes);
  for (let bit = 0; bit < layout.bits[v]!; bit += 64) {
    const q = b.ringSlots + bit / 64;
    for (let l = 0; l < lanes; l++) col[l] = all[(v * lanes + l) * 2 * blocks + q]!;
    planes.push(...bitPlanes(col, 0, Math.min(64, layout.bits[v]! - bit)));
  }
  return planes;
}

const row = (v: Uint32Array, r: number, words: number) => v.subarray(r * words, (r + 1) * words);

/** c without bit p: the entry's index in the segment of the p-th variable. */
const without = (c: number, p: number) => (c & ((1 << p) - 1)) | ((c >>> (p + 1)) << p);

/**
 * Party 0: its output shares (products x words) and the tables to send, from
 * its shares and both messages of every OT.
 */
export function tablesSend(
  b: ProductBatch,
  shares: Uint32Array,
  m0: Uint8Array,
  m1: Uint8Array,
): { out: Uint32Array; tables: Uint32Array } {
  const layout = batchLayout(b);
  const { words } = b;
  const planes = [m0, m1].map((m) => Array.from({ length: b.vars }, (_, v) => padPlanes(b, layout, m, v)));
  const out = new Uint32Array(b.products.length * words);
  const tables = new Uint32Array(tableWords(b));
  let t = 0;
  const f = new Uint32Array(words);
  const pad = new Uint32Array(words);
  b.products.forEach((vars, k) => {
    const o = row(out, k, words);
    const offs = layout.offsets[k]!;
    for (let c = 0; c < 1 << vars.length; c++) {
      f.fill(0xffffffff);
      pad.fill(0);
      vars.forEach((v, p) => {
        const bit = (c >>> p) & 1;
        const x = row(shares, v, words);
        const flip = bit ? 0xffffffff : 0;
        const m = planes[bit]![v]![offs[p]! + without(c, p)]!;
        for (let w = 0; w < words; w++) {
          f[w] = f[w]! & (x[w]! ^ flip);
          pad[w] = pad[w]! ^ m[w]!;
        }
      });
      if (c === 0) {
        for (let w = 0; w < words; w++) o[w] = f[w]! ^ pad[w]!;
        continue;
      }
      for (let w = 0; w < words; w++) tables[t + w] = f[w]! ^ o[w]! ^ pad[w]!;
      t += words;
    }
  });
  return { out, tables };
}

/**
 * Party 1, as soon as its OTs are done: for each product, the pad of the entry its shares
 * choose (products x words). With party 0's tables, `unmaskTables` then gives its output.
 */
export function chosenPads(b: ProductBatch, shares: Uint32Array, messages: Uint8Array): Uint32Array {
  const layout = batchLayout(b);
  const { words } = b;
  const planes = Array.from({ length: b.vars }, (_, v) => padPlanes(b, layout, messages, v));
  const out = new Uint32Array(b.products.length * words);
  const sel = new Uint32Array(words);
  const val = new Uint32Array(words);
  b.products.forEach((vars, k) => {
    const o = row(out, k, words);
    const offs = layout.offsets[k]!;
    for (let c = 0; c < 1 << vars.length; c++) {
      sel.fill(0xffffffff);
      val.fill(0);
      vars.forEach((v, p) => {
        const flip = (c >>> p) & 1 ? 0 : 0xffffffff;
        const x = row(shares, v, words);
        const m = planes[v]![offs[p]! + without(c, p)]!;
        for (let w = 0; w < words; w++) {
          sel[w] = sel[w]! & (x[w]! ^ flip);
          val[w] = val[w]! ^ m[w]!;
        }
      });
      for (let w = 0; w < words; w++) o[w] = o[w]! ^ (sel[w]! & val[w]!);
    }
  });
  return out;
}

/** Party 1's output shares: its chosen pads xor the table entries its shares choose (in place). */
export function unmaskTables(
  b: ProductBatch,
  shares: Uint32Array,
  pads: Uint32Array,
  tables: Uint32Array,
): Uint32Array {
  const { words } = b;
  let t = 0;
  const sel = new Uint32Array(words);
  b.products.forEach((vars, k) => {
    const o = row(pads, k, words);
    for (let c = 1; c < 1 << vars.length; c++) {
      sel.fill(0xffffffff);
      vars.forEach((v, p) => {
        const flip = (c >>> p) & 1 ? 0 : 0xffffffff;
        const x = row(shares, v, words);
        for (let w = 0; w < words; w++) sel[w] = sel[w]! & (x[w]! ^ flip);
      });
      for (let w = 0; w < words; w++) o[w] = o[w]! ^ (sel[w]! & tables[t + w]!);
      t += words;
    }
  });
  return pads;
}

/**
 * The low `k` bits of each value as k bit planes (4 ceil(n / 32) bytes each): a correction
 * that only matters modulo 2^k travels in k bits.
 */
export function packLowBits(x: Ring, k: number, noise?: Prg): Uint8Array {
  const w = Math.ceil(x.length / 32);
  const out = new Uint32Array(k * w);
  // With `noise`, the lanes that pad the last word are random (they carry nothing; zeros there
  // would make a transcript visibly non-uniform).
  const lanes = noise && x.length % 32 !== 0 ? padded(x, 32 * w, noise) : x;
  bitPlanes(lanes, 0, k).forEach((plane, b) => out.set(plane, b * w));
  return new Uint8Array(out.buffer);
}

function padded(x: Ring, n: number, noise: Prg): Ring {
  const out = noise.ring(n).slice();
  out.set(x);
  return out;
}

/** `packLowBits` undone: n values below 2^k. */
export function unpackLowBits(bytes: Uint8Array, k: number, n: number): Ring {
  const w = Math.ceil(n / 32);
  const planes = new Uint32Array(k * w);
  new Uint8Array(planes.buffer).set(bytes.subarray(0, 4 * k * w));
  const out = new BigInt64Array(n);
  const out32 = new Uint32Array(out.buffer);
  // Per 32 lanes: the k plane words as values, transposed back (bit b of lane l is bit l of word b).
  const block = new BigInt64Array(k);
  const block32 = new Uint32Array(block.buffer);
  for (let word = 0; word < w; word++) {
    for (let b = 0; b < k; b++) block32[2 * b] = planes[b * w + word]!;
    const lanes = bitPlanes(block, 0, 32);
    for (let l = 0; l < 32 && 32 * word + l < n; l++) {
      const v = lanes[l]!;
      out32[2 * (32 * word + l)] = v[0]!;
      out32[2 * (32 * word + l) + 1] = v.length > 1 ? v[1]! : 0;
    }
  }
  return out;
}
