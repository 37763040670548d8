/**
 * The comparison protocol behind both variants (see ./compare.ts for the maths): dealer
 * material, the masked opening (which callers may merge with other openings of the same round:
 * `maskedInput` + `finish`), and the exact cost.
 */
import { MarillError } from '../../../ir/errors.ts';
import type { Cost, DealerStream, MaterialStream, PartyContext, Protocol } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd } from '../../ring/kernels.ts';
import type { CompareParams, CompareResult } from './compare.ts';
import type { BoolCompareMaterial } from './compare-bool.ts';
import { boolCompareCost, finishBoolCompare } from './compare-bool.ts';
import { boolCompareMasks } from './compare-bool-masks.ts';
import type { DcfCompareMaterial } from './compare-dcf.ts';
import { dcfCompareCost, dcfCompareMaterial, dealDcfCompare, finishDcfCompare } from './compare-dcf.ts';
import { openTogether } from './open.ts';

export type CompareMaterial = DcfCompareMaterial | BoolCompareMaterial;

export function dealCompare(p: CompareParams, d: DealerStream): void {
  if (p.variant === 'dcf') dealDcfCompare(p, d);
  else d.correlation(boolCompareMasks, p);
}

export function compareMaterial(p: CompareParams, s: MaterialStream): CompareMaterial {
  return p.variant === 'dcf' ? dcfCompareMaterial(p, s) : s.correlation(boolCompareMasks, p);
}

/** This party's share of x + r: the comparison's first message. */
export function maskedInput(m: CompareMaterial, x: Ring): Ring {
  if (x.length !== m.r.length)
    throw new MarillError(`comparison of ${x.length} elements, material for ${m.r.length}`);
  return ringAdd(x, m.r);
}

/** The rest of the comparison once x^ = x + r is open (no rounds for 'dcf'). */
export function finishCompare(
  ctx: PartyContext,
  p: CompareParams,
  m: CompareMaterial,
  x: Ring,
  xhat: Ring,
  thresholds: readonly bigint[],
): Promise<CompareResult> {
  if (thresholds.length !== p.points)
    throw new MarillError(`comparison with ${thresholds.length} thresholds, parameters say ${p.points}`);
  if (m.kind === 'dcf') return Promise.resolve(finishDcfCompare(ctx, p, m, x, xhat, thresholds));
  return finishBoolCompare(ctx, p, m, x, xhat, thresholds);
}

/** The whole comparison: open x + r, then finish. */
export async function compare(
  ctx: PartyContext,
  p: CompareParams,
  m: CompareMaterial,
  x: Ring,
  thresholds: readonly bigint[],
): Promise<CompareResult> {
  const [xhat] = await openTogether(ctx, [maskedInput(m, x)]);
  return finishCompare(ctx, p, m, x, xhat!, thresholds);
}

export function compareCost(p: CompareParams): Cost {
  return p.variant === 'dcf' ? dcfCompareCost(p) : boolCompareCost(p);
}

/** The comparison as a standalone protocol (tests, benchmarks). */
export const compareProtocol: Protocol<
  CompareParams,
  CompareMaterial,
  { readonly x: Ring; readonly thresholds: readonly bigint[] },
  CompareResult
> = {
  name: 'cmp',
  deal: dealCompare,
  material: compareMaterial,
  online: (ctx, p, m, { x, thresholds }) => compare(ctx, p, m, x, thresholds),
  cost: compareCost,
};
