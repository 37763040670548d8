// Core protocols against plaintext: truncation, Beaver products, the server-weight product,
// fixed-point composites; measured bytes and rounds against each protocol's cost().
import { describe, expect, it } from 'vitest';
import { Prg } from '../crypto/prg.ts';
import { expectMeasuredCost } from '../../test/runtime/expect-cost.ts';
import { TwoPartySession, openReals, shareReals, splitShares } from '../../test/runtime/two-party.ts';
import { encodeFixed } from '../ring/fixed.ts';
import { ringAdd, ringMatmulBatched } from '../ring/kernels.ts';
import { beaverMatmul, beaverMul, beaverSquare } from './beaver.ts';
import { fixedMatmul, fixedMul, fixedWeightMatmul } from './fixed-mul.ts';
import { truncate } from './truncate.ts';
import { weightMatmul } from './weight-matmul.ts';

const F = 16;
const ulp = 2 ** -F;

function gaussian(n: number, scale: number): Float64Array {
  const u = new Uint32Array(Prg.fresh().bytes(8 * n).buffer);
  return Float64Array.from({ length: n }, (_, i) => {
    const a = (u[2 * i]! + 1) / 2 ** 32;
    const b = u[2 * i + 1]! / 2 ** 32;
    return scale * Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * b);
  });
}

describe('truncate', () => {
  it('is floor(x / 2^bits) + {0,1} on random and edge values, over a million elements', async () => {
    const n = 1 << 20;
    const x = Prg.fresh().ring(n);
    // spread magnitudes over the whole valid range [-2^62, 2^62) and put the edges in
    const shiftBits = Prg.fresh().bytes(n);
    for (let i = 0; i < n; i++) x[i] = BigInt.asIntN(64, x[i]!) >> BigInt(2 + (shiftBits[i]! % 62));
    const edges = [0n, 1n, -1n, (1n << 62n) - 1n, -(1n << 62n), (1n << 16n) - 1n, -(1n << 16n), 1n << 16n];
    edges.forEach((e, i) => (x[i] = e));
    const s = new TwoPartySession();
    const [y0, y1] = await s.run(truncate, { n, bits: F }, splitShares(x), 'trunc');
    const y = ringAdd(y0, y1);
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const d = y[i]! - (x[i]! >> BigInt(F));
      if (d !== 0n && d !== 1n) bad++;
    }
    expect(bad).toBe(0);
    expectMeasuredCost(s, 'trunc', truncate.cost({ n, bits: F }));
  });

  it('rejects a bit count it cannot handle', async () => {
    const s = new TwoPartySession();
    await expect(
      s.run(truncate, { n: 1, bits: 63 }, [new BigInt64Array(1), new BigInt64Array(1)]),
    ).rejects.toThrow(/cannot truncate/);
  });
});

describe('Beaver products (ring, exact)', () => {
  it('elementwise product and square equal the ring product', async () => {
    const n = 5000;
    const x = Prg.fresh().ring(n);
    const y = Prg.fresh().ring(n);
    const s = new TwoPartySession();
    const [x0, x1] = splitShares(x);
    const [yy0, yy1] = splitShares(y);
    const [p0, p1] = await s.run(
      beaverMul,
      { n },
      [
        [x0, yy0],
        [x1, yy1],
      ],
      'mul',
    );
    const [q0, q1] = await s.run(beaverSquare, { n }, [x0, x1], 'sq');
    const p = ringAdd(p0, p1);
    const q = ringAdd(q0, q1);
    for (let i = 0; i < n; i++) {
      expect(p[i]).toBe(BigInt.asIntN(64, x[i]! * y[i]!));
      expect(q[i]).toBe(BigInt.asIntN(64, x[i]! * x[i]!));
    }
    expectMeasuredCost(s, 'mul', beaverMul.cost({ n }));
    expectMeasuredCost(s, 'sq', beaverSquare.cost({ n }));
  });

  it('batched matmul equals the ring product', async () => {
    const p = { batch: 2, m: 5, k: 33, n: 7 };
    const x = Prg.fresh().ring(p.batch * p.m * p.k);
    const y = Prg.fresh().ring(p.batch * p.k * p.n);
    const [x0, x1] = splitShares(x);
    const [y0, y1] = splitShares(y);
    const s = new TwoPartySession();
    const [z0, z1] = await s.run(
      beaverMatmul,
      p,
      [
        [x0, y0],
        [x1, y1],
      ],
      'mm',
    );
    expect([...ringAdd(z0, z1)]).toEqual([...ringMatmulBatched(x, y, p.batch, p.m, p.k, p.n)]);
    expectMeasuredCost(s, 'mm', beaverMatmul.cost(p));
  });
});

describe('server-weight product', () => {
  it.each(['right', 'left'] as const)(
    '%s product equals the ring product; W - B is opened once per session',
    async (side) => {
      const p = { side, batch: 3, m: 4, k: 6, n: 5 };
      const xSize = side === 'right' ? p.batch * p.m * p.k : p.batch * p.k * p.n;
      const w = Prg.fresh().ring(side === 'right' ? p.k * p.n : p.m * p.k);
      const s = new TwoPartySession();
      for (let run = 0; run < 3; run++) {
        const x = Prg.fresh().ring(xSize);
        const [x0, x1] = splitShares(x);
        const [z0, z1] = await s.run(
          weightMatmul,
          p,
          [
            { x: x0, w },
            { x: x1, w: undefined },
          ],
          'w',
        );
        const expected =
          side === 'right'
            ? ringMatmulBatched(x, w, p.batch, p.m, p.k, p.n, { a: p.m * p.k, b: 0 })
            : ringMatmulBatched(w, x, p.batch, p.m, p.k, p.n, { a: 0, b: p.k * p.n });
        expect([...ringAdd(z0, z1)]).toEqual([...expected]);
      }
      expectMeasuredCost(s, 'w', weightMatmul.cost(p), 3);
    },
  );
});

describe('fixed-point products', () => {
  it('fixedMul: |error| <= 1 ulp beyond the encoding error, on random and edge values', async () => {
    const n = 20000;
    const a = gaussian(n, 30);
    const b = gaussian(n, 30);
    const edges = [0, -0, 1, -1, 1000, -1000, 2 ** 14, -(2 ** 14)];
    edges.forEach((e, i) => {
      a[i] = e;
      b[i] = edges[edges.length - 1 - i]! / 2 ** 8;
    });
    const ea = encodeFixed(a, F);
    const eb = encodeFixed(b, F);
    const [a0, a1] = shareReals(a, F);
    const [b0, b1] = shareReals(b, F);
    const s = new TwoPartySession();
    const z = openReals(
      await s.run(
        fixedMul,
        { n, fracBits: F },
        [
          [a0, b0],
          [a1, b1],
        ],
        'fm',
      ),
      F,
    );
    let worst = 0;
    for (let i = 0; i < n; i++) {
      // exact product of the encoded inputs, as reals
      const exact = (Number(ea[i]!) * Number(eb[i]!)) / 2 ** (2 * F);
      worst = Math.max(worst, Math.abs(z[i]! - exact));
    }
    expect(worst).toBeLessThanOrEqual(ulp * 1.0001);
    expectMeasuredCost(s, 'fm', fixedMul.cost({ n, fracBits: F }));
    expect(fixedMul.cost({ n, fracBits: F }).rounds).toBe(2);
  });

  it('fixedMatmul and fixedWeightMatmul against float64 matmul', async () => {
    const [m, k, n] = [8, 96, 12];
    const x = gaussian(m * k, 1);
    const w = gaussian(k * n, 0.2);
    const ref = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++)
        for (let t = 0; t < k; t++) ref[i * n + j]! += x[i * k + t]! * w[t * n + j]!;
    const [x0, x1] = shareReals(x, F);
    const [w0, w1] = shareReals(w, F);
    const s = new TwoPartySession();
    const zs = openReals(
      await s.run(fixedMatmul, { batch: 1, m, k, n, fracBits: F }, [
        [x0, w0],
        [x1, w1],
      ]),
      F,
    );
    const wEnc = encodeFixed(w, F);
    const zw = openReals(
      await s.run(fixedWeightMatmul, { side: 'right', batch: 1, m, k, n, fracBits: F }, [
        { x: x0, w: wEnc },
        { x: x1, w: undefined },
      ]),
      F,
    );
    // encoding error of each operand is <= ulp/2: |sum x w' - x' w| <= k * (|x| + |w|) * ulp/2, plus 1 ulp
    const bound = k * 8 * ulp + ulp;
    for (let i = 0; i < m * n; i++) {
      expect(Math.abs(zs[i]! - ref[i]!)).toBeLessThan(bound);
      expect(Math.abs(zw[i]! - ref[i]!)).toBeLessThan(bound);
    }
  });
});
