/**
 * A deliberately small ONNX weight reader for the examples' own tests: the float
 * initializers of a file, keyed so that the same weight has the same key in every
 * export of a family. Independent of compiler/onnx on purpose (it is an oracle for it).
 *
 * Keys follow examples/gen/check_bytes.py's weight_key: a named initializer keeps its
 * name; torch's anonymous `onnx::MatMul_<n>` (a constant-folded, transposed nn.Linear
 * weight, n depending on the whole graph) is named after the module of its consumer
 * node plus '.weight' ('/model/layers.0/self_attn/q_proj/MatMul' ->
 * 'model.layers.0.self_attn.q_proj.weight'; a top-level consumer gives 'lm_head.weight').
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNs } from 'onnx-proto';
import { MarillError } from '../../ir/errors.ts';

const { onnx } = onnxProto;
const FLOAT = 1;

export interface WeightEntry {
  readonly key: string;
  /** The initializer's name in the file. */
  readonly name: string;
  readonly dims: readonly number[];
  /** Little-endian float32 bytes. */
  readonly bytes: Uint8Array;
}

function consumerScopes(graph: OnnxNs.IGraphProto): Map<string, string> {
  const scopes = new Map<string, string>();
  for (const node of graph.node ?? []) {
    const scope = (node.name ?? '').replace(/^\//, '').split('/').slice(0, -1).join('.');
    for (const input of node.input ?? []) if (!scopes.has(input)) scopes.set(input, scope);
  }
  return scopes;
}

function externalBytes(t: OnnxNs.ITensorProto, modelFile: string, byteLength: number): Uint8Array {
  const entry = (key: string): string | undefined =>
    t.externalData?.find((e) => e.key === key)?.value ?? undefined;
  const location = entry('location');
  if (location === undefined)
    throw new MarillError('external tensor without a location', { file: modelFile, what: t.name ?? '' });
  const offset = Number(entry('offset') ?? 0);
  const length = Number(entry('length') ?? byteLength);
  return new Uint8Array(readFileSync(join(dirname(modelFile), location)).subarray(offset, offset + length));
}

function floatBytes(t: OnnxNs.ITensorProto, modelFile: string, count: number): Uint8Array {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)
    return externalBytes(t, modelFile, count * 4);
  if (t.rawData && t.rawData.length > 0) return new Uint8Array(t.rawData);
  return new Uint8Array(Float32Array.from(t.floatData ?? []).buffer);
}

/** Float32 initializers with more than one element (the parameters), by key. */
export function readWeights(modelFile: string): Map<string, WeightEntry> {
  const model = onnx.ModelProto.decode(readFileSync(modelFile));
  const graph = model.graph;
  if (!graph) throw new MarillError('model has no graph', { file: modelFile });
  const scopes = consumerScopes(graph);
  const weights = new Map<string, WeightEntry>();
  for (const t of graph.initializer ?? []) {
    const dims = (t.dims ?? []).map(Number);
    const count = dims.reduce((a, b) => a * b, 1);
    if (t.dataType !== FLOAT || count <= 1) continue;
    const name = t.name ?? '';
    const key = name.startsWith('onnx::') ? `${scopes.get(name) || 'lm_head'}.weight` : name;
    if (weights.has(key)) throw new MarillError(`two initializers for ${key}`, { file: modelFile });
    weights.set(key, { key, name, dims, bytes: floatBytes(t, modelFile, count) });
  }
  return weights;
}

export function sameWeight(a: WeightEntry, b: WeightEntry): boolean {
  return (
    a.dims.length === b.dims.length &&
    a.dims.every((d, i) => d === b.dims[i]) &&
    Buffer.from(a.bytes).equals(Buffer.from(b.bytes))
  );
}
