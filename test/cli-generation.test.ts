/**
 * The CLI contract for generation plans (docs/generation.md, docs/cli.md):
 * `marillc CACHE_MODEL.onnx --base BASE.onnx -o plan.ts --max-context N` writes
 * a generation plan and its files, `--emit cost` shows the prefill and each
 * decode step, `inspect` reads it back, and bad flags are one-line errors that
 * write nothing.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { marillc, scratchDir } from './cli-harness.ts';

const MODEL = 'examples/gpt2/cache-frozen.onnx';
const BASE = 'examples/gpt2/cache-base.onnx';
const dir = scratchDir('marillc-gen-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectOneLineError(r: { code: number; stderr: string }, ...fragments: string[]): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^marillc: error: /);
  for (const f of fragments) expect(lines[0]).toContain(f);
}

describe('marillc compiles a decoder with a KV cache into a generation plan', () => {
  it('writes the plan, both bundles and the key; --emit cost lists the prefill and each decode step', () => {
    const out = join(dir, 'gen.ts');
    const r = marillc([
      MODEL,
      '--base',
      BASE,
      '--max-context',
      '4',
      '--prompt-length',
      '2',
      '--max-new-tokens',
      '3',
      '--emit',
      'cost',
      '-o',
      out,
    ]);
    expect(r.stderr).toContain('wrote');
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([
      'gen.client.onnx',
      'gen.server.key',
      'gen.server.onnx',
      'gen.ts',
    ]);
    const rows = r.stdout.split('\n').filter((l) => /^(prefill|decode \d+)\t/.test(l));
    expect(rows.map((l) => l.split('\t').slice(0, 4))).toEqual([
      ['prefill', '2', '0', '2'],
      ['decode 1', '1', '2', '3'],
      ['decode 2', '1', '3', '4'],
    ]);
    expect(r.stdout).toMatch(/prefill of 2 tokens .* per new token \(median\)/);

    const inspect = marillc(['inspect', out]);
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toContain('max context 4 tokens');
    expect(inspect.stdout).toMatch(
      /kept as the parties' shares, never revealed to anyone .*past_key_values\.2\.key/,
    );
    expect(inspect.stdout).toContain('logits: f32[1,1,100], revealed by');
  }, 120_000);

  it('refuses a max context beyond the position table, writing nothing', () => {
    const out = join(dir, 'big.ts');
    expectOneLineError(
      marillc([MODEL, '--base', BASE, '--max-context', '65', '-o', out]),
      'cache-frozen.onnx',
      "--max-context 65 is beyond the model's position table of 64 rows",
    );
    expect(existsSync(out)).toBe(false);
  });

  it('refuses --max-context for a model without a cache', () => {
    expectOneLineError(
      marillc(['examples/gpt2/frozen.onnx', '--max-context', '8']),
      'frozen.onnx',
      '--max-context is for a decoder with a KV cache',
    );
  });

  it('refuses a cost shape beyond the max context', () => {
    expectOneLineError(
      marillc([MODEL, '--base', BASE, '--max-context', '2', '--prompt-length', '2', '--max-new-tokens', '2']),
      'needs a context of 3 tokens, beyond --max-context 2',
    );
  });

  it('refuses an IR stage before the end of the pipeline (it would not be one graph)', () => {
    expectOneLineError(
      marillc([MODEL, '--max-context', '2', '--emit', 'fused']),
      '--emit fused: a generation compile prints the final stages',
    );
  });

  it('--max-context 0 is bad usage', () => {
    expect(marillc([MODEL, '--max-context', '0']).code).toBe(2);
  });
});
