/**
 * `npm run demo`: the main job on a bundled example, step by step, each step a
 * real `marillc` command whose line is printed before its output.
 *   1. compile the LoRA fine-tuned GPT-2-style model against its public base:
 *      where the work runs (client / server / MPC), Standard vs Marill;
 *   2. the plaintext reference result.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');
const MODEL = 'examples/gpt2/lora-merged.onnx';
const BASE = 'examples/gpt2/base.onnx';
const INPUT = 'examples/gpt2/input.json';

function step(title: string, args: readonly string[]): void {
  process.stdout.write(`\n== ${title}\n$ marillc ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [join(REPO, 'bin/marillc.js'), ...args], { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

step('standard fine-tuning baseline: every weight private, everything in MPC', [MODEL, '--no-marill']);
step('Marill: public base weights found by content, LoRA split, layers hoisted', [MODEL, '--base', BASE]);
step('plaintext reference output (first values)', ['eval', MODEL, '--input', INPUT]);
