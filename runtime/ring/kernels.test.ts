// Ring kernels against BigInt arithmetic (the independent oracle: exact mod 2^64).
import { describe, expect, it } from 'vitest';
import { Prg } from '../crypto/prg.ts';
import { assembleModule, Code, signedLeb, unsignedLeb } from './wasm-asm.ts';
import {
  ringAdd,
  ringAndScalar,
  ringBit,
  ringMatmul,
  ringMatmulBatched,
  ringMsb,
  ringMul,
  ringMulScalar,
  ringNeg,
  ringReduceMiddle,
  ringShl,
  ringShrArith,
  ringShrLogical,
  ringSub,
  ringXor,
} from './kernels.ts';

const wrap = (v: bigint) => BigInt.asIntN(64, v);
const rand = (n: number) => Prg.fresh().ring(n);
/** Random values with the edge cases mixed in. */
function withEdges(n: number): BigInt64Array {
  const a = rand(n);
  const edges = [0n, 1n, -1n, (1n << 63n) - 1n, -(1n << 63n), 1n << 62n, -(1n << 62n)];
  edges.forEach((e, i) => (a[i % n] = e));
  return a;
}

function refMatmul(a: BigInt64Array, b: BigInt64Array, m: number, k: number, n: number): BigInt64Array {
  const c = new BigInt64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0n;
      for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * n + j]!;
      c[i * n + j] = wrap(s);
    }
  return c;
}

describe('wasm assembler', () => {
  it('encodes LEB128 as the spec examples', () => {
    expect(unsignedLeb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(signedLeb(-123456n)).toEqual([0xc0, 0xbb, 0x78]);
    expect(signedLeb(63n)).toEqual([0x3f]);
    expect(signedLeb(64n)).toEqual([0xc0, 0x00]);
  });

  it('assembles a module the engine validates and runs', () => {
    const body = new Code().get(0).get(1).i64Mul();
    const bytes = assembleModule(
      { module: 'env', field: 'mem', initialPages: 1, maximumPages: 1, shared: false },
      [{ name: 'mul', params: ['i64', 'i64'], results: ['i64'], body }],
    );
    const W = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;
    expect(W.validate(bytes)).toBe(true);
  });
});

describe('elementwise ring kernels', () => {
  const n = 1001; // odd, to cover any tail handling
  const a = withEdges(n);
  const b = rand(n);

  it('add, sub, mul, neg, xor wrap mod 2^64', () => {
    const add = ringAdd(a, b);
    const sub = ringSub(a, b);
    const mul = ringMul(a, b);
    const neg = ringNeg(a);
    const xor = ringXor(a, b);
    for (let i = 0; i < n; i++) {
      expect(add[i]).toBe(wrap(a[i]! + b[i]!));
      expect(sub[i]).toBe(wrap(a[i]! - b[i]!));
      expect(mul[i]).toBe(wrap(a[i]! * b[i]!));
      expect(neg[i]).toBe(wrap(-a[i]!));
      expect(xor[i]).toBe(a[i]! ^ b[i]!);
    }
  });

  it('scalar ops and shifts', () => {
    const s = -0x1234_5678_9abcn;
    const ms = ringMulScalar(a, s);
    const sra = ringShrArith(a, 16);
    const srl = ringShrLogical(a, 16);
    const shl = ringShl(a, 5);
    const msb = ringMsb(a);
    const bit = ringBit(a, 40);
    const and = ringAndScalar(a, 0xffn);
    for (let i = 0; i < n; i++) {
      expect(ms[i]).toBe(wrap(a[i]! * s));
      expect(sra[i]).toBe(a[i]! >> 16n);
      expect(srl[i]).toBe(wrap(BigInt.asUintN(64, a[i]!) >> 16n));
      expect(shl[i]).toBe(wrap(a[i]! << 5n));
      expect(msb[i]).toBe(a[i]! < 0n ? 1n : 0n);
      expect(bit[i]).toBe((BigInt.asUintN(64, a[i]!) >> 40n) & 1n);
      expect(and[i]).toBe(a[i]! & 0xffn);
    }
  });

  it('writes into an out array that aliases an operand', () => {
    const x = rand(10);
    const y = rand(10);
    const expected = ringAdd(x, y);
    ringAdd(x, y, x);
    expect([...x]).toEqual([...expected]);
  });

  it('rejects operands of different lengths and bad shifts', () => {
    expect(() => ringAdd(rand(3), rand(4))).toThrow(/lengths differ/);
    expect(() => ringShrArith(rand(3), 64)).toThrow(/out of range/);
  });
});

describe('ring matmul', () => {
  it.each([
    [1, 1, 1],
    [3, 5, 7],
    [4, 4, 4],
    [9, 300, 6],
    [5, 0, 3],
    [17, 257, 13],
  ])('%ix%i by %ix? matches BigInt', (m, k, n) => {
    const a = withEdges(Math.max(1, m * k)).subarray(0, m * k);
    const b = rand(k * n);
    expect([...ringMatmul(a, b, m, k, n)]).toEqual([...refMatmul(a, b, m, k, n)]);
  });

  it('large products (helper thread path) match BigInt on sampled entries', () => {
    const [m, k, n] = [128, 256, 160];
    const a = rand(m * k);
    const b = rand(k * n);
    const c = ringMatmul(a, b, m, k, n);
    for (const [i, j] of [
      [0, 0],
      [127, 159],
      [64, 3],
      [63, 100],
      [1, 158],
    ] as const) {
      let s = 0n;
      for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * n + j]!;
      expect(c[i * n + j]).toBe(wrap(s));
    }
  });

  it('batched products, with a broadcast right operand', () => {
    const [batch, m, k, n] = [3, 2, 5, 4];
    const a = rand(batch * m * k);
    const b = rand(batch * k * n);
    const c = ringMatmulBatched(a, b, batch, m, k, n);
    const shared = ringMatmulBatched(a, b.subarray(0, k * n), batch, m, k, n, { a: m * k, b: 0 });
    for (let t = 0; t < batch; t++) {
      const at = a.subarray(t * m * k, (t + 1) * m * k);
      expect([...c.subarray(t * m * n, (t + 1) * m * n)]).toEqual([
        ...refMatmul(at, b.subarray(t * k * n, (t + 1) * k * n), m, k, n),
      ]);
      expect([...shared.subarray(t * m * n, (t + 1) * m * n)]).toEqual([
        ...refMatmul(at, b.subarray(0, k * n), m, k, n),
      ]);
    }
  });

  it('rejects operand sizes that do not match the shape', () => {
    expect(() => ringMatmul(rand(6), rand(6), 2, 3, 3)).toThrow(/shapes need/);
  });
});

describe('ring reduction', () => {
  it('sums the middle axis', () => {
    const [outer, len, inner] = [3, 7, 5];
    const a = rand(outer * len * inner);
    const r = ringReduceMiddle(a, outer, len, inner);
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < inner; j++) {
        let s = 0n;
        for (let l = 0; l < len; l++) s += a[(o * len + l) * inner + j]!;
        expect(r[o * inner + j]).toBe(wrap(s));
      }
  });
});
