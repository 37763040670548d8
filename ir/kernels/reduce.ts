/**
 * Reductions (sum, mean, max over a set of axes, with keepdims) and argmax.
 *
 * A reduction is broadcasting run backwards: every input element is folded
 * into the output element that the keepdims-shaped result broadcasts onto it,
 * so the offset map comes from the same `broadcastOffsets`. An empty axes list
 * reduces nothing (the IR's rule; ONNX's "empty means all" is the frontend's
 * business). f32 accumulates in float64; i64 means truncate toward zero.
 */
import { MarillError } from '../errors.ts';
import type { Attrs } from '../graph.ts';
import { intAttr, intsAttr } from '../ops.ts';
import { normalizeAxis, reducedShape } from '../shape-rules.ts';
import type { Tensor } from '../tensor.ts';
import { makeTensor } from '../tensor.ts';
import type { Shape } from '../types.ts';
import { numel } from '../types.ts';
import { broadcastOffsets } from './indexing.ts';
import type { Kernel } from './kernel.ts';
import { asNumbers, axisView, f32Data, i64Data, operand } from './kernel.ts';

type Fold = 'sum' | 'mean' | 'max';

interface Plan {
  /** Output shape (after keepdims). */
  readonly shape: Shape;
  /** Number of output elements. */
  readonly n: number;
  /** For each input element, the output element it folds into (null: nothing reduced). */
  readonly into: Int32Array | null;
  /** Input elements folded into each output element. */
  readonly count: number;
}

function plan(x: Tensor, attrs: Attrs): Plan {
  const axes = intsAttr(attrs, 'axes');
  const kept = reducedShape(x.shape, axes, true);
  const shape = reducedShape(x.shape, axes, intAttr(attrs, 'keepdims') !== 0);
  const n = numel(kept);
  return { shape, n, into: broadcastOffsets(kept, x.shape), count: n === 0 ? 0 : x.data.length / n };
}

function reduceF32(src: Float32Array, p: Plan, fold: Fold): Float32Array {
  const acc = new Float64Array(p.n).fill(fold === 'max' ? -Infinity : 0);
  for (let i = 0; i < src.length; i++) {
    const o = p.into ? p.into[i]! : i;
    const v = src[i]!;
    if (fold === 'max') acc[o] = v > acc[o]! || Number.isNaN(v) ? v : acc[o]!;
    else acc[o]! += v;
  }
  if (fold === 'mean') for (let o = 0; o < p.n; o++) acc[o]! /= p.count;
  return Float32Array.from(acc);
}

function reduceI64(src: BigInt64Array, p: Plan, fold: Fold): BigInt64Array {
  const acc: bigint[] = new Array<bigint>(p.n).fill(0n);
  const seen = new Uint8Array(p.n);
  for (let i = 0; i < src.length; i++) {
    const o = p.into ? p.into[i]! : i;
    const v = src[i]!;
    if (fold !== 'max') acc[o]! += v;
    else if (!seen[o] || v > acc[o]!) acc[o] = v;
    seen[o] = 1;
  }
  const out = new BigInt64Array(p.n);
  for (let o = 0; o < p.n; o++)
    out[o] = BigInt.asIntN(64, fold === 'mean' ? acc[o]! / BigInt(p.count) : acc[o]!);
  return out;
}

function reduction(op: string, fold: Fold): Kernel {
  return (inputs, attrs) => {
    const x = operand(inputs, 0, op);
    const p = plan(x, attrs);
    if (fold !== 'sum' && p.count === 0 && p.n > 0) throw new MarillError(`${op} over an empty axis`);
    if (x.dtype === 'f32') return [makeTensor('f32', p.shape, reduceF32(f32Data(x), p, fold))];
    if (x.dtype === 'i64') return [makeTensor('i64', p.shape, reduceI64(i64Data(x), p, fold))];
    throw new MarillError(`${op} needs an f32 or i64 operand, got ${x.dtype}`);
  };
}

export const REDUCTIONS = {
  reduce_sum: reduction('reduce_sum', 'sum'),
  reduce_mean: reduction('reduce_mean', 'mean'),
  reduce_max: reduction('reduce_max', 'max'),
} as const satisfies Record<string, Kernel>;

/** Index of the maximum along axis; the first one on ties. */
export const argmax: Kernel = (inputs, attrs) => {
  const x = operand(inputs, 0, 'argmax');
  const axis = normalizeAxis(intAttr(attrs, 'axis'), x.shape.length);
  const shape = reducedShape(x.shape, [axis], intAttr(attrs, 'keepdims') !== 0);
  const { outer, len, inner } = axisView(x.shape, axis);
  if (len === 0) throw new MarillError('argmax over an empty axis');
  const src = asNumbers(x.data);
  const out = new BigInt64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      let best = 0;
      for (let k = 1; k < len; k++) if (src[base + k * inner]! > src[base + best * inner]!) best = k;
      out[o * inner + i] = BigInt(best);
    }
  return [makeTensor('i64', shape, out)];
};
