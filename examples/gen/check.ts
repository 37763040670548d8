/**
 * Runs every example model with onnxruntime-node on its sample input, prints the output
 * shapes and a checksum, and compares with PyTorch's output saved by export_all.py in
 * out/examples-torch/ (git-ignored; absent after a fresh clone, then only ORT is run).
 *
 *   npx tsx examples/gen/check.ts
 *
 * Exits 1 when a model fails to run or differs from PyTorch by more than 1e-4.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExampleFamily, ExampleVariant } from '../manifest.ts';
import { EXAMPLES_DIR, flattenNested, loadExamplesManifest, readSampleInput } from '../manifest.ts';
import { runWithOrt } from './ort-run.ts';
import { maxAbsDiff } from '../../ir/tensor.ts';

const TOLERANCE = 1e-4;
const TORCH_OUT = join(EXAMPLES_DIR, '..', 'out', 'examples-torch');

function checksum(values: Float32Array): string {
  let sum = 0;
  let sumAbs = 0;
  for (const v of values) {
    sum += v;
    sumAbs += Math.abs(v);
  }
  return `sum=${sum.toFixed(6)} sum|x|=${sumAbs.toFixed(6)}`;
}

/** PyTorch's logits for this variant, when export_all.py left them in out/. */
function torchReference(family: ExampleFamily, variant: ExampleVariant): number[] | undefined {
  const name = variant.sameWeightsAs ?? variant.name;
  const file = join(TORCH_OUT, family.name, `${name}.json`);
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  return [...flattenNested(parsed['logits'], `${file}: logits`).values];
}

async function checkVariant(family: ExampleFamily, variant: ExampleVariant): Promise<boolean> {
  const inputs = readSampleInput(family);
  const outputs = await runWithOrt(family, variant.file, inputs);
  let ok = true;
  for (const spec of family.outputs) {
    const out = outputs[spec.name]!;
    const shapeOk = out.shape.join(',') === spec.shape.join(',');
    let line = `${variant.file.padEnd(26)} ${spec.name}[${out.shape.join(',')}] ${checksum(out.values)}`;
    if (!shapeOk) line += ` SHAPE MISMATCH (manifest says [${spec.shape.join(',')}])`;
    const reference = torchReference(family, variant);
    if (reference !== undefined) {
      const diff = maxAbsDiff(out.values, reference);
      line += ` |ort-torch|max=${diff.toExponential(2)}${diff <= TOLERANCE ? '' : ' EXCEEDS 1e-4'}`;
      ok = ok && diff <= TOLERANCE;
    } else {
      line += ' (no PyTorch reference: run examples/gen/export_all.py)';
    }
    console.log(line);
    ok = ok && shapeOk && out.values.every(Number.isFinite);
  }
  return ok;
}

async function main(): Promise<void> {
  const manifest = loadExamplesManifest();
  let ok = true;
  for (const family of manifest.families) {
    for (const variant of family.variants) ok = (await checkVariant(family, variant)) && ok;
  }
  console.log(ok ? 'all examples run and match' : 'MISMATCH');
  process.exitCode = ok ? 0 : 1;
}

await main();
