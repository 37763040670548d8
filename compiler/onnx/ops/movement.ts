/**
 * Data-movement ONNX ops. Their shape operands (Reshape's shape, Slice's
 * starts/ends, Split's sizes, Unsqueeze's axes, Expand's shape, ...) must be
 * compile-time constants and become static IR attributes; several ONNX forms
 * (Flatten, Squeeze, Unsqueeze) are all one IR reshape.
 */
import { inferTypes } from '../../../ir/ops.ts';
import { broadcastShapes, resolveReshape } from '../../../ir/shape-rules.ts';
import type { Shape } from '../../../ir/types.ts';
import { shapeEquals } from '../../../ir/types.ts';
import type { NodeContext, Val } from '../lower-context.ts';
import { typeOf } from '../lower-context.ts';
import type { LoweringRule, RuleTable } from './common.ts';
import { normalizeAxes, normalizeAxis, product, rankOf, reshapeTo, shapeOf } from './common.ts';

const reshape: LoweringRule = (ctx) => {
  const x = ctx.input(0);
  const target = ctx.intsInput(1, 'shape');
  // allowzero (opset 14): a 0 in the target is a real 0, not "copy this input dimension".
  const allowZero = ctx.opset >= 14 && ctx.int('allowzero', 0) !== 0;
  return [reshapeTo(ctx, x, resolveReshape(shapeOf(x), target, allowZero))];
};

const flatten: LoweringRule = (ctx) => {
  const x = ctx.input(0);
  const dims = shapeOf(x);
  const raw = ctx.int('axis', 1);
  const axis = raw < 0 ? raw + dims.length : raw;
  if (axis < 0 || axis > dims.length) ctx.fail(`axis ${raw} is out of range for rank ${dims.length}`);
  return [reshapeTo(ctx, x, [product(dims.slice(0, axis)), product(dims.slice(axis))])];
};

/** Axes of Squeeze/Unsqueeze: an attribute before opset 13, an input from 13. */
function axesOperand(ctx: NodeContext): number[] | undefined {
  if (ctx.opset >= 13) return ctx.hasInput(1) ? ctx.intsInput(1, 'axes') : undefined;
  return ctx.hasAttr('axes') ? [...ctx.ints('axes')] : undefined;
}

const squeeze: LoweringRule = (ctx) => {
  const x = ctx.input(0);
  const dims = shapeOf(x);
  const given = axesOperand(ctx);
  const axes = given ? normalizeAxes(ctx, given, dims.length) : dims.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of axes) if (dims[a] !== 1) ctx.fail(`cannot squeeze axis ${a} of size ${dims[a]}`);
  return [
    reshapeTo(
      ctx,
      x,
      dims.filter((_, i) => !axes.includes(i)),
    ),
  ];
};

const unsqueeze: LoweringRule = (ctx) => {
  const x = ctx.input(0);
  const given = axesOperand(ctx);
  if (!given) return ctx.fail('axes are required');
  const dims = shapeOf(x);
  const axes = normalizeAxes(ctx, given, dims.length + given.length);
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < dims.length + axes.length; i++) out.push(axes.includes(i) ? 1 : dims[next++]!);
  return [reshapeTo(ctx, x, out)];
};

const transpose: LoweringRule = (ctx) => {
  const x = ctx.input(0);
  const rank = rankOf(x);
  const perm = ctx.hasAttr('perm')
    ? [...ctx.ints('perm')]
    : Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm.every((p, i) => p === i)) return [x];
  return [ctx.op1('transpose', [x], { perm })];
};

/** Concat; operands empty along the axis (e.g. an empty past key cache) are dropped once checked. */
const concat: LoweringRule = (ctx) => {
  const ins = ctx.inputs();
  if (ins.length === 0) ctx.fail('needs at least one input');
  const axis = normalizeAxis(ctx, ctx.int('axis'), rankOf(ins[0]!));
  inferTypes('concat', ins.map(typeOf), { axis });
  const nonEmpty = ins.filter((v) => shapeOf(v)[axis] !== 0);
  const operands = nonEmpty.length > 0 ? nonEmpty : ins.slice(0, 1);
  return [operands.length === 1 ? operands[0]! : ctx.op1('concat', operands, { axis })];
};

export interface NormalizedSlice {
  readonly starts: number[];
  readonly ends: number[];
  readonly axes: number[];
  readonly steps: number[];
}

/**
 * ONNX Slice bounds -> the IR's clamped, non-negative form: negative starts and
 * ends count from the end; starts clamp to [0, d] (step > 0) or [0, d-1]
 * (step < 0), ends to [0, d] or [-1, d-1]. INT64_MAX/MIN sentinels clamp too.
 */
export function normalizeSlice(
  dims: Shape,
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[],
  steps: readonly number[],
): NormalizedSlice {
  const out: NormalizedSlice = { starts: [], ends: [], axes: [...axes], steps: [...steps] };
  axes.forEach((axis, i) => {
    const d = dims[axis]!;
    const step = steps[i]!;
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    const s = starts[i]! < 0 ? starts[i]! + d : starts[i]!;
    const e = ends[i]! < 0 ? ends[i]! + d : ends[i]!;
    out.starts.push(step > 0 ? clamp(s, 0, d) : clamp(s, 0, d - 1));
    out.ends.push(step > 0 ? clamp(e, 0, d) : clamp(e, -1, d - 1));
  });
  return out;
}

const slice: LoweringRule = (ctx) => {
  const x = ctx.input(0);
  const dims = shapeOf(x);
  const fromInputs = ctx.opset >= 10;
  const starts = fromInputs ? ctx.intsInput(1, 'starts') : [...ctx.ints('starts')];
  const ends = fromInputs ? ctx.intsInput(2, 'ends') : [...ctx.ints('ends')];
  if (starts.length !== ends.length)
    ctx.fail(`starts and ends differ in length (${starts.length} vs ${ends.length})`);
  const defaultAxes = starts.map((_, i) => i);
  const rawAxes = fromInputs
    ? ctx.hasInput(3)
      ? ctx.intsInput(3, 'axes')
      : defaultAxes
    : [...ctx.ints('axes', defaultAxes)];
  const steps = fromInputs && ctx.hasInput(4) ? ctx.intsInput(4, 'steps') : starts.map(() => 1);
  if (rawAxes.length !== starts.length || steps.length !== starts.length)
    ctx.fail('starts, ends, axes and steps must have the same length');
  if (steps.some((s) => s === 0)) ctx.fail('slice step cannot be 0');
  const s = normalizeSlice(dims, starts, ends, normalizeAxes(ctx, rawAxes, dims.length), steps);
  const whole = s.axes.every((a, i) => s.steps[i] === 1 && s.starts[i] === 0 && s.ends[i] === dims[a]);
  if (whole) return [x];
  return [ctx.op1('slice', [x], { starts: s.starts, ends: s.ends, axes: s.axes, steps: s.steps })];
};

/** Split sizes: the `split` attribute (< 13) or input (>= 13), else equal parts (opset 18: the last may be smaller). */
function splitSizes(ctx: NodeContext, dim: number): number[] {
  if (ctx.opset < 13 && ctx.hasAttr('split')) return [...ctx.ints('split')];
  if (ctx.opset >= 13 && ctx.hasInput(1)) return ctx.intsInput(1, 'split');
  const parts =
    ctx.opset >= 18 && ctx.hasAttr('num_outputs') ? ctx.int('num_outputs') : ctx.node.outputs.length;
  if (parts <= 0) ctx.fail(`cannot split into ${parts} parts`);
  if (dim % parts === 0) return new Array<number>(parts).fill(dim / parts);
  if (ctx.opset < 18) ctx.fail(`dimension ${dim} does not split into ${parts} equal parts`);
  const size = Math.ceil(dim / parts);
  return Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(size, dim - i * size)));
}

const split: LoweringRule = (ctx) => {
  const x = ctx.input(0);
  const axis = normalizeAxis(ctx, ctx.int('axis', 0), rankOf(x));
  const sizes = splitSizes(ctx, shapeOf(x)[axis]!);
  if (sizes.length !== ctx.node.outputs.length)
    ctx.fail(`${sizes.length} split sizes for ${ctx.node.outputs.length} outputs`);
  return ctx.op('split', [x], { axis, sizes });
};

/** Expand broadcasts both ways: the result shape is broadcast(input, shape). */
const expand: LoweringRule = (ctx) => {
  const x = ctx.input(0);
  const target = broadcastShapes([shapeOf(x), ctx.intsInput(1, 'shape')]);
  return [shapeEquals(target, shapeOf(x)) ? x : ctx.op1('expand', [x], { shape: target })];
};

/** Tile = concat of copies, axis by axis. */
const tile: LoweringRule = (ctx) => {
  let x = ctx.input(0);
  const repeats = ctx.intsInput(1, 'repeats');
  if (repeats.length !== rankOf(x)) ctx.fail(`repeats has ${repeats.length} entries for rank ${rankOf(x)}`);
  repeats.forEach((r, axis) => {
    if (r < 0) ctx.fail(`negative repeat ${r}`);
    if (r === 0) x = ctx.op1('slice', [x], { starts: [0], ends: [0], axes: [axis], steps: [1] });
    else if (r > 1) x = ctx.op1('concat', new Array<Val>(r).fill(x), { axis });
  });
  return [x];
};

const gather: LoweringRule = (ctx) => {
  const data = ctx.input(0);
  const axis = normalizeAxis(ctx, ctx.int('axis', 0), rankOf(data));
  return [ctx.op1('gather', [data, ctx.input(1)], { axis })];
};

const trilu: LoweringRule = (ctx) => {
  const k = ctx.hasInput(1) ? ctx.intsInput(1, 'k')[0]! : 0;
  return [ctx.op1('trilu', [ctx.input(0)], { upper: ctx.int('upper', 1) !== 0 ? 1 : 0, k })];
};

export const MOVEMENT_RULES: RuleTable = {
  Reshape: reshape,
  Flatten: flatten,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Transpose: transpose,
  Concat: concat,
  Slice: slice,
  Split: split,
  Expand: expand,
  Tile: tile,
  Gather: gather,
  Trilu: trilu,
};
