/**
 * The generation loop shared by every way of generating: the caller runs one model step
 * (plaintext interpreter, onnxruntime, a two-party session) and returns the last position's
 * logits; the loop feeds the prompt, then each new token, and picks tokens until
 * maxNewTokens or the end-of-sequence id (which is kept as the output's last token).
 */
import type { SamplingOptions } from './sampling.ts';
import { tokenPicker } from './sampling.ts';
import type { StepShape } from './schedule.ts';
import { generationSchedule } from './schedule.ts';

/**
 * Runs one step: `ids` are the step's new positions (the whole prompt at the prefill,
 * then the one token produced last); resolves to the logits of the last position.
 */
export type GenerationStep = (ids: readonly number[], shape: StepShape) => Promise<ArrayLike<number>>;

/** The generated ids (not the prompt), each also passed to onToken as soon as it is picked. */
export async function generateTokens(
  step: GenerationStep,
  prompt: readonly number[],
  options: SamplingOptions,
  onToken?: (id: number) => void,
): Promise<number[]> {
  const pick = tokenPicker(options);
  const schedule = generationSchedule(prompt.length, options.maxNewTokens);
  const out: number[] = [];
  for (const [k, shape] of schedule.entries()) {
    const ids = k === 0 ? prompt : [out[k - 1]!];
    const logits = await step(ids, shape);
    const token = pick(logits);
    out.push(token);
    onToken?.(token);
    if (token === options.eos) break;
  }
  return out;
}
