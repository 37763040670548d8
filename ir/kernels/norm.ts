/**
 * layernorm and rmsnorm over the trailing axes from `axis`. Each row is the
 * flattened block x[o, axis:], and scale/bias are read flat over that block
 * (their shapes only need the same element count, as the type rule checks).
 * Statistics are accumulated in float64; the variance is the population one.
 */
import { MarillError } from '../errors.ts';
import { floatAttr, intAttr } from '../ops.ts';
import { normalizeAxis } from '../shape-rules.ts';
import type { Tensor } from '../tensor.ts';
import { makeTensor } from '../tensor.ts';
import type { Attrs } from '../graph.ts';
import { numel } from '../types.ts';
import type { Kernel } from './kernel.ts';
import { f32Data, operand } from './kernel.ts';

interface Rows {
  readonly src: Float32Array;
  readonly rows: number;
  readonly size: number;
  readonly epsilon: number;
}

function rowsOf(x: Tensor, attrs: Attrs): Rows {
  const axis = normalizeAxis(intAttr(attrs, 'axis'), x.shape.length);
  const size = numel(x.shape.slice(axis));
  return {
    src: f32Data(x),
    rows: size === 0 ? 0 : x.data.length / size,
    size,
    epsilon: floatAttr(attrs, 'epsilon'),
  };
}

function param(op: string, t: Tensor | undefined, size: number, what: string): Float32Array | undefined {
  if (!t) return undefined;
  const d = f32Data(t, what);
  if (d.length !== size)
    throw new MarillError(`${op} ${what} has ${d.length} elements, the normalised block ${size}`);
  return d;
}

export const layernorm: Kernel = (inputs, attrs) => {
  const x = operand(inputs, 0, 'layernorm');
  const { src, rows, size, epsilon } = rowsOf(x, attrs);
  const scale = param('layernorm', operand(inputs, 1, 'layernorm'), size, 'scale')!;
  const bias = param('layernorm', inputs[2], size, 'bias');
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) {
    const base = r * size;
    let sum = 0;
    for (let j = 0; j < size; j++) sum += src[base + j]!;
    const mean = sum / size;
    let sq = 0;
    for (let j = 0; j < size; j++) sq += (src[base + j]! - mean) ** 2;
    const inv = 1 / Math.sqrt(sq / size + epsilon);
    for (let j = 0; j < size; j++)
      out[base + j] = (src[base + j]! - mean) * inv * scale[j]! + (bias ? bias[j]! : 0);
  }
  return [makeTensor('f32', x.shape, out)];
};

export const rmsnorm: Kernel = (inputs, attrs) => {
  const x = operand(inputs, 0, 'rmsnorm');
  const { src, rows, size, epsilon } = rowsOf(x, attrs);
  const scale = param('rmsnorm', operand(inputs, 1, 'rmsnorm'), size, 'scale')!;
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) {
    const base = r * size;
    let sq = 0;
    for (let j = 0; j < size; j++) sq += src[base + j]! ** 2;
    const inv = 1 / Math.sqrt(sq / size + epsilon);
    for (let j = 0; j < size; j++) out[base + j] = src[base + j]! * inv * scale[j]!;
  }
  return [makeTensor('f32', x.shape, out)];
};
