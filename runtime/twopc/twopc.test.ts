/**
 * The dealer-free primitives against their definitions, with negative
 * controls, and their cost functions against the traffic measured on the
 * in-process channel pair.
 */
import { describe, expect, it } from 'vitest';
import { Prg } from '../crypto/prg.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringAdd, ringMatmul, ringMul, ringSub } from '../ring/kernels.ts';
import { baseOtCost, baseOtReceive, baseOtSend } from './base-ot.ts';
import { crHash } from './crhash.ts';
import {
  cotCost,
  cotReceive,
  chunkOts,
  cotSend,
  iknpReceiverSetup,
  iknpSenderSetup,
  iknpSetupCost,
  rotCost,
  rotReceive,
  rotSend,
  transposeColumns,
} from './iknp.ts';
import type { IknpReceiver, IknpSender, Packing } from './iknp.ts';
import type { Link, Meter, PairCost } from './link.ts';
import { meteredPair, sequence } from './link.ts';
import type { MatmulShape, OtSession } from './triples.ts';
import {
  andTriples,
  andTriplesCost,
  beaverTriples,
  beaverTriplesCost,
  gilboaMatmul,
  gilboaMatmulCost,
  gilboaProduct,
  gilboaProductCost,
  matrixTriple,
  matrixTripleCost,
  otSessionSetup,
  otSessionSetupCost,
  weightTriple,
  weightTripleCost,
} from './triples.ts';

const seed = (label: string) => new Prg(new Uint8Array(16)).derive(label);
const bit = (bytes: Uint8Array, i: number) => (bytes[i >> 3]! >> (i & 7)) & 1;
const equalBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Fraction of bits where a and b agree: about 1/2 for independent uniform strings. */
function agreement(a: Uint8Array, b: Uint8Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) {
    let x = ~(a[i]! ^ b[i]!) & 0xff;
    while (x) {
      same += x & 1;
      x >>= 1;
    }
  }
  return same / (8 * a.length);
}

function expectCost(measured: PairCost, predicted: PairCost): void {
  expect(measured.bytes).toEqual(predicted.bytes);
  expect(measured.flights).toBe(predicted.flights);
  expect(measured.first).toBe(predicted.first);
  expect(measured.last).toBe(predicted.last);
}

async function sessions(label: string): Promise<{
  s: [OtSession, OtSession];
  links: readonly [Link, Link];
  meter: ReturnType<typeof meteredPair>['meter'];
}> {
  const { links, meter } = meteredPair();
  const s = await Promise.all([
    otSessionSetup(links[0], seed(`${label}/0`)),
    otSessionSetup(links[1], seed(`${label}/1`)),
  ]);
  return { s, links, meter };
}

/** One batch of m correlated OTs of `width` at fixed seeds: choices, correlations, both outputs, bytes sent. */
async function cotBatch(
  ends: { snd: IknpSender; rcv: IknpReceiver; links: readonly [Link, Link]; meter: Meter },
  m: number,
  width: number,
  label: string,
  packing?: Packing,
): Promise<{ choices: Uint8Array; deltaAll: Ring; xs: Ring; outs: Ring; bytes: [number, number] }> {
  const { snd, rcv, links, meter } = ends;
  const choices = seed(`${label}c${m}`)
    .bytes(Math.ceil(m / 8))
    .slice();
  const deltaAll = seed(`${label}d${m}`)
    .ring(m * width)
    .slice();
  const xs = new BigInt64Array(m * width);
  const outs = new BigInt64Array(m * width);
  const start = meter.cost();
  await Promise.all([
    cotSend(
      snd,
      links[0],
      m,
      width,
      (from, count) => deltaAll.slice(from * width, (from + count) * width),
      (from, _c, x) => xs.set(x, from * width),
      packing,
    ),
    cotReceive(rcv, links[1], choices, m, width, (from, _c, o) => outs.set(o, from * width), packing),
  ]);
  const end = meter.cost();
  return {
    choices,
    deltaAll,
    xs,
    outs,
    bytes: [end.bytes[0] - start.bytes[0], end.bytes[1] - start.bytes[1]],
  };
}

describe('base OT (Chou-Orlandi on ristretto255)', () => {
  it('the receiver gets k_c, not k_{1-c}; traffic as predicted', async () => {
    const { links, meter } = meteredPair();
    const choices = Array.from({ length: 128 }, (_, i) => (i * 7) % 3 === 0);
    const [sent, got] = await Promise.all([
      baseOtSend(links[0], 128, seed('s')),
      baseOtReceive(links[1], choices, seed('r')),
    ]);
    choices.forEach((c, i) => {
      expect(equalBytes(got[i]!, (c ? sent.k1 : sent.k0)[i]!)).toBe(true);
      // Negative control: the other key differs (and the keys are not all alike).
      expect(equalBytes(got[i]!, (c ? sent.k0 : sent.k1)[i]!)).toBe(false);
    });
    expect(new Set(got.map((k) => Buffer.from(k).toString('hex'))).size).toBe(128);
    expectCost(meter.cost(), baseOtCost(128, 0));
  });

  it('a receiver point that is not on the curve ends the run with an error', async () => {
    const { links } = meteredPair();
    const sending = baseOtSend(links[0], 2, seed('s'));
    await links[1].recv();
    links[1].send(new Uint8Array(64).fill(0xff));
    await expect(sending).rejects.toThrow(/not a ristretto255 point/);
  });
});

describe('IKNP OT extension', () => {
  it('transposes bit matrices (oracle: bit by bit)', () => {
    const mp = 192;
    const cols = seed('t')
      .bytes((128 * mp) / 8)
      .slice();
    const rows = transposeColumns(cols, mp);
    for (let j = 0; j < 128; j++)
      for (let i = 0; i < mp; i += 7) expect(bit(rows, 128 * i + j)).toBe(bit(cols, mp * j + i));
  });

  it('random OT: receiver gets m_r; m_{1-r} is independent of its view; reproducible', async () => {
    const run = async (label: string) => {
      const { links, meter } = meteredPair();
      const [snd, rcv] = await Promise.all([
        iknpSenderSetup(links[0], seed(`${label}s`)),
        iknpReceiverSetup(links[1], seed(`${label}r`)),
      ]);
      const m = 5000;
      const choices = seed(`${label}c`)
        .bytes(Math.ceil(m / 8))
        .slice();
      const before = meter.cost();
      const [msgs, got] = await Promise.all([
        rotSend(snd, links[0], m),
        rotReceive(rcv, links[1], choices, m),
      ]);
      const after = meter.cost();
      return { m, choices, msgs, got, setup: before, total: after };
    };
    const { m, choices, msgs, got, setup, total } = await run('a');
    const other = new Uint8Array(16 * m);
    for (let i = 0; i < m; i++) {
      const mine = (bit(choices, i) ? msgs.m1 : msgs.m0).subarray(16 * i, 16 * i + 16);
      const theirs = (bit(choices, i) ? msgs.m0 : msgs.m1).subarray(16 * i, 16 * i + 16);
      expect(equalBytes(got.subarray(16 * i, 16 * i + 16), mine)).toBe(true);
      other.set(theirs, 16 * i);
    }
    // The message not chosen agrees with the received one on about half the bits (independent).
    expect(Math.abs(agreement(other, got) - 0.5)).toBeLessThan(0.01);
    // Wrong-choice negative control: had the receiver claimed the other bit, its output would not match.
    let wrongMatches = 0;
    for (let i = 0; i < m; i++)
      if (
        equalBytes(
          got.subarray(16 * i, 16 * i + 16),
          (bit(choices, i) ? msgs.m0 : msgs.m1).subarray(16 * i, 16 * i + 16),
        )
      )
        wrongMatches++;
    expect(wrongMatches).toBe(0);
    expectCost(setup, iknpSetupCost(0));
    expectCost(total, sequence(iknpSetupCost(0), rotCost(m, 1, 0)));
    // Fixed seeds: the same run gives the same messages; other seeds give others.
    const again = await run('a');
    expect(equalBytes(again.got, got)).toBe(true);
    const fresh = await run('b');
    expect(equalBytes(fresh.msgs.m0, msgs.m0)).toBe(false);
  });

  it('correlated OT over Z_2^64 with vector correlations: out = x + r Delta; across chunks', async () => {
    const { links, meter } = meteredPair();
    const [snd, rcv] = await Promise.all([
      iknpSenderSetup(links[0], seed('s')),
      iknpReceiverSetup(links[1], seed('r')),
    ]);
    for (const [m, width] of [
      [3000, 1],
      [700, 3],
      [2100, 1000], // three chunks of at most 1024 OTs
    ] as const) {
      const { choices, deltaAll, xs, outs, bytes } = await cotBatch({ snd, rcv, links, meter }, m, width, '');
      // Oracle: x + r Delta by ring kernels; the wrong choice's value x + (1 - r) Delta must never appear.
      const r = new BigInt64Array(m * width);
      for (let i = 0; i < m; i++) r.fill(BigInt(bit(choices, i)), i * width, (i + 1) * width);
      const want = ringAdd(xs, ringMul(r, deltaAll));
      const wrong = ringAdd(xs, ringMul(ringSub(new BigInt64Array(m * width).fill(1n), r), deltaAll));
      expect(equalBytes(new Uint8Array(outs.buffer), new Uint8Array(want.buffer))).toBe(true);
      const o32 = new Uint32Array(outs.buffer);
      const w32 = new Uint32Array(wrong.buffer);
      let same = 0;
      for (let e = 0; e < m * width; e++)
        if (o32[2 * e] === w32[2 * e] && o32[2 * e + 1] === w32[2 * e + 1]) same++;
      expect(same).toBe(0);
      const delta: PairCost = {
        bytes,
        flights: 2,
        first: 1,
        last: 0,
      };
      expectCost(delta, cotCost(m, width, 0));
    }
  });
});

describe('Gilboa products and triples', () => {
  it('elementwise Gilboa: shares of a b; a receiver with wrong bits gets a wrong product', async () => {
    const { s, meter } = await sessions('g');
    const n = 9001;
    expect(chunkOts(1)).toBeLessThan(64 * n); // the product's OTs span two chunks
    const a = seed('a').ring(n).slice();
    const b = seed('b').ring(n).slice();
    const before = meter.cost();
    const [z0, z1] = await Promise.all([gilboaProduct(s[0], 0, a), gilboaProduct(s[1], 0, b)]);
    const after = meter.cost();
    // Oracle: BigInt product mod 2^64, element by element.
    const sum = ringAdd(z0, z1);
    for (let i = 0; i < n; i++) expect(sum[i]).toBe(BigInt.asIntN(64, a[i]! * b[i]!));
    expect(after.bytes[0] - before.bytes[0]).toBe(gilboaProductCost(n, 0).bytes[0]);
    expect(after.bytes[1] - before.bytes[1]).toBe(gilboaProductCost(n, 0).bytes[1]);
    // Negative control: the receiver's bits of b xor 1 give a product off by a wherever a is odd-weighted.
    const flipped = b.map((v) => v ^ 1n);
    const [w0, w1] = await Promise.all([gilboaProduct(s[0], 0, a), gilboaProduct(s[1], 0, flipped)]);
    const wrong = ringAdd(w0, w1);
    let bad = 0;
    for (let i = 0; i < n; i++) if (wrong[i] !== BigInt.asIntN(64, a[i]! * b[i]!)) bad++;
    expect(bad).toBe(n);
  });

  it('Beaver triples: c = a b mod 2^64 for every element; setup and triple traffic as predicted', async () => {
    const { links, meter } = meteredPair();
    const s = await Promise.all([otSessionSetup(links[0], seed('t0')), otSessionSetup(links[1], seed('t1'))]);
    expectCost(meter.cost(), otSessionSetupCost());
    const n = 777;
    const [t0, t1] = await Promise.all([
      beaverTriples(s[0], n, seed('u0')),
      beaverTriples(s[1], n, seed('u1')),
    ]);
    expectCost(meter.cost(), sequence(otSessionSetupCost(), beaverTriplesCost(n)));
    const a = ringAdd(t0.a, t1.a);
    const b = ringAdd(t0.b, t1.b);
    const c = ringAdd(t0.c, t1.c);
    for (let i = 0; i < n; i++) expect(c[i]).toBe(BigInt.asIntN(64, a[i]! * b[i]!));
    // Negative control: a party's c alone is not its a b (the cross terms matter).
    expect(Buffer.from(t0.c.buffer).equals(Buffer.from(ringMul(t0.a, t0.b).buffer))).toBe(false);
  });

  it('matrix triples and weight triples: C = A B over the ring (oracle: BigInt matmul)', async () => {
    const { s, meter } = await sessions('m');
    const shape: MatmulShape = { n: 3, k: 5, w: 4 };
    const before = meter.cost();
    const [t0, t1] = await Promise.all([
      matrixTriple(s[0], shape, seed('v0')),
      matrixTriple(s[1], shape, seed('v1')),
    ]);
    const mid = meter.cost();
    const a = ringAdd(t0.a, t1.a);
    const b = ringAdd(t0.b, t1.b);
    const c = ringAdd(t0.c, t1.c);
    const oracle = (x: Ring, y: Ring, { n, k, w }: MatmulShape) => {
      const out = new BigInt64Array(n * w);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < w; j++) {
          let acc = 0n;
          for (let l = 0; l < k; l++) acc += x[i * k + l]! * y[l * w + j]!;
          out[i * w + j] = BigInt.asIntN(64, acc);
        }
      return out;
    };
    expect(c).toEqual(oracle(a, b, shape));
    const diff = (x: PairCost, y: PairCost): [number, number] => [
      y.bytes[0] - x.bytes[0],
      y.bytes[1] - x.bytes[1],
    ];
    expect(diff(before, mid)).toEqual(matrixTripleCost(shape).bytes);
    // Weight triple: A at the client, B at the server.
    const big: MatmulShape = { n: 4, k: 70, w: 9 };
    const wa = seed('wa')
      .ring(big.n * big.k)
      .slice();
    const wb = seed('wb')
      .ring(big.k * big.w)
      .slice();
    const [c0, c1] = await Promise.all([weightTriple(s[0], big, wb), weightTriple(s[1], big, wa)]);
    expect(ringAdd(c0, c1)).toEqual(oracle(wa, wb, big));
    expect(ringAdd(c0, c1)).toEqual(ringMatmul(wa, wb, big.n, big.k, big.w));
    expect(diff(mid, meter.cost())).toEqual(weightTripleCost(big).bytes);
    expect(weightTripleCost(big).bytes).toEqual(gilboaMatmulCost(big, 0).bytes);
    // Negative control: the client using another A than the one it keeps gives a wrong C.
    const other = wa.map((v, i) => (i === 0 ? v + 1n : v));
    const [d0, d1] = await Promise.all([gilboaMatmul(s[0], 0, big, wb), gilboaMatmul(s[1], 0, big, other)]);
    expect(ringAdd(d0, d1)).not.toEqual(oracle(wa, wb, big));
  });

  it('AND triples: c = a AND b for every bit, 32 bytes per triple, reproducible', async () => {
    const run = async (label: string) => {
      const { s, meter } = await sessions(label);
      const before = meter.cost();
      const n = 4099;
      const t = await Promise.all([
        andTriples(s[0], n, seed(`${label}0`)),
        andTriples(s[1], n, seed(`${label}1`)),
      ]);
      const after = meter.cost();
      return { n, t, traffic: [after.bytes[0] - before.bytes[0], after.bytes[1] - before.bytes[1]] };
    };
    const { n, t, traffic } = await run('x');
    const [t0, t1] = t;
    let ones = 0;
    for (let i = 0; i < n; i++) {
      const a = bit(t0.a, i) ^ bit(t1.a, i);
      const b = bit(t0.b, i) ^ bit(t1.b, i);
      expect(bit(t0.c, i) ^ bit(t1.c, i)).toBe(a & b);
      ones += a & b;
    }
    // a and b uniform: a AND b is 1 about a quarter of the time (not a constant).
    expect(Math.abs(ones / n - 0.25)).toBeLessThan(0.05);
    expect(traffic).toEqual(andTriplesCost(n).bytes);
    // Negative control: with one party's c flipped the relation fails everywhere.
    let held = 0;
    for (let i = 0; i < n; i++)
      if (
        (bit(t0.c, i) ^ 1 ^ bit(t1.c, i)) ===
        ((bit(t0.a, i) ^ bit(t1.a, i)) & (bit(t0.b, i) ^ bit(t1.b, i)))
      )
        held++;
    expect(held).toBe(0);
    const again = await run('x');
    expect(equalBytes(again.t[0].c, t0.c)).toBe(true);
  });

  it('cross-checks the hash: distinct tweaks give distinct outputs for the same input', () => {
    const x = new Uint8Array(32);
    const h = crHash(x, 2, 0, 2);
    expect(equalBytes(h.subarray(0, 16), h.subarray(16, 32))).toBe(false);
    expect(equalBytes(h.subarray(0, 16), h.subarray(32, 48))).toBe(false);
  });
});

describe('packed corrections', () => {
  it('correlated OT with b_i bits per correction: out = x + r Delta mod 2^b_i; bytes as packed', async () => {
    const { links, meter } = meteredPair();
    const [snd, rcv] = await Promise.all([
      iknpSenderSetup(links[0], seed('ps')),
      iknpReceiverSetup(links[1], seed('pr')),
    ]);
    // Widths across 32-bit word edges, runs of 37 OTs not aligned to words or chunks.
    const widths = [1, 7, 31, 32, 33, 40, 63, 64, 13];
    const packing: Packing = { stride: 37, bits: (j) => widths[j % widths.length]! };
    for (const [m, width] of [
      [333, 3],
      [1100, 1000], // two chunks of at most 1024 OTs
    ] as const) {
      const { choices, deltaAll, xs, outs, bytes } = await cotBatch(
        { snd, rcv, links, meter },
        m,
        width,
        'p',
        packing,
      );
      // Oracle: BigInt x + r Delta modulo 2^b_i; with b_i < 64 the high bits must differ somewhere
      // (they are not sent), so the packing is real.
      let wrong = 0;
      let highDiffers = 0;
      for (let i = 0; i < m; i++) {
        const b = BigInt(packing.bits(Math.floor(i / 37)));
        const mask = (1n << b) - 1n;
        for (let e = i * width; e < (i + 1) * width; e++) {
          const diff = outs[e]! - (bit(choices, i) ? xs[e]! + deltaAll[e]! : xs[e]!);
          if ((diff & mask) !== 0n) wrong++;
          if (b < 64n && BigInt.asIntN(64, diff) !== 0n) highDiffers++;
        }
      }
      expect(wrong).toBe(0);
      expect(highDiffers).toBeGreaterThan(0);
      // Bytes: per chunk, the sum of b_i width bits rounded up to bytes (chunks as the unpacked test).
      let corrections = 0;
      for (let from = 0; from < m; from += chunkOts(Math.ceil(width / 2))) {
        const to = Math.min(m, from + chunkOts(Math.ceil(width / 2)));
        let bits = 0;
        for (let i = from; i < to; i++) bits += packing.bits(Math.floor(i / 37)) * width;
        corrections += Math.ceil(bits / 8);
      }
      const measured = bytes;
      expect(measured).toEqual([corrections, cotCost(m, width, 0).bytes[1]]);
      expect(cotCost(m, width, 0, packing).bytes).toEqual(measured);
      expect(corrections).toBeLessThan(cotCost(m, width, 0).bytes[0]);
    }
  });

  it('a packing outside 1 to 64 bits is refused', () => {
    const bad: Packing = { stride: 64, bits: () => 65 };
    expect(() => cotCost(128, 1, 0, bad)).toThrow(/65 bits per correction/);
    const zero: Packing = { stride: 64, bits: () => 0 };
    expect(() => cotCost(128, 1, 0, zero)).toThrow(/0 bits per correction/);
  });

  it('packed Gilboa products are exact at extreme values; corrections about half the unpacked 64 x 8 bytes', async () => {
    const { s, meter } = await sessions('px');
    const M = (1n << 64n) - 1n;
    const extremes = [M, 0n, 1n, 1n << 63n, M - 1n, (1n << 32n) - 1n, 0x5555555555555555n];
    const a: bigint[] = [];
    const b: bigint[] = [];
    for (const x of extremes)
      for (const y of extremes) {
        a.push(x);
        b.push(y);
      }
    const n = a.length;
    const A = BigInt64Array.from(a, (x) => BigInt.asIntN(64, x));
    const B = BigInt64Array.from(b, (x) => BigInt.asIntN(64, x));
    for (const sender of [0, 1] as const) {
      const before = meter.cost();
      const [z0, z1] = await Promise.all([
        gilboaProduct(s[0], sender, sender === 0 ? A : B),
        gilboaProduct(s[1], sender, sender === 1 ? A : B),
      ]);
      const after = meter.cost();
      const sum = ringAdd(z0, z1);
      for (let i = 0; i < n; i++) expect(BigInt.asUintN(64, sum[i]!)).toBe((a[i]! * b[i]!) & M);
      const sent = after.bytes[sender] - before.bytes[sender];
      expect(sent).toBe(gilboaProductCost(n, sender).bytes[sender]);
      // The unpacked product sent 64 corrections of 8 bytes per element (of 32-padded elements).
      const padded = Math.ceil(n / 32) * 32;
      const old = 64 * 8 * padded;
      let bits = 0;
      for (let j = 0; j < 64; j++) bits += (64 - j) * padded;
      expect(sent).toBe(Math.ceil(bits / 8));
      expect(sent / old).toBeCloseTo(260 / 512, 6);
    }
    // The matrix product with all-ones operands: X = -1, Y = -1 everywhere gives k at every entry.
    const shape: MatmulShape = { n: 3, k: 40, w: 5 };
    const X = new BigInt64Array(shape.n * shape.k).fill(-1n);
    const Y = new BigInt64Array(shape.k * shape.w).fill(-1n);
    Y[0] = 0n; // one zero weight: row 0 of the result loses one term in column 0
    const before = meter.cost();
    const [c0, c1] = await Promise.all([weightTriple(s[0], shape, Y), weightTriple(s[1], shape, X)]);
    const after = meter.cost();
    const c = ringAdd(c0, c1);
    expect(c).toEqual(ringMatmul(X, Y, shape.n, shape.k, shape.w));
    expect(c[0]).toBe(BigInt(shape.k - 1));
    const sent = after.bytes[0] - before.bytes[0];
    expect(sent).toBe(weightTripleCost(shape).bytes[0]);
    const padded = Math.ceil((shape.n * shape.k) / 32) * 32;
    expect(sent).toBe(260 * shape.w * padded);
    expect(sent / (512 * shape.w * padded)).toBeLessThan(0.51);
  });
});
