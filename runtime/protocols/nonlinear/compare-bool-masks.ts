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
 * Bytes per element: 16 w (random OTs) + 8 w (corrections) + the alpha tables (2^k - 1 bits per
 * product of k bits, in words of 32 elements); per lane (element and threshold): 16 per opened
 * variable of each interactive level plus its tables, 16 + 8 for rho, and with `select` 8 more
 * and 16 + 8 the other way.
 */
import type { Correlation, Preprocessor } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringMul, ringMulScalar, ringAddScalar, ringShl, ringSub } from '../../ring/kernels.ts';
import type { ProductBatch } from '../../twopc/bit-products.ts';
import {
  batchOtCost,
  batchOtReceive,
  batchOtSend,
  ringSlot,
  tableWords,
  tablesReceive,
  tablesSend,
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
  return 8 * b.w * p.n + 4 * tables + 8 * p.n * p.points * b.rho.ringSlots;
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

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, x) => s + x.byteLength, 0));
  let at = 0;
  for (const x of parts) {
    out.set(x, at);
    at += x.byteLength;
  }
  return out;
}

const bytesOf = (x: Ring | Uint32Array) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);

/** Slot 0 (and 1) of the first `count` random OTs of a 1-block batch received as `messages`. */
function slotOfBlocks(messages: Uint8Array, count: number, slot: number): Ring {
  const all = new BigInt64Array(messages.buffer, messages.byteOffset, messages.byteLength / 8);
  return BigInt64Array.from({ length: count }, (_, i) => all[2 * i + slot]!);
}

/** Both parties' side of the comparison's correlation without a dealer (see the header). */
export async function preprocessBoolCompare(
  p: CompareParams,
  pre: Preprocessor,
): Promise<BoolCompareMaterial> {
  checkCompareParams(p);
  const { ot } = pre;
  const link = ot.link;
  const server = link.index === 0;
  const { n } = p;
  const lanes = n * p.points;
  const b = batches(p);
  const wN = words(n);
  const wL = words(lanes);
  // Own shares: R's bits (lanes beyond n zero, as the dealer's planes), masks, rho; r's high part.
  const rBits = randomVectors(pre, b.w, wN, n);
  const masks = b.levels.map((l) => randomVectors(pre, l.vars, wL));
  const rhoBits = randomVectors(pre, 1, wL);
  const high = pre.rng.ring(n).slice();
  const bitRing = (j: number) => ringOfVector(rowOf(rBits, j, wN), n);
  const rho0 = ringOfVector(rhoBits, lanes);
  const r = b.w < 64 ? ringShl(high, b.w) : new BigInt64Array(n);
  for (let j = 0; j < b.w; j++) ringAdd(r, shifted(bitRing(j), j), r);
  let alpha: Uint32Array;
  let products: Uint32Array[];
  let rho: Ring;
  let rhoR: Ring | undefined;
  const bytes = serverBytes(p, b);
  if (server) {
    const e = await batchOtSend(ot, b.element);
    const lv: { m0: Uint8Array; m1: Uint8Array }[] = [];
    for (const l of b.levels) lv.push(await batchOtSend(ot, l));
    const ro = await batchOtSend(ot, b.rho);
    // R: this party's share of -2^(j+1) b0 b1 is -(-x) = x; the correction y = v1 - x - 2^(j+1) b0.
    const corrections: Uint8Array[] = [];
    for (let j = 0; j < b.w; j++) {
      const x = ringSlot(b.element, e.m0, j, 0, n);
      const y = ringSub(ringSub(ringSlot(b.element, e.m1, j, 0, n), x), shifted(bitRing(j), j + 1));
      ringAdd(r, x, r);
      corrections.push(bytesOf(y));
    }
    const a = tablesSend(b.element, rBits, e.m0, e.m1);
    alpha = a.out;
    const levelOut = b.levels.map((l, i) => tablesSend(l, masks[i]!, lv[i]!.m0, lv[i]!.m1));
    products = levelOut.map((o) => o.out);
    // rho = rho0 + rho1 - 2 rho0 rho1: correlation -2 rho0, this party keeps rho0 - x.
    const x = ringSlot(b.rho, ro.m0, 0, 0, lanes);
    const y = ringAdd(ringSub(ringSlot(b.rho, ro.m1, 0, 0, lanes), x), ringMulScalar(rho0, 2n));
    rho = ringSub(rho0, x);
    const rhoParts = [bytesOf(y)];
    const tiled = tile(r, p.points);
    if (p.select) {
      // rho1 (1 - 2 rho0) r0: correlation (1 - 2 rho0) r0, this party keeps rho0 r0 - x.
      const x1 = ringSlot(b.rho, ro.m0, 0, 1, lanes);
      const delta = ringMul(ringAddScalar(ringMulScalar(rho0, -2n), 1n), tiled);
      rhoParts.push(bytesOf(ringSub(ringSub(ringSlot(b.rho, ro.m1, 0, 1, lanes), x1), delta)));
      rhoR = ringSub(ringMul(rho0, tiled), x1);
    }
    if (bytes > 0)
      link.send(
        concat([...corrections, bytesOf(a.tables), ...levelOut.map((o) => bytesOf(o.tables)), ...rhoParts]),
      );
    if (p.select && lanes > 0) {
      // rho0 (1 - 2 rho1) r1, party 0 choosing with rho0.
      const v = slotOfBlocks(await rotReceive(ot.receiver, link, bytesOf(rhoBits), lanes, 1), lanes, 0);
      const y1 = await link.recvRing(lanes, 'comparison masks: corrections');
      ringAdd(rhoR!, ringSub(v, ringMul(rho0, y1)), rhoR);
    }
  } else {
    const e = await batchOtReceive(ot, b.element, rBits);
    const lv: Uint8Array[] = [];
    for (const [i, l] of b.levels.entries()) lv.push(await batchOtReceive(ot, l, masks[i]!));
    const ro = await batchOtReceive(ot, b.rho, rhoBits);
    const msg =
      bytes > 0
        ? await link.recvExactly(bytes, 'comparison masks: corrections and tables')
        : new Uint8Array(0);
    let at = 0;
    const take = (count: number) => msg.subarray(at, (at += count));
    for (let j = 0; j < b.w; j++) {
      const y = ringOf(take(8 * n));
      const c = bitRing(j);
      // out = v_c - c y = x + c 2^(j+1) b0; this party's share of -2^(j+1) b0 b1 is -out.
      ringSub(r, ringSub(ringSlot(b.element, e, j, 0, n), ringMul(c, y)), r);
    }
    alpha = tablesReceive(b.element, rBits, e, asWords(take(4 * tableWords(b.element)).slice()));
    products = b.levels.map((l, i) =>
      tablesReceive(l, masks[i]!, lv[i]!, asWords(take(4 * tableWords(l)).slice())),
    );
    const rho1 = rho0;
    const y = ringOf(take(8 * lanes));
    rho = ringAdd(rho1, ringSub(ringSlot(b.rho, ro, 0, 0, lanes), ringMul(rho1, y)));
    if (p.select) {
      const tiled = tile(r, p.points);
      const y1 = ringOf(take(8 * lanes));
      rhoR = ringAdd(ringMul(rho1, tiled), ringSub(ringSlot(b.rho, ro, 0, 1, lanes), ringMul(rho1, y1)));
      if (lanes > 0) {
        const { m0, m1 } = await rotSend(ot.sender, link, lanes, 1);
        const x = slotOfBlocks(m0, lanes, 0);
        const delta = ringMul(ringAddScalar(ringMulScalar(rho1, -2n), 1n), tiled);
        link.sendRing(ringSub(ringSub(slotOfBlocks(m1, lanes, 0), x), delta));
        ringSub(rhoR, x, rhoR);
      }
    }
  }
  return {
    kind: 'bool',
    r,
    rBits: Array.from({ length: p.bits }, (_, q) => rowOf(rBits, p.drop + q, wN).slice()),
    alphaProducts: alpha,
    masks,
    products,
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
