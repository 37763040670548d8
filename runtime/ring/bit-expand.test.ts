// Bit expansions against word-by-word JavaScript evaluation of the same table and terms.
import { describe, expect, it } from 'vitest';
import { Prg } from '../crypto/prg.ts';
import type { BitExpansion, BitOperand } from './bit-expand.ts';
import { bitExpand } from './bit-expand.ts';

const words = (n: number) =>
  new Uint32Array(
    Prg.fresh()
      .bytes(4 * n)
      .buffer.slice(0),
  );

/** The expansion word by word: the oracle. */
function reference(e: BitExpansion, outs: Uint32Array[]): void {
  for (let w = 0; w < e.width; w++) {
    const read = (o: BitOperand): number =>
      o === 'ones' ? 0xffffffff : 'lane' in o ? e.lane[o.lane]![w]! : e.periodic[o.periodic]![w % e.period]!;
    const table: number[] = [];
    for (const en of e.entries) {
      const p = en.parent < 0 ? 0xffffffff : table[en.parent]!;
      table.push((p & (en.invert ? ~read(en.source) : read(en.source))) >>> 0);
    }
    for (const t of e.terms) {
      const v = t.entry < 0 ? 0xffffffff : table[t.entry]!;
      outs[t.out]![w] = (outs[t.out]![w]! ^ (v & read(t.source))) >>> 0;
    }
  }
}

describe('bitExpand', () => {
  // Widths past one block (512 words) and not multiples of 4; periods that cut blocks short.
  for (const [width, period] of [
    [1, 1],
    [7, 3],
    [1100, 1100],
    [1203, 401],
    [2050, 37],
  ] as const)
    it(`equals the word-by-word evaluation (width ${width}, period ${period})`, () => {
      const e: BitExpansion = {
        width,
        period,
        lane: [words(width), words(width + 5)],
        periodic: [words(period), words(period)],
        entries: [
          { parent: -1, source: 'ones', invert: false },
          { parent: 0, source: { lane: 0 }, invert: true },
          { parent: 1, source: { periodic: 1 }, invert: false },
          { parent: -1, source: { lane: 1 }, invert: false },
          { parent: 3, source: { lane: 0 }, invert: true },
        ],
        terms: [
          { entry: 2, source: { lane: 1 }, out: 0 },
          { entry: 4, source: 'ones', out: 0 },
          { entry: -1, source: { periodic: 0 }, out: 1 },
          { entry: 1, source: { periodic: 1 }, out: 1 },
          { entry: 3, source: { lane: 0 }, out: 0 },
        ],
      };
      const start = [words(width), words(width)];
      const got = start.map((v) => v.slice());
      const want = start.map((v) => v.slice());
      bitExpand(e, got);
      reference(e, want);
      expect(got).toEqual(want);
    });

  it('refuses short operands and entries that read later ones', () => {
    const base = { width: 8, period: 0, lane: [words(8)], periodic: [], terms: [] };
    expect(() => bitExpand({ ...base, entries: [] }, [words(7)])).toThrow(/shorter than 8 words/);
    const later = [{ parent: 0, source: 'ones' as const, invert: false }];
    expect(() => bitExpand({ ...base, entries: later }, [words(8)])).toThrow(/reads a later entry/);
    const periodic = { ...base, period: 4, periodic: [words(3)], entries: [] };
    expect(() => bitExpand(periodic, [words(8)])).toThrow(/period 4/);
  });
});
