/**
 * Generation without a dealer: the gpt2 LoRA cache model compiled with `--setting 2pc` into a
 * generation plan, run by `marillc simulate` (server and client only): the greedy tokens equal
 * `marillc eval`'s, and every step's online and preprocessing bytes and rounds equal the cost
 * model's prediction for that step's plan (simulate checks it; the report is read here too).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { examplePath } from '../../examples/manifest.ts';
import { killAllSpawned, scratchDir, spawnMarillc } from '../cli-harness.ts';
import { PROCESS_TIMEOUT_MS } from './pipeline.ts';

const dir = scratchDir('marillc-gen-2pc-');
afterAll(() => {
  killAllSpawned();
  rmSync(dir, { recursive: true, force: true });
});

async function marillc(args: readonly string[]): Promise<string> {
  const r = await spawnMarillc(args, { timeoutMs: PROCESS_TIMEOUT_MS }).done;
  if (r.code !== 0) throw new Error(`marillc ${args[0]} failed (${r.code}):\n${r.stderr}`);
  return r.stderr;
}

interface Step {
  readonly online_bytes: number;
  readonly rounds: number;
  readonly preprocess_bytes: number;
  readonly preprocess_rounds: number;
  readonly predicted: Omit<Step, 'predicted'>;
}

describe('generation without a dealer', () => {
  it('gpt2 cache-lora-merged: the tokens of plaintext, each step as predicted', async () => {
    const model = examplePath('gpt2/cache-lora-merged.onnx');
    const plan = join(dir, 'plan.ts');
    const prompt = ['--prompt-ids', '40,16,41', '--max-new-tokens', '4'];
    await marillc([
      model,
      '--base',
      examplePath('gpt2/cache-base.onnx'),
      '--setting',
      '2pc',
      '--max-context',
      '8',
      '-o',
      plan,
    ]);
    const out = join(dir, 'out.json');
    const report = join(dir, 'report.json');
    const stderr = await marillc([
      'simulate',
      plan,
      '--server-model',
      join(dir, 'plan.server.onnx'),
      '--client-model',
      join(dir, 'plan.client.onnx'),
      ...prompt,
      '--out',
      out,
      '--report',
      report,
    ]);
    expect(stderr).toMatch(/cost model: predicted bytes and rounds equal the measured ones, step by step/);
    const evalOut = join(dir, 'eval.json');
    await marillc(['eval', model, ...prompt, '--out', evalOut]);
    const got = JSON.parse(readFileSync(out, 'utf8')) as { tokens: number[] };
    expect(got.tokens).toHaveLength(4);
    expect(got).toEqual(JSON.parse(readFileSync(evalOut, 'utf8')));
    const steps = (JSON.parse(readFileSync(report, 'utf8')) as { steps: Step[] }).steps;
    expect(steps).toHaveLength(4);
    for (const s of steps) {
      expect(s.preprocess_bytes).toBeGreaterThan(0);
      for (const k of ['online_bytes', 'rounds', 'preprocess_bytes', 'preprocess_rounds'] as const)
        expect(s[k], k).toBe(s.predicted[k]);
    }
  }, 300_000);
});
