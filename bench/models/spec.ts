/**
 * What the evaluation's model generators agree on: the sizes, the shape of a
 * model family (how to build its graph and how to read its weight names), and
 * the per-layer structure a variant chooses (head count, explicit adapters).
 */
import type { ValueSpec } from '../../compiler/onnx/write.ts';
import { mulberry32 } from '../../ir/random.ts';
import type { ExportBuilder } from './export-builder.ts';

export type FamilyName = 'bert' | 'gpt2' | 'llama';
export type SizeName = 'tiny' | 'larger';

/** The dimensions every generated transformer has. */
export interface TransformerDims {
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly ffn: number;
  readonly vocab: number;
  readonly seq: number;
}

export interface ModelSize extends TransformerDims {
  readonly name: SizeName | string;
  /** Rank of the LoRA adapters (on Q and V). */
  readonly loraRank: number;
}

/**
 * tiny: the size of examples/ (4 layers, hidden 32, 4 heads); larger: 4x wider
 * and 4x longer sequences, chosen so the whole evaluation (84 plans compiled and
 * run, plus the CrypTen comparison) stays well inside `npm run bench`'s 15 minutes
 * on a 2-core machine.
 */
export const SIZES: Readonly<Record<SizeName, ModelSize>> = {
  tiny: { name: 'tiny', layers: 4, hidden: 32, heads: 4, ffn: 64, vocab: 100, seq: 8, loraRank: 4 },
  larger: { name: 'larger', layers: 4, hidden: 128, heads: 4, ffn: 512, vocab: 512, seq: 32, loraRank: 8 },
};

/** Per-layer choices a variant makes about the graph (the weights are chosen apart, in variants.ts). */
export interface Structure {
  /** Attention heads of layer l (head merging: fewer, wider heads). */
  headsOf(layer: number): number;
  /** Whether layer l carries explicit LoRA adapters beside Q and V. */
  explicitLora(layer: number): boolean;
}

export interface GraphIO {
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
}

export interface Family {
  readonly name: FamilyName;
  readonly summary: string;
  /** Whether the family has a GeLU (MPCFormer's quad replaces it) besides its softmax. */
  readonly hasGelu: boolean;
  /** The transformer layer an initializer belongs to, from its name (null: embeddings or head). */
  layerOf(name: string): number | null;
  isEmbedding(name: string): boolean;
  /** Column blocks [start, end) of a weight that LoRA on Q and V adapts (empty: not a LoRA target). */
  loraColumns(name: string, dims: readonly number[], size: ModelSize): readonly (readonly [number, number])[];
  build(b: ExportBuilder, size: ModelSize, structure: Structure): GraphIO;
  /**
   * The same model exported for generation with a KV cache (decoders only): inputs `input_ids
   * [1, sequence]` and `past_key_values.{l}.key|value [1, heads_l, past_sequence, d_l]`, outputs
   * `logits [1, sequence, vocab]` and `present.{l}.key|value [1, heads_l, past_sequence + sequence,
   * d_l]`, both lengths dynamic; positions are past..past+sequence-1, at most `maxPositions`.
   */
  buildCache?(b: ExportBuilder, size: ModelSize, structure: Structure, maxPositions: number): GraphIO;
  /** A deterministic sample input, by input name. */
  sampleInputs(size: ModelSize): Record<string, number[][]>;
}

/** Every layer with the size's heads and no adapters: the base model's structure. */
export const BASE_STRUCTURE = (size: ModelSize): Structure => ({
  headsOf: () => size.heads,
  explicitLora: () => false,
});

/** Token ids in [first, vocab) from the seeded PRG (ir/random.ts), so inputs are reproducible without a file. */
export function sampleTokens(size: ModelSize, seed: number, first = 0): number[] {
  const next = mulberry32(seed);
  return Array.from({ length: size.seq }, () => first + (next() % (size.vocab - first)));
}

/** A regex layer reader: `prefix.<l>.` at the start of the name. */
export function layerReader(prefix: string): (name: string) => number | null {
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)\\.`);
  return (name) => {
    const m = re.exec(name);
    return m ? Number(m[1]) : null;
  };
}
