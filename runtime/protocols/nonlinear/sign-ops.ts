/**
 * Ops that are one comparison (./comparator.ts) plus local arithmetic:
 *
 *  relu(x)      = x - [x < 0] x                           exact
 *  max(x, y)    = x - [x - y < 0] (x - y)                 exact
 *  min(x, y)    = y + [x - y < 0] (x - y)                 exact
 *  abs(x)       = x - 2 [x < 0] x                         exact
 *  less(x, y)   = [x - y < 0]; greater(x, y) = [y - x < 0]  exact, ring 0/1
 *  equal(x, y)  = [x - y < 1] - [x - y < 0]               exact (one key, two thresholds)
 *
 * Exact for |x|, |y| < 2^13 (reals; integers: 2^31). Cost: that of the comparison over n
 * elements with `select` (relu, max, min, abs) or without (less, greater, equal): 'dcf' one
 * round, 8 bytes per element each way; 'bool' see ./compare-bool.ts.
 */
import type { Cost, Protocol } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringMulScalar, ringSub } from '../../ring/kernels.ts';
import type { CompareParams } from './compare.ts';
import type { CompareMaterial } from './comparator.ts';
import { compare, compareCost, compareMaterial, dealCompare } from './comparator.ts';

export type SignOp = 'relu' | 'max' | 'min' | 'abs' | 'less' | 'greater' | 'equal';

export interface SignParams {
  readonly op: SignOp;
  /** The comparison; its `select` and `points` follow from `op` (see signCompare). */
  readonly compare: CompareParams;
}

const SELECTING: readonly SignOp[] = ['relu', 'max', 'min', 'abs'];

/** The comparison an op needs, from the width and variant in `base`. */
export function signCompare(op: SignOp, base: CompareParams): CompareParams {
  return { ...base, points: op === 'equal' ? 2 : 1, select: SELECTING.includes(op) };
}

/** Inputs: x alone (relu, abs) or x and y (shares of the same length). */
export const signProtocol: Protocol<SignParams, CompareMaterial, readonly Ring[], Ring> = {
  name: 'sign',
  deal: (p, d) => dealCompare(p.compare, d),
  material: (p, s) => compareMaterial(p.compare, s),
  async online(ctx, p, m, inputs) {
    const [x, y] = inputs;
    switch (p.op) {
      case 'relu':
      case 'abs': {
        const { ltx } = await compare(ctx, p.compare, m, x!, [0n]);
        return ringSub(x!, p.op === 'relu' ? ltx! : ringMulScalar(ltx!, 2n));
      }
      case 'max':
      case 'min': {
        const d = ringSub(x!, y!);
        const { ltx } = await compare(ctx, p.compare, m, d, [0n]);
        return p.op === 'max' ? ringSub(x!, ltx!) : ringAdd(y!, ltx!);
      }
      case 'less':
        return (await compare(ctx, p.compare, m, ringSub(x!, y!), [0n])).lt;
      case 'greater':
        return (await compare(ctx, p.compare, m, ringSub(y!, x!), [0n])).lt;
      case 'equal': {
        const n = x!.length;
        const { lt } = await compare(ctx, p.compare, m, ringSub(x!, y!), [1n, 0n]);
        return ringSub(lt.subarray(0, n), lt.subarray(n));
      }
    }
  },
  cost: (p): Cost => compareCost(p.compare),
};
