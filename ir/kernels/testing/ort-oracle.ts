/**
 * Test support: runs small ONNX graphs in onnxruntime-node, the independent
 * oracle the kernels are compared against, and compares tensors with a
 * tolerance. Models are built with the frontend's writer (compiler/onnx/write.ts).
 */
import * as ort from 'onnxruntime-node';
import type { AttrInput, NodeSpec } from '../../../compiler/onnx/write.ts';
import { encodeOnnx, makeModel } from '../../../compiler/onnx/write.ts';
import type { Tensor } from '../../tensor.ts';
import { fromNumbers, makeTensor, toNumbers } from '../../tensor.ts';
import type { DType, Shape } from '../../types.ts';
import { formatShape, numel } from '../../types.ts';

const ORT_TYPE = { f32: 'float32', i64: 'int64', bool: 'bool' } as const;
const ONNX_TYPE = { f32: 'float', i64: 'int64', bool: 'bool' } as const;

function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(ORT_TYPE[t.dtype], t.data, [...t.shape]);
}

function fromOrt(t: ort.Tensor): Tensor {
  const shape = t.dims.map(Number);
  if (t.type === 'float32') return makeTensor('f32', shape, Float32Array.from(t.data as Float32Array));
  if (t.type === 'int64') return makeTensor('i64', shape, BigInt64Array.from(t.data as BigInt64Array));
  if (t.type === 'bool') return makeTensor('bool', shape, Uint8Array.from(t.data as Uint8Array));
  throw new Error(`unexpected onnxruntime output type ${t.type}`);
}

export interface OrtGraph {
  readonly nodes: readonly NodeSpec[];
  /** Graph inputs by name, fed at run time (shape tensors too, so no initializers are needed). */
  readonly feeds: Readonly<Record<string, Tensor>>;
  readonly outputs: readonly { readonly name: string; readonly dtype: DType }[];
  readonly opset?: number;
}

/** Runs the graph in onnxruntime and returns its outputs in order. */
export async function runOrt(g: OrtGraph): Promise<Tensor[]> {
  const model = makeModel({
    opset: g.opset ?? 17,
    inputs: Object.entries(g.feeds).map(([name, t]) => ({
      name,
      type: ONNX_TYPE[t.dtype],
      shape: [...t.shape],
    })),
    outputs: g.outputs.map((o) => ({ name: o.name, type: ONNX_TYPE[o.dtype] })),
    nodes: g.nodes,
  });
  const session = await ort.InferenceSession.create(encodeOnnx(model));
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(g.feeds)) feeds[name] = toOrt(t);
    const result = await session.run(feeds);
    return g.outputs.map((o) => fromOrt(result[o.name]!));
  } finally {
    await session.release();
  }
}

/** One ONNX op on inputs named x0, x1, ... with one output per entry of `outDtypes`. */
export async function runOrtOp(
  op: string,
  inputs: readonly Tensor[],
  attrs: Readonly<Record<string, AttrInput>> = {},
  outDtypes: readonly DType[] = ['f32'],
  opset = 17,
): Promise<Tensor[]> {
  const feeds: Record<string, Tensor> = {};
  inputs.forEach((t, i) => (feeds[`x${i}`] = t));
  const outputs = outDtypes.map((dtype, i) => ({ name: `y${i}`, dtype }));
  return runOrt({
    nodes: [{ op, inputs: Object.keys(feeds), outputs: outputs.map((o) => o.name), attrs }],
    feeds,
    outputs,
    opset,
  });
}

// ---- random inputs ----------------------------------------------------------------------------

/** A small deterministic generator (mulberry32), so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomF32(shape: Shape, next: () => number, lo = -3, hi = 3): Tensor {
  return fromNumbers(
    'f32',
    shape,
    Array.from({ length: numel(shape) }, () => lo + (hi - lo) * next()),
  );
}

export function randomI64(shape: Shape, next: () => number, lo: number, hi: number): Tensor {
  return fromNumbers(
    'i64',
    shape,
    Array.from({ length: numel(shape) }, () => lo + Math.floor((hi - lo + 1) * next())),
  );
}

export function randomBool(shape: Shape, next: () => number): Tensor {
  return fromNumbers(
    'bool',
    shape,
    Array.from({ length: numel(shape) }, () => (next() < 0.5 ? 1 : 0)),
  );
}

export function i64(shape: Shape, values: readonly number[]): Tensor {
  return fromNumbers('i64', shape, values);
}

// ---- comparison -------------------------------------------------------------------------------

/**
 * Null when `actual` matches `expected` (same dtype and shape, every element
 * within abs + rel * |expected|; NaN matches NaN), else what differs.
 */
export function mismatch(actual: Tensor, expected: Tensor, rel = 1e-5, abs = 1e-6): string | null {
  if (actual.dtype !== expected.dtype) return `dtype ${actual.dtype} vs ${expected.dtype}`;
  if (formatShape(actual.shape) !== formatShape(expected.shape))
    return `shape ${formatShape(actual.shape)} vs ${formatShape(expected.shape)}`;
  const a = toNumbers(actual);
  const e = toNumbers(expected);
  for (let i = 0; i < a.length; i++) {
    const ok = Number.isNaN(e[i]!)
      ? Number.isNaN(a[i]!)
      : Math.abs(a[i]! - e[i]!) <= abs + rel * Math.abs(e[i]!);
    if (!ok) return `element ${i}: ${a[i]} vs ${e[i]}`;
  }
  return null;
}
