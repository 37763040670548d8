/**
 * Ops that only move elements: each builds an index map (output element ->
 * input offset) and lets `takeElements` copy, so they work for every dtype.
 */
import { MarillError } from '../errors.ts';
import { intAttr, intsAttr } from '../ops.ts';
import { checkPermutation, expandShape, normalizeAxis, resolveReshape, sliceShape } from '../shape-rules.ts';
import type { Tensor } from '../tensor.ts';
import { allocData, makeTensor } from '../tensor.ts';
import type { Shape } from '../types.ts';
import { formatShape, numel } from '../types.ts';
import { broadcastOffsets, copyRun, stridedOffsets, takeElements } from './indexing.ts';
import type { Kernel } from './kernel.ts';
import { axisView, i64Data, operand, stridesOf } from './kernel.ts';

function take(x: Tensor, shape: Shape, from: Int32Array): Tensor {
  return makeTensor(x.dtype, shape, takeElements(x.dtype, x.data, from));
}

/** share and reveal: in plaintext a value is its own share. */
export const identity: Kernel = (inputs) => [operand(inputs, 0, 'identity')];

export const reshape: Kernel = (inputs, attrs) => {
  const x = operand(inputs, 0, 'reshape');
  return [makeTensor(x.dtype, resolveReshape(x.shape, intsAttr(attrs, 'shape'), true), x.data)];
};

export const transpose: Kernel = (inputs, attrs) => {
  const x = operand(inputs, 0, 'transpose');
  const perm = intsAttr(attrs, 'perm');
  checkPermutation(perm, x.shape.length);
  const own = stridesOf(x.shape);
  const shape = perm.map((p) => x.shape[p]!);
  return [
    take(
      x,
      shape,
      stridedOffsets(
        shape,
        perm.map((p) => own[p]!),
      ),
    ),
  ];
};

interface SliceSpec {
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  readonly axes: readonly number[];
  readonly steps: readonly number[];
}

/** The normalised slice of ir/ops.ts: element j of a sliced axis is input index start + j * step. */
function sliceTensor(x: Tensor, s: SliceSpec): Tensor {
  const shape = sliceShape(x.shape, s.starts, s.ends, s.axes, s.steps);
  const own = stridesOf(x.shape);
  const strides = [...own];
  let base = 0;
  s.axes.forEach((axis, i) => {
    const a = normalizeAxis(axis, x.shape.length);
    const start = s.starts[i]!;
    const last = start + (shape[a]! - 1) * s.steps[i]!;
    const inside = (v: number) => v >= 0 && v < x.shape[a]!;
    if (shape[a]! > 0 && !(inside(start) && inside(last)))
      throw new MarillError(
        `slice [${start}:${s.ends[i]}:${s.steps[i]}] leaves axis ${a} of ${formatShape(x.shape)}`,
      );
    strides[a] = own[a]! * s.steps[i]!;
    base += start * own[a]!;
  });
  return take(x, shape, stridedOffsets(shape, strides, numel(shape) === 0 ? 0 : base));
}

export const slice: Kernel = (inputs, attrs) => {
  const x = operand(inputs, 0, 'slice');
  const spec = {
    starts: intsAttr(attrs, 'starts'),
    ends: intsAttr(attrs, 'ends'),
    axes: intsAttr(attrs, 'axes'),
    steps: intsAttr(attrs, 'steps'),
  };
  if (spec.steps.some((st) => st === 0)) throw new MarillError('slice step 0');
  return [sliceTensor(x, spec)];
};

export const split: Kernel = (inputs, attrs) => {
  const x = operand(inputs, 0, 'split');
  const axis = normalizeAxis(intAttr(attrs, 'axis'), x.shape.length);
  const sizes = intsAttr(attrs, 'sizes');
  if (sizes.reduce((a, b) => a + b, 0) !== x.shape[axis])
    throw new MarillError(`split sizes [${sizes.join(',')}] do not add up to dimension ${x.shape[axis]}`);
  let start = 0;
  return sizes.map((size) => {
    const piece = sliceTensor(x, { starts: [start], ends: [start + size], axes: [axis], steps: [1] });
    start += size;
    return piece;
  });
};

export const concat: Kernel = (inputs, attrs) => {
  const first = operand(inputs, 0, 'concat');
  const axis = normalizeAxis(intAttr(attrs, 'axis'), first.shape.length);
  for (const t of inputs)
    if (
      t.dtype !== first.dtype ||
      t.shape.length !== first.shape.length ||
      t.shape.some((d, i) => i !== axis && d !== first.shape[i])
    )
      throw new MarillError(
        `concat operands ${inputs.map((u) => u.dtype + formatShape(u.shape)).join(', ')} differ off axis ${axis}`,
      );
  const shape = [...first.shape];
  shape[axis] = inputs.reduce((n, t) => n + t.shape[axis]!, 0);
  const out = allocData(first.dtype, numel(shape));
  const { outer, inner } = axisView(shape, axis);
  let at = 0;
  for (let o = 0; o < outer; o++)
    for (const t of inputs) {
      const run = t.shape[axis]! * inner;
      copyRun(out, at, t.data, o * run, run);
      at += run;
    }
  return [makeTensor(first.dtype, shape, out)];
};

export const expand: Kernel = (inputs, attrs) => {
  const x = operand(inputs, 0, 'expand');
  const shape = expandShape(x.shape, intsAttr(attrs, 'shape'));
  const from = broadcastOffsets(x.shape, shape);
  return [from ? take(x, shape, from) : x];
};

/** Keeps element (i, j) of the last two axes when j - i >= k (upper) or j - i <= k (lower). */
export const trilu: Kernel = (inputs, attrs) => {
  const x = operand(inputs, 0, 'trilu');
  if (x.shape.length < 2) throw new MarillError('trilu needs rank >= 2');
  const upper = intAttr(attrs, 'upper') !== 0;
  const k = intAttr(attrs, 'k');
  const rows = x.shape[x.shape.length - 2]!;
  const cols = x.shape[x.shape.length - 1]!;
  const from = new Int32Array(x.data.length);
  for (let e = 0; e < from.length; e++) {
    const i = Math.floor(e / cols) % rows;
    const j = e % cols;
    from[e] = (upper ? j - i >= k : j - i <= k) ? e : -1;
  }
  return [take(x, x.shape, from)];
};

/** Slices of data along axis at integer indices; negative indices count from the end. */
export const gather: Kernel = (inputs, attrs) => {
  const data = operand(inputs, 0, 'gather');
  const indices = i64Data(operand(inputs, 1, 'gather'), 'indices');
  const idxShape = inputs[1]!.shape;
  const axis = normalizeAxis(intAttr(attrs, 'axis'), data.shape.length);
  const { outer, len, inner } = axisView(data.shape, axis);
  const shape = [...data.shape.slice(0, axis), ...idxShape, ...data.shape.slice(axis + 1)];
  const from = new Int32Array(numel(shape));
  let e = 0;
  for (let o = 0; o < outer; o++)
    for (let q = 0; q < indices.length; q++) {
      const raw = Number(indices[q]!);
      const k = raw < 0 ? raw + len : raw;
      if (k < 0 || k >= len)
        throw new MarillError(`gather index ${raw} is out of range for axis ${axis} of size ${len}`);
      const base = (o * len + k) * inner;
      for (let i = 0; i < inner; i++) from[e++] = base + i;
    }
  return [take(data, shape, from)];
};
