import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeDcfCorrections, encodeDcfCorrections } from './dcf-codec.ts';
import { dcfCorrectionBytes, dcfEval, dcfGen } from './dcf.ts';
import type { DcfShape } from './dcf.ts';

function randomSeeds(count: number): Uint32Array {
  return new Uint32Array(new Uint8Array(randomBytes(16 * count)).buffer);
}

function randomWords(count: number): BigInt64Array {
  return new BigInt64Array(new Uint8Array(randomBytes(8 * count)).buffer);
}

/** Evaluation points per key: the edges around alpha and of the domain, then random ones. */
function pointsFor(alpha: BigInt64Array, bits: number, randomPlanes: number): BigInt64Array {
  const n = alpha.length;
  const top = (1n << BigInt(bits)) - 1n;
  const edges = [(a: bigint) => a, (a: bigint) => a - 1n, (a: bigint) => a + 1n, () => 0n, () => top];
  const x = new BigInt64Array(n * (edges.length + randomPlanes));
  edges.forEach((f, p) => {
    for (let e = 0; e < n; e++) x[p * n + e] = BigInt.asIntN(64, f(BigInt.asUintN(bits, alpha[e]!)));
  });
  x.set(randomWords(n * randomPlanes), n * edges.length);
  return x;
}

/** Reconstructs both parties' outputs and compares with beta * [x < alpha] computed with BigInt. */
function checkDcf(bits: number, payloadWords: number, count: number, alphaOverride?: bigint[]): void {
  const shape: DcfShape = { bits, payloadWords, count };
  const alpha = randomWords(count);
  alphaOverride?.forEach((a, e) => (alpha[e] = a));
  const beta = randomWords(count * payloadWords);
  const s0 = randomSeeds(count);
  const s1 = randomSeeds(count);
  const corrections = dcfGen(shape, alpha, beta, s0, s1);
  const x = pointsFor(alpha, bits, 4);
  const y0 = dcfEval({ party: 0, rootSeeds: s0, corrections }, x);
  const y1 = dcfEval({ party: 1, rootSeeds: s1, corrections }, x);
  let mismatches = 0;
  for (let j = 0; j < x.length; j++) {
    const e = j % count;
    const less = BigInt.asUintN(bits, x[j]!) < BigInt.asUintN(bits, alpha[e]!);
    for (let k = 0; k < payloadWords; k++) {
      const got = BigInt.asIntN(64, y0[k * x.length + j]! + y1[k * x.length + j]!);
      if (got !== (less ? beta[k * count + e]! : 0n)) mismatches++;
    }
  }
  expect(mismatches).toBe(0);
}

describe('distributed comparison function', () => {
  it('shares beta * [x < alpha] on 64-bit inputs with a 2-word payload', () => checkDcf(64, 2, 300));
  it('compares only the low bits of short inputs', () => checkDcf(20, 1, 300));
  it('works for 1-bit inputs and wide payloads', () => checkDcf(1, 5, 64));
  it('handles alpha at the ends of the domain', () => checkDcf(16, 1, 4, [0n, 1n, 65535n, 65534n]));

  it('gives each party shares that look unrelated to the value', () => {
    // One party's output words alone must not reveal [x < alpha]: with beta = 1, the share is
    // a pseudorandom word, never the bit itself.
    const count = 2000;
    const alpha = randomWords(count);
    const beta = new BigInt64Array(count).fill(1n);
    const s0 = randomSeeds(count);
    const s1 = randomSeeds(count);
    const corrections = dcfGen({ bits: 32, payloadWords: 1, count }, alpha, beta, s0, s1);
    const y0 = dcfEval({ party: 0, rootSeeds: s0, corrections }, randomWords(count));
    const small = Array.from(y0).filter((v) => v === 0n || v === 1n).length;
    expect(small).toBe(0);
  });

  it('counts the correction bytes the dealer ships', () => {
    const c = dcfGen(
      { bits: 10, payloadWords: 2, count: 3 },
      randomWords(3),
      randomWords(6),
      randomSeeds(3),
      randomSeeds(3),
    );
    const measured =
      c.seedCW.byteLength +
      Math.ceil((c.controlCW.length * 2) / 8) +
      c.valueCW.byteLength +
      c.finalCW.byteLength;
    expect(dcfCorrectionBytes(c)).toBe(measured);
  });

  it('survives the wire form: decoded keys evaluate like the originals', () => {
    const shape = { bits: 12, payloadWords: 2, count: 37 };
    const alpha = randomWords(37);
    const s0 = randomSeeds(37);
    const s1 = randomSeeds(37);
    const c = dcfGen(shape, alpha, randomWords(74), s0, s1);
    const wire = encodeDcfCorrections(c);
    expect(wire.byteLength).toBe(dcfCorrectionBytes(shape));
    // An unaligned copy, as frames arrive from a socket.
    const shifted = new Uint8Array(wire.byteLength + 1).subarray(1);
    shifted.set(wire);
    const back = decodeDcfCorrections(shape, shifted);
    const x = randomWords(37 * 3);
    expect(dcfEval({ party: 1, rootSeeds: s1, corrections: back }, x)).toEqual(
      dcfEval({ party: 1, rootSeeds: s1, corrections: c }, x),
    );
    expect(() => decodeDcfCorrections(shape, wire.subarray(1))).toThrow(/bytes/);
  });

  it('rejects malformed shapes and point counts', () => {
    expect(() =>
      dcfGen(
        { bits: 65, payloadWords: 1, count: 1 },
        randomWords(1),
        randomWords(1),
        randomSeeds(1),
        randomSeeds(1),
      ),
    ).toThrow(/bits/);
    const c = dcfGen(
      { bits: 8, payloadWords: 1, count: 2 },
      randomWords(2),
      randomWords(2),
      randomSeeds(2),
      randomSeeds(2),
    );
    expect(() => dcfEval({ party: 0, rootSeeds: randomSeeds(2), corrections: c }, randomWords(3))).toThrow(
      /points/,
    );
  });
});
