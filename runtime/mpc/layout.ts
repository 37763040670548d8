/**
 * Data movement on shares. Movement ops (reshape, transpose, slice, concat,
 * split, expand, trilu, gather with public indices) only copy elements, so a
 * share moves exactly like the plaintext would. Rather than re-implement each
 * op, we run the plaintext interpreter's own kernel (ir/interpret.ts `evalOp`)
 * once on a tensor of element numbers and read back, for every result element,
 * which operand element it came from: an index map. Applying the map to a
 * share is a gather of 64-bit words (done on 32-bit halves: no BigInt).
 *
 * Maps depend only on shapes and attributes, so executors compute them once
 * per node and reuse them every inference.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Attrs } from '../../ir/graph.ts';
import { evalOp } from '../../ir/interpret.ts';
import type { OpName } from '../../ir/ops.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { makeTensor } from '../../ir/tensor.ts';
import type { Shape, TensorType } from '../../ir/types.ts';
import { numel, shapeEquals } from '../../ir/types.ts';
import type { Ring } from '../ring/kernels.ts';

/** Element numbers stay exact in f32 up to 2^24; larger operands use i64 tensors. */
const F32_EXACT = 1 << 24;

/** Operand element numbers 1..total (0 is kept for "zero-filled" results such as trilu's). */
function numbering(shape: Shape, first: number, asF32: boolean): Tensor {
  const n = numel(shape);
  if (asF32)
    return makeTensor(
      'f32',
      shape,
      Float32Array.from({ length: n }, (_, i) => first + i + 1),
    );
  return makeTensor(
    'i64',
    shape,
    BigInt64Array.from({ length: n }, (_, i) => BigInt(first + i + 1)),
  );
}

function readMap(t: Tensor): Int32Array {
  const out = new Int32Array(t.data.length);
  const d = t.data;
  if (d instanceof Float32Array) for (let i = 0; i < d.length; i++) out[i] = Math.round(d[i]!) - 1;
  else if (d instanceof BigInt64Array) for (let i = 0; i < d.length; i++) out[i] = Number(d[i]!) - 1;
  else throw new MarillError('index map of a bool tensor');
  return out;
}

/**
 * Index maps of a movement op: for each result, the position of each element
 * in the concatenation of the moved operands, or -1 for a zero. `moved` says
 * which inputs are data (the rest, e.g. gather's indices, are passed as given).
 */
export function movementMaps(
  op: OpName,
  attrs: Attrs,
  inputs: readonly (TensorType | Tensor)[],
  moved: readonly boolean[],
  outTypes: readonly TensorType[],
): Int32Array[] {
  const total = inputs.reduce((s, t, i) => s + (moved[i] ? numel(t.shape) : 0), 0);
  const asF32 = total < F32_EXACT;
  let first = 0;
  const args = inputs.map((t, i) => {
    if (!moved[i]) {
      if (!('data' in t)) throw new MarillError(`operand ${i} of ${op} must be known to move shares`);
      return t;
    }
    const num = numbering(t.shape, first, asF32);
    first += numel(t.shape);
    return num;
  });
  const numberedTypes = outTypes.map((t) => ({
    dtype: asF32 ? ('f32' as const) : ('i64' as const),
    shape: t.shape,
  }));
  return evalOp(op, args, attrs, numberedTypes).map(readMap);
}

/** Gathers 64-bit words: out[j] = src[map[j]] (0 where map[j] < 0). */
export function applyMap(src: Ring, map: Int32Array): Ring {
  const out = new BigInt64Array(map.length);
  const s = new Int32Array(src.buffer, src.byteOffset, src.length * 2);
  const o = new Int32Array(out.buffer);
  for (let j = 0; j < map.length; j++) {
    const i = map[j]!;
    if (i < 0) continue;
    o[2 * j] = s[2 * i]!;
    o[2 * j + 1] = s[2 * i + 1]!;
  }
  return out;
}

/** Concatenation of ring arrays (operands of a multi-input movement op). */
export function concatRings(parts: readonly Ring[]): Ring {
  if (parts.length === 1) return parts[0]!;
  const out = new BigInt64Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The index map broadcasting `from` to `to` (numpy rules), or undefined when they are equal. */
export function broadcastMap(from: Shape, to: Shape): Int32Array | undefined {
  if (shapeEquals(from, to)) return undefined;
  return movementMaps(
    'expand',
    { shape: [...to] },
    [{ dtype: 'f32', shape: from }],
    [true],
    [{ dtype: 'f32', shape: to }],
  )[0];
}

/** `r` broadcast from shape `from` to `to`. */
export function broadcastRing(r: Ring, from: Shape, to: Shape): Ring {
  const map = broadcastMap(from, to);
  return map ? applyMap(r, map) : r;
}

/**
 * For a reduction over `axes` of `shape`: the result position of every input
 * element (row-major), and the number of elements summed into each result.
 */
export function reductionMap(
  shape: Shape,
  axes: readonly number[],
): { map: Int32Array; count: number; outSize: number } {
  const rank = shape.length;
  const reduced = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  const outStrides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let d = rank - 1; d >= 0; d--) {
    if (reduced.has(d)) continue;
    outStrides[d] = stride;
    stride *= shape[d]!;
  }
  const n = numel(shape);
  const map = new Int32Array(n);
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < n; i++) {
    let o = 0;
    for (let d = 0; d < rank; d++) o += idx[d]! * outStrides[d]!;
    map[i] = o;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  const count = [...reduced].reduce((c, d) => c * shape[d]!, 1);
  return { map, count, outSize: stride };
}

/** out[map[i]] += src[i] mod 2^64, on 32-bit halves with carry (no BigInt). */
export function scatterAdd(src: Ring, map: Int32Array, outSize: number): Ring {
  const out = new BigInt64Array(outSize);
  const s = new Uint32Array(src.buffer, src.byteOffset, src.length * 2);
  const o = new Uint32Array(out.buffer);
  for (let i = 0; i < map.length; i++) {
    const j = map[i]!;
    const lo = (o[2 * j]! + s[2 * i]!) >>> 0;
    const carry = lo < s[2 * i]! ? 1 : 0;
    o[2 * j] = lo;
    o[2 * j + 1] = (o[2 * j + 1]! + s[2 * i + 1]! + carry) >>> 0;
  }
  return out;
}
