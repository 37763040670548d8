import { describe, expect, it } from 'vitest';
import { Prg } from '../../crypto/prg.ts';
import type { Protocol } from '../../protocol.ts';
import { cost } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd } from '../../ring/kernels.ts';
import { TwoPartySession, splitShares } from '../../../test/runtime/two-party.ts';
import { openTogether } from './open.ts';
import type { TruncMulMaterial, TruncMulShape, TruncSquareMaterial } from './parts.ts';
import { truncMulPart, truncSquarePart } from './parts.ts';
import { expectMeasuredCost } from '../../../test/runtime/expect-cost.ts';

/** Signed values below 2^bits in magnitude, spread over magnitudes. */
function values(n: number, bits: number): BigInt64Array {
  const x = Prg.fresh().ring(n);
  const s = Prg.fresh().bytes(n);
  for (let i = 0; i < n; i++) x[i] = BigInt.asIntN(64, x[i]!) >> BigInt(64 - bits + (s[i]! % (bits - 4)));
  return x;
}

const truncMul = (
  shape: TruncMulShape,
  offset: bigint,
): Protocol<null, TruncMulMaterial, readonly [Ring, Ring], [Ring, Ring]> => ({
  name: 'trunc-mul',
  deal: (_p, d) => truncMulPart.deal(shape, d),
  material: (_p, s) => truncMulPart.material(shape, s),
  async online(ctx, _p, m, [z, w]) {
    const [opened] = await openTogether(ctx, [truncMulPart.message(ctx, shape, m, z, w)]);
    const r = truncMulPart.finish(ctx, shape, m, w, offset, opened!);
    return [r.product, r.truncated];
  },
  cost: () =>
    cost({
      onlineBytes: [8 * truncMulPart.opened(shape), 8 * truncMulPart.opened(shape)],
      rounds: 1,
      offlineBytes: truncMulPart.offline(shape),
    }),
});

const truncSquare = (
  n: number,
  bits: number,
  offset: bigint,
): Protocol<null, TruncSquareMaterial, Ring, [Ring, Ring]> => ({
  name: 'trunc-square',
  deal: (_p, d) => truncSquarePart.deal(n, bits, d),
  material: (_p, s) => truncSquarePart.material(n, bits, s),
  async online(ctx, _p, m, z) {
    const [opened] = await openTogether(ctx, [truncSquarePart.message(ctx, m, z)]);
    const r = truncSquarePart.finish(ctx, bits, m, offset, opened!);
    return [r.square, r.truncated];
  },
  cost: () => cost({ onlineBytes: [8 * n, 8 * n], rounds: 1, offlineBytes: truncSquarePart.offline(n) }),
});

describe('fused truncation parts', () => {
  it('truncMul gives (trunc(z) + o) * w in one round, with z broadcast over groups of w', async () => {
    const nz = 500;
    const group = 3;
    const nw = nz * group;
    const zIndex = Int32Array.from({ length: nw }, (_, j) => Math.floor(j / group));
    const shape: TruncMulShape = { nz, nw, zIndex, bits: 16 };
    const z = values(nz, 50);
    const w = values(nw, 20);
    const offset = 3n << 16n;
    const s = new TwoPartySession();
    const [zs, ws] = [splitShares(z), splitShares(w)];
    const [[p0, t0], [p1, t1]] = await s.run(
      truncMul(shape, offset),
      null,
      [
        [zs[0], ws[0]],
        [zs[1], ws[1]],
      ],
      'tm',
    );
    const truncated = ringAdd(t0, t1);
    const product = ringAdd(p0, p1);
    let bad = 0;
    for (let i = 0; i < nz; i++) {
      const d = truncated[i]! - ((z[i]! >> 16n) + offset);
      if (d !== 0n && d !== 1n) bad++;
    }
    for (let j = 0; j < nw; j++) if (product[j] !== BigInt.asIntN(64, truncated[zIndex[j]!]! * w[j]!)) bad++;
    expect(bad).toBe(0);
    expectMeasuredCost(s, 'tm', truncMul(shape, offset).cost(null));
  });

  it('truncSquare gives (trunc(z) + o)^2 in one round', async () => {
    const n = 2000;
    const bits = 30;
    const z = values(n, 60);
    const offset = -(1n << 20n);
    const s = new TwoPartySession();
    const [[q0, t0], [q1, t1]] = await s.run(truncSquare(n, bits, offset), null, splitShares(z), 'ts');
    const truncated = ringAdd(t0, t1);
    const square = ringAdd(q0, q1);
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const d = truncated[i]! - ((z[i]! >> BigInt(bits)) + offset);
      if (d !== 0n && d !== 1n) bad++;
      if (square[i] !== BigInt.asIntN(64, truncated[i]! * truncated[i]!)) bad++;
    }
    expect(bad).toBe(0);
    expectMeasuredCost(s, 'ts', truncSquare(n, bits, offset).cost(null));
  });
});
