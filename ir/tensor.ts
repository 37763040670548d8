/**
 * Plaintext tensors: a dtype, a static shape and a flat row-major buffer.
 * f32 -> Float32Array, i64 -> BigInt64Array, bool -> Uint8Array (0/1).
 */
import { createHash } from 'node:crypto';
import type { DType, Shape } from './types.ts';
import { numel } from './types.ts';

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
