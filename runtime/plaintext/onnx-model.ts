/**
 * Encodes one plaintext segment as an ONNX model (onnx-proto) for onnxruntime:
 * static-shaped inputs and outputs, IR tensors as raw little-endian
 * initializers (their buffers as they are: no per-element conversion), and
 * nodes with int, ints, float and string attributes, which is all the IR ->
 * ONNX op mapping (./onnx-ops.ts) emits. The frontend's general writer lives
 * in the compiler, which the runtime does not import.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNs } from 'onnx-proto';
import type { Tensor } from '../../ir/tensor.ts';
import { tensorBytes } from '../../ir/tensor.ts';
import type { DType, TensorType } from '../../ir/types.ts';

const { onnx } = onnxProto;

/** The opset the mapping targets: Gelu is opset 20; Reduce* take axes as an input since 18. */
export const SEGMENT_OPSET = 20;
const IR_VERSION = 9;

/** ONNX TensorProto element type codes of the IR dtypes. */
export const ONNX_ELEMENT_TYPE: Readonly<Record<DType, number>> = { f32: 1, i64: 7, bool: 9 };

export type OnnxAttr = number | string | readonly number[] | { readonly float: number };

export interface OnnxNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs?: Readonly<Record<string, OnnxAttr>>;
}

export interface SegmentModel {
  readonly inputs: readonly { readonly name: string; readonly type: TensorType }[];
  readonly outputs: readonly { readonly name: string; readonly type: TensorType }[];
  readonly initializers: readonly { readonly name: string; readonly tensor: Tensor }[];
  readonly nodes: readonly OnnxNode[];
}

const A = onnx.AttributeProto.AttributeType;

function attribute(name: string, v: OnnxAttr): OnnxNs.AttributeProto {
  const make = (fields: OnnxNs.IAttributeProto) => onnx.AttributeProto.create({ name, ...fields });
  if (typeof v === 'string') return make({ type: A.STRING, s: Buffer.from(v, 'utf8') });
  if (typeof v === 'number')
    return Number.isInteger(v) ? make({ type: A.INT, i: v }) : make({ type: A.FLOAT, f: v });
  if (Array.isArray(v)) return make({ type: A.INTS, ints: [...(v as readonly number[])] });
  return make({ type: A.FLOAT, f: (v as { float: number }).float });
}

function valueInfo(name: string, type: TensorType): OnnxNs.ValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ONNX_ELEMENT_TYPE[type.dtype],
        shape: { dim: type.shape.map((d) => ({ dimValue: d })) },
      },
    },
  });
}

function initializer(name: string, t: Tensor): OnnxNs.TensorProto {
  return onnx.TensorProto.create({
    name,
    dims: [...t.shape],
    dataType: ONNX_ELEMENT_TYPE[t.dtype],
    rawData: tensorBytes(t),
  });
}

export function encodeSegmentModel(m: SegmentModel, name: string): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'marillc-runtime',
    opsetImport: [{ domain: '', version: SEGMENT_OPSET }],
    graph: onnx.GraphProto.create({
      name,
      input: m.inputs.map((v) => valueInfo(v.name, v.type)),
      output: m.outputs.map((v) => valueInfo(v.name, v.type)),
      initializer: m.initializers.map((t) => initializer(t.name, t.tensor)),
      node: m.nodes.map((n, i) =>
        onnx.NodeProto.create({
          name: `${n.op}_${i}`,
          opType: n.op,
          domain: '',
          input: [...n.inputs],
          output: [...n.outputs],
          attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
        }),
      ),
    }),
  });
  return onnx.ModelProto.encode(model).finish();
}
