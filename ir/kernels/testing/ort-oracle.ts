/**
 * Test support: runs small ONNX graphs in onnxruntime-node, the independent
 * oracle the kernels are compared against, and compares tensors with a
 * tolerance. Models are built with the frontend's writer (compiler/onnx/write.ts).
 */
import type { AttrInput, NodeSpec } from '../../../compiler/onnx/write.ts';
import { encodeOnnx, makeModel } from '../../../compiler/onnx/write.ts';
import type { Tensor } from '../../tensor.ts';
import { fromNumbers, toNumbers } from '../../tensor.ts';
import { runOrt } from '../../../test/fixtures/ort.ts';
import type { DType, Shape } from '../../types.ts';
import { formatShape } from '../../types.ts';

const ONNX_TYPE = { f32: 'float', i64: 'int64', bool: 'bool' } as const;

export interface OrtGraph {
  readonly nodes: readonly NodeSpec[];
  /** Graph inputs by name, fed at run time (shape tensors too, so no initializers are needed). */
  readonly feeds: Readonly<Record<string, Tensor>>;
  readonly outputs: readonly { readonly name: string; readonly dtype: DType }[];
  readonly opset?: number;
}

/** Runs the graph in onnxruntime and returns its outputs in order. */
export async function runOrtGraph(g: OrtGraph): Promise<Tensor[]> {
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
  const result = await runOrt(encodeOnnx(model), new Map(Object.entries(g.feeds)));
  return g.outputs.map((o) => result.get(o.name)!);
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
  return runOrtGraph({
    nodes: [{ op, inputs: Object.keys(feeds), outputs: outputs.map((o) => o.name), attrs }],
    feeds,
    outputs,
    opset,
  });
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
