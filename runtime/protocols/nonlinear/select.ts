/**
 * where(c, x, y) with a secret condition c (ring 0/1, e.g. a comparison's result):
 * y + c (x - y) with one Beaver product. c has no fractional bits, so the product keeps x's
 * scale: exact, no truncation. One round, 16 bytes per element each way, 8 offline (client).
 */
import type { Cost, Protocol } from '../../protocol.ts';
import { sumCosts } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringSub } from '../../ring/kernels.ts';
import type { TripleMaterial } from '../beaver.ts';
import { materialCost, openingCost } from './cost-util.ts';
import { mulPart } from './parts.ts';

export const selectProtocol: Protocol<
  { readonly n: number },
  TripleMaterial,
  readonly [Ring, Ring, Ring],
  Ring
> = {
  name: 'where.beaver',
  deal: (p, d) => mulPart.deal(p.n, d),
  material: (p, s) => mulPart.material(p.n, s),
  async online(ctx, _p, m, [c, x, y]) {
    const diff = ringSub(x, y);
    return ringAdd(y, await mulPart.run(ctx, m, c, diff));
  },
  cost: (p): Cost => sumCosts(openingCost(mulPart.opened(p.n)), materialCost(mulPart.offline(p.n))),
};
