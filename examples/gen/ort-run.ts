/**
 * Runs an example model on its sample input with onnxruntime-node, the independent
 * plaintext oracle for the examples (used by check.ts and the examples' tests).
 */
import * as ort from 'onnxruntime-node';
import { MarillError } from '../../ir/errors.ts';
import type { ExampleFamily, ExampleTensorSpec, SampleTensor } from '../manifest.ts';
import { examplePath } from '../manifest.ts';

export interface OrtOutput {
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

function toOrtTensor(spec: ExampleTensorSpec, sample: SampleTensor): ort.Tensor {
  const dims = [...sample.shape];
  if (spec.dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(sample.values, BigInt), dims);
  return new ort.Tensor('float32', Float32Array.from(sample.values), dims);
}

// Sessions are cached per file: creating one costs far more than running these small models.
const sessions = new Map<string, Promise<ort.InferenceSession>>();

function session(file: string): Promise<ort.InferenceSession> {
  let s = sessions.get(file);
  if (s === undefined) {
    s = ort.InferenceSession.create(examplePath(file));
    sessions.set(file, s);
  }
  return s;
}

/** Runs `file` (relative to examples/) on the given inputs; returns the family's outputs by name. */
export async function runWithOrt(
  family: ExampleFamily,
  file: string,
  inputs: Readonly<Record<string, SampleTensor>>,
): Promise<Record<string, OrtOutput>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const spec of family.inputs) {
    const sample = inputs[spec.name];
    if (sample === undefined) throw new MarillError(`missing input '${spec.name}'`, { file });
    feeds[spec.name] = toOrtTensor(spec, sample);
  }
  const results = await (await session(file)).run(feeds);
  const out: Record<string, OrtOutput> = {};
  for (const spec of family.outputs) {
    const t = results[spec.name];
    if (t === undefined || !(t.data instanceof Float32Array)) {
      throw new MarillError(`no float32 output '${spec.name}'`, { file });
    }
    out[spec.name] = { shape: t.dims, values: t.data };
  }
  return out;
}
