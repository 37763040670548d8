/**
 * Writes the evaluation's models: for a family and size, the base model and
 * each variant's fine-tuned model (ONNX, opset 17) plus the sample input JSON,
 * into a cache directory (never committed). Files are rewritten only when
 * missing, so repeated runs reuse them.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeOnnxStreaming } from '../../compiler/onnx/stream-write.ts';
import { ExportBuilder } from './export-builder.ts';
import type { Family, GraphIO, ModelSize, Structure } from './spec.ts';
import { BASE_STRUCTURE } from './spec.ts';
import type { Variant } from './variants.ts';
import { variantWeights } from './variants.ts';

export const MODEL_SEED = 7;

export interface GeneratedSet {
  readonly dir: string;
  readonly base: string;
  readonly input: string;
  /** Variant id -> model file. */
  readonly variants: ReadonlyMap<string, string>;
}

type Build = (b: ExportBuilder, size: ModelSize, st: Structure) => GraphIO;

/** Builds one graph with the given weight source and writes it; returns the parameter count. */
export function writeModel(
  path: string,
  build: Build,
  size: ModelSize,
  st: Structure,
  b: ExportBuilder,
): number {
  const io = build(b, size, st);
  writeOnnxStreaming(
    path,
    { opset: 17, graphName: 'main_graph', inputs: io.inputs, outputs: io.outputs, nodes: b.nodes },
    b.weights,
  );
  return b.parameterCount();
}

export function generateFamily(
  family: Family,
  size: ModelSize,
  variants: readonly Variant[],
  cacheDir: string,
): GeneratedSet {
  const dir = join(cacheDir, `${family.name}-${size.name}`);
  mkdirSync(dir, { recursive: true });
  const base = join(dir, 'base.onnx');
  const build = family.build.bind(family);
  if (!existsSync(base))
    writeModel(
      base,
      build,
      size,
      BASE_STRUCTURE(size),
      new ExportBuilder(MODEL_SEED, variantWeights(family, size, MODEL_SEED, 'base')),
    );
  const files = new Map<string, string>();
  for (const v of variants) {
    const file = join(dir, `${v.id}.onnx`);
    if (!existsSync(file)) {
      const source = variantWeights(family, size, MODEL_SEED, v);
      writeModel(file, build, size, v.structure(size), new ExportBuilder(MODEL_SEED, source));
    }
    files.set(v.id, file);
  }
  const input = join(dir, 'input.json');
  writeFileSync(input, `${JSON.stringify(family.sampleInputs(size))}\n`);
  return { dir, base, input, variants: files };
}

/**
 * The KV-cache exports of a decoder family (Family.buildCache) for the generation benchmark:
 * `cache-base.onnx` and `cache-<variant>.onnx`, positions up to `maxPositions`, with the same
 * weights as generateFamily's files (the position table's first size.seq rows included).
 */
export function generateCacheFamily(
  family: Family,
  size: ModelSize,
  variants: readonly Variant[],
  cacheDir: string,
  maxPositions: number,
): GeneratedSet {
  const buildCache = family.buildCache?.bind(family);
  if (buildCache === undefined) throw new Error(`${family.name} has no KV-cache export`);
  const build: Build = (b, s, st) => buildCache(b, s, st, maxPositions);
  const dir = join(cacheDir, `${family.name}-${size.name}-cache${maxPositions}`);
  mkdirSync(dir, { recursive: true });
  const write = (file: string, st: Structure, v: Variant | 'base') => {
    if (!existsSync(file))
      writeModel(
        file,
        build,
        size,
        st,
        new ExportBuilder(MODEL_SEED, variantWeights(family, size, MODEL_SEED, v)),
      );
    return file;
  };
  const base = write(join(dir, 'cache-base.onnx'), BASE_STRUCTURE(size), 'base');
  const files = new Map(
    variants.map((v) => [v.id, write(join(dir, `cache-${v.id}.onnx`), v.structure(size), v)]),
  );
  const input = join(dir, 'prompt.json');
  writeFileSync(input, `${JSON.stringify(family.sampleInputs(size))}\n`);
  return { dir, base, input, variants: files };
}
