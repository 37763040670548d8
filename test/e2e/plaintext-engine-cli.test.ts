/**
 * `--plaintext-engine` on the command line: `marillc simulate` of a frozen
 * plan (the client's frozen prefix in plaintext) with either engine stays
 * within the MPC tolerance of the plaintext reference; a bad choice is usage.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { examplePath, findVariant, loadExamplesManifest } from '../../examples/manifest.ts';
import { marillc, scratchDir } from '../cli-harness.ts';
import { PROCESS_TIMEOUT_MS, compilePlan } from './pipeline.ts';

const GPT2 = loadExamplesManifest().families.find((f) => f.name === 'gpt2')!;

describe('marillc simulate --plaintext-engine', () => {
  it('ort and interpreter both match the plaintext reference on a frozen plan', async () => {
    const dir = scratchDir();
    const compiled = await compilePlan({
      family: GPT2,
      variant: findVariant(GPT2, 'frozen'),
      standard: false,
      dir,
    });
    for (const engine of ['ort', 'interpreter']) {
      const report = join(dir, `${engine}.json`);
      const r = marillc(
        [
          'simulate',
          compiled.plan,
          '--server-model',
          compiled.serverBundle,
          '--client-model',
          examplePath(findVariant(GPT2, 'base').file),
          '--input',
          examplePath(GPT2.inputFile),
          '--report',
          report,
          '--out',
          join(dir, `${engine}.out.json`),
          '--plaintext-engine',
          engine,
        ],
        { timeoutMs: PROCESS_TIMEOUT_MS },
      );
      expect(r.code, r.stderr).toBe(0);
      const parsed = JSON.parse(readFileSync(report, 'utf8')) as { error: { max_abs: number } };
      expect(parsed.error.max_abs, engine).toBeLessThan(1e-2);
    }
  }, 240_000);

  it('an unknown engine is bad usage: exit 2', () => {
    const r = marillc(['simulate', 'plan.ts', '--plaintext-engine', 'tensorrt']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tensorrt');
  });
});
