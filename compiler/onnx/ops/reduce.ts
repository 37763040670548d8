/**
 * Reductions (ReduceSum/Mean/Max/Min) and ArgMax/ArgMin.
 *
 * Where the axes live depends on the opset: ReduceSum takes them as an
 * optional input from opset 13, the other reductions from opset 18; before,
 * they are the `axes` attribute. No axes means all axes, unless
 * `noop_with_empty_axes` asks for the identity.
 */
import type { NodeContext, Val } from '../lower-context.ts';
import { typeOf } from '../lower-context.ts';
import type { LoweringRule, RuleTable } from './common.ts';
import { normalizeAxes, normalizeAxis, rankOf, scalar, shapeOf } from './common.ts';

type ReduceOp = 'reduce_sum' | 'reduce_mean' | 'reduce_max';

/** The reduced axes, or undefined for the identity (empty axes with noop_with_empty_axes). */
function reductionAxes(ctx: NodeContext, axesInputOpset: number, rank: number): number[] | undefined {
  const fromInput = ctx.opset >= axesInputOpset;
  const axes = fromInput ? (ctx.hasInput(1) ? ctx.intsInput(1, 'axes') : []) : [...ctx.ints('axes', [])];
  if (axes.length > 0) return normalizeAxes(ctx, axes, rank);
  if (fromInput && ctx.int('noop_with_empty_axes', 0) !== 0) return undefined;
  return Array.from({ length: rank }, (_, i) => i);
}

function reduceRule(op: ReduceOp, axesInputOpset: number, negate = false): LoweringRule {
  return (ctx) => {
    const x = ctx.input(0);
    const axes = reductionAxes(ctx, axesInputOpset, rankOf(x));
    if (!axes) return [x];
    const attrs = { axes, keepdims: ctx.int('keepdims', 1) !== 0 ? 1 : 0 };
    // min(x) = -max(-x): the IR has one max-reduction.
    if (!negate) return [ctx.op1(op, [x], attrs)];
    return [ctx.op1('neg', [ctx.op1(op, [ctx.op1('neg', [x])], attrs)])];
  };
}

/**
 * ArgMax/ArgMin. ArgMin is ArgMax of -x (the same first index on ties). With
 * select_last_index the axis is reversed first and the index mapped back.
 */
function argRule(negate: boolean): LoweringRule {
  return (ctx) => {
    let x: Val = ctx.input(0);
    const axis = normalizeAxis(ctx, ctx.int('axis', 0), rankOf(x));
    const keepdims = ctx.int('keepdims', 1) !== 0 ? 1 : 0;
    if (negate) x = ctx.op1('neg', [x]);
    if (ctx.int('select_last_index', 0) === 0) return [ctx.op1('argmax', [x], { axis, keepdims })];
    const n = shapeOf(x)[axis]!;
    const reversed = ctx.op1('slice', [x], { starts: [n - 1], ends: [-1], axes: [axis], steps: [-1] });
    const idx = ctx.op1('argmax', [reversed], { axis, keepdims });
    return [ctx.op1('sub', [scalar(typeOf(idx).dtype, n - 1), idx])];
  };
}

export const REDUCE_RULES: RuleTable = {
  ReduceSum: reduceRule('reduce_sum', 13),
  ReduceMean: reduceRule('reduce_mean', 18),
  ReduceMax: reduceRule('reduce_max', 18),
  ReduceMin: reduceRule('reduce_max', 18, true),
  ArgMax: argRule(false),
  ArgMin: argRule(true),
};
