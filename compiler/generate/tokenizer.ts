/**
 * Text <-> token ids for generation, from a Hugging Face `tokenizer.json` (BPE, WordPiece,
 * Unigram; its normalizer, pre-tokenizer and decoder), read by @huggingface/tokenizers, a
 * pure-JS implementation of the Hugging Face tokenizers. The end-of-sequence id is the
 * file's special token named like one (`<|endoftext|>`, `</s>`, `<eos>`, `<|eos|>`).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { MarillError } from '../../ir/errors.ts';
import { readJsonOrFail } from '../fs-util.ts';

const EOS_NAMES = ['<|endoftext|>', '</s>', '<eos>', '<|eos|>'];

/** Streams text: each pushed id returns the text it adds to what was returned before. */
export interface IncrementalDecoder {
  push(id: number): string;
}

export interface TextTokenizer {
  readonly file: string;
  /** One more than the largest id (special tokens included). */
  readonly vocabSize: number;
  /** The end-of-sequence id, when the file has such a special token. */
  readonly eos: number | undefined;
  encode(text: string): number[];
  /** Special tokens (the end of sequence) are left out of the text. */
  decode(ids: readonly number[]): string;
  incrementalDecoder(): IncrementalDecoder;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The checks the library does not make with a clear message: a model with a vocabulary. */
function checkShape(json: unknown, file: string): Record<string, unknown> {
  const fail = (what: string): never => {
    throw new MarillError(`not a Hugging Face tokenizer.json: ${what}`, { file });
  };
  if (!isRecord(json)) fail('expected a JSON object');
  const model = (json as Record<string, unknown>)['model'];
  if (!isRecord(model)) fail("no 'model' object");
  const vocab = (model as Record<string, unknown>)['vocab'];
  if (!isRecord(vocab) && !Array.isArray(vocab)) fail("'model' has no 'vocab'");
  return json as Record<string, unknown>;
}

function construct(json: Record<string, unknown>, file: string): Tokenizer {
  try {
    // No tokenizer_config.json: decoding must not "clean up" spaces, so text round-trips.
    return new Tokenizer(json, { clean_up_tokenization_spaces: false });
  } catch (e) {
    throw new MarillError(`cannot build the tokenizer (${(e as Error).message})`, { file });
  }
}

/** Loads a tokenizer.json; a missing, unreadable or malformed file is a MarillError naming it. */
export function loadTokenizer(file: string): TextTokenizer {
  const tokenizer = construct(checkShape(readJsonOrFail(file), file), file);
  const vocab = tokenizer.get_vocab(true);
  if (vocab.size === 0)
    throw new MarillError('not a Hugging Face tokenizer.json: empty vocabulary', { file });
  const vocabSize = Math.max(...vocab.values()) + 1;
  const specials = tokenizer.get_added_tokens_decoder();
  const eos = [...specials].find(([, t]) => t.special && EOS_NAMES.includes(t.content))?.[0];
  const decode = (ids: readonly number[]): string =>
    tokenizer.decode([...ids], { skip_special_tokens: true });
  return {
    file,
    vocabSize,
    eos,
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    decode,
    incrementalDecoder: () => {
      const ids: number[] = [];
      let shown = '';
      return {
        push(id) {
          ids.push(id);
          const text = decode(ids);
          // A decoder may rewrite the end of the text as ids arrive (e.g. a piece that only
          // becomes a character with the next one); text already shown stays, the rest is new.
          let common = 0;
          while (common < shown.length && common < text.length && shown[common] === text[common]) common++;
          shown = text;
          return text.slice(common);
        },
      };
    },
  };
}
