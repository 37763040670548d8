/**
 * Dealer-free correlations (setting '2pc'): each correlation's `preprocess` at both parties
 * against BigInt oracles of its relations, with negative controls and randomness checks, its
 * measured traffic against `preprocessCost`, and the online phases of the protocols that read
 * them run on preprocessed material against plaintext.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PreprocessPair } from '../../test/runtime/preprocess.ts';
import { preprocessPair } from '../../test/runtime/preprocess.ts';
import { TwoPartySession, openReals, shareReals, splitShares } from '../../test/runtime/two-party.ts';
import { encodeFixed } from '../ring/fixed.ts';
import { Prg } from '../crypto/prg.ts';
import { Dealer, MaterialSource, freshSeeds } from '../dealer/streams.ts';
import type { Correlation, Protocol } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import { chunkOts } from '../twopc/iknp.ts';
import type { PairCost } from '../twopc/link.ts';
import { correlationsOf, preprocessingCost } from '../twopc/correlations.ts';
import type { MatmulParams } from './beaver.ts';
import { beaverMatmul, beaverMul, beaverPair, beaverTriple, matrixTriple } from './beaver.ts';
import type { TruncMulMaterial, TruncMulShape, TruncSquareMaterial } from './nonlinear/parts.ts';
import { truncMulMask, truncMulPart, truncSquareMask, truncSquarePart } from './nonlinear/parts.ts';
import { fixedMul, fixedWeightMatmul } from './fixed-mul.ts';
import type { TruncMaterial } from './truncate.ts';
import { truncMask, truncate } from './truncate.ts';
import type { WeightBeaverInputs, WeightBeaverMaterial } from './weight-beaver.ts';
import type { WeightMatmulParams } from './weight-matmul.ts';
import { weightMatmul } from './weight-matmul.ts';
import type { WeightMulParams } from './weight-mul.ts';
import { weightMul } from './weight-mul.ts';

const M64 = (1n << 64n) - 1n;
const u = (x: bigint): bigint => x & M64;
const big = (r: Ring): bigint[] => Array.from(r, u);
const open = (a: Ring, b: Ring): bigint[] => big(a).map((x, i) => u(x + u(b[i]!)));
const randomRing = (n: number, label: string): Ring => new Prg(new Uint8Array(16)).derive(label).ring(n);

/** Row-major BigInt products of `batch` [m, k] by [k, n] (stride 0: one shared right factor). */
function matmul(a: bigint[], b: bigint[], batch: number, m: number, k: number, n: number, bStride = k * n) {
  const out: bigint[] = [];
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0n;
        for (let l = 0; l < k; l++) s += a[t * m * k + i * k + l]! * b[t * bStride + l * n + j]!;
        out.push(u(s));
      }
  return out;
}

function expectCost(measured: PairCost, predicted: PairCost): void {
  expect(measured.bytes).toEqual(predicted.bytes);
  expect(measured.flights).toBe(predicted.flights);
  expect(measured.first).toBe(predicted.first);
  expect(measured.last).toBe(predicted.last);
}

/** Count of elements where `got` differs from `want`. */
const mismatches = (got: bigint[], want: bigint[]): number => got.filter((g, i) => g !== want[i]).length;

/** The structure of a material: ring lengths, what functions return, and which parts are absent. */
function layout(m: unknown): unknown {
  if (m instanceof BigInt64Array) return `ring ${m.length}`;
  if (typeof m === 'function') return { returns: layout((m as () => unknown)()) };
  if (m === undefined) return 'absent';
  return Object.fromEntries(Object.entries(m as object).map(([k, v]) => [k, layout(v)]));
}

/** Both parties' materials of `c` as a dealer makes them. */
function dealt<P, M>(c: Correlation<P, M>, params: P): [M, M] {
  const seeds = [freshSeeds(), freshSeeds()] as const;
  const dealer = new Dealer(seeds);
  dealer.forOp('op').correlation(c, params);
  const frames = dealer.takeFrames();
  return (['server', 'client'] as const).map((party, i) => {
    const stream = new MaterialSource(party, seeds[i]!).forOp('op', frames[i]!);
    const m = stream.correlation(c, params);
    stream.finish();
    return m;
  }) as [M, M];
}

/** Preprocessed materials have the dealer's layout at each party. */
function expectDealerLayout<P, M>(c: Correlation<P, M>, params: P, made: readonly [M, M]): void {
  const d = dealt(c, params);
  expect(layout(made[0])).toEqual(layout(d[0]));
  expect(layout(made[1])).toEqual(layout(d[1]));
}

let pair: PreprocessPair;
beforeAll(async () => {
  pair = await preprocessPair('protocols');
}, 60_000);

describe('Beaver correlations without a dealer', () => {
  it('elementwise triples: c = a b for every element, uniform a, exact cost; a tampered c fails', async () => {
    const n = 77;
    const { materials: m, cost } = await pair.make(beaverTriple, { n });
    expectCost(cost, beaverTriple.preprocessCost!({ n }));
    expectDealerLayout(beaverTriple, { n }, m);
    for (const x of m) expect([x.a.length, x.b.length, x.c.length]).toEqual([n, n, n]);
    const a = open(m[0].a, m[1].a);
    const b = open(m[0].b, m[1].b);
    const want = a.map((x, i) => u(x * b[i]!));
    expect(open(m[0].c, m[1].c)).toEqual(want);
    expect(new Set(a).size).toBe(n);
    const bad = m[1].c.slice();
    bad[5] = bad[5]! + 1n;
    expect(mismatches(open(m[0].c, bad), want)).toBe(1);
  });

  it('square pairs: c = a^2 for every element, exact cost; a tampered a fails', async () => {
    const n = 45;
    const { materials: m, cost } = await pair.make(beaverPair, { n });
    expectCost(cost, beaverPair.preprocessCost!({ n }));
    expectDealerLayout(beaverPair, { n }, m);
    const a = open(m[0].a, m[1].a);
    const want = a.map((x) => u(x * x));
    expect(open(m[0].c, m[1].c)).toEqual(want);
    const other = open(
      m[0].a.map((x) => x + 1n),
      m[1].a,
    );
    expect(
      mismatches(
        open(m[0].c, m[1].c),
        other.map((x) => u(x * x)),
      ),
    ).toBe(n);
  });

  it('batched matrix triples: C = A B per product, shapes as with a dealer, exact cost', async () => {
    const p: MatmulParams = { batch: 3, m: 4, k: 5, n: 6 };
    const { materials: m, cost } = await pair.make(matrixTriple, p);
    expectCost(cost, matrixTriple.preprocessCost!(p));
    expectDealerLayout(matrixTriple, p, m);
    // One batch of OTs per direction for the whole batch: three flights.
    expect(cost.flights).toBe(3);
    for (const x of m) expect([x.a.length, x.b.length, x.c.length]).toEqual([3 * 20, 3 * 30, 3 * 24]);
    const want = matmul(open(m[0].a, m[1].a), open(m[0].b, m[1].b), 3, 4, 5, 6);
    expect(open(m[0].c, m[1].c)).toEqual(want);
    // Negative control: every product against the first product's B.
    const firstB = matmul(open(m[0].a, m[1].a), open(m[0].b, m[1].b), 3, 4, 5, 6, 0);
    expect(mismatches(open(m[0].c, m[1].c), firstB)).toBe(48);
  });
});

/** The correlation a weight protocol reads, and its materials made without a dealer. */
async function weightMaterials<P>(
  protocol: Protocol<P, WeightBeaverMaterial, WeightBeaverInputs, Ring>,
  p: P,
): Promise<{ m: [WeightBeaverMaterial, WeightBeaverMaterial]; cost: PairCost; predicted: PairCost }> {
  const { uses } = correlationsOf({ deal: (d) => protocol.deal(p, d) });
  const { materials, cost } = await pair.materials(protocol, p);
  expect(uses.length).toBe(1);
  expectDealerLayout(uses[0]!.correlation, uses[0]!.params, materials);
  return { m: materials, cost, predicted: preprocessingCost(uses) };
}

describe('weight triples without a dealer', () => {
  const right: WeightMatmulParams = { side: 'right', batch: 2, m: 3, k: 4, n: 5 };
  const left: WeightMatmulParams = { side: 'left', batch: 2, m: 3, k: 4, n: 5 };
  const oracle: Record<string, (a: bigint[], b: bigint[]) => bigint[]> = {
    right: (a, b) => matmul(a, b, 2, 3, 4, 5, 0),
    left: (a, b) => {
      // W [3, 4] times X_t [4, 5] for each t.
      const out: bigint[] = [];
      for (let t = 0; t < 2; t++) out.push(...matmul(b, a.slice(t * 20, (t + 1) * 20), 1, 3, 4, 5));
      return out;
    },
  };

  it.each([right, left])('$side matmul: C = A (x) B, B fixed for the session, exact cost', async (p) => {
    const first = await weightMaterials(weightMatmul, p);
    const second = await weightMaterials(weightMatmul, p);
    for (const { m, cost, predicted } of [first, second]) {
      expectCost(cost, predicted);
      const [server, client] = m;
      expect(server.a).toBeUndefined();
      expect(client.b).toBeUndefined();
      const w = p.side === 'right' ? p.k * p.n : p.m * p.k;
      expect(server.b!().length).toBe(w);
      expect(client.a!.length).toBe(p.batch * (p.side === 'right' ? p.m * p.k : p.k * p.n));
      expect(server.c.length).toBe(p.batch * p.m * p.n);
      const want = oracle[p.side]!(big(client.a!), big(server.b!()));
      expect(open(server.c, client.c)).toEqual(want);
      // Negative control: another B.
      const other = oracle[p.side]!(
        big(client.a!),
        big(server.b!()).map((x) => u(x + 1n)),
      );
      expect(mismatches(open(server.c, client.c), other)).toBeGreaterThan(0);
    }
    expect(big(second.m[0].b!())).toEqual(big(first.m[0].b!()));
    expect(big(second.m[1].a!)).not.toEqual(big(first.m[1].a!));
  });

  it('broadcast elementwise: C = A * B[wMap], exact cost', async () => {
    const p: WeightMulParams = { n: 40, w: 8, wMap: Int32Array.from({ length: 40 }, (_, i) => i % 8) };
    const { m, cost, predicted } = await weightMaterials(weightMul, p);
    expectCost(cost, predicted);
    const a = big(m[1].a!);
    const b = big(m[0].b!());
    expect(b.length).toBe(8);
    const want = a.map((x, i) => u(x * b[i % 8]!));
    expect(open(m[0].c, m[1].c)).toEqual(want);
    const shifted = a.map((x, i) => u(x * b[(i + 1) % 8]!));
    expect(mismatches(open(m[0].c, m[1].c), shifted)).toBe(40);
  });
});

/** Checks r_hi = r >>> bits and msb = r >>> 63 for every element; returns r. */
function checkTrunc(m: readonly [TruncMaterial, TruncMaterial], bits: number): bigint[] {
  const r = open(m[0].r, m[1].r);
  expect(open(m[0].rHi, m[1].rHi)).toEqual(r.map((x) => x >> BigInt(bits)));
  expect(open(m[0].msb, m[1].msb)).toEqual(r.map((x) => x >> 63n));
  return r;
}

/** Fraction of one bits over all 64 bits of every value. */
function onesFraction(r: readonly bigint[]): number {
  let ones = 0;
  for (const x of r) for (let j = 0n; j < 64n; j++) ones += Number((x >> j) & 1n);
  return ones / (64 * r.length);
}

describe('truncation masks without a dealer', () => {
  it.each([1, 16, 40])(
    'r_hi = r >>> %i and msb exact, bits of r about half ones, exact cost',
    async (bits) => {
      const n = 101;
      const { materials: m, cost } = await pair.make(truncMask, { n, bits });
      expectCost(cost, truncMask.preprocessCost!({ n, bits }));
      expectDealerLayout(truncMask, { n, bits }, m);
      expect(cost.flights).toBe(2);
      const r = checkTrunc(m, bits);
      expect(Math.abs(onesFraction(r) - 0.5)).toBeLessThan(0.03);
      expect(new Set(r.map((x) => x >> 63n)).size).toBe(2);
      // Negative control: a tampered r_hi share breaks the relation at that element only.
      const bad = m[0].rHi.slice();
      bad[7] = bad[7]! ^ 1n;
      expect(
        mismatches(
          open(bad, m[1].rHi),
          r.map((x) => x >> BigInt(bits)),
        ),
      ).toBe(1);
    },
  );

  it('masks across OT chunks (64 p(n) > one chunk of OTs): relations and cost exact', async () => {
    const n = 8200;
    expect(64 * 8224).toBeGreaterThan(chunkOts(1));
    const { materials: m, cost } = await pair.make(truncMask, { n, bits: 16 });
    expectCost(cost, truncMask.preprocessCost!({ n, bits: 16 }));
    checkTrunc(m, 16);
  });

  it('fused truncate-multiply mask: m b and r_hi b per paired element, exact cost', async () => {
    const s: TruncMulShape = {
      nz: 10,
      nw: 33,
      zIndex: Int32Array.from({ length: 33 }, (_, t) => t % 10),
      bits: 12,
    };
    const { materials: m, cost } = await pair.make(truncMulMask, s);
    expectCost(cost, truncMulMask.preprocessCost!(s));
    expectDealerLayout(truncMulMask, s, m);
    expect(cost.flights).toBe(4);
    const r = checkTrunc([m[0].trunc, m[1].trunc], s.bits);
    const b = open(m[0].b, m[1].b);
    expect(b.length).toBe(33);
    const mb = b.map((x, t) => u((r[t % 10]! >> 63n) * x));
    const rb = b.map((x, t) => u((r[t % 10]! >> 12n) * x));
    expect(open(m[0].mb, m[1].mb)).toEqual(mb);
    expect(open(m[0].rb, m[1].rb)).toEqual(rb);
    // Negative control: pairing by t instead of zIndex.
    expect(
      mismatches(
        open(m[0].rb, m[1].rb),
        b.map((x, t) => u((r[t % 9]! >> 12n) * x)),
      ),
    ).toBeGreaterThan(20);
  });

  it('fused truncate-multiply mask across OT chunks, packed products not byte-aligned: exact', async () => {
    const nw = 11001;
    const s: TruncMulShape = {
      nz: 7,
      nw,
      zIndex: Int32Array.from({ length: nw }, (_, t) => t % 7),
      bits: 12,
    };
    // 52 nw bit products each way span two chunks; runs of nw products of 64 - h bits end mid-byte.
    expect(52 * nw).toBeGreaterThan(chunkOts(1));
    const { materials: m, cost } = await pair.make(truncMulMask, s);
    expectCost(cost, truncMulMask.preprocessCost!(s));
    const r = checkTrunc([m[0].trunc, m[1].trunc], s.bits);
    const b = open(m[0].b, m[1].b);
    expect(open(m[0].mb, m[1].mb)).toEqual(b.map((x, t) => u((r[t % 7]! >> 63n) * x)));
    expect(open(m[0].rb, m[1].rb)).toEqual(b.map((x, t) => u((r[t % 7]! >> 12n) * x)));
  });

  it('fused truncate-square mask: r_hi^2 and m r_hi, exact cost', async () => {
    const n = 37;
    const bits = 20;
    const { materials: m, cost } = await pair.make(truncSquareMask, { n, bits });
    expectCost(cost, truncSquareMask.preprocessCost!({ n, bits }));
    expectDealerLayout(truncSquareMask, { n, bits }, m);
    const r = checkTrunc([m[0].trunc, m[1].trunc], bits);
    const hi = r.map((x) => x >> 20n);
    expect(open(m[0].rr, m[1].rr)).toEqual(hi.map((x) => u(x * x)));
    expect(open(m[0].mr, m[1].mr)).toEqual(hi.map((x, i) => u((r[i]! >> 63n) * x)));
    const bad = m[1].mr.slice();
    bad[0] = bad[0]! + 1n;
    expect(
      mismatches(
        open(m[0].mr, bad),
        hi.map((x, i) => u((r[i]! >> 63n) * x)),
      ),
    ).toBe(1);
  });
});

// ---- online phases on preprocessed material -----------------------------------------------------

/** Runs `protocol` on material made without a dealer; the traffic of making it equals the prediction. */
async function runPreprocessed<P, M, I, O>(
  s: TwoPartySession,
  protocol: Protocol<P, M, I, O>,
  p: P,
  inputs: readonly [I, I],
  opId?: string,
): Promise<[O, O]> {
  const { uses } = correlationsOf({ deal: (d) => protocol.deal(p, d) });
  const { materials, cost } = await pair.materials(protocol, p);
  expectCost(cost, preprocessingCost(uses));
  return s.runOnline(protocol, p, materials, inputs, opId);
}

describe('protocols online on preprocessed material', () => {
  it('beaver.mul and beaver.matmul equal the plaintext products', async () => {
    const s = new TwoPartySession();
    const x = randomRing(50, 'x');
    const y = randomRing(50, 'y');
    const [x0, x1] = splitShares(x);
    const [y0, y1] = splitShares(y);
    const z = await runPreprocessed(s, beaverMul, { n: 50 }, [
      [x0, y0],
      [x1, y1],
    ]);
    expect(open(z[0], z[1])).toEqual(big(x).map((v, i) => u(v * u(y[i]!))));

    const p: MatmulParams = { batch: 2, m: 3, k: 4, n: 5 };
    const a = randomRing(24, 'a');
    const b = randomRing(40, 'b');
    const [a0, a1] = splitShares(a);
    const [b0, b1] = splitShares(b);
    const c = await runPreprocessed(s, beaverMatmul, p, [
      [a0, b0],
      [a1, b1],
    ]);
    expect(open(c[0], c[1])).toEqual(matmul(big(a), big(b), 2, 3, 4, 5));
  });

  it('a weight matmul equals the plaintext product over two inferences of one session', async () => {
    const s = new TwoPartySession();
    const p: WeightMatmulParams = { side: 'right', batch: 2, m: 3, k: 4, n: 5 };
    const w = randomRing(20, 'w');
    for (const label of ['first', 'second']) {
      const x = randomRing(24, label);
      const [x0, x1] = splitShares(x);
      const z = await runPreprocessed(
        s,
        weightMatmul,
        p,
        [
          { x: x0, w },
          { x: x1, w: undefined },
        ],
        'weight',
      );
      expect(open(z[0], z[1])).toEqual(matmul(big(x), big(w), 2, 3, 4, 5, 0));
    }
  });

  it('fixed-point products (weight matmul, left side, and elementwise, then truncation) are within 2^-f of plaintext', async () => {
    const s = new TwoPartySession();
    const f = s.fracBits;
    const p = { side: 'left' as const, batch: 2, m: 3, k: 4, n: 5, fracBits: f };
    const w = Float64Array.from({ length: 12 }, (_, i) => Math.sin(i + 1) * 2);
    const x = Float64Array.from({ length: 40 }, (_, i) => Math.cos(3 * i) * 3);
    const [x0, x1] = shareReals(x, f);
    const z = openReals(
      await runPreprocessed(s, fixedWeightMatmul, p, [
        { x: x0, w: encodeFixed(w, f) },
        { x: x1, w: undefined },
      ]),
      f,
    );
    // W [3, 4] times X_t [4, 5]; error: the inputs' encoding (4 terms) plus the truncation.
    for (let t = 0; t < 2; t++)
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 5; j++) {
          let want = 0;
          for (let l = 0; l < 4; l++) want += w[i * 4 + l]! * x[t * 20 + l * 5 + j]!;
          expect(Math.abs(z[t * 15 + i * 5 + j]! - want)).toBeLessThan(4 * 5 * 2 ** -f + 2 ** -f);
        }

    const y = Float64Array.from({ length: 40 }, (_, i) => Math.sin(5 * i));
    const [y0, y1] = shareReals(y, f);
    const prod = openReals(
      await runPreprocessed(s, fixedMul, { n: 40, fracBits: f }, [
        [x0, y0],
        [x1, y1],
      ]),
      f,
    );
    expect(prod.every((v, i) => Math.abs(v - x[i]! * y[i]!) < 8 * 2 ** -f)).toBe(true);
  });

  it('truncate gives floor(x / 2^bits) + {0, 1} for x in [-2^62, 2^62)', async () => {
    const s = new TwoPartySession();
    const n = 64;
    const bits = 16;
    const x = randomRing(n, 'trunc').map((v) => v >> 2n);
    x[0] = -(1n << 62n);
    x[1] = (1n << 62n) - 1n;
    const z = await runPreprocessed(s, truncate, { n, bits }, splitShares(x));
    const got = open(z[0], z[1]);
    const off = Array.from(x, (v, i) => BigInt.asIntN(64, got[i]! - u(v >> 16n)));
    expect(off.every((e) => e === 0n || e === 1n)).toBe(true);
  });

  it('the fused truncate-multiply and truncate-square parts equal plaintext', async () => {
    const s = new TwoPartySession();
    const shape: TruncMulShape = {
      nz: 6,
      nw: 18,
      zIndex: Int32Array.from({ length: 18 }, (_, t) => t % 6),
      bits: 16,
    };
    const fused: Protocol<TruncMulShape, TruncMulMaterial, readonly [Ring, Ring], Ring> = {
      name: 'trunc-mul-part',
      deal: (p, d) => truncMulPart.deal(p, d),
      material: (p, st) => truncMulPart.material(p, st),
      online: async (ctx, p, m, [zz, ww]) => (await truncMulPart.run(ctx, p, m, zz, ww)).product,
      cost: () => {
        throw new Error('unused');
      },
    };
    const z = randomRing(6, 'z').map((v) => v >> 24n);
    const w = randomRing(18, 'w').map((v) => v >> 40n);
    const [z0, z1] = splitShares(z);
    const [w0, w1] = splitShares(w);
    const prod = await runPreprocessed(s, fused, shape, [
      [z0, w0],
      [z1, w1],
    ]);
    const got = open(prod[0], prod[1]);
    // (floor(z / 2^16) + e) w with e in {0, 1} per z element.
    got.forEach((g, t) => {
      const base = BigInt.asIntN(64, u(z[t % 6]!)) >> 16n;
      const ww = BigInt.asIntN(64, u(w[t]!));
      expect([u(base * ww), u((base + 1n) * ww)]).toContain(g);
    });

    const square: Protocol<{ n: number; bits: number }, TruncSquareMaterial, Ring, Ring> = {
      name: 'trunc-square-part',
      deal: (p, d) => truncSquarePart.deal(p.n, p.bits, d),
      material: (p, st) => truncSquarePart.material(p.n, p.bits, st),
      online: async (ctx, p, m, zz) => (await truncSquarePart.run(ctx, p.bits, m, zz)).square,
      cost: () => {
        throw new Error('unused');
      },
    };
    const sq = await runPreprocessed(s, square, { n: 6, bits: 16 }, splitShares(z));
    open(sq[0], sq[1]).forEach((g, i) => {
      const base = BigInt.asIntN(64, u(z[i]!)) >> 16n;
      expect([u(base * base), u((base + 1n) * (base + 1n))]).toContain(g);
    });
  });
});
