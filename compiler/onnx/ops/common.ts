/**
 * What every lowering table shares: the rule type and the small helpers the
 * rules compose (reshape-if-needed, scalar constants, axis lists).
 */
import { makeTensor } from '../../../ir/tensor.ts';
import type { DType, Shape } from '../../../ir/types.ts';
import { numel, shapeEquals } from '../../../ir/types.ts';
import type { NodeContext, Val } from '../lower-context.ts';
import { constVal, typeOf } from '../lower-context.ts';

/** Lowers one ONNX node: returns the values of its outputs, in order (trailing optional ones may be left out). */
export type LoweringRule = (ctx: NodeContext) => readonly Val[];

/** ONNX op type -> rule. One table per kind of op (ops/*.ts), merged in ops/index.ts. */
export type RuleTable = Readonly<Record<string, LoweringRule>>;

export function shapeOf(v: Val): Shape {
  return typeOf(v).shape;
}

export function rankOf(v: Val): number {
  return typeOf(v).shape.length;
}

/** `v` with another static shape (same elements); no op when the shape already matches. */
export function reshapeTo(ctx: NodeContext, v: Val, shape: readonly number[]): Val {
  if (shapeEquals(shapeOf(v), shape)) return v;
  return ctx.op1('reshape', [v], { shape: [...shape] });
}

/** A rank-0 constant. */
export function scalar(dtype: DType, value: number): Val {
  const t = makeTensor(dtype, []);
  if (t.data instanceof BigInt64Array) t.data[0] = BigInt(Math.trunc(value));
  else t.data[0] = value;
  return constVal(t);
}

/** Normalises axes against a rank (negative counts from the end) and checks range and uniqueness. */
export function normalizeAxes(ctx: NodeContext, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => {
    const n = a < 0 ? a + rank : a;
    if (!Number.isInteger(n) || n < 0 || n >= rank) ctx.fail(`axis ${a} is out of range for rank ${rank}`);
    return n;
  });
  if (new Set(out).size !== out.length) ctx.fail(`axes [${axes.join(',')}] repeat an axis`);
  return out;
}

export function normalizeAxis(ctx: NodeContext, axis: number, rank: number): number {
  return normalizeAxes(ctx, [axis], rank)[0]!;
}

export function product(dims: readonly number[]): number {
  return numel(dims);
}

/** Left-fold of a variadic op over its operands (Max, Min, Sum). */
export function foldOperands(ctx: NodeContext, op: 'max' | 'min' | 'add'): Val {
  const ins = ctx.inputs();
  if (ins.length === 0) ctx.fail('needs at least one input');
  return ins.slice(1).reduce((acc, v) => ctx.op1(op, [acc, v]), ins[0]!);
}
