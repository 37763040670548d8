/**
 * `marillc eval MODEL --input IN.json [--out OUT.json]`: the plaintext reference (one inference).
 * `marillc eval MODEL --prompt-ids 1,2,3 | --tokenizer T.json --prompt TEXT --max-new-tokens N`:
 * plaintext reference generation with a KV-cache model (compiler/generate/plaintext.ts).
 */
import { interpret } from '../../../ir/interpret.ts';
import { MarillError } from '../../../ir/errors.ts';
import { claimedShape, readInputs, tensorToJson } from '../../../ir/tensor-json.ts';
import type { SamplingOptions } from '../../../runtime/generate/sampling.ts';
import { loadModel } from '../../driver.ts';
import { readJsonOrFail } from '../../fs-util.ts';
import { CacheModel } from '../../generate/cache-model.ts';
import { generatePlaintext } from '../../generate/plaintext.ts';
import type { TextTokenizer } from '../../generate/tokenizer.ts';
import { loadTokenizer } from '../../generate/tokenizer.ts';
import { UsageError, emit, numberFlag, shapesFrom } from './common.ts';

export interface GenerateFlags {
  promptIds?: string;
  prompt?: string;
  tokenizer?: string;
  maxNewTokens?: string;
  temperature?: string;
  topK?: string;
  seed?: string;
  eos?: string;
}

export interface EvalFlags extends GenerateFlags {
  shape?: string[];
  input?: string;
  out?: string;
}

/** The shape each tensor of an input JSON object claims (the reader checks them against the model). */
function dataShapes(json: unknown): Record<string, number[]> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return {};
  return Object.fromEntries(Object.entries(json).map(([name, v]) => [name, claimedShape(v)]));
}

export const GENERATION_FLAGS: readonly (keyof GenerateFlags)[] = [
  'promptIds',
  'prompt',
  'tokenizer',
  'maxNewTokens',
  'temperature',
  'topK',
  'seed',
  'eos',
];
export const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export async function evalCommand(model: string, flags: EvalFlags): Promise<void> {
  const generating = flags.promptIds !== undefined || flags.prompt !== undefined;
  if (flags.input !== undefined && generating)
    throw new UsageError(
      'give --input (one inference) or a prompt (--prompt-ids or --prompt: generation), not both',
    );
  if (flags.input === undefined && !generating)
    throw new UsageError('give --input IN.json (one inference) or --prompt-ids / --prompt (generation)');
  if (!generating) {
    const stray = GENERATION_FLAGS.filter((k) => flags[k] !== undefined).map(flagName);
    if (stray.length > 0)
      throw new UsageError(`${stray.join(', ')}: generation options (they need --prompt-ids or --prompt)`);
    evalOnce(model, flags.input!, flags);
    return;
  }
  if (flags.shape !== undefined)
    throw new UsageError('--shape does not apply to generation: each step has its own shape');
  await evalGenerate(model, flags);
}

function evalOnce(model: string, input: string, flags: EvalFlags): void {
  // The data is at hand, so a dynamic dimension takes the size it has there.
  const data = readJsonOrFail(input);
  const g = loadModel(model, { shapes: shapesFrom(flags.shape), dataShapes: dataShapes(data) });
  const inputs = readInputs(g, data, input);
  const outputs = interpret(g, inputs, { file: model });
  const json: Record<string, unknown> = {};
  for (const [name, t] of outputs) json[name] = tensorToJson(t);
  emit(`${JSON.stringify(json)}\n`, flags.out);
}

/** `1,2,3` -> [1, 2, 3]: non-negative integers. */
export function parsePromptIds(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const ids = parts.map(Number);
  const bad = parts.findIndex((p, i) => p === '' || !Number.isSafeInteger(ids[i]) || ids[i]! < 0);
  if (bad >= 0)
    throw new MarillError(`--prompt-ids expects token ids like 1,2,3; '${parts[bad]}' is not one`);
  return ids;
}

/** The sampling options of the generation flags; the tokenizer's end of sequence unless --eos. */
export function samplingFrom(flags: GenerateFlags, tokenizer?: TextTokenizer): SamplingOptions {
  if (flags.maxNewTokens === undefined) throw new UsageError('generation needs --max-new-tokens N');
  const opt = (name: string, text: string | undefined, min: number, integer: boolean) =>
    text === undefined ? undefined : numberFlag(name, text, min, integer);
  const eos = opt('--eos', flags.eos, 0, true) ?? tokenizer?.eos;
  const temperature = opt('--temperature', flags.temperature, 0, false);
  const topK = opt('--top-k', flags.topK, 1, true);
  const seed = opt('--seed', flags.seed, 0, true);
  return {
    maxNewTokens: numberFlag('--max-new-tokens', flags.maxNewTokens, 1, true),
    ...(temperature !== undefined && { temperature }),
    ...(topK !== undefined && { topK }),
    ...(seed !== undefined && { seed }),
    ...(eos !== undefined && { eos }),
  };
}

/** The prompt's ids: --prompt-ids, or --prompt encoded by --tokenizer. */
export function promptFrom(flags: GenerateFlags, tokenizer: TextTokenizer | undefined): number[] {
  if (flags.promptIds !== undefined && flags.prompt !== undefined)
    throw new UsageError('give --prompt-ids or --prompt, not both');
  if (flags.promptIds !== undefined) return parsePromptIds(flags.promptIds);
  if (tokenizer === undefined) throw new UsageError('--prompt (text) needs --tokenizer tokenizer.json');
  const ids = tokenizer.encode(flags.prompt!);
  if (ids.length === 0) throw new MarillError('--prompt encodes to no tokens', { file: tokenizer.file });
  return ids;
}

async function evalGenerate(model: string, flags: EvalFlags): Promise<void> {
  if (flags.prompt !== undefined && flags.tokenizer === undefined && flags.promptIds === undefined)
    throw new UsageError('--prompt (text) needs --tokenizer tokenizer.json');
  const tokenizer = flags.tokenizer !== undefined ? loadTokenizer(flags.tokenizer) : undefined;
  const prompt = promptFrom(flags, tokenizer);
  const options = samplingFrom(flags, tokenizer);
  const cacheModel = CacheModel.open(model);
  // With a tokenizer the text streams to stdout as each token is picked; the ids go to --out.
  const stream = tokenizer?.incrementalDecoder();
  const tokens = await generatePlaintext(cacheModel, prompt, options, {
    onToken: (id) => {
      if (stream) process.stdout.write(stream.push(id));
    },
  });
  if (stream) process.stdout.write('\n');
  const json = `${JSON.stringify({ prompt, tokens })}\n`;
  if (!stream) emit(json, flags.out);
  else if (flags.out !== undefined) emit(json, flags.out);
}
