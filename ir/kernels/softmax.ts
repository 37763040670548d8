/**
 * softmax and log_softmax along an axis, with an optional additive mask
 * broadcast onto the input.
 *
 * exact: softmax(z) with z = x + mask, computed stably by subtracting each
 *   row's maximum before exponentiating (in float64).
 * 2quad (MPCFormer): w_i = (z_i + c)^2 with c = TWO_QUAD_SHIFT, normalised by
 *   the row's sum of w. A quadratic has no exponential to push masked
 *   positions to zero, so a position whose mask value is <= MASK_EXCLUDED
 *   gets weight exactly 0 and is left out of the sum. A row with every
 *   position excluded (or every weight 0) yields all zeros rather than 0/0.
 */
import { MarillError } from '../errors.ts';
import { intAttr, stringAttr } from '../ops.ts';
import { normalizeAxis } from '../shape-rules.ts';
import type { Tensor } from '../tensor.ts';
import { makeTensor } from '../tensor.ts';
import { broadcastOffsets } from './indexing.ts';
import type { AxisView, Kernel } from './kernel.ts';
import { axisView, f32Data, operand } from './kernel.ts';

/** The shift c in 2quad's (x + c)^2. */
export const TWO_QUAD_SHIFT = 5;
/** Mask values at or below this exclude their position from 2quad (attention masks use -1e4 .. -inf). */
export const MASK_EXCLUDED = -1e4;

/** One softmax row: the input values z = x + mask, and whether each position is masked out. */
type RowFn = (z: Float64Array, excluded: Uint8Array, out: Float32Array, at: (k: number) => number) => void;

function rowMax(z: Float64Array): number {
  let m = -Infinity;
  for (let k = 0; k < z.length; k++) if (z[k]! > m) m = z[k]!;
  return m;
}

/** sum_k exp(z_k - max): the stable normaliser, with the max it was taken against. */
function expSum(z: Float64Array): { max: number; sum: number } {
  const max = rowMax(z);
  let sum = 0;
  for (let k = 0; k < z.length; k++) sum += Math.exp(z[k]! - max);
  return { max, sum };
}

const exactRow: RowFn = (z, _excluded, out, at) => {
  const { max, sum } = expSum(z);
  for (let k = 0; k < z.length; k++) out[at(k)] = Math.exp(z[k]! - max) / sum;
};

const logRow: RowFn = (z, _excluded, out, at) => {
  const { max, sum } = expSum(z);
  const logSum = Math.log(sum);
  for (let k = 0; k < z.length; k++) out[at(k)] = z[k]! - max - logSum;
};

const twoQuadRow: RowFn = (z, excluded, out, at) => {
  let sum = 0;
  for (let k = 0; k < z.length; k++) {
    const w = excluded[k] ? 0 : (z[k]! + TWO_QUAD_SHIFT) ** 2;
    z[k] = w;
    sum += w;
  }
  for (let k = 0; k < z.length; k++) out[at(k)] = sum > 0 ? z[k]! / sum : 0;
};

function applyRows(x: Tensor, mask: Tensor | undefined, view: AxisView, row: RowFn): Tensor {
  const src = f32Data(x);
  const maskData = mask ? f32Data(mask, 'mask') : undefined;
  const maskAt = mask ? broadcastOffsets(mask.shape, x.shape) : null;
  const out = new Float32Array(src.length);
  const z = new Float64Array(view.len);
  const excluded = new Uint8Array(view.len);
  const stride = view.inner;
  for (let o = 0; o < view.outer; o++) {
    for (let i = 0; i < view.inner; i++) {
      const base = o * view.len * view.inner + i;
      for (let k = 0; k < view.len; k++) {
        const e = base + k * stride;
        const m = maskData ? maskData[maskAt ? maskAt[e]! : e]! : 0;
        z[k] = src[e]! + m;
        excluded[k] = m <= MASK_EXCLUDED ? 1 : 0;
      }
      row(z, excluded, out, (k) => base + k * stride);
    }
  }
  return makeTensor('f32', x.shape, out);
}

function softmaxFamily(op: string, pick: (attrs: Parameters<Kernel>[1]) => RowFn): Kernel {
  return (inputs, attrs) => {
    const x = operand(inputs, 0, op);
    const axis = normalizeAxis(intAttr(attrs, 'axis'), x.shape.length);
    return [applyRows(x, inputs[1], axisView(x.shape, axis), pick(attrs))];
  };
}

export const softmax = softmaxFamily('softmax', (attrs) => {
  const approx = stringAttr(attrs, 'approx');
  if (approx === 'exact') return exactRow;
  if (approx === '2quad') return twoQuadRow;
  throw new MarillError(`softmax has no approximation '${approx}'`);
});

export const logSoftmax = softmaxFamily('log_softmax', () => logRow);
