/**
 * What every kernel shares: the kernel signature, typed access to tensor
 * buffers, and the index arithmetic that reduces an axis to (outer, len, inner).
 *
 * Kernels are pure: they never write their inputs. An output may alias an
 * input's buffer when the op only relabels it (reshape, share, reveal).
 */
import { MarillError } from '../errors.ts';
import type { Attrs } from '../graph.ts';
import type { Tensor, TensorData } from '../tensor.ts';
import type { DType, Shape, TensorType } from '../types.ts';
import { numel } from '../types.ts';

/**
 * Evaluates one op in plaintext. `attrs` are normalised (defaults filled in);
 * `outTypes` are the declared result types, which most kernels do not need
 * because they derive their result shapes from the operands.
 */
export type Kernel = (inputs: readonly Tensor[], attrs: Attrs, outTypes: readonly TensorType[]) => Tensor[];

function wrongDtype(t: Tensor, want: DType, what: string): never {
  throw new MarillError(`${what} must be ${want}, got ${t.dtype}`);
}

export function f32Data(t: Tensor, what = 'operand'): Float32Array {
  if (t.dtype !== 'f32' || !(t.data instanceof Float32Array)) wrongDtype(t, 'f32', what);
  return t.data;
}

export function i64Data(t: Tensor, what = 'operand'): BigInt64Array {
  if (t.dtype !== 'i64' || !(t.data instanceof BigInt64Array)) wrongDtype(t, 'i64', what);
  return t.data;
}

export function boolData(t: Tensor, what = 'operand'): Uint8Array {
  if (t.dtype !== 'bool' || !(t.data instanceof Uint8Array)) wrongDtype(t, 'bool', what);
  return t.data;
}

/** The operand at position i; a missing one is an arity error, not a crash. */
export function operand(inputs: readonly Tensor[], i: number, op: string): Tensor {
  const t = inputs[i];
  if (!t) throw new MarillError(`${op} needs operand ${i + 1}, got ${inputs.length}`);
  return t;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

/**
 * A tensor seen as [outer, len, inner] around one axis: element (o, k, i) is
 * at o * len * inner + k * inner + i. Softmax, norms, argmax, gather and
 * concat all work on this view.
 */
export interface AxisView {
  readonly outer: number;
  readonly len: number;
  readonly inner: number;
}

export function axisView(shape: Shape, axis: number): AxisView {
  return { outer: numel(shape.slice(0, axis)), len: shape[axis]!, inner: numel(shape.slice(axis + 1)) };
}

/** The buffer as plain JS numbers (i64 converted; exact below 2^53). */
export function asNumbers(data: TensorData): ArrayLike<number> {
  return data instanceof BigInt64Array ? Float64Array.from(data, Number) : data;
}
