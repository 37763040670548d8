/**
 * Every example model (examples/manifest.json: BERT, GPT-2 and LLaMA-style
 * torch exports and their fine-tuned variants), loaded, lowered and run by
 * the plaintext interpreter, against onnxruntime-node on the family's sample
 * input. Prints the max abs error per model.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import {
  MANIFEST_PATH,
  examplePath,
  loadExamplesManifest,
  readSampleInput,
} from '../../examples/manifest.ts';
import type { ExampleFamily } from '../../examples/manifest.ts';
import { interpret } from '../../ir/interpret.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { fromNumbers } from '../../ir/tensor.ts';
import { runOrt } from '../../test/fixtures/ort.ts';
import { loadOnnx } from './load.ts';
import { lowerOnnx } from './lower.ts';
import { tensorMaxAbsDiff } from '../../ir/tensor.ts';

const TOL = 1e-4;
const families = existsSync(MANIFEST_PATH) ? loadExamplesManifest().families : [];
const errors: { model: string; maxError: number; nodes: number }[] = [];

function sampleFeeds(family: ExampleFamily): Map<string, Tensor> {
  const sample = readSampleInput(family);
  return new Map(
    family.inputs.map((spec) => {
      const s = sample[spec.name]!;
      return [spec.name, fromNumbers(spec.dtype === 'int64' ? 'i64' : 'f32', s.shape, s.values)];
    }),
  );
}

describe.each(families.map((f) => [f.name, f] as const))('%s examples match onnxruntime', (_name, family) => {
  const feeds = sampleFeeds(family);
  const shapes = Object.fromEntries(family.inputs.map((t) => [t.name, [...t.shape]]));
  test.each(family.variants.map((v) => [v.file, v] as const))('%s', async (file) => {
    const path = examplePath(file);
    const graph = lowerOnnx(loadOnnx(path), { file: path, shapes });
    const ours = interpret(graph, feeds);
    const theirs = await runOrt(path, feeds);
    let worst = 0;
    for (const [name, expected] of theirs)
      worst = Math.max(worst, tensorMaxAbsDiff(ours.get(name)!, expected, name));
    errors.push({ model: file, maxError: worst, nodes: graph.nodes.length });
    expect(worst).toBeLessThanOrEqual(TOL);
  });
});

test('the examples manifest lists models (or the examples are not generated yet)', () => {
  if (families.length === 0) return;
  expect(families.flatMap((f) => f.variants).length).toBeGreaterThan(0);
});

afterAll(() => {
  if (errors.length === 0) return;
  const lines = errors.map(
    (e) => `  ${e.model.padEnd(28)} max abs error ${e.maxError.toExponential(2)}  (${e.nodes} IR nodes)`,
  );
  console.log(`ONNX frontend vs onnxruntime-node on the example models:\n${lines.join('\n')}`);
});
