/**
 * IR op -> ONNX nodes, for the ops whose ONNX form computes what the
 * interpreter (ir/interpret.ts, the reference) computes, up to float rounding.
 * `onnxLowering` returns null where there is no faithful mapping; such a node
 * ends a segment and runs on the interpreter. Left to the interpreter:
 *   - softmax 2quad (MPCFormer's quadratic, with its mask exclusion rule);
 *   - i64 div and pow (the interpreter reports division by zero and defines
 *     negative integer powers; onnxruntime would trap or differ);
 *   - reduce_mean / reduce_max on i64 (not every onnxruntime build has them);
 *   - share, reveal (protocol nodes) and the sources (weight, const: they are
 *     initializers of the segment that reads them).
 * The pairs are those ir/kernels/ort-oracle*.test.ts check kernel by kernel.
 */
import type { Attrs } from '../../ir/graph.ts';
import { floatAttr, intAttr, intsAttr, stringAttr } from '../../ir/ops.ts';
import type { OpName } from '../../ir/ops.ts';
import { normalizeAxis } from '../../ir/shape-rules.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { makeTensor } from '../../ir/tensor.ts';
import type { DType, TensorType } from '../../ir/types.ts';
import { shapeEquals } from '../../ir/types.ts';
import type { OnnxNode } from './onnx-model.ts';
import { ONNX_ELEMENT_TYPE } from './onnx-model.ts';

/** What a lowering writes into the segment's model. */
export interface LoweringContext {
  /** ONNX value names of the IR node's operands and results. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly inTypes: readonly TensorType[];
  readonly outTypes: readonly TensorType[];
  /** Normalised attributes (defaults filled). */
  readonly attrs: Attrs;
  /** A fresh intermediate value name. */
  temp(): string;
  /** Adds a constant initializer; returns its name. */
  constant(t: Tensor): string;
  node(n: OnnxNode): void;
}

export type Lowering = (c: LoweringContext) => void;

function i64s(values: readonly number[]): Tensor {
  return makeTensor(
    'i64',
    [values.length],
    BigInt64Array.from(values, (v) => BigInt(v)),
  );
}

function scalarF32(v: number): Tensor {
  return makeTensor('f32', [], Float32Array.of(v));
}

const direct =
  (op: string): Lowering =>
  (c) =>
    c.node({ op, inputs: c.inputs, outputs: c.outputs });

/** softmax / log_softmax: the optional mask is added first (the interpreter's exact rule). */
const softmaxLike =
  (op: string): Lowering =>
  (c) => {
    let x = c.inputs[0]!;
    if (c.inputs.length > 1) {
      const z = c.temp();
      c.node({ op: 'Add', inputs: [x, c.inputs[1]!], outputs: [z] });
      x = z;
    }
    c.node({ op, inputs: [x], outputs: c.outputs, attrs: { axis: intAttr(c.attrs, 'axis') } });
  };

/** A scale/bias operand reshaped to the normalised block when only its element count matches. */
function blockShaped(c: LoweringContext, k: number, block: readonly number[]): string {
  const name = c.inputs[k]!;
  if (shapeEquals(c.inTypes[k]!.shape, block)) return name;
  const out = c.temp();
  c.node({ op: 'Reshape', inputs: [name, c.constant(i64s(block))], outputs: [out] });
  return out;
}

const layernorm: Lowering = (c) => {
  const x = c.inTypes[0]!;
  const axis = normalizeAxis(intAttr(c.attrs, 'axis'), x.shape.length);
  const block = x.shape.slice(axis);
  const params = c.inputs.slice(1).map((_, i) => blockShaped(c, i + 1, block));
  c.node({
    op: 'LayerNormalization',
    inputs: [c.inputs[0]!, ...params],
    outputs: c.outputs,
    attrs: { axis, epsilon: { float: floatAttr(c.attrs, 'epsilon') } },
  });
};

/** x / sqrt(mean(x^2) + eps) * scale over the trailing axes (ONNX RMSNormalization is opset 23). */
const rmsnorm: Lowering = (c) => {
  const x = c.inTypes[0]!;
  const rank = x.shape.length;
  const axis = normalizeAxis(intAttr(c.attrs, 'axis'), rank);
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const [sq, ms, mse, rms, n] = [c.temp(), c.temp(), c.temp(), c.temp(), c.temp()];
  c.node({ op: 'Mul', inputs: [c.inputs[0]!, c.inputs[0]!], outputs: [sq] });
  c.node({ op: 'ReduceMean', inputs: [sq, c.constant(i64s(axes))], outputs: [ms], attrs: { keepdims: 1 } });
  c.node({ op: 'Add', inputs: [ms, c.constant(scalarF32(floatAttr(c.attrs, 'epsilon')))], outputs: [mse] });
  c.node({ op: 'Sqrt', inputs: [mse], outputs: [rms] });
  c.node({ op: 'Div', inputs: [c.inputs[0]!, rms], outputs: [n] });
  c.node({ op: 'Mul', inputs: [n, blockShaped(c, 1, x.shape.slice(axis))], outputs: c.outputs });
};

const gelu: Lowering = (c) => {
  const approx = stringAttr(c.attrs, 'approx');
  const [x] = c.inputs;
  if (approx === 'relu') return c.node({ op: 'Relu', inputs: [x!], outputs: c.outputs });
  if (approx === 'erf' || approx === 'tanh')
    return c.node({
      op: 'Gelu',
      inputs: [x!],
      outputs: c.outputs,
      attrs: { approximate: approx === 'erf' ? 'none' : 'tanh' },
    });
  // quad: 0.125 x^2 + 0.25 x + 0.5, as (0.125 x + 0.25) x + 0.5
  const [a, b, d] = [c.temp(), c.temp(), c.temp()];
  c.node({ op: 'Mul', inputs: [x!, c.constant(scalarF32(0.125))], outputs: [a] });
  c.node({ op: 'Add', inputs: [a, c.constant(scalarF32(0.25))], outputs: [b] });
  c.node({ op: 'Mul', inputs: [b, x!], outputs: [d] });
  c.node({ op: 'Add', inputs: [d, c.constant(scalarF32(0.5))], outputs: c.outputs });
};

const reduction =
  (op: string): Lowering =>
  (c) => {
    const axes = intsAttr(c.attrs, 'axes');
    // The interpreter reduces nothing over an empty axis list; ONNX would reduce all axes.
    if (axes.length === 0) return c.node({ op: 'Identity', inputs: c.inputs, outputs: c.outputs });
    c.node({
      op,
      inputs: [c.inputs[0]!, c.constant(i64s(axes))],
      outputs: c.outputs,
      attrs: { keepdims: intAttr(c.attrs, 'keepdims') },
    });
  };

/** IR slice ends are clamped and non-negative except -1 (before the start, with a negative step). */
const slice: Lowering = (c) => {
  const shape = c.inTypes[0]!.shape;
  const axes = intsAttr(c.attrs, 'axes');
  const ends = intsAttr(c.attrs, 'ends').map((e, i) =>
    e < 0 ? -(shape[normalizeAxis(axes[i]!, shape.length)]! + 1) : e,
  );
  c.node({
    op: 'Slice',
    inputs: [
      c.inputs[0]!,
      c.constant(i64s(intsAttr(c.attrs, 'starts'))),
      c.constant(i64s(ends)),
      c.constant(i64s(axes)),
      c.constant(i64s(intsAttr(c.attrs, 'steps'))),
    ],
    outputs: c.outputs,
  });
};

const withShapeInput =
  (op: string, attr: string, attrs: Readonly<Record<string, number>> = {}): Lowering =>
  (c) =>
    c.node({
      op,
      inputs: [c.inputs[0]!, c.constant(i64s(intsAttr(c.attrs, attr)))],
      outputs: c.outputs,
      attrs,
    });

const LOWERINGS: Partial<Record<OpName, Lowering>> = {
  add: direct('Add'),
  sub: direct('Sub'),
  mul: direct('Mul'),
  div: direct('Div'),
  pow: direct('Pow'),
  max: direct('Max'),
  min: direct('Min'),
  neg: direct('Neg'),
  abs: direct('Abs'),
  sqrt: direct('Sqrt'),
  rsqrt: (c) => {
    const s = c.temp();
    c.node({ op: 'Sqrt', inputs: c.inputs, outputs: [s] });
    c.node({ op: 'Reciprocal', inputs: [s], outputs: c.outputs });
  },
  reciprocal: direct('Reciprocal'),
  exp: direct('Exp'),
  log: direct('Log'),
  erf: direct('Erf'),
  tanh: direct('Tanh'),
  sigmoid: direct('Sigmoid'),
  relu: direct('Relu'),
  gelu,
  silu: (c) => {
    const s = c.temp();
    c.node({ op: 'Sigmoid', inputs: c.inputs, outputs: [s] });
    c.node({ op: 'Mul', inputs: [c.inputs[0]!, s], outputs: c.outputs });
  },
  sin: direct('Sin'),
  cos: direct('Cos'),
  equal: direct('Equal'),
  less: direct('Less'),
  greater: direct('Greater'),
  and: direct('And'),
  or: direct('Or'),
  not: direct('Not'),
  where: direct('Where'),
  cast: (c) =>
    c.node({
      op: 'Cast',
      inputs: c.inputs,
      outputs: c.outputs,
      attrs: { to: ONNX_ELEMENT_TYPE[stringAttr(c.attrs, 'to') as DType] },
    }),
  matmul: direct('MatMul'),
  softmax: softmaxLike('Softmax'),
  log_softmax: softmaxLike('LogSoftmax'),
  layernorm,
  rmsnorm,
  reduce_sum: reduction('ReduceSum'),
  reduce_mean: reduction('ReduceMean'),
  reduce_max: reduction('ReduceMax'),
  argmax: (c) =>
    c.node({
      op: 'ArgMax',
      inputs: c.inputs,
      outputs: c.outputs,
      attrs: { axis: intAttr(c.attrs, 'axis'), keepdims: intAttr(c.attrs, 'keepdims') },
    }),
  gather: (c) =>
    c.node({ op: 'Gather', inputs: c.inputs, outputs: c.outputs, attrs: { axis: intAttr(c.attrs, 'axis') } }),
  reshape: withShapeInput('Reshape', 'shape', { allowzero: 1 }),
  transpose: (c) =>
    c.node({
      op: 'Transpose',
      inputs: c.inputs,
      outputs: c.outputs,
      attrs: { perm: intsAttr(c.attrs, 'perm') },
    }),
  slice,
  concat: (c) =>
    c.node({ op: 'Concat', inputs: c.inputs, outputs: c.outputs, attrs: { axis: intAttr(c.attrs, 'axis') } }),
  split: (c) =>
    c.node({
      op: 'Split',
      inputs: [c.inputs[0]!, c.constant(i64s(intsAttr(c.attrs, 'sizes')))],
      outputs: c.outputs,
      attrs: { axis: intAttr(c.attrs, 'axis') },
    }),
  expand: withShapeInput('Expand', 'shape'),
  trilu: (c) =>
    c.node({
      op: 'Trilu',
      inputs: [
        c.inputs[0]!,
        c.constant(makeTensor('i64', [], BigInt64Array.of(BigInt(intAttr(c.attrs, 'k'))))),
      ],
      outputs: c.outputs,
      attrs: { upper: intAttr(c.attrs, 'upper') },
    }),
};

/** Operand dtypes the interpreter and onnxruntime agree on, where the op allows more. */
function faithfulFor(op: OpName, attrs: Attrs, inTypes: readonly TensorType[]): boolean {
  const first = inTypes[0]?.dtype;
  switch (op) {
    case 'div':
    case 'pow':
    case 'reduce_mean':
    case 'reduce_max':
      return first === 'f32';
    case 'softmax':
      return stringAttr(attrs, 'approx') === 'exact';
    default:
      return true;
  }
}

/**
 * The lowering of an op with these (normalised) attributes and operand types,
 * or null when onnxruntime cannot compute it as the interpreter does.
 */
export function onnxLowering(op: OpName, attrs: Attrs, inTypes: readonly TensorType[]): Lowering | null {
  const lowering = LOWERINGS[op];
  if (!lowering || !faithfulFor(op, attrs, inTypes)) return null;
  return lowering;
}
