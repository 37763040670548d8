/**
 * Elementwise ONNX ops: arithmetic, unary math and activations, comparisons,
 * boolean logic, Where, Cast and the pass-through ops (Identity, Dropout).
 */
import type { OpName } from '../../../ir/ops.ts';
import { fromNumbers, toNumbers } from '../../../ir/tensor.ts';
import type { DType } from '../../../ir/types.ts';
import { irDtypeOfCode, onnxDtypeName } from '../dtypes.ts';
import type { NodeContext, Val } from '../lower-context.ts';
import { constVal, typeOf } from '../lower-context.ts';
import type { LoweringRule, RuleTable } from './common.ts';
import { foldOperands, scalar, shapeOf } from './common.ts';

/** An ONNX op that is exactly one IR op on all its inputs. */
function direct(op: OpName): LoweringRule {
  return (ctx) => ctx.op(op, ctx.inputs());
}

/** `v` converted to `dtype` (constants converted here, other values by a cast op). */
function convert(ctx: NodeContext, v: Val, dtype: DType): Val {
  if (typeOf(v).dtype === dtype) return v;
  if (v.kind === 'const') return constVal(fromNumbers(dtype, v.tensor.shape, toNumbers(v.tensor)));
  return ctx.op1('cast', [v], { to: dtype });
}

/** ONNX Pow allows an exponent of another numeric type; the IR op wants one dtype. */
const pow: LoweringRule = (ctx) => {
  const x = ctx.input(0);
  return [ctx.op1('pow', [x, convert(ctx, ctx.input(1), typeOf(x).dtype)])];
};

const softplus: LoweringRule = (ctx) => {
  const e = ctx.op1('exp', [ctx.input(0)]);
  return [ctx.op1('log', [ctx.op1('add', [e, scalar('f32', 1)])])];
};

/** Gelu (opset 20): approximate = 'none' (erf) or 'tanh'. */
const gelu: LoweringRule = (ctx) => {
  const approximate = ctx.string('approximate', 'none');
  if (approximate !== 'none' && approximate !== 'tanh') ctx.fail(`unknown approximate '${approximate}'`);
  return [ctx.op1('gelu', [ctx.input(0)], { approx: approximate === 'none' ? 'erf' : 'tanh' })];
};

/** Clip: bounds are attributes before opset 11, optional inputs after. */
const clip: LoweringRule = (ctx) => {
  let x = ctx.input(0);
  const dtype = typeOf(x).dtype;
  const lo =
    ctx.opset < 11 ? (ctx.hasAttr('min') ? scalar(dtype, ctx.float('min')) : undefined) : optional(ctx, 1);
  const hi =
    ctx.opset < 11 ? (ctx.hasAttr('max') ? scalar(dtype, ctx.float('max')) : undefined) : optional(ctx, 2);
  if (lo) x = ctx.op1('max', [x, lo]);
  if (hi) x = ctx.op1('min', [x, hi]);
  return [x];
};

function optional(ctx: NodeContext, i: number): Val | undefined {
  return ctx.hasInput(i) ? ctx.input(i) : undefined;
}

const mean: LoweringRule = (ctx) => {
  const sum = foldOperands(ctx, 'add');
  return [ctx.op1('div', [sum, scalar(typeOf(sum).dtype, ctx.inputs().length)])];
};

const xor: LoweringRule = (ctx) => {
  const [a, b] = [ctx.input(0), ctx.input(1)];
  const either = ctx.op1('or', [a, b]);
  const both = ctx.op1('and', [a, b]);
  return [ctx.op1('and', [either, ctx.op1('not', [both])])];
};

const castTo = (ctx: NodeContext, dtype: DType): Val[] => [convert(ctx, ctx.input(0), dtype)];

const cast: LoweringRule = (ctx) => {
  const code = ctx.int('to');
  const dtype = irDtypeOfCode(code);
  if (!dtype) return ctx.fail(`cannot cast to '${onnxDtypeName(code)}'`);
  return castTo(ctx, dtype);
};

const castLike: LoweringRule = (ctx) => castTo(ctx, typeOf(ctx.input(1)).dtype);

/** Inference-time Dropout is the identity; its optional mask output is all true. */
const dropout: LoweringRule = (ctx) => {
  const x = ctx.input(0);
  if (ctx.node.outputs.length < 2 || ctx.node.outputs[1] === '') return [x];
  const shape = shapeOf(x);
  return [
    x,
    constVal(fromNumbers('bool', shape, new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(1))),
  ];
};

export const ELEMENTWISE_RULES: RuleTable = {
  Add: direct('add'),
  Sub: direct('sub'),
  Mul: direct('mul'),
  Div: direct('div'),
  Pow: pow,
  Max: (ctx) => [foldOperands(ctx, 'max')],
  Min: (ctx) => [foldOperands(ctx, 'min')],
  Sum: (ctx) => [foldOperands(ctx, 'add')],
  Mean: mean,
  Neg: direct('neg'),
  Abs: direct('abs'),
  Sqrt: direct('sqrt'),
  Reciprocal: direct('reciprocal'),
  Exp: direct('exp'),
  Log: direct('log'),
  Erf: direct('erf'),
  Tanh: direct('tanh'),
  Relu: direct('relu'),
  Sigmoid: direct('sigmoid'),
  Sin: direct('sin'),
  Cos: direct('cos'),
  Softplus: softplus,
  Gelu: gelu,
  Clip: clip,
  Equal: direct('equal'),
  Less: direct('less'),
  Greater: direct('greater'),
  LessOrEqual: (ctx) => [ctx.op1('not', [ctx.op1('greater', [ctx.input(0), ctx.input(1)])])],
  GreaterOrEqual: (ctx) => [ctx.op1('not', [ctx.op1('less', [ctx.input(0), ctx.input(1)])])],
  Not: direct('not'),
  And: direct('and'),
  Or: direct('or'),
  Xor: xor,
  Where: direct('where'),
  Cast: cast,
  CastLike: castLike,
  Identity: (ctx) => [ctx.input(0)],
  Dropout: dropout,
};
