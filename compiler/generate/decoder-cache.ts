/**
 * Recognising a decoder exported with a KV cache (docs/generation.md): the
 * usual export layout
 *
 *   inputs   input_ids [batch, sequence]
 *            past_key_values.{i}.key | .value [batch, heads, past_sequence, head_dim]
 *   outputs  logits [batch, sequence, vocab]
 *            present.{i}.key | .value [batch, heads, past_sequence + sequence, head_dim]
 *
 * where each present.{i}.x becomes past_key_values.{i}.x at the next step (the
 * pairing is runtime/generate/cache-layout.ts's, which the generation loop
 * uses too). A model with no past input and no present output is no cache
 * decoder (`undefined`: an ordinary plan); one with some but an incomplete
 * pairing, another input or output, or dimensions that are not the layout's
 * is an error naming the file and tensor. Batch is 1: one client generates
 * one text.
 */
import { MarillError } from '../../ir/errors.ts';
import type { StepShape } from '../../runtime/generate/schedule.ts';
import { cacheLayout as pairCache } from '../../runtime/generate/cache-layout.ts';
import type { OnnxModel, OnnxValueInfo } from '../onnx/model.ts';

const PAST = /^past_key_values\./;
const PRESENT = /^present\./;
export const TOKENS_INPUT = 'input_ids';
export const LOGITS_OUTPUT = 'logits';

/** A cache pair: the output carried to the next step as the input. */
export interface CachePair {
  readonly output: string;
  readonly input: string;
}

export interface DecoderCache {
  readonly tokens: string;
  readonly logits: string;
  readonly pairs: readonly CachePair[];
  /** The input shapes of a step, by input name (what lowering fixes the dynamic dimensions with). */
  readonly shapesAt: (s: StepShape) => Record<string, number[]>;
}

/** Whether the model declares any cache tensor (then it must be a complete cache layout). */
export function hasCacheTensors(model: OnnxModel): boolean {
  return model.inputs.some((i) => PAST.test(i.name)) || model.outputs.some((o) => PRESENT.test(o.name));
}

/** The cache layout of a model, undefined when it has no cache tensors at all. */
export function decoderCache(model: OnnxModel): DecoderCache | undefined {
  if (!hasCacheTensors(model)) return undefined;
  const file = model.file;
  let layout: ReturnType<typeof pairCache>;
  try {
    layout = pairCache(
      model.inputs.map((i) => i.name),
      model.outputs.map((o) => o.name),
    );
  } catch (e) {
    throw e instanceof MarillError ? e.inFile(file) : e;
  }
  const fail = (what: string, msg: string): never => {
    throw new MarillError(msg, { file, what });
  };
  for (const name of ['attention_mask', 'position_ids'])
    if (model.inputs.some((i) => i.name === name))
      fail(
        `input '${name}'`,
        `a generation plan feeds only '${TOKENS_INPUT}' and the cache (positions come from the past length inside the graph); export the decoder without this input`,
      );
  for (const o of model.outputs)
    if (o.name !== LOGITS_OUTPUT && !PRESENT.test(o.name))
      fail(
        `output '${o.name}'`,
        `a decoder with a cache outputs only '${LOGITS_OUTPUT}' and present.{i}.key|value`,
      );
  for (const o of model.outputs)
    if (PRESENT.test(o.name) && !layout.entries.some((e) => e.present === o.name))
      fail(`output '${o.name}'`, 'the cache output has no past_key_values input to feed at the next step');
  checkTokens(
    model.inputs.find((i) => i.name === TOKENS_INPUT)!,
    file,
  );
  const past = layout.entries.map((e) => model.inputs.find((i) => i.name === e.past)!);
  const pastDims = past.map((i) => cacheDims(i, file));
  return {
    tokens: TOKENS_INPUT,
    logits: LOGITS_OUTPUT,
    pairs: layout.entries.map((e) => ({ output: e.present, input: e.past })),
    shapesAt: (s) => ({
      [TOKENS_INPUT]: [1, s.sequence],
      ...Object.fromEntries(
        past.map((i, k) => [i.name, [1, pastDims[k]!.heads, s.past, pastDims[k]!.headDim]]),
      ),
    }),
  };
}

function checkTokens(input: OnnxValueInfo, file: string): void {
  const d = input.dims;
  if (input.dtype !== 'i64' || d === undefined || d.length !== 2 || (typeof d[0] === 'number' && d[0] !== 1))
    throw new MarillError(`the token input is int64 [1, sequence]`, { file, what: `input '${input.name}'` });
  if (typeof d[1] === 'number')
    throw new MarillError(
      'the sequence dimension is fixed in the export; a generation plan needs it dynamic',
      {
        file,
        what: `input '${input.name}'`,
      },
    );
}

/** [batch, heads, past_sequence, head_dim] with static heads and head_dim and a dynamic past. */
function cacheDims(input: OnnxValueInfo, file: string): { heads: number; headDim: number } {
  const d = input.dims;
  const where = { file, what: `input '${input.name}'` };
  if (input.dtype !== 'f32' || d === undefined || d.length !== 4)
    throw new MarillError('a cache input is float [batch, heads, past_sequence, head_dim]', where);
  const [batch, heads, past, headDim] = d;
  if (typeof batch === 'number' && batch !== 1)
    throw new MarillError(`batch is ${batch}; generation runs batch 1`, where);
  if (typeof heads !== 'number' || typeof headDim !== 'number')
    throw new MarillError('heads and head_dim of a cache input must be static in the export', where);
  if (typeof past === 'number')
    throw new MarillError(
      'the past_sequence dimension is fixed in the export; a generation plan needs it dynamic',
      where,
    );
  return { heads, headDim };
}
