import { beforeAll, describe, expect, it } from 'vitest';
import { Prg } from '../crypto/prg.ts';
import type { PreprocessPair } from '../../test/runtime/preprocess.ts';
import { preprocessPair } from '../../test/runtime/preprocess.ts';
import type { ProductBatch } from './bit-products.ts';
import {
  batchOtCost,
  batchOtReceive,
  batchOtSend,
  chosenPads,
  packLowBits,
  ringSlot,
  tableWords,
  tablesSend,
  unmaskTables,
  unpackLowBits,
} from './bit-products.ts';
import { Meter, flight, sequence } from './link.ts';

let pair: PreprocessPair;
beforeAll(async () => {
  pair = await preprocessPair('bit-products');
});

const bit = (v: Uint32Array, i: number) => (v[i >> 5]! >>> (i & 31)) & 1;

/** Runs a batch at both parties; party 1 may unmask with other shares than it chose with. */
async function run(b: ProductBatch, s0: Uint32Array, s1: Uint32Array, unmaskWith = s1) {
  const meter = new Meter();
  pair.sessions[0].link.meter = meter;
  pair.sessions[1].link.meter = meter;
  const [server, client] = await Promise.all([
    (async () => {
      const { m0, m1 } = await batchOtSend(pair.sessions[0], b);
      const t = tablesSend(b, s0, m0, m1);
      pair.sessions[0].link.send(new Uint8Array(t.tables.buffer));
      return { out: t.out, m0, m1 };
    })(),
    (async () => {
      const messages = await batchOtReceive(pair.sessions[1], b, s1);
      const pads = chosenPads(b, unmaskWith, messages);
      const tables = await pair.sessions[1].link.recvExactly(4 * tableWords(b), 'tables');
      return { out: unmaskTables(b, unmaskWith, pads, new Uint32Array(tables.slice().buffer)), messages };
    })(),
  ]);
  return { server, client, cost: meter.cost() };
}

describe('products of XOR-shared bits by OT tables', () => {
  const lanes = 100;
  const b: ProductBatch = {
    vars: 7,
    words: 4,
    ringSlots: 1,
    products: [
      [0, 1],
      [2, 3, 4],
      [0, 1, 2, 3, 4, 5],
      [5, 6],
      [1, 6, 3],
      [6, 5, 4, 3, 2, 1],
    ],
  };
  const shares = () =>
    new Uint32Array(
      Prg.fresh()
        .bytes(4 * b.vars * b.words)
        .slice().buffer,
    );

  it('shares the AND of the reconstructed bits of every product, lane by lane, at the stated cost', async () => {
    const s0 = shares();
    const s1 = shares();
    const { server, client, cost } = await run(b, s0, s1);
    let bad = 0;
    let ones = 0;
    b.products.forEach((vars, k) => {
      for (let i = 0; i < 32 * b.words; i++) {
        const want = vars.every((v) => bit(s0.subarray(v * b.words), i) ^ bit(s1.subarray(v * b.words), i));
        const got = bit(server.out.subarray(k * b.words), i) ^ bit(client.out.subarray(k * b.words), i);
        if (got !== Number(want)) bad++;
        ones += got;
      }
    });
    expect(bad).toBe(0);
    expect(ones).toBeGreaterThan(0);
    expect(cost).toEqual(sequence(batchOtCost(b), flight(0, 4 * tableWords(b))));
    // Tables: 2^k - 1 entries per product of k variables.
    expect(tableWords(b)).toBe((3 + 7 + 63 + 3 + 7 + 63) * b.words);
    // The ring slot is a random OT's message: the one chosen, never the other.
    for (let v = 0; v < b.vars; v++) {
      const got = ringSlot(b, client.messages, v, 0, lanes);
      const m0 = ringSlot(b, server.m0, v, 0, lanes);
      const m1 = ringSlot(b, server.m1, v, 0, lanes);
      for (let i = 0; i < lanes; i++) {
        const c = bit(s1.subarray(v * b.words), i);
        expect(got[i]).toBe(c ? m1[i] : m0[i]);
        expect(got[i]).not.toBe(c ? m0[i] : m1[i]);
      }
    }
  });

  it('sends tables that look uniform even when party 0 holds all-zero shares', async () => {
    const meter = new Meter();
    pair.sessions[0].link.meter = meter;
    pair.sessions[1].link.meter = meter;
    const s0 = new Uint32Array(b.vars * b.words);
    const [tables] = await Promise.all([
      (async () => {
        const { m0, m1 } = await batchOtSend(pair.sessions[0], b);
        return tablesSend(b, s0, m0, m1).tables;
      })(),
      batchOtReceive(pair.sessions[1], b, shares()),
    ]);
    let ones = 0;
    for (const w of tables) for (let i = 0; i < 32; i++) ones += (w >>> i) & 1;
    expect(Math.abs(ones / (32 * tables.length) - 0.5)).toBeLessThan(0.02);
  });

  it('gives garbage to a receiver unmasking with other shares than it chose with (negative control)', async () => {
    const s0 = shares();
    const s1 = shares();
    const wrong = s1.map((x, i) => (i < b.words ? ~x >>> 0 : x));
    const { server, client } = await run(b, s0, s1, wrong);
    // Products with variable 0 use entries whose pads it cannot know: about half the lanes go wrong.
    let bad = 0;
    for (let i = 0; i < 32 * b.words; i++) {
      const want = bit(s0, i) ^ bit(s1, i) ? bit(s0.subarray(b.words), i) ^ bit(s1.subarray(b.words), i) : 0;
      if ((bit(server.out, i) ^ bit(client.out, i)) !== want) bad++;
    }
    expect(bad).toBeGreaterThan(20);
  });

  it('packs the low k bits of ring values and unpacks them', () => {
    const n = 70;
    const x = Prg.fresh().ring(n);
    for (const k of [0, 1, 31, 32, 33, 63, 64]) {
      const packed = packLowBits(x, k);
      expect(packed.byteLength).toBe(4 * Math.ceil(n / 32) * k);
      const back = unpackLowBits(packed, k, n);
      const mask = (1n << BigInt(k)) - 1n;
      for (let i = 0; i < n; i++) expect(BigInt.asUintN(64, back[i]!)).toBe(BigInt.asUintN(64, x[i]!) & mask);
    }
    // A lost bit plane is noticed: values differ.
    const short = unpackLowBits(packLowBits(x, 8).subarray(0, 4 * 3 * 7), 7, n);
    expect(short.some((v, i) => v !== (x[i]! & 255n))).toBe(true);
  });
});
