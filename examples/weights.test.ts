/**
 * The example variants' weights relate to their base model the way each fine-tuning
 * style says (read from the .onnx bytes), and manifest.json states those facts correctly.
 */
import { describe, expect, it } from 'vitest';
import type { ExampleFamily, ExampleVariant } from './manifest.ts';
import { examplePath, findVariant, loadExamplesManifest } from './manifest.ts';
import type { WeightEntry } from './gen/onnx-weights.ts';
import { readWeights, sameWeight } from './gen/onnx-weights.ts';

interface Privacy {
  privateLayers: number[];
  embeddingsChanged: boolean;
  headChanged: boolean;
}

const manifest = loadExamplesManifest();

/** What differs from the base, read from the files (LoRA adapters count in their layer). */
function observedPrivacy(
  family: ExampleFamily,
  base: Map<string, WeightEntry>,
  v: Map<string, WeightEntry>,
): Privacy {
  const layerRx = new RegExp(family.weightKeys.layer);
  const embeddingRx = new RegExp(family.weightKeys.embedding);
  const layers = new Set<number>();
  let embeddingsChanged = false;
  let headChanged = false;
  for (const [key, w] of v) {
    const b = base.get(key);
    if (b !== undefined && sameWeight(w, b)) continue;
    const layer = layerRx.exec(key);
    if (layer) layers.add(Number(layer[1]));
    else if (embeddingRx.test(key)) embeddingsChanged = true;
    else headChanged = true;
  }
  return { privateLayers: [...layers].sort((a, b) => a - b), embeddingsChanged, headChanged };
}

/** The style definitions of the Marill paper, as the examples README states them. */
function expectedPrivacy(family: ExampleFamily, style: string): Privacy {
  const n = family.config['layers']!;
  const all = Array.from({ length: n }, (_, i) => i);
  const classifierTrainedWithLora = family.name === 'bert';
  switch (style) {
    case 'base':
    case 'base-external':
      return { privateLayers: [], embeddingsChanged: false, headChanged: false };
    case 'full':
      return { privateLayers: all, embeddingsChanged: true, headChanged: true };
    case 'frozen':
      return { privateLayers: all.slice(n / 2), embeddingsChanged: false, headChanged: true };
    case 'lora-merged':
    case 'lora-explicit':
      return { privateLayers: all, embeddingsChanged: false, headChanged: classifierTrainedWithLora };
    case 'head-merged':
      return { privateLayers: all, embeddingsChanged: false, headChanged: true };
    default:
      throw new Error(`unknown style ${style}`);
  }
}

function weightsOf(v: ExampleVariant): Map<string, WeightEntry> {
  return readWeights(examplePath(v.file));
}

describe.each(manifest.families.map((f) => [f.name, f] as const))('%s weights', (_name, family) => {
  const base = weightsOf(findVariant(family, 'base'));

  it.each(family.variants.map((v) => [v.name, v] as const))(
    '%s differs from base as its style says',
    (_v, variant) => {
      const observed = observedPrivacy(family, base, weightsOf(variant));
      expect(observed).toEqual(expectedPrivacy(family, variant.name));
      expect({
        privateLayers: variant.privateLayers,
        embeddingsChanged: variant.embeddingsChanged,
        headChanged: variant.headChanged,
      }).toEqual(observed);
    },
  );

  it('manifest weight counts match the files', () => {
    for (const variant of family.variants) {
      const w = weightsOf(variant);
      const equal = [...w].filter(([k, e]) => base.has(k) && sameWeight(e, base.get(k)!));
      expect(variant.weights, variant.name).toEqual({
        total: w.size,
        equalToBase: equal.length,
        equalToBaseSameName: equal.filter(([k, e]) => base.get(k)!.name === e.name).length,
      });
    }
  });

  it('lora-explicit keeps every base weight and adds rank-4 lora_A/lora_B pairs', () => {
    const explicit = weightsOf(findVariant(family, 'lora-explicit'));
    const adapters = [...explicit.values()].filter((w) => /lora_[AB]/.test(w.name));
    const layers = family.config['layers']!;
    // Q and V in every layer, an A and a B each.
    expect(adapters).toHaveLength(layers * 2 * 2);
    for (const a of adapters) expect(a.dims).toContain(4);
    const kept = [...base].filter(([k, b]) => explicit.has(k) && sameWeight(explicit.get(k)!, b));
    const retrained = family.name === 'bert' ? 2 : 0; // BERT's classifier weight and bias
    expect(kept).toHaveLength(base.size - retrained);
  });

  it('lora-merged changes only the Q and V projections (and BERT the classifier)', () => {
    const merged = weightsOf(findVariant(family, 'lora-merged'));
    const changed = [...base.keys()].filter((k) => !sameWeight(merged.get(k)!, base.get(k)!));
    const qv = /(self\.(query|value)|attn\.c_attn|self_attn\.(q_proj|v_proj))\.weight$/;
    for (const k of changed) expect(k.startsWith('classifier.') || qv.test(k), k).toBe(true);
    expect(changed.filter((k) => qv.test(k))).toHaveLength(
      family.config['layers']! * (family.name === 'gpt2' ? 1 : 2),
    );
  });
});
