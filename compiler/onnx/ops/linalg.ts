/**
 * Matrix products (MatMul, Gemm) and the ops that normalise along an axis
 * (Softmax, LogSoftmax, LayerNormalization, RMSNormalization).
 */
import type { Val } from '../lower-context.ts';
import { typeOf } from '../lower-context.ts';
import type { LoweringRule, RuleTable } from './common.ts';
import { normalizeAxis, product, rankOf, reshapeTo, scalar, shapeOf } from './common.ts';

/**
 * MatMul with numpy semantics: a 1-D left operand is a row vector and a 1-D
 * right operand a column vector, and the added dimension is removed again.
 */
const matmul: LoweringRule = (ctx) => {
  const a = ctx.input(0);
  const b = ctx.input(1);
  const aVec = rankOf(a) === 1;
  const bVec = rankOf(b) === 1;
  if (!aVec && !bVec) return [ctx.op1('matmul', [a, b])];
  const a2 = aVec ? reshapeTo(ctx, a, [1, shapeOf(a)[0]!]) : a;
  const b2 = bVec ? reshapeTo(ctx, b, [shapeOf(b)[0]!, 1]) : b;
  const y = ctx.op1('matmul', [a2, b2]);
  const dims = [...shapeOf(y)];
  if (bVec) dims.splice(dims.length - 1, 1);
  if (aVec) dims.splice(dims.length - (bVec ? 1 : 2), 1);
  return [reshapeTo(ctx, y, dims)];
};

/** Gemm: alpha * op(A) x op(B) + beta * C, op = optional transpose. */
const gemm: LoweringRule = (ctx) => {
  const alpha = ctx.float('alpha', 1);
  const beta = ctx.float('beta', 1);
  const operand = (i: number, transposed: boolean): Val => {
    const v = ctx.input(i);
    if (rankOf(v) !== 2) ctx.fail(`operand ${i} must be 2-D, got rank ${rankOf(v)}`);
    return transposed ? ctx.op1('transpose', [v], { perm: [1, 0] }) : v;
  };
  let y = ctx.op1('matmul', [operand(0, ctx.int('transA', 0) !== 0), operand(1, ctx.int('transB', 0) !== 0)]);
  const dtype = typeOf(y).dtype;
  if (alpha !== 1) y = ctx.op1('mul', [y, scalar(dtype, alpha)]);
  if (ctx.hasInput(2) && beta !== 0) {
    const c = ctx.input(2);
    y = ctx.op1('add', [y, beta === 1 ? c : ctx.op1('mul', [c, scalar(dtype, beta)])]);
  }
  return [y];
};

/**
 * Softmax and LogSoftmax. From opset 13 they normalise along `axis` (default
 * -1). Before, the input is coerced to 2-D [prod(dims < axis), prod(dims >= axis)]
 * (default axis 1) and normalised over the second dimension, which differs
 * from a per-axis softmax unless axis is the last one.
 */
function softmaxLike(op: 'softmax' | 'log_softmax'): LoweringRule {
  return (ctx) => {
    const x = ctx.input(0);
    const rank = rankOf(x);
    if (ctx.opset >= 13) return [ctx.op1(op, [x], { axis: normalizeAxis(ctx, ctx.int('axis', -1), rank) })];
    const axis = ctx.int('axis', 1) < 0 ? ctx.int('axis', 1) + rank : ctx.int('axis', 1);
    if (axis < 0 || axis > rank) ctx.fail(`axis ${ctx.int('axis', 1)} is out of range for rank ${rank}`);
    if (axis === rank - 1) return [ctx.op1(op, [x], { axis: rank - 1 })];
    const dims = shapeOf(x);
    const flat = reshapeTo(ctx, x, [product(dims.slice(0, axis)), product(dims.slice(axis))]);
    return [reshapeTo(ctx, ctx.op1(op, [flat], { axis: 1 }), dims)];
  };
}

/** LayerNormalization (opset 17): only Y; the saved mean and inverse deviation are training outputs. */
const layerNormalization: LoweringRule = (ctx) => {
  const x = ctx.input(0);
  const axis = normalizeAxis(ctx, ctx.int('axis', -1), rankOf(x));
  const params = ctx.hasInput(2) ? [ctx.input(1), ctx.input(2)] : [ctx.input(1)];
  return [ctx.op1('layernorm', [x, ...params], { axis, epsilon: ctx.float('epsilon', 1e-5) })];
};

/** RMSNormalization (opset 23). */
const rmsNormalization: LoweringRule = (ctx) => {
  const x = ctx.input(0);
  const axis = normalizeAxis(ctx, ctx.int('axis', -1), rankOf(x));
  return [ctx.op1('rmsnorm', [x, ctx.input(1)], { axis, epsilon: ctx.float('epsilon', 1e-5) })];
};

export const LINALG_RULES: RuleTable = {
  MatMul: matmul,
  Gemm: gemm,
  Softmax: softmaxLike('softmax'),
  LogSoftmax: softmaxLike('log_softmax'),
  LayerNormalization: layerNormalization,
  RMSNormalization: rmsNormalization,
};
