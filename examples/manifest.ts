/**
 * Typed access to examples/manifest.json, the list of example models that tests,
 * benchmarks and walkthroughs iterate over (written by examples/gen/export_all.py).
 *
 * Paths in the manifest are relative to examples/; the helpers here resolve them.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MarillError } from '../ir/errors.ts';

export const EXAMPLES_DIR = dirname(fileURLToPath(import.meta.url));
export const MANIFEST_PATH = join(EXAMPLES_DIR, 'manifest.json');

export type ExampleDType = 'int64' | 'float32';

export interface ExampleTensorSpec {
  readonly name: string;
  readonly dtype: ExampleDType;
  /** The concrete shape of the sample input / its output. */
  readonly shape: readonly number[];
  /** The shape declared in the .onnx file: symbolic dimensions by name (e.g. 'sequence'). */
  readonly onnxShape: readonly (number | string)[];
}

export type FineTuneStyle = 'base' | 'full' | 'frozen' | 'lora-merged' | 'lora-explicit' | 'head-merged';
export const FINE_TUNE_STYLES: readonly FineTuneStyle[] = [
  'base',
  'full',
  'frozen',
  'lora-merged',
  'lora-explicit',
  'head-merged',
];

export interface LoraInfo {
  readonly form: 'merged' | 'explicit';
  readonly rank: number;
  readonly alpha: number;
  /** Which attention projections carry adapters. */
  readonly targets: readonly string[];
}

export interface WeightCounts {
  readonly total: number;
  /** Byte-equal (shape and bytes) to the base's weight of the same key: what `--base` can make public. */
  readonly equalToBase: number;
  /** Of those, how many also keep the base's initializer name (torch's `onnx::MatMul_<n>` names shift). */
  readonly equalToBaseSameName: number;
}

export interface ExampleVariant {
  /** A FineTuneStyle, or 'base-external' (base with its weights in an external data file). */
  readonly name: string;
  /** The .onnx file, relative to examples/. */
  readonly file: string;
  /** The external data file next to it, relative to examples/ (base-external only). */
  readonly externalData?: string;
  /** Variants that are a re-encoding of another one carry its name. */
  readonly sameWeightsAs?: string;
  readonly heads: number;
  /** Bytes on disk (.onnx plus external data). */
  readonly bytes: number;
  /** Transformer layers holding a weight that differs from the base (LoRA adapters included). */
  readonly privateLayers: readonly number[];
  /** Whether any embedding table differs from the base. */
  readonly embeddingsChanged: boolean;
  /** Whether anything above the last layer (final norm, pooler, classifier, lm_head) differs. */
  readonly headChanged: boolean;
  readonly lora: LoraInfo | null;
  /** Float weight initializers (more than one element), compared with the base by weight key. */
  readonly weights: WeightCounts;
  readonly notes: readonly string[];
  /** ONNX op type -> node count in the file. */
  readonly opCounts: Readonly<Record<string, number>>;
}

export interface ExampleFamily {
  readonly name: string;
  readonly summary: string;
  readonly opset: number;
  /** True when the sequence axis is symbolic in the file (the compiler needs --shape). */
  readonly dynamic: boolean;
  /** layers, hidden, heads, ffn, vocab, seq, maxPositions, and family-specific numbers. */
  readonly config: Readonly<Record<string, number>>;
  /**
   * Regular expressions over weight keys (an initializer's name, or for torch's anonymous
   * `onnx::MatMul_<n>` its consumer node's module + '.weight'; see gen/onnx-weights.ts):
   * `layer` captures the transformer layer index, `embedding` matches the embedding tables.
   */
  readonly weightKeys: { readonly layer: string; readonly embedding: string };
  /** The sample input in the CLI's JSON format, relative to examples/. */
  readonly inputFile: string;
  readonly inputs: readonly ExampleTensorSpec[];
  readonly outputs: readonly ExampleTensorSpec[];
  readonly variants: readonly ExampleVariant[];
}

/** An input or output of a cache export, as declared in the file. */
export interface CacheTensorSpec {
  readonly name: string;
  readonly dtype: ExampleDType;
  /** Symbolic dimensions by name: 'sequence', 'past_sequence', 'past_sequence + sequence'. */
  readonly onnxShape: readonly (number | string)[];
}

/** One KV-cache export (cache-base, cache-frozen, cache-lora-merged). */
export interface CacheVariant {
  readonly name: string;
  /** The .onnx file, relative to examples/. */
  readonly file: string;
  /** The non-cache variant with the same weights (gpt2: plus the longer position table). */
  readonly sameWeightsAs: string;
  readonly heads: number;
  readonly bytes: number;
  /** Compared with the family's cache-base, as ExampleVariant's fields are with base. */
  readonly privateLayers: readonly number[];
  readonly embeddingsChanged: boolean;
  readonly headChanged: boolean;
  readonly weights: WeightCounts;
  readonly opCounts: Readonly<Record<string, number>>;
}

/**
 * A decoder family's KV-cache exports (examples/gen/cache.py): inputs `input_ids [1, sequence]`
 * and `past_key_values.{i}.key|value [1, heads, past_sequence, headDim]`, outputs
 * `logits [1, sequence, vocab]` and `present.{i}.key|value [1, heads, past_sequence + sequence, headDim]`.
 */
export interface CacheFamily {
  /** The name of the ExampleFamily these exports belong to ('gpt2', 'llama'). */
  readonly family: string;
  readonly opset: number;
  readonly layers: number;
  readonly heads: number;
  readonly headDim: number;
  readonly vocab: number;
  /** Rows of the position table: past + sequence may not exceed it (null: no table, rotary). */
  readonly maxPositions: number | null;
  readonly inputs: readonly CacheTensorSpec[];
  readonly outputs: readonly CacheTensorSpec[];
  readonly variants: readonly CacheVariant[];
}

export interface ExamplesManifest {
  readonly generatedBy: string;
  readonly torch: string;
  readonly onnx: string;
  readonly families: readonly ExampleFamily[];
  /** The KV-cache exports of the decoder families. */
  readonly cache: readonly CacheFamily[];
}

/** Absolute path of a manifest-relative file. */
export function examplePath(relative: string): string {
  return join(EXAMPLES_DIR, relative);
}

function malformed(what: string, message: string): never {
  throw new MarillError(message, { file: MANIFEST_PATH, what });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field<T>(
  obj: unknown,
  key: string,
  what: string,
  check: (v: unknown) => v is T,
  expected: string,
): T {
  if (!isRecord(obj)) malformed(what, 'expected an object');
  const v = obj[key];
  if (!check(v)) malformed(what, `field '${key}' must be ${expected}`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number';
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);

/** Checks the fields tests rely on, so a stale or hand-edited manifest fails with a clear message. */
function checkFamily(f: unknown, index: number): ExampleFamily {
  const name = field(f, 'name', `families[${index}]`, isString, 'a string');
  field(f, 'opset', name, isNumber, 'a number');
  field(f, 'dynamic', name, (v): v is boolean => typeof v === 'boolean', 'a boolean');
  field(f, 'config', name, isRecord, 'an object');
  field(f, 'inputFile', name, isString, 'a string');
  field(f, 'weightKeys', name, isRecord, 'an object');
  for (const key of ['inputs', 'outputs'] as const) {
    for (const [i, t] of field(f, key, name, isArray, 'an array').entries()) {
      const what = `${name}.${key}[${i}]`;
      field(t, 'name', what, isString, 'a string');
      field(
        t,
        'dtype',
        what,
        (v): v is ExampleDType => v === 'int64' || v === 'float32',
        "'int64' or 'float32'",
      );
      field(t, 'shape', what, isArray, 'an array');
    }
  }
  for (const [i, v] of field(f, 'variants', name, isArray, 'an array').entries()) {
    const what = `${name}.variants[${i}]`;
    field(v, 'name', what, isString, 'a string');
    field(v, 'file', what, isString, 'a string');
    field(v, 'heads', what, isNumber, 'a number');
    field(v, 'privateLayers', what, isArray, 'an array');
    field(v, 'weights', what, isRecord, 'an object');
  }
  return f as ExampleFamily;
}

export function loadExamplesManifest(path: string = MANIFEST_PATH): ExamplesManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new MarillError(`cannot read the examples manifest: ${(e as Error).message}`, { file: path });
  }
  const families = field(parsed, 'families', 'manifest', isArray, 'an array');
  const cache = field(parsed, 'cache', 'manifest', isArray, 'an array');
  return {
    ...(parsed as ExamplesManifest),
    families: families.map(checkFamily),
    cache: cache.map(checkCache),
  };
}

function checkCache(c: unknown, index: number): CacheFamily {
  const name = field(c, 'family', `cache[${index}]`, isString, 'a string');
  for (const key of ['opset', 'layers', 'heads', 'headDim', 'vocab'] as const)
    field(c, key, `cache.${name}`, isNumber, 'a number');
  field(
    c,
    'maxPositions',
    `cache.${name}`,
    (v): v is number | null => v === null || isNumber(v),
    'a number or null',
  );
  for (const key of ['inputs', 'outputs'] as const) {
    for (const [i, t] of field(c, key, `cache.${name}`, isArray, 'an array').entries()) {
      field(t, 'name', `cache.${name}.${key}[${i}]`, isString, 'a string');
      field(t, 'onnxShape', `cache.${name}.${key}[${i}]`, isArray, 'an array');
    }
  }
  for (const [i, v] of field(c, 'variants', `cache.${name}`, isArray, 'an array').entries()) {
    const what = `cache.${name}.variants[${i}]`;
    field(v, 'name', what, isString, 'a string');
    field(v, 'file', what, isString, 'a string');
    field(v, 'sameWeightsAs', what, isString, 'a string');
    field(v, 'heads', what, isNumber, 'a number');
  }
  return c as CacheFamily;
}

/** The cache exports of a decoder family ('gpt2', 'llama'). */
export function findCacheFamily(manifest: ExamplesManifest, family: string): CacheFamily {
  const c = manifest.cache.find((x) => x.family === family);
  if (c === undefined) malformed('cache', `no cache exports for family '${family}'`);
  return c;
}

export function findVariant(family: ExampleFamily, name: string): ExampleVariant {
  const v = family.variants.find((x) => x.name === name);
  if (v === undefined) malformed(family.name, `no variant '${name}'`);
  return v;
}

/** `--shape` flags fixing the sample input's shapes, e.g. ['input_ids=1x16'] (needed when dynamic). */
export function shapeFlags(family: ExampleFamily): string[] {
  return family.inputs.map((t) => `${t.name}=${t.shape.join('x')}`);
}

export interface SampleTensor {
  readonly shape: readonly number[];
  /** Row-major values (int64 inputs are small token ids and 0/1 masks: exact as numbers). */
  readonly values: readonly number[];
}

/** Shape and row-major values of a rectangular nested array of numbers. */
export function flattenNested(value: unknown, what: string): SampleTensor {
  if (!Array.isArray(value)) {
    if (typeof value !== 'number') throw new MarillError('expected a number or a nested array', { what });
    return { shape: [], values: [value] };
  }
  const parts = value.map((v, i) => flattenNested(v, `${what}[${i}]`));
  const inner = parts[0]?.shape ?? [];
  for (const [i, p] of parts.entries()) {
    if (p.shape.join(',') !== inner.join(','))
      throw new MarillError('ragged nested array', { what: `${what}[${i}]` });
  }
  return { shape: [value.length, ...inner], values: parts.flatMap((p) => p.values) };
}

/** The family's input.json, by input name. */
export function readSampleInput(family: ExampleFamily): Record<string, SampleTensor> {
  const file = examplePath(family.inputFile);
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isRecord(parsed))
    throw new MarillError('expected an object from input name to nested arrays', { file });
  const out: Record<string, SampleTensor> = {};
  for (const [name, value] of Object.entries(parsed)) out[name] = flattenNested(value, name);
  return out;
}
