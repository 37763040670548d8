/**
 * The onnxruntime engine for plaintext segments: one InferenceSession per
 * segment, created once (at session setup) from the segment's ONNX model and
 * run once per inference. Sessions are single-threaded (one intra-op and one
 * inter-op thread), so a party's plaintext work takes one core, as the
 * interpreter's does, and its CPU accounting stays comparable. onnxruntime is
 * loaded on first use only: a plan with no plaintext work never loads it.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Tensor, TensorData } from '../../ir/tensor.ts';
import { makeTensor } from '../../ir/tensor.ts';
import type { DType, TensorType } from '../../ir/types.ts';
import { formatType, shapeEquals } from '../../ir/types.ts';
import type { SegmentModel } from './onnx-model.ts';
import { encodeSegmentModel } from './onnx-model.ts';

import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';

type Ort = typeof import('onnxruntime-node');
type OrtSession = InferenceSession;

const ORT_TYPE = { f32: 'float32', i64: 'int64', bool: 'bool' } as const satisfies Record<DType, string>;

export interface SegmentRunner {
  /** Runs the segment on its live-in tensors (in the model's input order); returns its live-outs. */
  run(inputs: readonly Tensor[]): Promise<Tensor[]>;
  release(): Promise<void>;
}

async function loadOrt(): Promise<Ort> {
  try {
    return await import('onnxruntime-node');
  } catch (e) {
    throw new MarillError(
      `the onnxruntime plaintext engine cannot load onnxruntime-node (${e instanceof Error ? e.message : String(e)}); use --plaintext-engine interpreter`,
    );
  }
}

function toOrt(ort: Ort, t: Tensor): OrtTensor {
  return new ort.Tensor(ORT_TYPE[t.dtype], t.data as Float32Array, [...t.shape]);
}

function fromOrt(t: OrtTensor, want: TensorType, name: string): Tensor {
  const shape = t.dims.map(Number);
  if (t.type !== ORT_TYPE[want.dtype] || !shapeEquals(shape, want.shape))
    throw new MarillError(
      `onnxruntime gave ${t.type}[${shape.join(',')}] for ${name}, the plan declares ${formatType(want)}`,
    );
  return makeTensor(want.dtype, shape, t.data as TensorData);
}

class OrtSegment implements SegmentRunner {
  constructor(
    private readonly ort: Ort,
    private readonly session: OrtSession,
    private readonly model: SegmentModel,
  ) {}

  async run(inputs: readonly Tensor[]): Promise<Tensor[]> {
    const feeds: Record<string, OrtTensor> = {};
    this.model.inputs.forEach((v, i) => (feeds[v.name] = toOrt(this.ort, inputs[i]!)));
    const result = await this.session.run(feeds);
    return this.model.outputs.map((v) => fromOrt(result[v.name]!, v.type, v.name));
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** One single-threaded onnxruntime session per segment model. */
export async function ortRunners(models: readonly SegmentModel[], label: string): Promise<SegmentRunner[]> {
  if (models.length === 0) return [];
  const ort = await loadOrt();
  const options = {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential' as const,
    graphOptimizationLevel: 'all' as const,
    logSeverityLevel: 3 as const,
  };
  const runners: SegmentRunner[] = [];
  try {
    for (const [i, model] of models.entries()) {
      const bytes = encodeSegmentModel(model, `${label}_segment_${i}`);
      let session: OrtSession;
      try {
        session = await ort.InferenceSession.create(bytes, options);
      } catch (e) {
        throw new MarillError(
          `onnxruntime refused plaintext segment ${i} (${e instanceof Error ? e.message : String(e)}); --plaintext-engine interpreter runs without it`,
        );
      }
      runners.push(new OrtSegment(ort, session, model));
    }
  } catch (e) {
    await Promise.all(runners.map((r) => r.release()));
    throw e;
  }
  return runners;
}
