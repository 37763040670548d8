/**
 * Plaintext tensors: a dtype, a static shape and a flat row-major buffer.
 * f32 -> Float32Array, i64 -> BigInt64Array, bool -> Uint8Array (0/1).
 */
import { createHash } from 'node:crypto';
import { MarillError } from './errors.ts';
import type { DType, Shape } from './types.ts';
import { formatType, numel, shapeEquals } from './types.ts';

export type TensorData = Float32Array | BigInt64Array | Uint8Array;

export interface Tensor {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: TensorData;
}

export function allocData(dtype: DType, n: number): TensorData {
  switch (dtype) {
    case 'f32':
      return new Float32Array(n);
    case 'i64':
      return new BigInt64Array(n);
    case 'bool':
      return new Uint8Array(n);
  }
}

export function makeTensor(dtype: DType, shape: Shape, data?: TensorData): Tensor {
  const n = numel(shape);
  const buf = data ?? allocData(dtype, n);
  if (buf.length !== n)
    throw new Error(`tensor data has ${buf.length} elements, shape [${shape}] needs ${n}`);
  return { dtype, shape: [...shape], data: buf };
}

/** All elements as JS numbers. */
export function toNumbers(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? Number(v) : v));
}

/** A tensor of the given dtype from JS numbers (i64 truncates toward zero, bool is x != 0). */
export function fromNumbers(dtype: DType, shape: Shape, values: ArrayLike<number>): Tensor {
  const t = makeTensor(dtype, shape);
  const d = t.data;
  if (d instanceof BigInt64Array)
    for (let i = 0; i < values.length; i++) d[i] = BigInt(Math.trunc(values[i]!));
  else if (d instanceof Uint8Array) for (let i = 0; i < values.length; i++) d[i] = values[i] ? 1 : 0;
  else d.set(values);
  return t;
}

/** Little-endian bytes of the buffer (the layout ONNX raw_data uses). */
export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Content hash of a tensor: SHA-256 over dtype, shape and little-endian bytes. */
export function tensorHash(t: Tensor): string {
  const h = createHash('sha256');
  h.update(`${t.dtype}[${t.shape.join(',')}]`);
  h.update(tensorBytes(t));
  return h.digest('hex');
}

/**
 * The largest |a[i] - b[i]| and where it is: the one error measure of the tests, the benchmarks
 * and `marillc simulate`. Positions equal in both (the same infinity, or NaN in both) count 0;
 * a NaN on one side only, or arrays of different lengths, give Infinity, so a wrong result never
 * passes as a small error. `at` is -1 when every position agrees.
 */
export function worstAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; at: number } {
  if (a.length !== b.length) return { diff: Infinity, at: -1 };
  let diff = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    const d = Math.abs(x - y);
    if (Number.isNaN(d)) return { diff: Infinity, at: i };
    if (d > diff) {
      diff = d;
      at = i;
    }
  }
  return { diff, at };
}

/** The largest |a[i] - b[i]| (see worstAbsDiff). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return worstAbsDiff(a, b).diff;
}

/** maxAbsDiff over two tensors' elements; a dtype or shape mismatch is an error naming `what`. */
export function tensorMaxAbsDiff(a: Tensor, b: Tensor, what = 'tensor'): number {
  if (a.dtype !== b.dtype || !shapeEquals(a.shape, b.shape))
    throw new MarillError(`${formatType(a)} compared with ${formatType(b)}`, { what });
  return maxAbsDiff(toNumbers(a), toNumbers(b));
}
