import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { examplePath, loadExamplesManifest } from '../../examples/manifest.ts';
import { MarillError } from '../../ir/errors.ts';
import { loadTokenizer } from './tokenizer.ts';

const FILE = examplePath('tokenizer/tokenizer.json');
const tok = loadTokenizer(FILE);
const corpus = readFileSync(examplePath('tokenizer/corpus.txt'), 'utf8');

const SAMPLES = [
  'the old man and the sea',
  'where is the book? it is on the table.',
  "her father's coat, wrapped around her!",
  'six zebras quietly mix jazz: a new word like "blorft" too',
];

describe('example tokenizer (examples/tokenizer/tokenizer.json)', () => {
  it('round-trips text in its alphabet', () => {
    for (const s of SAMPLES.slice(0, 3)) expect(tok.decode(tok.encode(s))).toBe(s);
    // Words it never saw are spelled from smaller pieces, still exactly.
    expect(tok.decode(tok.encode('a blorft of quixotic zephyrs'))).toBe('a blorft of quixotic zephyrs');
  });

  it('lowercases (its normalizer), and maps characters outside its alphabet to <unk>', () => {
    expect(tok.decode(tok.encode('The Boat'))).toBe('the boat');
    const ids = tok.encode('é');
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.filter((id) => tok.decode([id]) !== '')).toHaveLength(0); // <unk> is special: decodes to ''
  });

  it('ids lie within every example decoder vocabulary; the vocabulary is the models’', () => {
    const ids = tok.encode(corpus.replace(/\s+/g, ' '));
    const vocabs = loadExamplesManifest().cache.map((c) => c.vocab);
    expect(vocabs.length).toBeGreaterThan(0);
    for (const v of vocabs) {
      expect(tok.vocabSize).toBeLessThanOrEqual(v);
      expect(Math.max(...ids)).toBeLessThan(v);
    }
    expect(Math.min(...ids)).toBeGreaterThanOrEqual(0);
    // BPE compresses its own corpus: fewer ids than characters.
    expect(ids.length).toBeLessThan(0.75 * corpus.length);
  });

  it('has an end-of-sequence id, left out of decoded text', () => {
    expect(tok.eos).toBe(0);
    const ids = tok.encode('the end');
    expect(tok.decode([...ids, tok.eos!])).toBe('the end');
  });

  it('streams: the pieces of the incremental decoder add up to the whole text', () => {
    for (const s of SAMPLES) {
      const ids = tok.encode(s);
      const d = tok.incrementalDecoder();
      const pieces = ids.map((id) => d.push(id));
      expect(pieces.join('')).toBe(tok.decode(ids));
      expect(pieces.filter((p) => p !== '').length).toBeGreaterThan(1);
    }
  });
});

describe('tokenizer files that are not tokenizers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'marill-tok-'));
  function error(content: string | undefined): string {
    const file = join(dir, `t${Math.random().toString(36).slice(2)}.json`);
    if (content !== undefined) writeFileSync(file, content);
    try {
      loadTokenizer(file);
    } catch (e) {
      if (e instanceof MarillError) return e.format().replace(file, 'FILE');
      throw e;
    }
    throw new Error('expected a MarillError');
  }

  it('missing, not JSON, or without a model vocabulary: one line naming the file', () => {
    expect(error(undefined)).toBe('FILE: cannot read file (no such file)');
    expect(error('{"model": ')).toMatch(/^FILE: not valid JSON/);
    expect(error('[1, 2]')).toBe('FILE: not a Hugging Face tokenizer.json: expected a JSON object');
    expect(error('{"version": "1.0"}')).toBe("FILE: not a Hugging Face tokenizer.json: no 'model' object");
    expect(error('{"model": {"type": "BPE"}}')).toBe(
      "FILE: not a Hugging Face tokenizer.json: 'model' has no 'vocab'",
    );
  });

  it('a model the library cannot build is located too', () => {
    const e = error('{"model": {"type": "NoSuchModel", "vocab": {"a": 0}}}');
    expect(e).toMatch(/^FILE: /);
    expect(e.split('\n')).toHaveLength(1);
  });
});
