/**
 * Index maps, written once: every op that moves or broadcasts elements
 * describes its result as "output element i comes from input offset
 * from[i]" and lets `takeElements` copy. Broadcasting (elementwise ops,
 * expand, where, softmax masks), transposes, slices and reductions are all
 * strided walks over the output shape, so one odometer serves them all.
 */
import { MarillError } from '../errors.ts';
import type { TensorData } from '../tensor.ts';
import { allocData } from '../tensor.ts';
import type { DType, Shape } from '../types.ts';
import { formatShape, numel } from '../types.ts';
import { stridesOf } from './kernel.ts';

/**
 * Offsets visited by walking `shape` in row-major order when dimension d
 * advances the source by `strides[d]` (0 repeats it), starting at `base`.
 */
export function stridedOffsets(shape: Shape, strides: readonly number[], base = 0): Int32Array {
  const n = numel(shape);
  const out = new Int32Array(n);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let off = base;
  for (let i = 0; i < n; i++) {
    out[i] = off;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      off += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      off -= strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Strides of `from` aligned to the trailing dimensions of `to` (numpy
 * broadcasting): 0 where `from` has size 1 or no dimension at all.
 */
export function broadcastStrides(from: Shape, to: Shape): number[] {
  const own = stridesOf(from);
  const lead = to.length - from.length;
  return to.map((_, d) => {
    const k = d - lead;
    return k < 0 || from[k] === 1 ? 0 : own[k]!;
  });
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * For each element of `to`, the offset of the `from` element broadcast onto
 * it; null when the shapes are equal (the identity map, the common fast path).
 * Throws when `from` does not broadcast to `to`.
 */
export function broadcastOffsets(from: Shape, to: Shape): Int32Array | null {
  if (sameShape(from, to)) return null;
  const lead = to.length - from.length;
  if (lead < 0 || from.some((d, k) => d !== 1 && d !== to[lead + k]))
    throw new MarillError(`shape ${formatShape(from)} does not broadcast to ${formatShape(to)}`);
  return stridedOffsets(to, broadcastStrides(from, to));
}

/** A writable, dtype-agnostic view: sound because every copy stays within one dtype. */
type Elements = { [i: number]: number | bigint };

/**
 * A new buffer of `dtype` whose element i is src[from[i]], or zero (false)
 * where from[i] is -1.
 */
export function takeElements(dtype: DType, src: TensorData, from: Int32Array): TensorData {
  const out = allocData(dtype, from.length);
  const o = out as unknown as Elements;
  const s = src as unknown as Elements;
  for (let i = 0; i < from.length; i++) {
    const j = from[i]!;
    if (j >= 0) o[i] = s[j]!;
  }
  return out;
}

/** out[i] = cond[i] ? a[i] : b[i], each operand read through its own offset map (null: identity). */
export function selectElements(
  dtype: DType,
  n: number,
  cond: Uint8Array,
  condAt: Int32Array | null,
  a: TensorData,
  aAt: Int32Array | null,
  b: TensorData,
  bAt: Int32Array | null,
): TensorData {
  const out = allocData(dtype, n);
  const o = out as unknown as Elements;
  const x = a as unknown as Elements;
  const y = b as unknown as Elements;
  for (let i = 0; i < n; i++) {
    const c = cond[condAt ? condAt[i]! : i]!;
    o[i] = c ? x[aAt ? aAt[i]! : i]! : y[bAt ? bAt[i]! : i]!;
  }
  return out;
}

/** Copies `count` elements from src[srcAt..] into dst[dstAt..] (same dtype). */
export function copyRun(dst: TensorData, dstAt: number, src: TensorData, srcAt: number, count: number): void {
  const d = dst as unknown as Elements;
  const s = src as unknown as Elements;
  for (let i = 0; i < count; i++) d[dstAt + i] = s[srcAt + i]!;
}
