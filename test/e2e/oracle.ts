/**
 * The plaintext oracles an MPC run is held to: `marillc eval` of the
 * fine-tuned model (the compiler's reference interpreter, through the very
 * command code the CLI runs) and onnxruntime-node on the same file (wholly
 * independent of marillc). Outputs are compared as row-major numbers by name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evalCommand } from '../../compiler/cli/commands/eval.ts';
import { runWithOrt } from '../../examples/gen/ort-run.ts';
import type { ExampleFamily, ExampleVariant, SampleTensor } from '../../examples/manifest.ts';
import { examplePath, flattenNested, readSampleInput, shapeFlags } from '../../examples/manifest.ts';
import { maxAbsDiff } from '../../ir/tensor.ts';

/** Output name -> shape and row-major values. */
export type Outputs = Readonly<Record<string, SampleTensor>>;

/** Parses the CLI's output JSON (`{"name": nested arrays}`). */
export function parseOutputsJson(text: string): Outputs {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('outputs JSON: expected an object from output name to nested arrays');
  const out: Record<string, SampleTensor> = {};
  for (const [name, value] of Object.entries(parsed)) out[name] = flattenNested(value, name);
  return out;
}

/** `marillc eval MODEL --input IN --out OUT` (in this process), read back. */
export function marillcEval(family: ExampleFamily, variant: ExampleVariant, dir: string): Outputs {
  const out = join(dir, `${family.name}-${variant.name}.eval.json`);
  evalCommand(examplePath(variant.file), {
    input: examplePath(family.inputFile),
    out,
    shape: shapeFlags(family),
  });
  return parseOutputsJson(readFileSync(out, 'utf8'));
}

export async function onnxruntimeOutputs(family: ExampleFamily, variant: ExampleVariant): Promise<Outputs> {
  const results = await runWithOrt(family, variant.file, readSampleInput(family));
  const out: Record<string, SampleTensor> = {};
  for (const [name, r] of Object.entries(results)) out[name] = { shape: r.shape, values: [...r.values] };
  return out;
}

/**
 * Largest absolute difference over every output the reference has; a missing
 * output or a shape mismatch is an error (not a small number).
 */
export function maxAbsDifference(actual: Outputs, reference: Outputs): number {
  let worst = 0;
  for (const [name, ref] of Object.entries(reference)) {
    const got = actual[name];
    if (got === undefined) throw new Error(`output '${name}' is missing`);
    if (got.shape.join('x') !== ref.shape.join('x'))
      throw new Error(`output '${name}' has shape ${got.shape.join('x')}, expected ${ref.shape.join('x')}`);
    worst = Math.max(worst, maxAbsDiff(got.values, ref.values));
  }
  return worst;
}
