/**
 * The decoded ONNX model as plain data: what `loadOnnx` returns and
 * `lowerOnnx` consumes. It holds no protobuf objects, so lowering (and its
 * tests) need not know the wire format, and the protobuf tree can be dropped
 * as soon as loading is done.
 */
import type { Tensor } from '../../ir/tensor.ts';
import type { DType } from '../../ir/types.ts';

/** One dimension of a declared shape: a size, a symbolic name (`dim_param`), or unknown. */
export type OnnxDim = number | string | null;

export interface OnnxValueInfo {
  readonly name: string;
  /** ONNX element type name ('float', 'int64', ...). */
  readonly elemType: string;
  /** The IR dtype the element type maps to; undefined for types the IR cannot hold (string, complex). */
  readonly dtype: DType | undefined;
  /** Declared dimensions; undefined when the rank itself is unknown. */
  readonly dims: readonly OnnxDim[] | undefined;
}

/** A tensor decoded from a TensorProto, in its IR representation. */
export interface OnnxTensor {
  readonly tensor: Tensor;
  /** The element type stored in the file ('float16', 'int32', ...), before conversion to the IR dtype. */
  readonly sourceType: string;
}

export type OnnxAttribute =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'tensor'; readonly value: OnnxTensor }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'strings'; readonly value: readonly string[] }
  /** Graphs, sparse tensors, type protos: kept by kind only; no supported op reads them. */
  | { readonly kind: 'unsupported'; readonly type: string };

export interface OnnxNode {
  /** The node name, or `<OpType>_<index>` when the file leaves it empty. */
  readonly name: string;
  readonly opType: string;
  /** '' for the default ONNX domain ('ai.onnx' is normalised to ''). */
  readonly domain: string;
  /** Input value names; '' marks an omitted optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: ReadonlyMap<string, OnnxAttribute>;
}

export interface OnnxModel {
  /** The file it was read from (used in every error message). */
  readonly file: string;
  readonly irVersion: number;
  readonly producer: string;
  readonly graphName: string;
  /** Opset version per domain ('' = default ONNX domain). */
  readonly opsets: ReadonlyMap<string, number>;
  /** Graph inputs that are not initializers. */
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly initializers: ReadonlyMap<string, OnnxTensor>;
  /** Nodes in file order (ONNX asks for topological order; lowering does not rely on it: node-order.ts). */
  readonly nodes: readonly OnnxNode[];
}
