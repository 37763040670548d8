import { describe, expect, it } from 'vitest';
import { Prg } from '../../crypto/prg.ts';
import { bitPlanes, tilePlane } from './bit-slice.ts';

/** Lane i of a plane, read bit by bit (the oracle: no word tricks). */
const lane = (v: Uint32Array, i: number): number => (v[i >>> 5]! >>> (i & 31)) & 1;

describe('bitPlanes', () => {
  it.each([1, 31, 32, 33, 100, 1000])('gives bit from + q of every value in plane q (n = %i)', (n) => {
    const r = Prg.fresh().ring(n);
    for (const [from, count] of [
      [0, 64],
      [0, 17],
      [5, 30],
      [20, 20],
      [33, 31],
    ] as const) {
      const planes = bitPlanes(r, from, count);
      expect(planes).toHaveLength(count);
      for (let q = 0; q < count; q++) {
        expect(planes[q]).toHaveLength(Math.ceil(n / 32));
        const got = Array.from({ length: 32 * planes[q]!.length }, (_, i) => lane(planes[q]!, i));
        const want = Array.from({ length: got.length }, (_, i) =>
          i < n ? Number((BigInt.asUintN(64, r[i]!) >> BigInt(from + q)) & 1n) : 0,
        );
        expect(got).toEqual(want);
      }
    }
  });
});

describe('tilePlane', () => {
  it.each([
    [1, 5],
    [7, 9],
    [32, 3],
    [45, 4],
    [64, 2],
    [100, 7],
  ])('repeats the first n lanes (n = %i, %i times)', (n, times) => {
    const bytes = Prg.fresh().bytes(4 * Math.ceil(n / 32));
    const v = new Uint32Array(bytes.buffer, bytes.byteOffset, Math.ceil(n / 32));
    const t = tilePlane(v, n, times);
    expect(t).toHaveLength(Math.ceil((n * times) / 32));
    const got = Array.from({ length: 32 * t.length }, (_, i) => lane(t, i));
    const want = got.map((_, i) => (i < n * times ? lane(v, i % n) : 0));
    expect(got).toEqual(want);
  });
});
