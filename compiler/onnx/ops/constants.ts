/**
 * Ops whose result is known at compile time: Constant, Shape and Size of a
 * statically shaped value, ConstantOfShape and Range of constant operands.
 * They produce constants only; the IR has no op for them, so a Range or
 * ConstantOfShape whose operands depend on the model inputs is an error.
 */
import type { Tensor } from '../../../ir/tensor.ts';
import { fromNumbers, makeTensor, toNumbers } from '../../../ir/tensor.ts';
import type { NodeContext } from '../lower-context.ts';
import { constVal } from '../lower-context.ts';
import type { LoweringRule, RuleTable } from './common.ts';
import { product, shapeOf } from './common.ts';

/** Constant: one of value (tensor), value_float(s), value_int(s); strings and sparse tensors are not supported. */
const constant: LoweringRule = (ctx) => [constVal(constantValue(ctx))];

function constantValue(ctx: NodeContext): Tensor {
  const [name, attr] = [...ctx.node.attributes][0] ?? ['', undefined];
  if (!attr || ctx.node.attributes.size !== 1) return ctx.fail('needs exactly one value attribute');
  switch (name) {
    case 'value':
      return ctx.tensorAttr('value')!.tensor;
    case 'value_float':
      return fromNumbers('f32', [], [ctx.float('value_float')]);
    case 'value_floats': {
      const v = ctx.floats('value_floats');
      return fromNumbers('f32', [v.length], v);
    }
    case 'value_int':
      return fromNumbers('i64', [], [ctx.int('value_int')]);
    case 'value_ints': {
      const v = ctx.ints('value_ints');
      return fromNumbers('i64', [v.length], v);
    }
    default:
      return ctx.fail(`constant attribute '${name}' is not supported`);
  }
}

/** Shape (opset 15 adds start/end, clamped like Python slicing bounds). */
const shape: LoweringRule = (ctx) => {
  const dims = shapeOf(ctx.input(0));
  const rank = dims.length;
  const bound = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = bound(ctx.int('start', 0));
  const end = ctx.hasAttr('end') ? bound(ctx.int('end')) : rank;
  const picked = dims.slice(start, Math.max(start, end));
  return [constVal(fromNumbers('i64', [picked.length], picked))];
};

const size: LoweringRule = (ctx) => [constVal(fromNumbers('i64', [], [product(shapeOf(ctx.input(0)))]))];

/** ConstantOfShape: a tensor of the given (constant) shape filled with `value` (default float 0). */
const constantOfShape: LoweringRule = (ctx) => {
  const dims = ctx.intsInput(0, 'shape');
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) ctx.fail(`invalid shape [${dims.join(',')}]`);
  const value = ctx.tensorAttr('value')?.tensor ?? fromNumbers('f32', [1], [0]);
  if (value.data.length !== 1) ctx.fail(`'value' must hold one element, it has ${value.data.length}`);
  const out = makeTensor(value.dtype, dims);
  fill(out, value);
  return [constVal(out)];
};

function fill(out: Tensor, value: Tensor): void {
  const d = out.data;
  if (d instanceof BigInt64Array) d.fill((value.data as BigInt64Array)[0]!);
  else if (d instanceof Float32Array) d.fill((value.data as Float32Array)[0]!);
  else d.fill((value.data as Uint8Array)[0]!);
}

/** Range: start + i * delta for i < max(ceil((limit - start) / delta), 0), in the operands' type. */
const range: LoweringRule = (ctx) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => scalarOf(ctx, i, ['start', 'limit', 'delta'][i]!));
  const dtype = ctx.constInput(0, 'start').dtype;
  if (delta === 0) ctx.fail('delta cannot be 0');
  const n = Math.max(Math.ceil((limit! - start!) / delta!), 0);
  return [
    constVal(
      fromNumbers(
        dtype,
        [n],
        Array.from({ length: n }, (_, i) => start! + i * delta!),
      ),
    ),
  ];
};

function scalarOf(ctx: NodeContext, i: number, role: string): number {
  const t = ctx.constInput(i, role);
  if (t.data.length !== 1) ctx.fail(`${role} must be a scalar`);
  return toNumbers(t)[0]!;
}

export const CONSTANT_RULES: RuleTable = {
  Constant: constant,
  Shape: shape,
  Size: size,
  ConstantOfShape: constantOfShape,
  Range: range,
};
