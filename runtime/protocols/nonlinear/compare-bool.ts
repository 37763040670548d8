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
 * Cost per element and threshold (A = ANDs of the tree, 2L - 3 for L >= 2):
 *   online  1 + ceil(log2 L) + 1 rounds; 8 bytes (opening, once per element) + 2A bits + 1 bit
 *           each way, packed per round;
 *   offline client only: m bits of R (once per element), A bits of triples, 8 bytes for rho
 *           (+ 8 with select). The server's side comes from its seed: 0 bytes.
 */
import type { Cost, DealerStream, MaterialStream, PartyContext } from '../../protocol.ts';
import { cost } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringAddScalar, ringMul, ringMulScalar } from '../../ring/kernels.ts';
import type { AndTriples } from './bits.ts';
import { andRoundBytes, andShared, andTriplesMaterial, dealAndTriples, packBits, packedBytes, unpackBits } from './bits.ts';
import type { CompareParams, CompareResult } from './compare.ts';
import { checkCompareParams, combineSign, openedParts, tile } from './compare.ts';

export interface BoolCompareMaterial {
  readonly kind: 'bool';
  readonly r: Ring;
  /** XOR share of bit j of R for element i at i * m + j (j = 0 least significant). */
  readonly rBits: Uint8Array;
  readonly triples: AndTriples;
  /** rho per (threshold, element): XOR share, arithmetic share, and shares of rho r. */
  readonly rhoBits: Uint8Array;
  readonly rho: Ring;
  readonly rhoR: Ring | undefined;
}

/** ANDs per comparison at each tree level, for L leaves. */
export function treeLevels(leaves: number): number[] {
  const levels: number[] = [];
  for (let c = leaves; c > 1; ) {
    const pairs = c >> 1;
    const next = pairs + (c & 1);
    levels.push(next === 1 ? 1 : 2 * pairs);
    c = next;
  }
  return levels;
}

function andsPerComparison(p: CompareParams): number {
  return treeLevels(p.bits - 1).reduce((s, k) => s + k, 0);
}

/** R's m bits per element, unpacked (element-major, least significant first). */
function bitsOfMask(r: Ring, p: CompareParams): Uint8Array {
  const out = new Uint8Array(p.n * p.bits);
  const w = new Uint32Array(r.buffer, r.byteOffset, r.length * 2);
  for (let i = 0; i < p.n; i++)
    for (let j = 0; j < p.bits; j++) {
      const k = j + p.drop;
      out[i * p.bits + j] = k < 32 ? (w[2 * i]! >>> k) & 1 : (w[2 * i + 1]! >>> (k - 32)) & 1;
    }
  return out;
}

export function dealBoolCompare(p: CompareParams, d: DealerStream): void {
  checkCompareParams(p);
  const lanes = p.n * p.points;
  const r = d.sharedRandom(p.n);
  d.shareBytes(packBits(bitsOfMask(r, p)));
  dealAndTriples(lanes * andsPerComparison(p), d);
  const rhoBits = unpackBits(d.sharedRandomBytes(packedBytes(lanes)), lanes);
  const rho = new BigInt64Array(lanes);
  for (let i = 0; i < lanes; i++) rho[i] = BigInt(rhoBits[i]!);
  d.share(rho);
  if (p.select) d.share(ringMul(rho, tile(r, p.points)));
}

export function boolCompareMaterial(p: CompareParams, s: MaterialStream): BoolCompareMaterial {
  checkCompareParams(p);
  const lanes = p.n * p.points;
  const r = s.sharedRandom(p.n);
  const rBits = unpackBits(s.shareBytes(packedBytes(p.n * p.bits)), p.n * p.bits);
  const triples = andTriplesMaterial(lanes * andsPerComparison(p), s);
  const rhoBits = unpackBits(s.sharedRandomBytes(packedBytes(lanes)), lanes);
  const rho = s.share(lanes);
  const rhoR = p.select ? s.share(lanes) : undefined;
  return { kind: 'bool', r, rBits, triples, rhoBits, rho, rhoR };
}

/** Leaves of every lane (threshold-major, then element), most significant bit first. */
function leaves(ctx: PartyContext, p: CompareParams, m: BoolCompareMaterial, y: Ring): { lt: Uint8Array; eq: Uint8Array } {
  const L = p.bits - 1;
  const lanes = y.length;
  const lt = new Uint8Array(lanes * L);
  const eq = new Uint8Array(lanes * L);
  const yw = new Uint32Array(y.buffer, y.byteOffset, y.length * 2);
  const lead = ctx.index === 0 ? 1 : 0;
  for (let lane = 0; lane < lanes; lane++) {
    const i = lane % p.n;
    for (let k = 0; k < L; k++) {
      const pos = L - 1 - k;
      const yb = pos < 32 ? (yw[2 * lane]! >>> pos) & 1 : (yw[2 * lane + 1]! >>> (pos - 32)) & 1;
      const rb = m.rBits[i * p.bits + pos]!;
      lt[lane * L + k] = yb === 1 ? 0 : rb;
      eq[lane * L + k] = rb ^ (lead & (yb ^ 1));
    }
  }
  return { lt, eq };
}

/** XOR shares of [y < alpha] per lane, one round per tree level. */
async function lessThanTree(ctx: PartyContext, p: CompareParams, m: BoolCompareMaterial, y: Ring): Promise<Uint8Array> {
  const lanes = y.length;
  let { lt, eq } = leaves(ctx, p, m, y);
  let used = 0;
  for (let c = p.bits - 1; c > 1; ) {
    const pairs = c >> 1;
    const odd = c & 1;
    const next = pairs + odd;
    const root = next === 1;
    const perLane = root ? 1 : 2 * pairs;
    const xs = new Uint8Array(lanes * perLane);
    const ys = new Uint8Array(lanes * perLane);
    for (let lane = 0; lane < lanes; lane++) {
      for (let q = 0; q < pairs; q++) {
        const hi = lane * c + 2 * q;
        const at = lane * perLane + (root ? 0 : 2 * q);
        xs[at] = eq[hi]!;
        ys[at] = lt[hi + 1]!;
        if (!root) {
          xs[at + 1] = eq[hi]!;
          ys[at + 1] = eq[hi + 1]!;
        }
      }
    }
    const ands = await andShared(ctx, xs, ys, m.triples, used);
    used += xs.length;
    const nlt = new Uint8Array(lanes * next);
    const neq = new Uint8Array(lanes * next);
    for (let lane = 0; lane < lanes; lane++) {
      for (let q = 0; q < pairs; q++) {
        const at = lane * perLane + (root ? 0 : 2 * q);
        nlt[lane * next + q] = lt[lane * c + 2 * q]! ^ ands[at]!;
        if (!root) neq[lane * next + q] = ands[at + 1]!;
      }
      if (odd) {
        nlt[lane * next + pairs] = lt[lane * c + c - 1]!;
        neq[lane * next + pairs] = eq[lane * c + c - 1]!;
      }
    }
    lt = nlt;
    eq = neq;
    c = next;
  }
  return lt;
}

/** After the opening: the comparison tree and the conversion (see cost). */
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
  const mine = new Uint8Array(lanes);
  for (let lane = 0; lane < lanes; lane++)
    mine[lane] = c[lane]! ^ m.rBits[(lane % p.n) * p.bits + p.bits - 1]! ^ m.rhoBits[lane]!;
  const theirs = unpackBits(await ctx.exchange(packBits(mine)), lanes);
  const e = new BigInt64Array(lanes);
  for (let lane = 0; lane < lanes; lane++) e[lane] = BigInt(mine[lane]! ^ theirs[lane]!);
  const flip = ringAddScalar(ringMulScalar(e, -2n), 1n);
  const z = ringMul(flip, m.rho);
  if (ctx.index === 0) ringAdd(z, e, z);
  let zr: Ring | undefined;
  if (m.rhoR) {
    zr = ringMul(flip, m.rhoR);
    ringAdd(zr, ringMul(e, tile(m.r, thresholds.length)), zr);
  }
  return combineSign(ctx, a, z, zr, x, xhat);
}

export function boolCompareCost(p: CompareParams): Cost {
  const lanes = p.n * p.points;
  const levels = treeLevels(p.bits - 1);
  const online = 8 * p.n + levels.reduce((s, k) => s + andRoundBytes(lanes * k), 0) + packedBytes(lanes);
  const offline =
    packedBytes(p.n * p.bits) + packedBytes(lanes * andsPerComparison(p)) + 8 * lanes * (p.select ? 2 : 1);
  return cost({ onlineBytes: [online, online], rounds: levels.length + 2, offlineBytes: [0, offline] });
}
