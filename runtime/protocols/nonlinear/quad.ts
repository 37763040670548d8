/**
 * MPCFormer's quadratic GeLU replacement, 0.125 x^2 + 0.25 x + 0.5 = (x + 1)^2 / 8 + 3/8 (the
 * interpreter's `gelu` with approx 'quad'): a Beaver square of x + 1 (exact, 2f bits) and one
 * truncation by f + 3, then + 3/8. Two rounds; 8 + 8 bytes per element each way, 8 + 16
 * offline (client). Error: the truncation's +0/+1 ulp, |error| <= 2^-f. Needs |x + 1| < 2^15.
 */
import type { Cost, Protocol } from '../../protocol.ts';
import { sumCosts } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAddScalar } from '../../ring/kernels.ts';
import type { PairMaterial } from '../beaver.ts';
import type { TruncMaterial } from '../truncate.ts';
import { materialCost, openingCost } from './cost-util.ts';
import { squarePart, truncPart } from './parts.ts';

export interface QuadParams {
  readonly n: number;
  readonly fracBits: number;
}

export const quadGeluProtocol: Protocol<
  QuadParams,
  { square: PairMaterial; trunc: TruncMaterial },
  Ring,
  Ring
> = {
  name: 'gelu.quad',
  deal(p, d) {
    squarePart.deal(p.n, d);
    truncPart.deal(p.n, p.fracBits + 3, d);
  },
  material: (p, s) => ({
    square: squarePart.material(p.n, s),
    trunc: truncPart.material(p.n, p.fracBits + 3, s),
  }),
  async online(ctx, p, m, x) {
    const one = 1n << BigInt(p.fracBits);
    const shifted = ctx.index === 0 ? ringAddScalar(x, one) : x;
    const square = await squarePart.run(ctx, m.square, shifted);
    return truncPart.run(ctx, p.fracBits + 3, m.trunc, square, (3n * one) / 8n);
  },
  cost(p): Cost {
    return sumCosts(
      openingCost(squarePart.opened(p.n)),
      materialCost(squarePart.offline(p.n)),
      openingCost(truncPart.opened(p.n)),
      materialCost(truncPart.offline(p.n)),
    );
  },
};
