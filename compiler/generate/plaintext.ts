/**
 * Plaintext reference generation (`marillc eval MODEL --prompt-ids ... --max-new-tokens N`):
 * each step runs the model's graph at that step's shape in the interpreter, the `present.*`
 * outputs are fed back as the next step's `past_key_values.*`, and the shared loop
 * (runtime/generate/loop.ts) picks the tokens.
 */
import type { Tensor } from '../../ir/tensor.ts';
import { interpret } from '../../ir/interpret.ts';
import { MarillError } from '../../ir/errors.ts';
import { emptyCache, lastLogits, nextCache, stepInputs } from '../../runtime/generate/cache-layout.ts';
import { generateTokens } from '../../runtime/generate/loop.ts';
import type { SamplingOptions } from '../../runtime/generate/sampling.ts';
import { checkSamplingOptions } from '../../runtime/generate/sampling.ts';
import type { StepShape } from '../../runtime/generate/schedule.ts';
import { contextNeeded, generationSchedule } from '../../runtime/generate/schedule.ts';
import type { CacheModel } from './cache-model.ts';

/** Prompt ids, the eos id and the context length checked against the model, before any step runs. */
export function checkGeneration(
  model: CacheModel,
  prompt: readonly number[],
  options: SamplingOptions,
): void {
  checkSamplingOptions(options);
  if (prompt.length === 0) throw new MarillError('the prompt has no tokens');
  const vocab = model.vocab();
  const where = { file: model.path };
  for (const id of prompt)
    if (!Number.isSafeInteger(id) || id < 0 || id >= vocab)
      throw new MarillError(`prompt id ${id} is outside the model's vocabulary (0..${vocab - 1})`, where);
  if (options.eos !== undefined && options.eos >= vocab)
    throw new MarillError(`--eos ${options.eos} is outside the model's vocabulary (0..${vocab - 1})`, where);
  const last = generationSchedule(prompt.length, options.maxNewTokens).at(-1)!;
  try {
    model.graphAt(last);
  } catch (e) {
    if (!(e instanceof MarillError)) throw e;
    const inner = e.location.what ? `${e.location.what}: ${e.message}` : e.message;
    const context = contextNeeded(prompt.length, options.maxNewTokens);
    throw new MarillError(
      `a context of ${context} positions (${prompt.length} prompt + ${options.maxNewTokens} new - 1) is more than the model takes: at sequence=${last.sequence}, past=${last.past}: ${inner}`,
      where,
    );
  }
}

export interface GenerationHooks {
  /** Each generated id, as soon as it is picked (streaming). */
  readonly onToken?: (id: number) => void;
  /** Each step's last-position logits, before the pick. */
  readonly onLogits?: (logits: Float32Array, shape: StepShape) => void;
}

/** One step in the interpreter, keeping the cache between steps. */
function interpreterSteps(model: CacheModel, onLogits: GenerationHooks['onLogits']) {
  let cache: Map<string, Tensor> | undefined;
  return (ids: readonly number[], shape: StepShape): Promise<Float32Array> => {
    const graph = model.graphAt(shape);
    const past = cache ?? emptyCache(model.layout, (name) => model.shapesAt(shape)[name]!);
    const outputs = interpret(graph, stepInputs(model.layout, ids, shape, past), { file: model.path });
    cache = nextCache(model.layout, outputs);
    const logits = lastLogits(outputs.get('logits')!);
    onLogits?.(logits, shape);
    return Promise.resolve(logits);
  };
}

/** The generated ids (prompt excluded; an eos, when produced, is the last one). */
export async function generatePlaintext(
  model: CacheModel,
  prompt: readonly number[],
  options: SamplingOptions,
  hooks: GenerationHooks = {},
): Promise<number[]> {
  checkGeneration(model, prompt, options);
  return generateTokens(interpreterSteps(model, hooks.onLogits), prompt, options, hooks.onToken);
}
