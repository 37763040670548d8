/**
 * sqrt(x) = x * (1/sqrt x) for x >= 0: the Newton 1/sqrt x of ./newton.ts (left at its own
 * precision), multiplied into x with the reciprocal's last truncation fused into the product
 * (./parts.ts truncMulPart), then one truncation back to f bits. x = 0 gives exactly 0 (x is a
 * factor), even though 0 is outside the Newton domain. Rounds: Newton's + 2.
 * Error: x times 1/sqrt x's error (newtonErrorBound without its final truncation, at the
 * product's precision), plus 2^-f: sqrtErrorBound.
 */
import type { Cost, Protocol } from '../../protocol.ts';
import { sumCosts } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import type { TruncMaterial } from '../truncate.ts';
import { materialCost, openingCost } from './cost-util.ts';
import type { NewtonMaterial, NewtonParams } from './newton.ts';
import {
  dealNewton,
  newtonCost,
  newtonErrorBound,
  newtonMaterial,
  newtonScale,
  runNewton,
} from './newton.ts';
import type { TruncMulMaterial, TruncMulShape } from './parts.ts';
import { truncMulPart, truncPart } from './parts.ts';

/** 1/sqrt x enters the product with this many fractional bits (x y = sqrt x < 2^16 fits). */
const Y_BITS = 26;

function shape(p: NewtonParams): TruncMulShape {
  const { fN, q } = newtonScale(p);
  return { nz: p.n, nw: p.n, zIndex: undefined, bits: 2 * fN + q / 2 + 1 - Y_BITS };
}

export interface SqrtMaterial {
  readonly newton: NewtonMaterial;
  readonly product: TruncMulMaterial;
  readonly back: TruncMaterial;
}

export function sqrtErrorBound(p: NewtonParams, x: number): number {
  return x * (newtonErrorBound(p, x) - 2 ** -p.fracBits + 2 ** -Y_BITS) + 2 ** -p.fracBits;
}

export const sqrtProtocol: Protocol<NewtonParams, SqrtMaterial, Ring, Ring> = {
  name: 'sqrt',
  deal(p, d) {
    dealNewton(p, d);
    truncMulPart.deal(shape(p), d);
    truncPart.deal(p.n, Y_BITS, d);
  },
  material: (p, s) => ({
    newton: newtonMaterial(p, s),
    product: truncMulPart.material(shape(p), s),
    back: truncPart.material(p.n, Y_BITS, s),
  }),
  async online(ctx, p, m, x) {
    const { value } = await runNewton(ctx, p, m.newton, x);
    const sh = shape(p);
    const { product } = await truncMulPart.run(ctx, sh, m.product, value, x);
    return truncPart.run(ctx, Y_BITS, m.back, product);
  },
  cost(p): Cost {
    return sumCosts(
      newtonCost(p),
      openingCost(truncMulPart.opened(shape(p))),
      materialCost(truncMulPart.offline(shape(p))),
      openingCost(truncPart.opened(p.n)),
      materialCost(truncPart.offline(p.n)),
    );
  },
};
