/**
 * Shared random bits and bit products (./bits.ts) against their definitions, with negative
 * controls, and their measured traffic against the cost functions.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PreprocessPair } from '../../test/runtime/preprocess.ts';
import { preprocessPair } from '../../test/runtime/preprocess.ts';
import { Prg } from '../crypto/prg.ts';
import type { Ring } from '../ring/kernels.ts';
import { bitProducts, bitProductsCost, randomBitWords, randomBitWordsCost } from './bits.ts';
import type { PairCost } from './link.ts';
import { Meter } from './link.ts';

const M64 = (1n << 64n) - 1n;
const u = (x: bigint): bigint => x & M64;
const open = (a: Ring, b: Ring): bigint[] => Array.from(a, (x, i) => u(x + b[i]!));
const seed = (label: string) => new Prg(new Uint8Array(16)).derive(label);

let pair: PreprocessPair;
beforeAll(async () => {
  pair = await preprocessPair('bits');
}, 60_000);

/** Runs `f` at both parties with a fresh meter; returns both results and the traffic. */
async function measured<T>(f: (party: 0 | 1) => Promise<T>): Promise<{ out: [T, T]; cost: PairCost }> {
  const meter = new Meter();
  pair.sessions[0].link.meter = meter;
  pair.sessions[1].link.meter = meter;
  const out = (await Promise.all([f(0), f(1)])) as [T, T];
  return { out, cost: meter.cost() };
}

describe('shared random bits', () => {
  it('each plane adds up to bit j of xor0 ^ xor1; about half ones; exact cost', async () => {
    const n = 70;
    const { out, cost } = await measured((p) => randomBitWords(pair.sessions[p], n, seed(`w${p}`)));
    expect(cost).toEqual(randomBitWordsCost(n));
    const word = out[0].xor.map((x, i) => x ^ out[1].xor[i]!);
    let ones = 0;
    for (let j = 0; j < 64; j++) {
      const plane = open(out[0].planes[j]!, out[1].planes[j]!);
      const want = Array.from(word, (w) => (u(w) >> BigInt(j)) & 1n);
      expect(plane).toEqual(want);
      ones += want.filter((b) => b === 1n).length;
    }
    expect(Math.abs(ones / (64 * n) - 0.5)).toBeLessThan(0.04);
    // Negative control: the plain sum of the XOR shares is not the bit where both shares are 1.
    const naive = Array.from(out[0].xor, (x, i) => (u(x) & 1n) + (u(out[1].xor[i]!) & 1n));
    expect(naive.some((s) => s === 2n)).toBe(true);
  });
});

describe('bit products', () => {
  it('shares of (c0 xor c1) v for every element, both directions, exact cost', async () => {
    const k = 150;
    const bits = [0, 1].map((p) =>
      seed(`c${p}`)
        .ring(k)
        .map((x) => x & 1n),
    );
    const v = [0, 1].map((p) => seed(`v${p}`).ring(k));
    const value = open(v[0]!, v[1]!);
    const c = bits[0]!.map((x, i) => x ^ bits[1]![i]!);
    for (const first of [0, 1] as const) {
      const { out, cost } = await measured((p) => bitProducts(pair.sessions[p], bits[p]!, v[p]!, first));
      expect(cost).toEqual(bitProductsCost(k, first));
      expect(open(out[0], out[1])).toEqual(value.map((x, i) => u(c[i]! * x)));
    }
    // Negative control: the client's bits flipped gives (1 - c) v, so the XOR is what is used.
    const flipped = bits[1]!.map((x) => x ^ 1n);
    const { out } = await measured((p) =>
      bitProducts(pair.sessions[p], p === 0 ? bits[0]! : flipped, v[p]!, 0),
    );
    expect(open(out[0], out[1])).toEqual(value.map((x, i) => u((1n - c[i]!) * x)));
  });
});

describe('packed bit conversions and products', () => {
  it('planes needed modulo 2^need(j): 2^(64 - need) plane_j is exact; fewer bytes', async () => {
    const n = 40;
    const need = (j: number): number => (j === 63 ? 64 : Math.min(64, 70 - j));
    const { out, cost } = await measured((p) => randomBitWords(pair.sessions[p], n, seed(`q${p}`), need));
    expect(cost).toEqual(randomBitWordsCost(n, need));
    const word = out[0].xor.map((x, i) => x ^ out[1].xor[i]!);
    let highWrong = 0;
    for (let j = 0; j < 64; j++) {
      const mask = (1n << BigInt(need(j))) - 1n;
      const plane = open(out[0].planes[j]!, out[1].planes[j]!);
      plane.forEach((v, i) => {
        expect(v & mask).toBe((u(word[i]!) >> BigInt(j)) & 1n);
        if (v > 1n) highWrong++;
      });
    }
    // The bits above need(j) are not made: some planes hold more than a bit there.
    expect(highWrong).toBeGreaterThan(0);
    // Corrections: need(j) - 1 bits per OT (the product enters doubled), 32 OTs per plane.
    let bits = 0;
    for (let j = 0; j < 64; j++) bits += (need(j) - 1) * 64;
    expect(cost.bytes[0]).toBe(bits / 8);
    expect(cost.bytes[0]).toBeLessThan(randomBitWordsCost(n).bytes[0]);
    // The default makes exact planes with 63-bit corrections.
    expect(randomBitWordsCost(n).bytes[0]).toBe((63 * 64 * 64) / 8);
  });

  it('products needed modulo 2^b: exact there, in both directions; bytes as packed', async () => {
    const k = 90;
    const packing = { stride: 30, bits: (j: number) => [64, 33, 5][j]! };
    const bits = [0, 1].map((p) =>
      seed(`pc${p}`)
        .ring(k)
        .map((x) => x & 1n),
    );
    const v = [0, 1].map((p) => seed(`pv${p}`).ring(k));
    const value = open(v[0]!, v[1]!);
    const c = bits[0]!.map((x, i) => x ^ bits[1]![i]!);
    for (const first of [0, 1] as const) {
      const { out, cost } = await measured((p) =>
        bitProducts(pair.sessions[p], bits[p]!, v[p]!, first, packing),
      );
      expect(cost).toEqual(bitProductsCost(k, first, packing));
      const got = open(out[0], out[1]);
      got.forEach((g, i) => {
        const mask = (1n << BigInt(packing.bits(Math.floor(i / 30)))) - 1n;
        expect(g & mask).toBe(u(c[i]! * value[i]!) & mask);
      });
      // Each direction's corrections: 30 (64 + 33 + 5) bits, rounded up to bytes.
      const unpacked = bitProductsCost(k, first);
      const saved = 8 * k - Math.ceil((30 * (64 + 33 + 5)) / 8);
      expect(cost.bytes).toEqual([unpacked.bytes[0] - saved, unpacked.bytes[1] - saved]);
    }
  });
});
