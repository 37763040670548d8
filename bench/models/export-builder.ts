/**
 * Building ONNX graphs the way `torch.onnx.export` writes them, shared by the
 * benchmark model generators (bench/gen-bert-base.ts and the evaluation's
 * families in bench/models/): an accumulator of nodes with torch-like names,
 * Constant nodes for scalars and shape pieces, and weights that are produced
 * chunk by chunk (compiler/onnx/stream-write.ts) from a pluggable source, so
 * the same graph code writes a base model and any fine-tuned variant of it.
 */
import type { StreamedInitializer } from '../../compiler/onnx/stream-write.ts';
import type { NodeSpec, TensorSpec } from '../../compiler/onnx/write.ts';
import { seededUniform } from '../../ir/random.ts';

/** Where a weight's values come from: its name, dims and the base initialiser's center and spread. */
export type WeightSource = (
  name: string,
  dims: readonly number[],
  center: number,
  spread: number,
) => StreamedInitializer['fill'];

export function hashName(name: string, seed: number): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** Uniform values in [center - spread, center + spread) from a per-tensor stream of ir/random.ts. */
export function uniformFill(
  name: string,
  seed: number,
  center: number,
  spread: number,
): StreamedInitializer['fill'] {
  const next = seededUniform(hashName(name, seed));
  return (chunk) => {
    for (let i = 0; i < chunk.length; i++) chunk[i] = center + spread * (2 * next() - 1);
  };
}

/** The whole tensor of a uniform stream, in memory (small models and derived weights). */
export function uniformArray(
  name: string,
  seed: number,
  elements: number,
  center: number,
  spread: number,
): Float32Array {
  const out = new Float32Array(elements);
  uniformFill(name, seed, center, spread)(out, 0);
  return out;
}

/** The default source: every weight a fresh uniform stream keyed by its name. */
export function uniformSource(seed: number): WeightSource {
  return (name, _dims, center, spread) => uniformFill(name, seed, center, spread);
}

/** Accumulates nodes, weights and constants with torch-export-like names. */
export class ExportBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly weights: StreamedInitializer[] = [];
  private counter = 0;
  private readonly source: WeightSource;

  constructor(seed: number, source?: WeightSource) {
    this.source = source ?? uniformSource(seed);
  }

  node(
    op: string,
    scope: string,
    inputs: readonly string[],
    attrs?: NodeSpec['attrs'],
    outputs = 1,
  ): string[] {
    const name = `${scope}/${op}${this.counter === 0 ? '' : `_${this.counter}`}`;
    this.counter++;
    const outs = Array.from({ length: outputs }, (_, i) => `${name}_output_${i}`);
    this.nodes.push({ op, name, inputs, outputs: outs, ...(attrs ? { attrs } : {}) });
    return outs;
  }

  one(op: string, scope: string, inputs: readonly string[], attrs?: NodeSpec['attrs']): string {
    return this.node(op, scope, inputs, attrs)[0]!;
  }

  /** A Constant node (torch exports scalars and small shape pieces this way). */
  constant(scope: string, spec: TensorSpec): string {
    return this.one('Constant', scope, [], { value: spec });
  }

  scalar(scope: string, value: number): string {
    return this.constant(scope, { type: 'float', dims: [], values: [value] });
  }

  ints(scope: string, values: readonly number[]): string {
    return this.constant(scope, { type: 'int64', dims: [values.length], values });
  }

  weight(name: string, dims: readonly number[], center: number, spread: number): string {
    this.weights.push({ name, dims, fill: this.source(name, dims, center, spread) });
    return name;
  }

  parameterCount(): number {
    return this.weights.reduce((s, w) => s + w.dims.reduce((p, d) => p * d, 1), 0);
  }
}

/** Uniform with standard deviation 0.02, as BERT's initialiser. */
export const INIT_SPREAD = 0.02 * Math.sqrt(3);
