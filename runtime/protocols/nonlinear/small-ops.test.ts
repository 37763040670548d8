import { describe, expect, it } from 'vitest';
import { GELU } from '../../../ir/kernels/unary.ts';
import { encodeFixed } from '../../ring/fixed.ts';
import { ringAdd } from '../../ring/kernels.ts';
import { TwoPartySession, openReals, splitShares } from '../../../test/runtime/two-party.ts';
import { embeddingProtocol } from './embedding.ts';
import { quadGeluProtocol } from './quad.ts';
import { selectProtocol } from './select.ts';
import { expectMeasuredCost } from '../../../test/runtime/expect-cost.ts';
import { uniform, withEdges } from '../../../test/runtime/real-inputs.ts';

const F = 16;
const q = (v: number) => Math.round(v * 2 ** F) / 2 ** F;

describe('embedding lookup (client index, server table)', () => {
  it('returns exactly the table rows, negative indices from the end, twice in one session', async () => {
    const p = { tokens: 5, vocab: 11, dim: 3 };
    const table = uniform(p.vocab * p.dim, -2, 2).map(q);
    const indices = BigInt64Array.from([0n, 10n, 3n, -1n, 3n]);
    const s = new TwoPartySession();
    const enc = encodeFixed(table, F);
    for (const run of [0, 1]) {
      const got = openReals(
        await s.run(
          embeddingProtocol,
          p,
          [
            { indices: undefined, table: enc },
            { indices, table: undefined },
          ],
          'emb',
        ),
        F,
      );
      const rows = [0, 10, 3, 10, 3];
      rows.forEach((r, t) => {
        for (let j = 0; j < p.dim; j++) expect(got[t * p.dim + j]).toBe(table[r * p.dim + j]);
      });
      if (run === 0) expectMeasuredCost(s, 'emb', embeddingProtocol.cost(p));
    }
  });

  it('rejects an index outside the table', async () => {
    const p = { tokens: 1, vocab: 4, dim: 2 };
    const s = new TwoPartySession({ timeoutMs: 500 });
    await expect(
      s.run(embeddingProtocol, p, [
        { indices: undefined, table: encodeFixed(new Float64Array(8), F) },
        { indices: BigInt64Array.from([4n]), table: undefined },
      ]),
    ).rejects.toThrow(/outside a table of 4 rows/);
  });
});

describe('quadratic GeLU (MPCFormer)', () => {
  it('is within 2^-f of 0.125x^2 + 0.25x + 0.5', async () => {
    const x = withEdges([0, -1, 1, -2, 100, -100], 2000, -10, 10).map(q);
    const p = { n: x.length, fracBits: F };
    const s = new TwoPartySession();
    const got = openReals(await s.run(quadGeluProtocol, p, splitShares(encodeFixed(x, F)), 'quad'), F);
    for (let i = 0; i < x.length; i++)
      expect(Math.abs(got[i]! - GELU.quad!(x[i]!))).toBeLessThanOrEqual(2 ** -F);
    expectMeasuredCost(s, 'quad', quadGeluProtocol.cost(p));
  });
});

describe('where with a secret condition', () => {
  it('selects exactly', async () => {
    const n = 500;
    const c = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 3 === 0 ? 1 : 0));
    const x = encodeFixed(uniform(n, -50, 50), F);
    const y = encodeFixed(uniform(n, -50, 50), F);
    const [c0, c1] = splitShares(c);
    const [x0, x1] = splitShares(x);
    const [y0, y1] = splitShares(y);
    const s = new TwoPartySession();
    const [r0, r1] = await s.run(
      selectProtocol,
      { n },
      [
        [c0, x0, y0],
        [c1, x1, y1],
      ],
      'where',
    );
    const got = ringAdd(r0, r1);
    for (let i = 0; i < n; i++) expect(got[i]).toBe(c[i] ? x[i] : y[i]);
    expectMeasuredCost(s, 'where', selectProtocol.cost({ n }));
  });
});
