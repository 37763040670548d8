/**
 * Picking the next token from the last position's logits: greedy by default, or sampling
 * with a temperature and an optional top-k cut, seeded (ir/random.ts, mulberry32) so a run
 * reproduces from its seed. The same picker serves every way of generating (plaintext
 * reference, two-party run), so equal logits give equal tokens.
 */
import { MarillError } from '../../ir/errors.ts';
import { seededUniform } from '../../ir/random.ts';

export interface SamplingOptions {
  /** Stop after this many new tokens (>= 1). */
  readonly maxNewTokens: number;
  /** > 0 samples from softmax(logits / temperature); absent or 0: greedy. */
  readonly temperature?: number;
  /** Sample only among the k highest logits (ties: lower id first); absent: all. */
  readonly topK?: number;
  /** Seed of the sampling stream (default 0); greedy ignores it. */
  readonly seed?: number;
  /** End-of-sequence id: generation stops after producing it (it is the last token of the output). */
  readonly eos?: number;
}

/** A stateful picker: each call consumes one draw of the seeded stream when sampling. */
export type TokenPicker = (logits: ArrayLike<number>) => number;

/** Rejects options that cannot mean anything (a one-line MarillError naming the option). */
export function checkSamplingOptions(o: SamplingOptions): void {
  const bad = (what: string, value: unknown, want: string): never => {
    throw new MarillError(`${what} must be ${want} (got ${String(value)})`);
  };
  if (!Number.isSafeInteger(o.maxNewTokens) || o.maxNewTokens < 1)
    bad('--max-new-tokens', o.maxNewTokens, 'a positive integer');
  if (o.temperature !== undefined && !(Number.isFinite(o.temperature) && o.temperature >= 0))
    bad('--temperature', o.temperature, 'a finite number >= 0');
  if (o.topK !== undefined && !(Number.isSafeInteger(o.topK) && o.topK >= 1))
    bad('--top-k', o.topK, 'a positive integer');
  if (o.seed !== undefined && !(Number.isSafeInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32))
    bad('--seed', o.seed, 'an integer in [0, 2^32)');
  if (o.eos !== undefined && !(Number.isSafeInteger(o.eos) && o.eos >= 0)) bad('--eos', o.eos, 'a token id');
}

function checkLogits(logits: ArrayLike<number>): void {
  if (logits.length === 0) throw new MarillError('no logits to pick a token from');
  for (let i = 0; i < logits.length; i++)
    if (Number.isNaN(logits[i]!)) throw new MarillError(`logit ${i} is NaN`);
}

/** The id of the largest logit; ties go to the lowest id. */
export function argmax(logits: ArrayLike<number>): number {
  checkLogits(logits);
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/** Ids by descending logit, ties by ascending id; the first k (all when k is absent). */
export function topKIds(logits: ArrayLike<number>, k?: number): number[] {
  const ids = Array.from({ length: logits.length }, (_, i) => i);
  ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  return k === undefined ? ids : ids.slice(0, k);
}

/** One draw from softmax(logits[ids] / temperature), with u uniform in [0, 1). */
export function sampleFrom(
  logits: ArrayLike<number>,
  ids: readonly number[],
  temperature: number,
  u: number,
): number {
  const top = logits[ids[0]!]!;
  // Shifted by the largest logit so exp never overflows; float64 throughout.
  const weights = ids.map((id) => Math.exp((logits[id]! - top) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let i = 0; i < ids.length; i++) {
    acc += weights[i]! / total;
    if (u < acc) return ids[i]!;
  }
  return ids[ids.length - 1]!; // u just below 1 and rounding in acc
}

/** The picker the options ask for: greedy, or seeded temperature/top-k sampling. */
export function tokenPicker(o: SamplingOptions): TokenPicker {
  checkSamplingOptions(o);
  const temperature = o.temperature ?? 0;
  if (temperature === 0) return argmax;
  const uniform = seededUniform(o.seed ?? 0);
  return (logits) => {
    checkLogits(logits);
    return sampleFrom(logits, topKIds(logits, o.topK), temperature, uniform());
  };
}
