/**
 * Plaintext reference generation (`marillc eval --prompt-ids/--prompt`, compiler/generate/)
 * against onnxruntime-node driving the same exported KV-cache graph step by step
 * (test/fixtures/ort-generate.ts), for every cache example; and the cache exports against the
 * non-cache exports of the same weights.
 *
 * Why equal tokens is a fair test: every step's logits agree with onnxruntime's within TOL,
 * and at every step onnxruntime's top-1 logit leads its top-2 by at least MARGIN > 2 TOL, so an
 * error of TOL on each side cannot swap them. The margin is asserted, not assumed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheModel } from '../../compiler/generate/cache-model.ts';
import { generatePlaintext } from '../../compiler/generate/plaintext.ts';
import { loadTokenizer } from '../../compiler/generate/tokenizer.ts';
import type { CacheFamily, ExampleFamily } from '../../examples/manifest.ts';
import { examplePath, findVariant, loadExamplesManifest, readSampleInput } from '../../examples/manifest.ts';
import { fromNumbers, maxAbsDiff, toNumbers } from '../../ir/tensor.ts';
import type { SamplingOptions } from '../../runtime/generate/sampling.ts';
import { topKIds } from '../../runtime/generate/sampling.ts';
import { marillc, scratchDir } from '../cli-harness.ts';
import { runOrt } from '../fixtures/ort.ts';
import { OrtCacheModel } from '../fixtures/ort-generate.ts';

/** Interpreter vs onnxruntime, per logit (observed: under 1e-5 on these models). */
const TOL = 1e-4;
/** The smallest top-1/top-2 gap allowed at any step: ten times TOL. */
const MARGIN = 10 * TOL;
const NEW_TOKENS = 20;
const TOKENIZER = examplePath('tokenizer/tokenizer.json');
const PROMPT_TEXT = 'the wind had turned';

const manifest = loadExamplesManifest();
const tokenizer = loadTokenizer(TOKENIZER);
const prompt = tokenizer.encode(PROMPT_TEXT);
const report: string[] = [];

function margins(stepLogits: readonly Float32Array[]): number[] {
  return stepLogits.map((l) => {
    const [a, b] = topKIds(l, 2);
    return l[a!]! - l[b!]!;
  });
}

async function ortGenerate(
  file: string,
  cache: CacheFamily,
  options: SamplingOptions = { maxNewTokens: NEW_TOKENS },
) {
  const model = await OrtCacheModel.open(examplePath(file), cache);
  try {
    return await model.generate(prompt, options);
  } finally {
    await model.release();
  }
}

describe.each(manifest.cache.map((c) => [c.family, c] as const))(
  '%s: interpreter generation = onnxruntime',
  (_f, cache) => {
    it.each(cache.variants.map((v) => [v.file] as const))(
      '%s: greedy tokens and every step’s logits',
      async (file) => {
        const oracle = await ortGenerate(file, cache);
        const gaps = margins(oracle.stepLogits);
        expect(Math.min(...gaps), 'top-1/top-2 margin of the oracle').toBeGreaterThanOrEqual(MARGIN);

        const ours: Float32Array[] = [];
        const streamed: number[] = [];
        const tokens = await generatePlaintext(
          CacheModel.open(examplePath(file)),
          prompt,
          { maxNewTokens: NEW_TOKENS },
          { onToken: (id) => streamed.push(id), onLogits: (l) => ours.push(l) },
        );
        expect(tokens).toHaveLength(NEW_TOKENS);
        expect(tokens).toEqual(oracle.tokens);
        expect(streamed).toEqual(tokens);
        expect(ours).toHaveLength(oracle.stepLogits.length);
        const errors = ours.map((l, k) => maxAbsDiff(l, oracle.stepLogits[k]!));
        errors.forEach((e, k) => expect(e, `step ${k}`).toBeLessThanOrEqual(TOL));
        report.push(
          `  ${file.padEnd(28)} max |logit diff| ${Math.max(...errors).toExponential(2)}, min margin ${Math.min(...gaps).toExponential(2)}`,
        );
      },
    );
  },
);

describe('marillc eval: generation from the command line', () => {
  const dir = scratchDir('marillc-gen-');

  it.each(manifest.cache.map((c) => [c.family, c] as const))(
    '%s: --prompt-ids writes the oracle’s tokens',
    async (_f, cache) => {
      const file = cache.variants.at(-1)!.file;
      const out = join(dir, `${cache.family}.json`);
      const r = marillc([
        'eval',
        examplePath(file),
        '--prompt-ids',
        prompt.join(','),
        '--max-new-tokens',
        String(NEW_TOKENS),
        '--out',
        out,
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const oracle = await ortGenerate(file, cache);
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({ prompt, tokens: oracle.tokens });
    },
  );

  it('--tokenizer --prompt streams the generated text; sampling with a seed matches the oracle', async () => {
    const cache = manifest.cache.find((c) => c.family === 'llama')!;
    const file = cache.variants[0]!.file;
    const out = join(dir, 'text.json');
    const r = marillc([
      'eval',
      examplePath(file),
      '--tokenizer',
      TOKENIZER,
      '--prompt',
      PROMPT_TEXT,
      '--max-new-tokens',
      '12',
      '--temperature',
      '0.8',
      '--top-k',
      '5',
      '--seed',
      '7',
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    // The tokenizer's end of sequence is the CLI's default --eos.
    const eos = tokenizer.eos!;
    const oracle = await ortGenerate(file, cache, {
      maxNewTokens: 12,
      temperature: 0.8,
      topK: 5,
      seed: 7,
      eos,
    });
    const written = JSON.parse(readFileSync(out, 'utf8')) as { prompt: number[]; tokens: number[] };
    expect(written).toEqual({ prompt, tokens: oracle.tokens });
    expect(r.stdout).toBe(`${tokenizer.decode(oracle.tokens)}\n`);
    const greedy = await ortGenerate(file, cache, { maxNewTokens: 12, eos });
    expect(oracle.tokens).not.toEqual(greedy.tokens); // the options did change the picks
  });

  it('--eos stops after the id, which ends the tokens', async () => {
    const cache = manifest.cache[0]!;
    const file = cache.variants[0]!.file;
    const greedy = await ortGenerate(file, cache);
    const eos = greedy.tokens[3]!;
    const cut = greedy.tokens.indexOf(eos) + 1;
    const r = marillc([
      'eval',
      examplePath(file),
      '--prompt-ids',
      prompt.join(','),
      '--max-new-tokens',
      String(NEW_TOKENS),
      '--eos',
      String(eos),
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ prompt, tokens: greedy.tokens.slice(0, cut) });
  });

  function expectError(args: string[], code: number, pattern: RegExp): void {
    const r = marillc(['eval', ...args]);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
  }

  it('bad input: one line, exit 1; bad usage: exit 2', () => {
    const gpt2 = examplePath('gpt2/cache-base.onnx');
    const ids = ['--prompt-ids', '1,2,3'];
    expectError(
      [examplePath('gpt2/base.onnx'), ...ids, '--max-new-tokens', '4'],
      1,
      /gpt2\/base\.onnx: .*not a decoder with a KV cache/,
    );
    expectError(
      [gpt2, '--prompt-ids', '1,100', '--max-new-tokens', '4'],
      1,
      /cache-base\.onnx: prompt id 100 is outside the model's vocabulary \(0\.\.99\)/,
    );
    expectError(
      [gpt2, ...ids, '--max-new-tokens', '70'],
      1,
      /cache-base\.onnx: a context of 72 positions .* is more than the model takes/,
    );
    expectError(
      [gpt2, ...ids, '--max-new-tokens', '4', '--tokenizer', join(dir, 'none.json')],
      1,
      /none\.json: cannot read file/,
    );
    expectError(
      [gpt2, '--prompt', 'the sea', '--max-new-tokens', '4'],
      2,
      /--prompt \(text\) needs --tokenizer/,
    );
    expectError([gpt2, ...ids], 2, /needs --max-new-tokens/);
    expectError([gpt2, ...ids, '--max-new-tokens', '4', '--input', 'x.json'], 2, /not both/);
    expectError(
      [examplePath('gpt2/base.onnx'), '--input', examplePath('gpt2/input.json'), '--seed', '3'],
      2,
      /--seed: generation options/,
    );
  });
});

/** onnxruntime on the non-cache export of a family, on the given ids. */
async function fullLogits(
  family: ExampleFamily,
  variant: string,
  ids: readonly number[],
): Promise<Float32Array> {
  const out = await runOrt(
    examplePath(findVariant(family, variant).file),
    new Map([['input_ids', fromNumbers('i64', [1, ids.length], ids)]]),
  );
  return Float32Array.from(toNumbers(out.get('logits')!));
}

describe('cache exports compute what the non-cache exports of the same weights compute', () => {
  const EXPORT_TOL = 2e-5;
  for (const cache of manifest.cache) {
    const family = manifest.families.find((f) => f.name === cache.family)!;
    const sample = readSampleInput(family)['input_ids']!.values;
    it.each(cache.variants.map((v) => [v.file, v.sameWeightsAs] as const))(
      `${cache.family}: %s = %s (prefill, then each decode step)`,
      async (file, source) => {
        // Prefill on the whole sample input: every position's logits.
        const model = await OrtCacheModel.open(examplePath(file), cache);
        try {
          const prefill = await model.run(sample, { sequence: sample.length, past: 0 }, model.emptyCache());
          const full = await fullLogits(family, source, sample);
          expect(maxAbsDiff(Float32Array.from(toNumbers(prefill.get('logits')!)), full)).toBeLessThanOrEqual(
            EXPORT_TOL,
          );
          // Half the sample as the prompt, the rest fed one token per step over the cache.
          const half = sample.length / 2;
          let cacheNow = model.emptyCache();
          const vocab = cache.vocab;
          for (let t = half; t <= sample.length; t++) {
            const ids = t === half ? sample.slice(0, half) : [sample[t - 1]!];
            const shape = t === half ? { sequence: half, past: 0 } : { sequence: 1, past: t - 1 };
            const out = await model.run(ids, shape, cacheNow);
            cacheNow = new Map(model.layout.entries.map((e) => [e.past, out.get(e.present)!]));
            const logits = toNumbers(out.get('logits')!).slice(-vocab);
            expect(
              maxAbsDiff(logits, full.slice((t - 1) * vocab, t * vocab)),
              `position ${t - 1}`,
            ).toBeLessThanOrEqual(EXPORT_TOL);
          }
        } finally {
          await model.release();
        }
      },
    );
  }
});

afterAll(() => {
  if (report.length > 0)
    console.log(`generation, interpreter vs onnxruntime (${NEW_TOKENS} tokens):\n${report.join('\n')}`);
});
