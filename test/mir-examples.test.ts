/**
 * The text form round-trips every example model: print(parse(print(g))) is
 * byte-identical to print(g) for the graph the ONNX frontend gives, and the
 * parsed graph equals it in everything the text carries.
 */
import { describe, expect, it } from 'vitest';
import { loadOnnx } from '../compiler/onnx/load.ts';
import { lowerOnnx } from '../compiler/onnx/lower.ts';
import { examplePath, loadExamplesManifest } from '../examples/manifest.ts';
import { tensorHash } from '../ir/tensor.ts';
import { verifyGraph } from '../ir/verify.ts';
import { expectTextRoundTrip } from './mir-round-trip.ts';

const manifest = loadExamplesManifest();

describe('.mir round trip of the example models', () => {
  for (const family of manifest.families) {
    const shapes = Object.fromEntries(family.inputs.map((i) => [i.name, i.shape]));
    for (const variant of family.variants) {
      it(`${family.name}/${variant.name}`, () => {
        const file = examplePath(variant.file);
        const g = lowerOnnx(loadOnnx(file), { file, shapes });
        verifyGraph(g);
        expectTextRoundTrip(g, `${variant.file}.mir`);
        // Weight hashes in the text are the content hashes of the model's tensors.
        for (const n of g.nodes)
          if (n.op === 'weight' && n.tensor !== undefined) expect(n.attrs['hash']).toBe(tensorHash(n.tensor));
      });
    }
  }
});
