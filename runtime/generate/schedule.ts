/**
 * The shapes of a generation's steps. A prompt of P tokens and N new tokens take N steps:
 * step 0 is the prefill (all P prompt tokens, no cache) and produces token 1; step k >= 1
 * feeds back token k (one position) over a cache of P + k - 1 positions and produces
 * token k + 1. The last generated token is never fed back, so the cache never holds more
 * than P + N - 2 positions and no step sees more than P + N - 1.
 */
import { MarillError } from '../../ir/errors.ts';

/** One step's input lengths: `sequence` new positions over a cache of `past` positions. */
export interface StepShape {
  readonly sequence: number;
  readonly past: number;
}

function checkCounts(promptLength: number, maxNewTokens: number): void {
  if (!Number.isSafeInteger(promptLength) || promptLength < 1)
    throw new MarillError(`a prompt needs at least one token (got ${promptLength})`);
  if (!Number.isSafeInteger(maxNewTokens) || maxNewTokens < 1)
    throw new MarillError(`max new tokens must be a positive integer (got ${maxNewTokens})`);
}

/** The shape of step k (0-based) of a generation from a prompt of `promptLength` tokens. */
export function stepShape(promptLength: number, step: number): StepShape {
  return step === 0 ? { sequence: promptLength, past: 0 } : { sequence: 1, past: promptLength + step - 1 };
}

/** Every step's shape, in order: the prefill, then maxNewTokens - 1 decode steps. */
export function generationSchedule(promptLength: number, maxNewTokens: number): StepShape[] {
  checkCounts(promptLength, maxNewTokens);
  return Array.from({ length: maxNewTokens }, (_, k) => stepShape(promptLength, k));
}

/** Positions the model must handle (past + sequence of the last step): P + N - 1. */
export function contextNeeded(promptLength: number, maxNewTokens: number): number {
  checkCounts(promptLength, maxNewTokens);
  return promptLength + maxNewTokens - 1;
}
