/**
 * Writing an ONNX file whose large float initializers are produced chunk by
 * chunk, so a model of hundreds of MB is written without ever holding its
 * weights (or the encoded file) in memory.
 *
 * Protobuf fields may come in any order and a message's length is known
 * before its bytes are, so the file is: ModelProto's small fields, then the
 * `graph` field's tag and length, then the graph's nodes/inputs/outputs
 * (encoded by onnx-proto), then each streamed initializer as a TensorProto
 * whose header is encoded by onnx-proto and whose `raw_data` field is written
 * from the chunks.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import type { ModelSpec } from './write.ts';
import { makeModel } from './write.ts';

const { onnx } = onnxProto;

export interface StreamedInitializer {
  readonly name: string;
  readonly dims: readonly number[];
  /** Fills `chunk` with float32 elements starting at element `offset`. */
  readonly fill: (chunk: Float32Array, offset: number) => void;
}

// Field numbers and wire type 2 (length-delimited) from onnx.proto.
const MODEL_GRAPH_TAG = (7 << 3) | 2;
const GRAPH_INITIALIZER_TAG = (5 << 3) | 2;
const TENSOR_RAW_DATA_TAG = (9 << 3) | 2;
const FLOAT = 1;
const CHUNK_ELEMENTS = 1 << 20;

function varint(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

interface InitializerLayout {
  readonly spec: StreamedInitializer;
  readonly prefix: Uint8Array;
  readonly elements: number;
  readonly encodedLength: number;
}

/** The bytes before an initializer's data: graph field tag + length, tensor header, raw_data tag + length. */
function layoutOf(spec: StreamedInitializer): InitializerLayout {
  const elements = spec.dims.reduce((a, b) => a * b, 1);
  const dataBytes = elements * 4;
  const header = onnx.TensorProto.encode({ name: spec.name, dims: [...spec.dims], dataType: FLOAT }).finish();
  const rawField = Uint8Array.from([TENSOR_RAW_DATA_TAG, ...varint(dataBytes)]);
  const tensorLength = header.length + rawField.length + dataBytes;
  const prefix = Buffer.concat([
    Uint8Array.from([GRAPH_INITIALIZER_TAG]),
    varint(tensorLength),
    header,
    rawField,
  ]);
  return { spec, prefix, elements, encodedLength: prefix.length + dataBytes };
}

/** Writes `spec` (with its small initializers) plus the streamed ones; returns the file size in bytes. */
export function writeOnnxStreaming(
  path: string,
  spec: ModelSpec,
  streamed: readonly StreamedInitializer[],
): number {
  const model = makeModel(spec);
  const graph = model.graph!;
  model.graph = null;
  const modelHead = onnx.ModelProto.encode(model).finish();
  const graphHead = onnx.GraphProto.encode(graph).finish();
  const layouts = streamed.map(layoutOf);
  const graphLength = graphHead.length + layouts.reduce((s, l) => s + l.encodedLength, 0);

  const fd = openSync(path, 'w');
  let written = 0;
  const put = (bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    written += bytes.length;
  };
  try {
    put(modelHead);
    put(Uint8Array.from([MODEL_GRAPH_TAG, ...varint(graphLength)]));
    put(graphHead);
    const chunk = new Float32Array(CHUNK_ELEMENTS);
    for (const l of layouts) {
      put(l.prefix);
      for (let offset = 0; offset < l.elements; offset += CHUNK_ELEMENTS) {
        const part = chunk.subarray(0, Math.min(CHUNK_ELEMENTS, l.elements - offset));
        l.spec.fill(part, offset);
        put(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}
