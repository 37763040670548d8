/**
 * The boolean comparison's correlation (./compare-bool.ts): with a dealer, `dealBoolCompare`;
 * without one (setting '2pc'), made by the two parties with random OTs, party 1 (the client)
 * receiving and party 0 (the server) sending (../../twopc/bit-products.ts):
 *
 *  - R: every bit j < w = drop + bits of r is a random XOR-shared bit B_j = b0 xor b1 (each
 *    party draws its share); r = sum_j 2^j (b0 + b1 - 2 b0 b1) + 2^w (h0 + h1) is then uniform,
 *    its bits from `drop` are exactly the shared planes (`rBits`), and b0 b1 2^(j+1) is one
 *    correlated OT (choice b1, correlation 2^(j+1) b0): the ring slot of bit j's random OT.
 *  - alpha products: product tables over the same random OTs (R's leaf bits are the variables).
 *  - each interactive level: each party draws its masks' shares; their products by tables over
 *    one random OT per mask and lane.
 *  - rho: XOR shares drawn; rho = rho0 + rho1 - 2 rho0 rho1 by a correlated OT (choice rho1);
 *    with `select`, rho r = rho0 r0 + rho1 (1 - 2 rho0) r0 + rho1 r1 + rho0 (1 - 2 rho1) r1:
 *    the first cross term rides on rho's random OT, the second needs party 0 as the receiver.
 *
 * Flights: party 1's random OTs; party 0's corrections and tables (with `select`, also its
 * random OTs of the reverse direction); with `select`, party 1's corrections. Two flights, or
 * three with `select`.
 *
 * Bytes per element (client): 16 w for the random OTs; (server) (63 - j) / 8 for bit j's
 * correction (2^(j+1) b0 b1 only needs b0 b1 modulo 2^(63-j)) and the alpha tables, 2^k - 1 bits
 * per product of k bits. Per lane (element and threshold): client 16 per opened variable of
 * each interactive level and 16 for rho; server the levels' tables and 8 for rho. With
 * `select`: server 8 + 16 (its reverse random OT), client 8. Vectors of lanes are whole words
 * of 32 lanes; each chunk of random OTs is padded to 64 (`rotCost`). The tree is the online
 * phase's (`treePlan`): above 37 bits its opened variables dominate (16 bytes each per lane).
 */
import { concatBytes } from '../../mpc/context.ts';
import type { Prg } from '../../crypto/prg.ts';
import type { Correlation, Preprocessor } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringMul, ringMulScalar, ringAddScalar, ringShl, ringSub } from '../../ring/kernels.ts';
import type { ProductBatch } from '../../twopc/bit-products.ts';
import {
  batchChunks,
  batchOtCost,
  batchOtReceive,
  batchOtSend,
  chosenPads,
  chunkRows,
  putRows,
  packLowBits,
  ringSlot,
  tableWords,
  tablesSend,
  unmaskTables,
  unpackLowBits,
} from '../../twopc/bit-products.ts';
import { rotCost, rotReceive, rotSend } from '../../twopc/iknp.ts';
import type { PairCost } from '../../twopc/link.ts';
import { NO_COST, flight, sequence } from '../../twopc/link.ts';
import type { CompareParams } from './compare.ts';
import { checkCompareParams, tile } from './compare.ts';
import type { BoolCompareMaterial } from './compare-bool.ts';
import {
  asWords,
  boolCompareMaterial,
  dealBoolCompare,
  groupShape,
  levelCounts,
  localShape,
  ringOfVector,
  treePlan,
  words,
} from './compare-bool.ts';

/** The random-OT batches of one comparison: R's bits, each interactive level's masks, rho. */
interface Batches {
  /** Bits of r made as shared bits: drop + bits. */
  readonly w: number;
  readonly element: ProductBatch;
  readonly levels: readonly ProductBatch[];
  readonly rho: ProductBatch;
}

/** A subset (bit set over `count` positions) as the variables `at(i)` of its members. */
function members(sub: number, count: number, at: (i: number) => number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) if (sub & (1 << i)) out.push(at(i));
  return out;
}

function batches(p: CompareParams): Batches {
  const lanes = p.n * p.points;
  const w = p.drop + p.bits;
  const L = p.bits - 1;
  const { local, levels } = treePlan(L);
  // Variable j of the element batch is bit j of r; leaf k (most significant first) is plane L - 1 - k.
  const alpha: number[][] = [];
  let leaf = 0;
  for (const s of local) {
    const base = leaf;
    for (const sub of localShape(s, local.length === 1).subsets)
      alpha.push(members(sub, s, (i) => p.drop + L - 1 - (base + i)));
    leaf += s;
  }
  const element = { vars: w, words: words(p.n), ringSlots: 1, products: alpha };
  const levelBatches = levels.map((level): ProductBatch => {
    const products: number[][] = [];
    let v0 = 0;
    for (const s of level.sizes) {
      if (s < 2) continue;
      const g = groupShape(s, level.root);
      const first = v0;
      for (const sub of g.subsets) products.push(members(sub, g.vars, (v) => first + v));
      v0 += g.vars;
    }
    return { vars: levelCounts(level).vars, words: words(lanes), ringSlots: 0, products };
  });
  const rho = { vars: 1, words: words(lanes), ringSlots: p.select ? 2 : 1, products: [] };
  return { w, element, levels: levelBatches, rho };
}

/** Bytes party 0 sends after the random OTs: R's corrections, the tables, rho's corrections. */
function serverBytes(p: CompareParams, b: Batches): number {
  const tables = tableWords(b.element) + b.levels.reduce((s, l) => s + tableWords(l), 0);
  let rBytes = 0;
  for (let j = 0; j < b.w; j++) rBytes += 4 * words(p.n) * (63 - j);
  return rBytes + 4 * tables + 8 * p.n * p.points * b.rho.ringSlots;
}

export function preprocessBoolCompareCost(p: CompareParams): PairCost {
  checkCompareParams(p);
  const b = batches(p);
  const lanes = p.n * p.points;
  const bytes = serverBytes(p, b);
  const reverse = p.select && lanes > 0 ? [rotCost(lanes, 1, 1), flight(1, 8 * lanes)] : [];
  return sequence(
    batchOtCost(b.element),
    ...b.levels.map(batchOtCost),
    batchOtCost(b.rho),
    bytes > 0 ? flight(0, bytes) : NO_COST,
    ...reverse,
  );
}

/** Uniform words; lanes from `lanes` on (in each variable's last word) zero. */
function randomVectors(pre: Preprocessor, vars: number, wordsPer: number, lanes?: number): Uint32Array {
  const out = asWords(pre.rng.bytes(4 * vars * wordsPer).slice());
  if (lanes !== undefined && lanes % 32 !== 0)
    for (let v = 0; v < vars; v++) {
      const last = (v + 1) * wordsPer - 1;
      out[last] = out[last]! & ((1 << (lanes % 32)) - 1);
    }
  return out;
}

const rowOf = (v: Uint32Array, r: number, wordsPer: number) => v.subarray(r * wordsPer, (r + 1) * wordsPer);

/** 2^k x (x a ring array), zero from k = 64 on. */
function shifted(x: Ring, k: number): Ring {
  return k >= 64 ? new BigInt64Array(x.length) : ringShl(x, k);
}

/** Ring values of `bytes` (a copy, aligned). */
function ringOf(bytes: Uint8Array): Ring {
  const out = new BigInt64Array(bytes.byteLength / 8);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

const bytesOf = (x: Ring | Uint32Array) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);

/** Slot 0 of the first `count` random OTs of one block received as `messages`. */
function firstSlot(messages: Uint8Array, count: number): Ring {
  const all = new BigInt64Array(messages.buffer, messages.byteOffset, messages.byteLength / 8);
  return BigInt64Array.from({ length: count }, (_, i) => all[2 * i]!);
}

/**
 * What one batch's ring slots mean at one party: `server` turns the sender's values of slot
 * `slot` of variable v at lanes [at, at + count) into the correction to send and keeps its
 * share; `early` / `late` are the receiver's before and after the correction arrives.
 */
interface Slots {
  /** Bytes of the correction of slot `slot` of variable v over `count` lanes. */
  bytes(v: number, slot: number, count: number): number;
  server(v: number, slot: number, at: number, x: Ring, x1: Ring): Uint8Array;
  early(v: number, slot: number, at: number, chosen: Ring): void;
  late(v: number, slot: number, at: number, y: Uint8Array, count: number): void;
}

/** One batch of a party: the batch, this party's shares, its lanes and its ring slots. */
interface Work {
  readonly batch: ProductBatch;
  readonly shares: Uint32Array;
  readonly lanes: number;
  readonly slots: Slots | undefined;
}

/** this[at .. at + x.length) += x (or -=). */
function addAt(into: Ring, at: number, x: Ring, sign: 1 | -1 = 1): void {
  const seg = into.subarray(at, at + x.length);
  if (sign === 1) ringAdd(seg, x, seg);
  else ringSub(seg, x, seg);
}

/**
 * The tables' bits of lanes past the last real one (the words' padding) set to random bits: they
 * carry nothing either way, but zeros there would make the transcript visibly non-uniform, where
 * a dealer's XOR-shared vectors are uniform in every bit. In place; returns `tables`.
 */
function fillUnusedLanes(tables: Uint32Array, words: number, lanes: number, rng: Prg): Uint32Array {
  if (lanes >= 32 * words) return tables;
  const noise = new Uint32Array(rng.bytes(4 * tables.length).buffer);
  for (let w = 0; w < words; w++) {
    const used = Math.max(0, Math.min(32, lanes - 32 * w));
    if (used === 32) continue;
    const unused = used === 0 ? 0xffffffff : ~((1 << used) - 1) >>> 0;
    for (let r = w; r < tables.length; r += words) tables[r] = (tables[r]! ^ (noise[r]! & unused)) >>> 0;
  }
  return tables;
}

/** Party 0: every chunk's OTs, then one message: corrections and tables, batch by batch. */
async function serverBatches(
  pre: Preprocessor,
  work: readonly Work[],
  bytes: number,
): Promise<Uint32Array[]> {
  const parts: Uint8Array[] = [];
  const outs: Uint32Array[] = [];
  for (const { batch: b, shares, lanes, slots } of work) {
    const out = new Uint32Array(b.products.length * b.words);
    for (const { from, batch } of batchChunks(b)) {
      const { m0, m1 } = await batchOtSend(pre.ot, batch);
      const at = 32 * from;
      const count = Math.max(0, Math.min(lanes - at, 32 * batch.words));
      for (let v = 0; v < b.vars && slots; v++)
        for (let slot = 0; slot < b.ringSlots; slot++) {
          const x = ringSlot(batch, m0, v, slot, count);
          parts.push(slots.server(v, slot, at, x, ringSlot(batch, m1, v, slot, count)));
        }
      const t = tablesSend(batch, chunkRows(shares, b.vars, b.words, from, batch.words), m0, m1);
      putRows(out, t.out, b.words, from, batch.words);
      parts.push(bytesOf(fillUnusedLanes(t.tables, batch.words, count, pre.rng)));
    }
    outs.push(out);
  }
  if (bytes > 0) pre.ot.link.send(concatBytes(parts));
  return outs;
}

/** Party 1: every chunk's OTs (reduced to chosen pads at once), then party 0's message. */
async function clientBatches(
  pre: Preprocessor,
  work: readonly Work[],
  bytes: number,
): Promise<Uint32Array[]> {
  const pads: Uint32Array[] = [];
  for (const { batch: b, shares, lanes, slots } of work) {
    const pad = new Uint32Array(b.products.length * b.words);
    for (const { from, batch } of batchChunks(b)) {
      const chunkShares = chunkRows(shares, b.vars, b.words, from, batch.words);
      const messages = await batchOtReceive(pre.ot, batch, chunkShares);
      const at = 32 * from;
      const count = Math.max(0, Math.min(lanes - at, 32 * batch.words));
      for (let v = 0; v < b.vars && slots; v++)
        for (let slot = 0; slot < b.ringSlots; slot++)
          slots.early(v, slot, at, ringSlot(batch, messages, v, slot, count));
      putRows(pad, chosenPads(batch, chunkShares, messages), b.words, from, batch.words);
    }
    pads.push(pad);
  }
  const msg =
    bytes > 0
      ? await pre.ot.link.recvExactly(bytes, 'comparison masks: corrections and tables')
      : new Uint8Array(0);
  let off = 0;
  const take = (n: number) => msg.subarray(off, (off += n));
  return work.map(({ batch: b, shares, lanes, slots }, i) => {
    const out = pads[i]!;
    for (const { from, batch } of batchChunks(b)) {
      const at = 32 * from;
      const count = Math.max(0, Math.min(lanes - at, 32 * batch.words));
      for (let v = 0; v < b.vars && slots; v++)
        for (let slot = 0; slot < b.ringSlots; slot++)
          slots.late(v, slot, at, take(slots.bytes(v, slot, count)), count);
      const chunkShares = chunkRows(shares, b.vars, b.words, from, batch.words);
      const chunkPads = chunkRows(out, b.products.length, b.words, from, batch.words);
      const tables = asWords(take(4 * tableWords(batch)).slice());
      putRows(out, unmaskTables(batch, chunkShares, chunkPads, tables), b.words, from, batch.words);
    }
    return out;
  });
}

/** Both parties' side of the comparison's correlation without a dealer (see the header). */
export async function preprocessBoolCompare(
  p: CompareParams,
  pre: Preprocessor,
): Promise<BoolCompareMaterial> {
  checkCompareParams(p);
  const link = pre.ot.link;
  const server = link.index === 0;
  const { n } = p;
  const lanes = n * p.points;
  const b = batches(p);
  const wN = words(n);
  // Own shares: R's bits (lanes beyond n zero, as the dealer's planes), masks, rho; r's high part.
  const rBits = randomVectors(pre, b.w, wN, n);
  const masks = b.levels.map((l) => randomVectors(pre, l.vars, words(lanes)));
  const rhoBits = randomVectors(pre, 1, words(lanes));
  const high = pre.rng.ring(n).slice();
  const rho0 = ringOfVector(rhoBits, lanes);
  const r = b.w < 64 ? ringShl(high, b.w) : new BigInt64Array(n);
  for (let j = 0; j < b.w; j++) ringAdd(r, shifted(ringOfVector(rowOf(rBits, j, wN), n), j), r);
  const myBits = (j: number, at: number, count: number) =>
    ringOfVector(rBits.subarray(j * wN + at / 32, j * wN + at / 32 + words(count)), count);
  // This party's rho (rho0 - x, or rho1 + out) and rho r (see the header).
  const rho = rho0.slice();
  const rhoR = p.select ? new BigInt64Array(lanes) : undefined;
  let tiled: Ring | undefined;
  const mine = (at: number, count: number) => rho0.subarray(at, at + count);
  // R's bit j: shares of b0 b1 modulo 2^(63 - j) (all that 2^(j+1) b0 b1 needs), the sender
  // keeping x (its share of -2^(j+1) b0 b1 is -(-x) 2^(j+1)), the receiver -out 2^(j+1).
  const rSlots: Slots = {
    bytes: (j, _slot, count) => 4 * words(count) * (63 - j),
    server: (j, _slot, at, x, x1) => {
      addAt(r, at, shifted(x, j + 1));
      return packLowBits(ringSub(ringSub(x1, x), myBits(j, at, x.length)), 63 - j, pre.rng);
    },
    early: (j, _slot, at, chosen) => addAt(r, at, shifted(chosen, j + 1), -1),
    late: (j, _slot, at, y, count) =>
      addAt(r, at, shifted(ringMul(myBits(j, at, count), unpackLowBits(y, 63 - j, count)), j + 1)),
  };
  const rhoSlots: Slots = {
    bytes: (_v, _slot, count) => 8 * count,
    server: (_v, slot, at, x, x1) => {
      const own = mine(at, x.length);
      if (slot === 0) {
        addAt(rho, at, x, -1);
        return bytesOf(ringAdd(ringSub(x1, x), ringMulScalar(own, 2n)));
      }
      tiled ??= tile(r, p.points);
      const t = tiled.subarray(at, at + x.length);
      addAt(rhoR!, at, ringSub(ringMul(own, t), x));
      return bytesOf(ringSub(ringSub(x1, x), ringMul(ringAddScalar(ringMulScalar(own, -2n), 1n), t)));
    },
    early: (_v, slot, at, chosen) => addAt(slot === 0 ? rho : rhoR!, at, chosen),
    late: (_v, slot, at, y, count) =>
      addAt(slot === 0 ? rho : rhoR!, at, ringMul(mine(at, count), ringOf(y)), -1),
  };
  const work: Work[] = [
    { batch: b.element, shares: rBits, lanes: n, slots: rSlots },
    ...b.levels.map((batch, l) => ({ batch, shares: masks[l]!, lanes, slots: undefined })),
    { batch: b.rho, shares: rhoBits, lanes, slots: rhoSlots },
  ];
  const bytes = serverBytes(p, b);
  const outs = server ? await serverBatches(pre, work, bytes) : await clientBatches(pre, work, bytes);
  if (p.select && lanes > 0) {
    // rho0 (1 - 2 rho1) r1: party 0 chooses with rho0, party 1 sends the correction.
    if (server) {
      const v = firstSlot(await rotReceive(pre.ot.receiver, link, bytesOf(rhoBits), lanes, 1), lanes);
      const y = await link.recvRing(lanes, 'comparison masks: corrections');
      ringAdd(rhoR!, ringSub(v, ringMul(rho0, y)), rhoR);
    } else {
      tiled = tile(r, p.points);
      ringAdd(rhoR!, ringMul(rho0, tiled), rhoR);
      const { m0, m1 } = await rotSend(pre.ot.sender, link, lanes, 1);
      const x = firstSlot(m0, lanes);
      const delta = ringMul(ringAddScalar(ringMulScalar(rho0, -2n), 1n), tiled);
      link.sendRing(ringSub(ringSub(firstSlot(m1, lanes), x), delta));
      ringSub(rhoR!, x, rhoR);
    }
  }
  return {
    kind: 'bool',
    r,
    rBits: Array.from({ length: p.bits }, (_, q) => rowOf(rBits, p.drop + q, wN).slice()),
    alphaProducts: outs[0]!,
    masks,
    products: outs.slice(1, 1 + b.levels.length),
    rhoBits,
    rho,
    rhoR,
  };
}

/** Everything one boolean comparison reads: R with its bit planes, the tree's products, rho. */
export const boolCompareMasks: Correlation<CompareParams, BoolCompareMaterial> = {
  name: 'compare-bool-masks',
  deal: dealBoolCompare,
  material: boolCompareMaterial,
  preprocess: preprocessBoolCompare,
  preprocessCost: preprocessBoolCompareCost,
};
