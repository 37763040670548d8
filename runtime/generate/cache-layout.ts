/**
 * The input/output layout of a decoder exported with a KV cache (as HF/optimum export it):
 *
 *   inputs   input_ids [1, sequence]; past_key_values.{i}.key|value [1, heads, past, head_dim];
 *            optional attention_mask [1, past + sequence] and position_ids [1, sequence]
 *   outputs  logits [1, sequence, vocab]; present.{i}.key|value [1, heads, past + sequence, head_dim]
 *
 * A step's `present.*` outputs are the next step's `past_key_values.*` inputs. This module
 * recognises the layout from the names and builds a step's inputs; it knows nothing of how
 * the step runs (interpreter, onnxruntime, two parties).
 */
import { MarillError } from '../../ir/errors.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { fromNumbers, makeTensor } from '../../ir/tensor.ts';
import type { StepShape } from './schedule.ts';

export interface CacheEntry {
  readonly layer: number;
  readonly kind: 'key' | 'value';
  /** The input this entry is read from: past_key_values.{layer}.{kind}. */
  readonly past: string;
  /** The output it is written to: present.{layer}.{kind}. */
  readonly present: string;
}

export interface CacheLayout {
  readonly layers: number;
  /** By layer, key before value. */
  readonly entries: readonly CacheEntry[];
  readonly attentionMask: boolean;
  readonly positionIds: boolean;
}

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;
const OPTIONAL_INPUTS = ['attention_mask', 'position_ids'];

/** The cache layout of a model with these input and output names; a MarillError saying what is missing. */
export function cacheLayout(inputs: readonly string[], outputs: readonly string[]): CacheLayout {
  const fail = (what: string): never => {
    throw new MarillError(
      `${what}: not a decoder with a KV cache (expected inputs input_ids and past_key_values.{i}.key/.value, outputs logits and present.{i}.key/.value)`,
    );
  };
  if (!inputs.includes('input_ids')) fail("no input 'input_ids'");
  if (!outputs.includes('logits')) fail("no output 'logits'");
  const entries: CacheEntry[] = [];
  for (const name of inputs) {
    if (name === 'input_ids' || OPTIONAL_INPUTS.includes(name)) continue;
    const m = PAST.exec(name);
    if (!m) fail(`input '${name}' is not part of the cache layout`);
    const layer = Number(m![1]);
    const kind = m![2] as 'key' | 'value';
    const present = `present.${layer}.${kind}`;
    if (!outputs.includes(present)) fail(`input '${name}' has no output '${present}'`);
    entries.push({ layer, kind, past: name, present });
  }
  if (entries.length === 0) fail('no past_key_values.* inputs');
  const layers = Math.max(...entries.map((e) => e.layer)) + 1;
  for (let layer = 0; layer < layers; layer++)
    for (const kind of ['key', 'value'] as const)
      if (!entries.some((e) => e.layer === layer && e.kind === kind))
        fail(`no input 'past_key_values.${layer}.${kind}'`);
  entries.sort((a, b) => a.layer - b.layer || (a.kind === 'key' ? -1 : 1));
  return {
    layers,
    entries,
    attentionMask: inputs.includes('attention_mask'),
    positionIds: inputs.includes('position_ids'),
  };
}

/** The cache before the prefill: every past tensor [1, heads, 0, head_dim], from its declared shape. */
export function emptyCache(
  layout: CacheLayout,
  declaredShape: (input: string) => readonly number[],
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const e of layout.entries) {
    const shape = [...declaredShape(e.past)];
    if (shape.length !== 4 || shape[2] !== 0)
      throw new MarillError(`expected [batch, heads, 0, head_dim] at the prefill, got [${shape.join(',')}]`, {
        what: `input '${e.past}'`,
      });
    out.set(e.past, makeTensor('f32', shape));
  }
  return out;
}

/** The next step's cache: each present.* output under its past_key_values.* name. */
export function nextCache(layout: CacheLayout, outputs: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const e of layout.entries) {
    const t = outputs.get(e.present);
    if (t === undefined) throw new MarillError(`the step did not produce '${e.present}'`);
    out.set(e.past, t);
  }
  return out;
}

/** All inputs of one step: input_ids, the cache, and the optional mask (all ones) and positions. */
export function stepInputs(
  layout: CacheLayout,
  ids: readonly number[],
  shape: StepShape,
  cache: ReadonlyMap<string, Tensor>,
): Map<string, Tensor> {
  if (ids.length !== shape.sequence)
    throw new MarillError(`a step of ${shape.sequence} positions was given ${ids.length} ids`);
  const inputs = new Map<string, Tensor>([['input_ids', fromNumbers('i64', [1, ids.length], ids)]]);
  for (const e of layout.entries) {
    const t = cache.get(e.past);
    if (t === undefined) throw new MarillError(`no cached '${e.past}'`);
    if (t.shape[2] !== shape.past)
      throw new MarillError(
        `cache '${e.past}' holds ${t.shape[2]} positions, the step expects ${shape.past}`,
      );
    inputs.set(e.past, t);
  }
  const total = shape.past + shape.sequence;
  if (layout.attentionMask)
    inputs.set('attention_mask', fromNumbers('i64', [1, total], new Array<number>(total).fill(1)));
  if (layout.positionIds)
    inputs.set(
      'position_ids',
      fromNumbers(
        'i64',
        [1, shape.sequence],
        ids.map((_, i) => shape.past + i),
      ),
    );
  return inputs;
}

/** The logits of the last position of a [1, sequence, vocab] logits tensor. */
export function lastLogits(logits: Tensor): Float32Array {
  if (logits.dtype !== 'f32' || logits.shape.length !== 3)
    throw new MarillError(
      `expected f32 logits [1, sequence, vocab], got ${logits.dtype}[${logits.shape.join(',')}]`,
      {
        what: "output 'logits'",
      },
    );
  const vocab = logits.shape[2]!;
  const data = logits.data as Float32Array;
  return data.slice(data.length - vocab);
}
