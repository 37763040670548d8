/**
 * Loading an ONNX file: protobuf decode (onnx-proto), external data, and
 * conversion into the plain `OnnxModel` that lowering reads. Every failure is
 * a one-line MarillError naming the file.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNs } from 'onnx-proto';
import { MarillError } from '../../ir/errors.ts';
import type { Location } from '../../ir/errors.ts';
import { readFileOrFail } from '../fs-util.ts';
import { irDtypeOfCode, onnxDtypeName } from './dtypes.ts';
import { openExternalData } from './external-data.ts';
import type { DecodeOptions, Int64Like } from './tensor-proto.ts';
import { decodeTensorProto, int64ToNumber } from './tensor-proto.ts';
import type { OnnxAttribute, OnnxDim, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from './model.ts';

const { onnx } = onnxProto;

/** Reads and decodes an ONNX model; external data is resolved relative to `path`. */
export function loadOnnx(path: string): OnnxModel {
  // The file buffer is ours alone, so float payloads may be aligned in place (see DecodeOptions).
  return decodeOnnx(readFileOrFail(path), path, true);
}

/**
 * Decodes ONNX bytes as if read from `file` (which names the model in errors and
 * anchors external-data locations). Initializer tensors may be views into `bytes`.
 */
export function parseOnnx(bytes: Uint8Array, file: string): OnnxModel {
  return decodeOnnx(bytes, file, false);
}

function decodeOnnx(bytes: Uint8Array, file: string, ownsBuffer: boolean): OnnxModel {
  const proto = decodeModelProto(bytes, file);
  const graph = proto.graph;
  if (!graph) throw new MarillError('not an ONNX model (no graph in the file)', { file });
  if ((graph.node ?? []).length === 0)
    throw new MarillError('the model graph is empty (it has no nodes)', { file });
  const external = openExternalData(file);
  try {
    return toModel(proto, graph, file, { readExternal: external.read, alignInPlace: ownsBuffer });
  } finally {
    external.close();
  }
}

function decodeModelProto(bytes: Uint8Array, file: string): OnnxNs.ModelProto {
  let proto: OnnxNs.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new MarillError(`not an ONNX model (protobuf decode failed: ${firstLine(e)})`, { file });
  }
  // Arbitrary bytes sometimes decode as a protobuf with only unknown fields.
  if (int64ToNumber(proto.irVersion as Int64Like) <= 0 && !proto.graph)
    throw new MarillError('not an ONNX model (no IR version and no graph)', { file });
  return proto;
}

function toModel(
  proto: OnnxNs.ModelProto,
  graph: OnnxNs.IGraphProto,
  file: string,
  decode: DecodeOptions,
): OnnxModel {
  const initializers = new Map<string, OnnxTensor>();
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? '';
    initializers.set(name, decodeTensorProto(t, { file, what: `initializer '${name}'` }, decode));
  }
  if ((graph.sparseInitializer ?? []).length > 0)
    throw new MarillError('sparse initializers are not supported', { file });
  return {
    file,
    irVersion: int64ToNumber(proto.irVersion as Int64Like),
    producer: [proto.producerName, proto.producerVersion].filter((s) => s).join(' '),
    graphName: graph.name ?? '',
    opsets: opsetsOf(proto),
    inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(valueInfoOf),
    outputs: (graph.output ?? []).map(valueInfoOf),
    initializers,
    nodes: (graph.node ?? []).map((n, i) => nodeOf(n, i, file, decode)),
  };
}

function opsetsOf(proto: OnnxNs.ModelProto): Map<string, number> {
  const m = new Map<string, number>();
  for (const o of proto.opsetImport ?? []) {
    const domain = o.domain === 'ai.onnx' ? '' : (o.domain ?? '');
    m.set(domain, int64ToNumber((o.version ?? 1) as Int64Like));
  }
  return m;
}

function valueInfoOf(v: OnnxNs.IValueInfoProto): OnnxValueInfo {
  const tt = v.type?.tensorType;
  const code = tt?.elemType ?? 0;
  const shape = tt?.shape;
  return {
    name: v.name ?? '',
    elemType: onnxDtypeName(code),
    dtype: irDtypeOfCode(code),
    dims: shape ? (shape.dim ?? []).map(dimOf) : undefined,
  };
}

function dimOf(d: OnnxNs.TensorShapeProto.IDimension): OnnxDim {
  const which = (d as OnnxNs.TensorShapeProto.Dimension).value;
  if (which === 'dimValue') return int64ToNumber(d.dimValue as Int64Like);
  if (which === 'dimParam' && d.dimParam) return d.dimParam;
  return null;
}

function nodeOf(n: OnnxNs.INodeProto, index: number, file: string, decode: DecodeOptions): OnnxNode {
  const opType = n.opType ?? '';
  const name = n.name || `${opType}_${index}`;
  const loc: Location = { file, what: `node '${name}' (${opType})` };
  const attributes = new Map<string, OnnxAttribute>();
  for (const a of n.attribute ?? []) attributes.set(a.name ?? '', attributeOf(a, loc, decode));
  return {
    name,
    opType,
    domain: n.domain === 'ai.onnx' ? '' : (n.domain ?? ''),
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attributes,
  };
}

const A = onnx.AttributeProto.AttributeType;

function attributeOf(a: OnnxNs.IAttributeProto, loc: Location, decode: DecodeOptions): OnnxAttribute {
  switch (attributeType(a)) {
    case A.FLOAT:
      return { kind: 'float', value: a.f ?? 0 };
    case A.INT:
      return { kind: 'int', value: int64ToNumber((a.i ?? 0) as Int64Like) };
    case A.STRING:
      return { kind: 'string', value: utf8(a.s) };
    case A.TENSOR:
      return { kind: 'tensor', value: decodeTensorProto(a.t ?? {}, loc, decode) };
    case A.FLOATS:
      return { kind: 'floats', value: [...(a.floats ?? [])] };
    case A.INTS:
      return { kind: 'ints', value: (a.ints ?? []).map((v) => int64ToNumber(v as Int64Like)) };
    case A.STRINGS:
      return { kind: 'strings', value: (a.strings ?? []).map(utf8) };
    default:
      return { kind: 'unsupported', type: A[attributeType(a)] ?? String(a.type) };
  }
}

/** The declared type, or (IR version 1 files leave it out) the one implied by the field that is set. */
function attributeType(a: OnnxNs.IAttributeProto): OnnxNs.AttributeProto.AttributeType {
  if (a.type) return a.type;
  if ((a.floats ?? []).length > 0) return A.FLOATS;
  if ((a.ints ?? []).length > 0) return A.INTS;
  if ((a.strings ?? []).length > 0) return A.STRINGS;
  if (a.t) return A.TENSOR;
  if (a.s && a.s.length > 0) return A.STRING;
  if (a.g) return A.GRAPH;
  if (a.f) return A.FLOAT;
  return A.INT;
}

function utf8(bytes: Uint8Array | null | undefined): string {
  return bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8') : '';
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!;
}
