/**
 * Comparison by boolean sharing (variant 'bool'): the dealer XOR-shares the m bits of R and
 * supplies AND triples; the parties compute c = [y < alpha] for public y and shared alpha with
 * a comparison tree, then convert z = R_{m-1} xor c to arithmetic shares.
 *
 * Tree over the L = m - 1 bits of y and alpha, most significant first. A leaf is the pair
 *     lt_i = alpha_i and not y_i      eq_i = not (alpha_i xor y_i)          (local: y is public)
 * and two adjacent nodes (hi, lo) combine as
 *     lt = lt_hi xor (eq_hi and lt_lo)      eq = eq_hi and eq_lo
 * (lt_hi and eq_hi exclude each other, so xor is or). Each level is one round of ANDs for all
 * elements and thresholds at once; the root needs no eq.
 * Conversion: with a dealer bit rho shared both ways (XOR and arithmetic) and, with `select`,
 * shares of rho r, open e = z xor rho (1 bit each way); then z = e + (1 - 2e) rho and
 * z r = e r + (1 - 2e) rho r, all local.
 *
 * Bits are bit-sliced: a tree node of every lane (threshold x element) is one bit vector, so
 * each AND or XOR handles 32 lanes per machine word. On the wire and in dealer material a
 * vector of V lanes takes 4 ceil(V / 32) bytes.
 *
 * Cost per element and threshold (A = ANDs of the tree, 2L - 3 for L >= 2):
 *   online  1 + ceil(log2 L) + 1 rounds; 8 bytes (opening, once per element) + 2A bits + 1 bit
 *           each way;
 *   offline client only: m bits of R (once per element), A bits of triples, 8 bytes for rho
 *           (+ 8 with select). The server's side comes from its seed: 0 bytes.
 */
import type { Cost, DealerStream, MaterialStream, PartyContext } from '../../protocol.ts';
import { cost } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringAddScalar, ringMul, ringMulScalar } from '../../ring/kernels.ts';
import { bitPlanes, tilePlane } from './bit-slice.ts';
import type { CompareParams, CompareResult } from './compare.ts';
import { checkCompareParams, combineSign, openedParts, ringMulPlanes, tile } from './compare.ts';

export interface BoolCompareMaterial {
  readonly kind: 'bool';
  readonly r: Ring;
  /** XOR shares of R's bits: vector j (bit j, least significant first) over the n elements. */
  readonly rBits: Uint32Array[];
  /** AND triples: per AND slot one vector over the lanes, slots in tree order. */
  readonly a: Uint32Array;
  readonly b: Uint32Array;
  readonly c: Uint32Array;
  /** rho per lane: XOR share (a vector), arithmetic share, and shares of rho r. */
  readonly rhoBits: Uint32Array;
  readonly rho: Ring;
  readonly rhoR: Ring | undefined;
}

/** ANDs per comparison at each tree level, for L leaves. */
export function treeLevels(leaves: number): number[] {
  const levels: number[] = [];
  for (let c = leaves; c > 1;) {
    const pairs = c >> 1;
    const next = pairs + (c & 1);
    levels.push(next === 1 ? 1 : 2 * pairs);
    c = next;
  }
  return levels;
}

const words = (lanes: number) => Math.ceil(lanes / 32);
const vectorBytes = (lanes: number) => 4 * words(lanes);
const andSlots = (p: CompareParams) => treeLevels(p.bits - 1).reduce((s, k) => s + k, 0);

/** The bytes as words: a view when aligned (callers never write into it), else a copy. */
function asWords(bytes: Uint8Array): Uint32Array {
  if (bytes.byteOffset % 4 === 0)
    return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const out = new Uint32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

function asBytes(v: Uint32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Lanes of a vector as ring 0/1 values. */
function ringOfVector(v: Uint32Array, lanes: number): Ring {
  const out = new BigInt64Array(lanes);
  const w = new Int32Array(out.buffer);
  for (let i = 0; i < lanes; i++) w[2 * i] = (v[i >> 5]! >>> (i & 31)) & 1;
  return out;
}

export function dealBoolCompare(p: CompareParams, d: DealerStream): void {
  checkCompareParams(p);
  const lanes = p.n * p.points;
  const r = d.sharedRandom(p.n);
  for (const plane of bitPlanes(r, p.drop, p.bits)) d.shareBytes(asBytes(plane));
  const slotBytes = andSlots(p) * vectorBytes(lanes);
  const a = asWords(d.sharedRandomBytes(slotBytes));
  const b = asWords(d.sharedRandomBytes(slotBytes));
  const c = new Uint32Array(a.length);
  for (let i = 0; i < c.length; i++) c[i] = a[i]! & b[i]!;
  d.shareBytes(asBytes(c));
  const rhoBits = asWords(d.sharedRandomBytes(vectorBytes(lanes)));
  const rho = ringOfVector(rhoBits, lanes);
  d.share(rho);
  if (p.select) d.share(ringMul(rho, tile(r, p.points)));
}

export function boolCompareMaterial(p: CompareParams, s: MaterialStream): BoolCompareMaterial {
  checkCompareParams(p);
  const lanes = p.n * p.points;
  const r = s.sharedRandom(p.n);
  const rBits = Array.from({ length: p.bits }, () => asWords(s.shareBytes(vectorBytes(p.n))));
  const slotBytes = andSlots(p) * vectorBytes(lanes);
  const a = asWords(s.sharedRandomBytes(slotBytes));
  const b = asWords(s.sharedRandomBytes(slotBytes));
  const c = asWords(s.shareBytes(slotBytes));
  const rhoBits = asWords(s.sharedRandomBytes(vectorBytes(lanes)));
  const rho = s.share(lanes);
  const rhoR = p.select ? s.share(lanes) : undefined;
  return { kind: 'bool', r, rBits, a, b, c, rhoBits, rho, rhoR };
}

/** One round of ANDs: x[s] & y[s] for every slot vector, with triples from slot `from` on. */
async function andVectors(
  ctx: PartyContext,
  m: BoolCompareMaterial,
  x: readonly Uint32Array[],
  y: readonly Uint32Array[],
  from: number,
  width: number,
): Promise<Uint32Array[]> {
  const slots = x.length;
  const mine = new Uint32Array(2 * slots * width);
  for (let s = 0; s < slots; s++) {
    const t = (from + s) * width;
    const xs = x[s]!;
    const ys = y[s]!;
    for (let i = 0; i < width; i++) {
      mine[s * width + i] = xs[i]! ^ m.a[t + i]!;
      mine[(slots + s) * width + i] = ys[i]! ^ m.b[t + i]!;
    }
  }
  const theirs = asWords(await ctx.exchange(asBytes(mine)));
  const lead = ctx.index === 0 ? 0xffffffff : 0;
  const out: Uint32Array[] = [];
  for (let s = 0; s < slots; s++) {
    const t = (from + s) * width;
    const z = new Uint32Array(width);
    for (let i = 0; i < width; i++) {
      const d = mine[s * width + i]! ^ theirs[s * width + i]!;
      const e = mine[(slots + s) * width + i]! ^ theirs[(slots + s) * width + i]!;
      z[i] = m.c[t + i]! ^ (d & m.b[t + i]!) ^ (e & m.a[t + i]!) ^ (d & e & lead);
    }
    out.push(z);
  }
  return out;
}

/** XOR shares of [y < alpha] per lane (a vector), one round per tree level. */
async function lessThanTree(
  ctx: PartyContext,
  p: CompareParams,
  m: BoolCompareMaterial,
  y: Ring,
): Promise<Uint32Array> {
  const L = p.bits - 1;
  const width = words(y.length);
  const lead = ctx.index === 0 ? 0xffffffff : 0;
  // Leaves, most significant bit first.
  let lt: Uint32Array[] = [];
  let eq: Uint32Array[] = [];
  const yPlanes = bitPlanes(y, 0, L);
  for (let k = 0; k < L; k++) {
    const pos = L - 1 - k;
    const yv = yPlanes[pos]!;
    const rv = tilePlane(m.rBits[pos]!, p.n, p.points);
    const l = new Uint32Array(width);
    const e = new Uint32Array(width);
    for (let i = 0; i < width; i++) {
      l[i] = rv[i]! & ~yv[i]!;
      e[i] = rv[i]! ^ (lead & ~yv[i]!);
    }
    lt.push(l);
    eq.push(e);
  }
  let used = 0;
  while (lt.length > 1) {
    const c = lt.length;
    const pairs = c >> 1;
    const root = pairs + (c & 1) === 1;
    const xs: Uint32Array[] = [];
    const ys: Uint32Array[] = [];
    for (let q = 0; q < pairs; q++) {
      xs.push(eq[2 * q]!);
      ys.push(lt[2 * q + 1]!);
      if (!root) {
        xs.push(eq[2 * q]!);
        ys.push(eq[2 * q + 1]!);
      }
    }
    const ands = await andVectors(ctx, m, xs, ys, used, width);
    used += xs.length;
    const nlt: Uint32Array[] = [];
    const neq: Uint32Array[] = [];
    for (let q = 0; q < pairs; q++) {
      const hi = lt[2 * q]!;
      const t = ands[root ? q : 2 * q]!;
      for (let i = 0; i < width; i++) t[i] = t[i]! ^ hi[i]!;
      nlt.push(t);
      if (!root) neq.push(ands[2 * q + 1]!);
    }
    if (c & 1) {
      nlt.push(lt[c - 1]!);
      neq.push(eq[c - 1]!);
    }
    lt = nlt;
    eq = neq;
  }
  return lt[0]!;
}

/** After the opening: the comparison tree and the conversion (see the header). */
export async function finishBoolCompare(
  ctx: PartyContext,
  p: CompareParams,
  m: BoolCompareMaterial,
  x: Ring,
  xhat: Ring,
  thresholds: readonly bigint[],
): Promise<CompareResult> {
  const { a, y } = openedParts(xhat, thresholds, p);
  const lanes = y.length;
  const c = await lessThanTree(ctx, p, m, y);
  // e = z xor rho with z = R_{m-1} xor c, opened in one round.
  const top = tilePlane(m.rBits[p.bits - 1]!, p.n, thresholds.length);
  const mine = c.map((v, i) => v ^ top[i]! ^ m.rhoBits[i]!);
  const theirs = asWords(await ctx.exchange(asBytes(mine)));
  const e = ringOfVector(
    mine.map((v, i) => v ^ theirs[i]!),
    lanes,
  );
  const flip = ringMulScalar(e, -2n);
  ringAddScalar(flip, 1n, flip);
  const z = ringMul(flip, m.rho);
  if (ctx.index === 0) ringAdd(z, e, z);
  let zr: Ring | undefined;
  if (m.rhoR) {
    zr = ringMul(flip, m.rhoR);
    ringAdd(zr, ringMulPlanes(e, m.r), zr);
  }
  return combineSign(ctx, a, z, zr, x, xhat);
}

export function boolCompareCost(p: CompareParams): Cost {
  const lanes = p.n * p.points;
  const levels = treeLevels(p.bits - 1);
  const online = 8 * p.n + levels.reduce((s, k) => s + 2 * k * vectorBytes(lanes), 0) + vectorBytes(lanes);
  const offline =
    p.bits * vectorBytes(p.n) + andSlots(p) * vectorBytes(lanes) + 8 * lanes * (p.select ? 2 : 1);
  return cost({ onlineBytes: [online, online], rounds: levels.length + 2, offlineBytes: [0, offline] });
}
