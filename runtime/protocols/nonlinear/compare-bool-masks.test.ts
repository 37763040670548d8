import { beforeAll, describe, expect, it } from 'vitest';
import { Prg } from '../../crypto/prg.ts';
import type { PreprocessPair } from '../../../test/runtime/preprocess.ts';
import { preprocessPair } from '../../../test/runtime/preprocess.ts';
import { TwoPartySession, splitShares } from '../../../test/runtime/two-party.ts';
import { ringAdd, ringMul } from '../../ring/kernels.ts';
import { bitPlanes } from './bit-slice.ts';
import type { CompareParams } from './compare.ts';
import { tile } from './compare.ts';
import type { BoolCompareMaterial } from './compare-bool.ts';
import {
  alphaProducts,
  boolCompareCost,
  maskProducts,
  ringOfVector,
  treePlan,
  words,
} from './compare-bool.ts';
import { boolCompareMasks, preprocessBoolCompareCost } from './compare-bool-masks.ts';
import { compareProtocol } from './comparator.ts';

let pair: PreprocessPair;
beforeAll(async () => {
  pair = await preprocessPair('compare-bool-masks');
});

const lane = (v: Uint32Array, i: number) => (v[i >> 5]! >>> (i & 31)) & 1;
const xor = (a: Uint32Array, b: Uint32Array) => a.map((x, i) => x ^ b[i]!);

/**
 * Lanes where the two materials break the dealer's relations: R's planes are the bits of
 * r0 + r1, the alpha and mask products are the products of the reconstructed bits (the
 * dealer's own functions as the oracle), rho's two sharings agree and rhoR = rho * r.
 */
function violations(p: CompareParams, m0: BoolCompareMaterial, m1: BoolCompareMaterial): number {
  const lanes = p.n * p.points;
  let bad = 0;
  const r = ringAdd(m0.r, m1.r);
  const planes = bitPlanes(r, p.drop, p.bits);
  const shared = m0.rBits.map((v, q) => xor(v, m1.rBits[q]!));
  for (let q = 0; q < p.bits; q++)
    for (let i = 0; i < p.n; i++) if (lane(shared[q]!, i) !== lane(planes[q]!, i)) bad++;
  const { local, levels } = treePlan(p.bits - 1);
  const want = alphaProducts(local, planes, words(p.n));
  const got = xor(m0.alphaProducts, m1.alphaProducts);
  const rows = want.length / Math.max(1, words(p.n));
  for (let k = 0; k < rows; k++)
    for (let i = 0; i < p.n; i++)
      if (lane(got.subarray(k * words(p.n)), i) !== lane(want.subarray(k * words(p.n)), i)) bad++;
  levels.forEach((level, l) => {
    const w = words(lanes);
    const wantP = maskProducts(level, xor(m0.masks[l]!, m1.masks[l]!), w);
    const gotP = xor(m0.products[l]!, m1.products[l]!);
    if (gotP.length !== wantP.length) bad += lanes;
    for (let k = 0; k < wantP.length / w; k++)
      for (let i = 0; i < lanes; i++)
        if (lane(gotP.subarray(k * w), i) !== lane(wantP.subarray(k * w), i)) bad++;
  });
  const rho = ringOfVector(xor(m0.rhoBits, m1.rhoBits), lanes);
  const rhoSum = ringAdd(m0.rho, m1.rho);
  const rhoR = p.select ? ringAdd(m0.rhoR!, m1.rhoR!) : undefined;
  const rr = ringMul(rho, tile(r, p.points));
  for (let i = 0; i < lanes; i++) {
    if (rhoSum[i] !== rho[i]) bad++;
    if (rhoR && rhoR[i] !== rr[i]) bad++;
  }
  if (p.select !== (m0.rhoR !== undefined) || p.select !== (m1.rhoR !== undefined)) bad++;
  return bad;
}

/** Parameters as the protocols use them (ranges.ts): exact 31/33/40-bit, coarse with dropped bits, small. */
const PARAMS: CompareParams[] = [
  { variant: 'bool', n: 300, points: 1, bits: 31, drop: 0, select: true },
  { variant: 'bool', n: 70, points: 3, bits: 33, drop: 0, select: false },
  { variant: 'bool', n: 257, points: 2, bits: 40, drop: 0, select: true },
  { variant: 'bool', n: 100, points: 5, bits: 16, drop: 12, select: true },
  { variant: 'bool', n: 45, points: 1, bits: 60, drop: 4, select: false },
  { variant: 'bool', n: 33, points: 2, bits: 7, drop: 0, select: true },
  // Large enough that the random OTs run in several chunks (bounded memory).
  { variant: 'bool', n: 7000, points: 2, bits: 40, drop: 0, select: true },
];

describe('boolean comparison masks without a dealer', () => {
  it.each(PARAMS)('hold the dealer relations and cost what they state: %o', async (p) => {
    const { materials, cost } = await pair.make(boolCompareMasks, p);
    const [m0, m1] = materials;
    expect(violations(p, m0, m1)).toBe(0);
    expect(cost).toEqual(preprocessBoolCompareCost(p));
    expect(cost.flights).toBe(p.select ? 3 : 2);
    // Layouts as the dealer's: the same lengths everywhere.
    const dealt = boolCompareCost(p).offlineBytes[1];
    const shipped =
      m1.rBits.reduce((s, v) => s + v.byteLength, 0) +
      m1.alphaProducts.byteLength +
      m1.products.reduce((s, v) => s + v.byteLength, 0) +
      8 * (m1.rho.length + (m1.rhoR?.length ?? 0));
    expect(shipped).toBe(dealt);
  });

  it('makes nothing, with no traffic, for no elements', async () => {
    const p: CompareParams = { variant: 'bool', n: 0, points: 2, bits: 31, drop: 0, select: true };
    const { materials, cost } = await pair.make(boolCompareMasks, p);
    expect(cost.bytes).toEqual([0, 0]);
    expect(cost.flights).toBe(0);
    expect(cost).toEqual(preprocessBoolCompareCost(p));
    expect(materials[1].r.length).toBe(0);
    expect(materials[1].rho.length).toBe(0);
  });

  it('breaks when any share is changed (negative controls)', async () => {
    const p = PARAMS[2]!;
    const { materials } = await pair.make(boolCompareMasks, p);
    const [m0, m1] = materials;
    const flips: ((m: BoolCompareMaterial) => BoolCompareMaterial)[] = [
      (m) => ({ ...m, rBits: m.rBits.map((v, q) => (q === 5 ? v.map((x, i) => (i === 0 ? x ^ 1 : x)) : v)) }),
      (m) => ({ ...m, alphaProducts: m.alphaProducts.map((x, i) => (i === 3 ? x ^ 4 : x)) }),
      (m) => ({ ...m, products: m.products.map((v) => v.map((x, i) => (i === 2 ? x ^ 1 : x))) }),
      (m) => ({ ...m, masks: m.masks.map((v) => v.map((x, i) => (i === 0 ? x ^ 1 : x))) }),
      (m) => ({ ...m, rhoBits: m.rhoBits.map((x, i) => (i === 1 ? x ^ 2 : x)) }),
      (m) => ({ ...m, rho: m.rho.map((x, i) => (i === 7 ? x + 1n : x)) }),
      (m) => ({ ...m, rhoR: m.rhoR!.map((x, i) => (i === 9 ? x - 1n : x)) }),
      (m) => ({ ...m, r: m.r.map((x, i) => (i === 11 ? x + 1n : x)) }),
    ];
    for (const flip of flips) expect(violations(p, m0, flip(m1))).toBeGreaterThan(0);
  });

  it('draws R, the masks and rho uniformly, fresh each time', async () => {
    const p: CompareParams = { variant: 'bool', n: 2000, points: 2, bits: 40, drop: 4, select: true };
    const a = await pair.make(boolCompareMasks, p);
    const b = await pair.make(boolCompareMasks, p);
    const r = ringAdd(a.materials[0].r, a.materials[1].r);
    // Every bit of r (inside the window, below and above it) is one about half the time.
    for (const bit of [0, 3, 4, 20, 43, 44, 63]) {
      const ones = bitPlanes(r, bit, 1)[0]!;
      let count = 0;
      for (let i = 0; i < p.n; i++) count += lane(ones, i);
      expect(Math.abs(count / p.n - 0.5)).toBeLessThan(0.05);
    }
    const frac = (v: Uint32Array, count: number) => {
      let c = 0;
      for (let i = 0; i < count; i++) c += lane(v, i);
      return c / count;
    };
    const lanes = p.n * p.points;
    const [m0, m1] = a.materials;
    expect(Math.abs(frac(xor(m0.rhoBits, m1.rhoBits), lanes) - 0.5)).toBeLessThan(0.05);
    expect(Math.abs(frac(xor(m0.masks[0]!, m1.masks[0]!), lanes) - 0.5)).toBeLessThan(0.05);
    // Each party's own shares are uniform too (neither knows the value).
    expect(Math.abs(frac(m1.rBits[10]!, p.n) - 0.5)).toBeLessThan(0.05);
    expect(Math.abs(frac(m0.rBits[10]!, p.n) - 0.5)).toBeLessThan(0.05);
    // A second run draws other values.
    expect(ringAdd(b.materials[0].r, b.materials[1].r)).not.toEqual(r);
  });

  it('runs the comparison online: exact against plaintext on both sides of the thresholds', async () => {
    const n = 1500;
    const bits = 31;
    const thresholds = [0n, 12345n, -(1n << 26n)];
    const x = Prg.fresh().ring(n);
    for (let i = 0; i < n; i++) x[i] = BigInt.asIntN(64, x[i]!) >> BigInt(64 - bits + 3);
    const edges = thresholds.flatMap((t) => [t, t - 1n, t + 1n, t - 2n, t + 2n]);
    edges.forEach((e, i) => (x[i] = e));
    const p: CompareParams = { variant: 'bool', n, points: thresholds.length, bits, drop: 0, select: true };
    const { materials } = await pair.make(boolCompareMasks, p);
    const s = new TwoPartySession();
    const shares = splitShares(x);
    const [r0, r1] = await s.runWithMaterials(
      compareProtocol,
      p,
      materials,
      [
        { x: shares[0], thresholds },
        { x: shares[1], thresholds },
      ],
      'cmp',
    );
    const lt = ringAdd(r0.lt, r1.lt);
    const ltx = ringAdd(r0.ltx!, r1.ltx!);
    let bad = 0;
    let below = 0;
    thresholds.forEach((t, k) => {
      for (let i = 0; i < n; i++) {
        const want = x[i]! < t ? 1n : 0n;
        below += Number(want);
        if (lt[k * n + i] !== want || ltx[k * n + i] !== want * x[i]!) bad++;
      }
    });
    expect(bad).toBe(0);
    expect(below).toBeGreaterThan(n / 4);
    expect(below).toBeLessThan((3 * n * thresholds.length) / 4);
    const stats = s.stats('cmp');
    const c = compareProtocol.cost(p);
    expect(stats.onlineBytes).toEqual([...c.onlineBytes]);
    expect(stats.rounds).toBe(c.rounds);
    expect(stats.offlineBytes).toEqual([0, 0]);
  });

  it('a wrong share in the material gives wrong comparisons (negative control)', async () => {
    const n = 200;
    const thresholds = [0n];
    const x = Prg.fresh()
      .ring(n)
      .map((v) => BigInt.asIntN(64, v) >> 40n);
    const p: CompareParams = { variant: 'bool', n, points: 1, bits: 31, drop: 0, select: false };
    const { materials } = await pair.make(boolCompareMasks, p);
    const broken: [BoolCompareMaterial, BoolCompareMaterial] = [
      materials[0],
      { ...materials[1], rhoBits: materials[1].rhoBits.map((v) => ~v >>> 0) },
    ];
    const s = new TwoPartySession();
    const shares = splitShares(x);
    const [r0, r1] = await s.runWithMaterials(compareProtocol, p, broken, [
      { x: shares[0], thresholds },
      { x: shares[1], thresholds },
    ]);
    const lt = ringAdd(r0.lt, r1.lt);
    let bad = 0;
    for (let i = 0; i < n; i++) if (lt[i] !== (x[i]! < 0n ? 1n : 0n)) bad++;
    expect(bad).toBe(n);
  });
});
