// Fused ring kernels against BigInt arithmetic (the independent oracle: exact mod 2^64).
import { describe, expect, it } from 'vitest';
import { Prg } from '../crypto/prg.ts';
import {
  ringOpenedParts,
  ringPlaneCombine,
  ringSignCombine,
  ringTruncatedShare,
  ringTruncOpened,
} from './fused.ts';

const wrap = (v: bigint) => BigInt.asIntN(64, v);
const rand = (n: number) => Prg.fresh().ring(n);

/** Random 0/1 ring values. */
function bits(n: number): BigInt64Array {
  return rand(n).map((v) => v & 1n);
}

function packBits(b: BigInt64Array): Uint32Array {
  const out = new Uint32Array(Math.ceil(b.length / 32));
  b.forEach((v, i) => (out[i >> 5] = out[i >> 5]! | (Number(v) << (i & 31))));
  return out;
}

describe('ringSignCombine', () => {
  // n not a multiple of 8 or 32: the bit vector's byte and word boundaries fall inside planes.
  for (const [n, planes] of [
    [1, 1],
    [37, 3],
    [64, 2],
    [5, 11],
  ] as const)
    for (const first of [true, false])
      it(`equals the BigInt formula (n ${n}, ${planes} planes, party ${first ? 0 : 1})`, () => {
        const lanes = n * planes;
        const e = bits(lanes);
        const a = bits(lanes);
        const rho = rand(lanes);
        const rhoR = rand(lanes);
        const [r, x, xhat] = [rand(n), rand(n), rand(n)];
        const copies = [rho.slice(), rhoR.slice(), a.slice(), r.slice(), x.slice(), xhat.slice()];
        const got = ringSignCombine({
          n,
          planes,
          e: packBits(e),
          rho,
          a,
          first,
          select: { rhoR, r, x, xhat },
        });
        const plain = ringSignCombine({ n, planes, e: packBits(e), rho, a, first });
        const f = first ? 1n : 0n;
        for (let i = 0; i < lanes; i++) {
          const j = i % n;
          const [ev, av] = [e[i]!, a[i]!];
          const z = (1n - 2n * ev) * rho[i]! + f * ev;
          const zr = (1n - 2n * ev) * rhoR[i]! + ev * r[j]!;
          expect(got.lt[i]).toBe(wrap((1n - 2n * av) * z + f * av));
          expect(got.ltx![i]).toBe(wrap((1n - 2n * av) * (z * xhat[j]! - zr) + av * x[j]!));
          expect(plain.lt[i]).toBe(got.lt[i]);
        }
        expect(plain.ltx).toBeUndefined();
        // The caller's arrays are not written.
        expect([rho, rhoR, a, r, x, xhat]).toEqual(copies);
      });

  it('refuses operands of the wrong size', () => {
    const ok = { n: 4, planes: 2, e: new Uint32Array(1), rho: rand(8), a: rand(8), first: true };
    expect(() => ringSignCombine({ ...ok, rho: rand(7) })).toThrow(/planes of 4 lanes/);
    const select = { rhoR: rand(8), r: rand(3), x: rand(4), xhat: rand(4) };
    expect(() => ringSignCombine({ ...ok, select })).toThrow(/select operands/);
  });
});

describe('ringPlaneCombine', () => {
  it('equals the BigInt sums for each coefficient set, zero planes skipped', () => {
    const [n, planes] = [13, 4];
    const u = rand(n * planes);
    const v = rand(n * planes);
    const big = (1n << 63n) - 5n;
    const sets = [
      [
        [3n, -7n],
        [0n, 0n],
        [big, 1n],
        [-1n, 2n ** 40n],
      ],
      [
        [0n, 0n],
        [0n, 0n],
        [0n, 0n],
        [0n, 0n],
      ],
      [
        [1n, 0n],
        [0n, 0n],
        [0n, 0n],
        [0n, -1n],
      ],
    ] as [bigint, bigint][][];
    const got = ringPlaneCombine(u, v, n, sets);
    expect(got).toHaveLength(3);
    sets.forEach((set, s) => {
      for (let j = 0; j < n; j++) {
        let want = 0n;
        set.forEach(([c, d], k) => (want += c * u[k * n + j]! + d * v[k * n + j]!));
        expect(got[s]![j]).toBe(wrap(want));
      }
    });
  });

  it('refuses mismatched planes and coefficient counts', () => {
    expect(() => ringPlaneCombine(rand(6), rand(6), 4, [])).toThrow(/planes of 4/);
    expect(() => ringPlaneCombine(rand(8), rand(8), 4, [[[1n, 1n]]])).toThrow(/1 coefficient pairs for 2/);
  });
});

describe('ringOpenedParts', () => {
  const u64 = (v: bigint) => BigInt.asUintN(64, v);
  for (const [drop, m] of [
    [0, 2],
    [0, 64],
    [12, 21],
    [7, 57],
  ] as const)
    it(`equals the BigInt bits (drop ${drop}, ${m} bits)`, () => {
      const xhat = rand(29);
      xhat[0] = 0n;
      xhat[1] = -1n;
      const thresholds = [0n, 5n, -(1n << 40n), (1n << 63n) - 1n];
      const { a, y } = ringOpenedParts(xhat, thresholds, drop, m);
      expect(a).toHaveLength(29 * 4);
      thresholds.forEach((t, k) =>
        xhat.forEach((x, j) => {
          const v = u64(x - t) >> BigInt(drop);
          expect(a[k * 29 + j]).toBe((v >> BigInt(m - 1)) & 1n);
          expect(y[k * 29 + j]).toBe(wrap(v & ((1n << BigInt(m - 1)) - 1n)));
        }),
      );
    });

  it('refuses widths outside 64 bits', () => {
    expect(() => ringOpenedParts(rand(3), [0n], 10, 55)).toThrow(/outside 64 bits/);
    expect(() => ringOpenedParts(rand(3), [0n], 0, 1)).toThrow(/outside 64 bits/);
  });
});

describe('ringTruncOpened / ringTruncatedShare', () => {
  const u64 = (v: bigint) => BigInt.asUintN(64, v);
  for (const bits of [1, 16, 40, 62])
    it(`equal the BigInt formulas (${bits} bits)`, () => {
      const c = rand(41);
      c[0] = 0n;
      c[1] = -1n;
      c[2] = -(1n << 63n);
      const msb = bits === 1 ? rand(41) : rand(41).map((v) => v & 1n);
      const rHi = rand(41);
      const add = -(1n << 50n) + 3n;
      const copies = [c.slice(), msb.slice(), rHi.slice()];
      const { e, a, weight } = ringTruncOpened(c, msb, rHi, bits, add);
      const lead = ringTruncatedShare(c, msb, rHi, bits, add, true);
      const other = ringTruncatedShare(c, msb, rHi, bits, add, false);
      c.forEach((cv, i) => {
        const w = wrap((1n - (u64(cv) >> 63n)) << BigInt(64 - bits));
        expect(weight[i]).toBe(w);
        expect(a[i]).toBe(wrap(msb[i]! * w - rHi[i]!));
        expect(e[i]).toBe(wrap((u64(cv) >> BigInt(bits)) + add));
        expect(lead[i]).toBe(wrap(a[i]! + e[i]!));
        expect(other[i]).toBe(a[i]);
      });
      expect([c, msb, rHi]).toEqual(copies);
    });

  it('refuses mismatched operands and shifts out of range', () => {
    expect(() => ringTruncOpened(rand(4), rand(3), rand(4), 12, 0n)).toThrow(/4, 3 and 4 elements/);
    expect(() => ringTruncOpened(rand(4), rand(4), rand(4), 0, 0n)).toThrow(/out of range/);
  });
});
