/**
 * The fine-tuning variants the evaluation compares, each derived from one base
 * model per family and size. Weights are the base's (a deterministic uniform
 * stream per name) unless the variant fine-tunes them:
 *
 *   standard    every weight changed (embeddings, all layers, head); compiled
 *               with --no-marill: the standard fine-tuning baseline
 *   frozen      layer freezing: the bottom half of the layers and the
 *               embeddings equal the base; the top half and the head changed
 *   lora        rank-r LoRA on Q and V of every layer, nothing else trained;
 *               `merged` (W + A B written into W) or `explicit` (adapters as
 *               separate lora_A / lora_B matmuls beside W)
 *   headmerge2/4  heads merged by 2 / 4 in every layer (fewer, wider heads);
 *               every layer and the head fine-tuned, embeddings equal the base
 *   marill      all together: bottom half frozen (base weights, base heads);
 *               top half with heads merged by 2 and merged LoRA on Q and V
 *               (other weights of those layers equal the base); head as base
 *
 * A fine-tuned weight is base + a uniform change of half the initialiser's
 * spread; a merged LoRA weight is base + A B on its Q / V column blocks.
 */
import type { StreamedInitializer } from '../../compiler/onnx/stream-write.ts';
import type { WeightSource } from './export-builder.ts';
import { uniformArray } from './export-builder.ts';
import type { Family, ModelSize, Structure } from './spec.ts';

export type VariantName = 'standard' | 'frozen' | 'lora' | 'headmerge2' | 'headmerge4' | 'marill';
export type LoraForm = 'merged' | 'explicit';

/** Where a weight sits: a layer index, or outside the layers. */
type Role = number | 'embedding' | 'head';

export interface Variant {
  readonly name: VariantName;
  readonly loraForm?: LoraForm;
  /** File stem: the name, with the LoRA form for lora. */
  readonly id: string;
  /** Compile as the standard baseline (every weight private). */
  readonly noMarill: boolean;
  structure(size: ModelSize): Structure;
  /** Whether the weights at this role are fine-tuned (changed from the base). */
  tuned(role: Role, size: ModelSize): boolean;
  /** Whether the Q / V weights of this layer carry a merged LoRA update. */
  mergedLora(layer: number, size: ModelSize): boolean;
}

const topHalf = (role: Role, size: ModelSize): boolean =>
  role === 'head' || (typeof role === 'number' && role >= size.layers / 2);

function variant(
  name: VariantName,
  parts: Partial<Omit<Variant, 'name' | 'id'>> & { loraForm?: LoraForm },
): Variant {
  return {
    name,
    id: parts.loraForm ? `${name}-${parts.loraForm}` : name,
    noMarill: parts.noMarill ?? false,
    structure: parts.structure ?? ((s) => ({ headsOf: () => s.heads, explicitLora: () => false })),
    tuned: parts.tuned ?? (() => false),
    mergedLora: parts.mergedLora ?? (() => false),
    ...(parts.loraForm ? { loraForm: parts.loraForm } : {}),
  };
}

const mergedHeads = (factor: number, from: (l: number, s: ModelSize) => boolean) => (s: ModelSize) => ({
  headsOf: (l: number) => (from(l, s) ? s.heads / factor : s.heads),
  explicitLora: () => false,
});

export const VARIANTS: readonly Variant[] = [
  variant('standard', { noMarill: true, tuned: () => true }),
  variant('frozen', { tuned: topHalf }),
  variant('lora', { loraForm: 'merged', mergedLora: () => true }),
  variant('lora', {
    loraForm: 'explicit',
    structure: (s) => ({ headsOf: () => s.heads, explicitLora: () => true }),
  }),
  variant('headmerge2', { structure: mergedHeads(2, () => true), tuned: (r) => r !== 'embedding' }),
  variant('headmerge4', { structure: mergedHeads(4, () => true), tuned: (r) => r !== 'embedding' }),
  variant('marill', {
    structure: mergedHeads(2, (l, s) => l >= s.layers / 2),
    mergedLora: (l, s) => l >= s.layers / 2,
  }),
];

/** Whether a variant can be built at a size (head merging needs the heads to divide). */
export function variantFits(v: Variant, size: ModelSize): boolean {
  const st = v.structure(size);
  return Array.from({ length: size.layers }, (_, l) => st.headsOf(l)).every(
    (h) => Number.isInteger(h) && h >= 1 && size.hidden % h === 0,
  );
}

function roleOf(family: Family, name: string): Role {
  const layer = family.layerOf(name);
  if (layer !== null) return layer;
  return family.isEmbedding(name) ? 'embedding' : 'head';
}

/** base[:, cols] += A B for each LoRA column block (A [k, r], B [r, cols]); W is [k, n] row-major. */
function addLowRank(
  w: Float32Array,
  name: string,
  dims: readonly number[],
  blocks: readonly (readonly [number, number])[],
  rank: number,
  seed: number,
): void {
  const [k, n] = [dims[0]!, dims[1]!];
  for (const [start, end] of blocks) {
    const width = end - start;
    const a = uniformArray(`${name}#lora_A@${start}`, seed, k * rank, 0, 1 / Math.sqrt(k));
    const b = uniformArray(`${name}#lora_B@${start}`, seed, rank * width, 0, 0.05);
    for (let i = 0; i < k; i++)
      for (let t = 0; t < rank; t++) {
        const ait = a[i * rank + t]!;
        for (let j = 0; j < width; j++)
          w[i * n + start + j] = w[i * n + start + j]! + ait * b[t * width + j]!;
      }
  }
}

/** The weight values of `variant` for `family` at `size` (the base model: `base: true`). */
export function variantWeights(
  family: Family,
  size: ModelSize,
  seed: number,
  variantOrBase: Variant | 'base',
): WeightSource {
  return (name, dims, center, spread): StreamedInitializer['fill'] => {
    const elements = dims.reduce((p, d) => p * d, 1);
    // Explicit adapters are new tensors of their own; everything else starts from the base.
    const w = uniformArray(name, seed, elements, center, spread);
    if (variantOrBase !== 'base' && !/\.lora_[AB]$/.test(name)) {
      const role = roleOf(family, name);
      if (variantOrBase.tuned(role, size)) {
        const delta = uniformArray(`${name}#finetuned`, seed, elements, 0, spread / 2);
        for (let i = 0; i < elements; i++) w[i] = w[i]! + delta[i]!;
      } else if (typeof role === 'number' && variantOrBase.mergedLora(role, size) && dims.length === 2) {
        addLowRank(w, name, dims, family.loraColumns(name, dims, size), size.loraRank, seed);
      }
    }
    return (chunk, offset) => chunk.set(w.subarray(offset, offset + chunk.length));
  };
}
