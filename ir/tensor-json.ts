/**
 * Tensors as JSON, the format of `--input IN.json` and `--out OUT.json`: an
 * object from tensor name to nested arrays (row-major; a scalar is a bare
 * value).
 *
 * Element encoding, the same both ways:
 *   f32   numbers; the non-finite values, which JSON cannot hold, as the
 *         strings "NaN", "Infinity" and "-Infinity".
 *   i64   integers as numbers; beyond +-(2^53 - 1), where a JSON number would
 *         lose digits, as decimal strings ("9007199254740993").
 *   bool  written as true/false; read from true/false or 0/1.
 *
 * Every problem is a one-line MarillError naming the file and the tensor.
 */
import { MarillError } from './errors.ts';
import type { Location } from './errors.ts';
import type { Graph } from './graph.ts';
import type { Tensor } from './tensor.ts';
import { makeTensor } from './tensor.ts';
import type { DType, Shape, TensorType } from './types.ts';
import { formatShape, formatType, numel, shapeEquals } from './types.ts';

type Leaf = unknown;

function where(name: string, file: string | undefined): Location {
  return file !== undefined ? { file, what: `tensor '${name}'` } : { what: `tensor '${name}'` };
}

function pathText(path: readonly number[]): string {
  return path.map((i) => `[${i}]`).join('');
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v);
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'an array' : 'an object';
}

// ---- structure: nested arrays -> shape + leaves -----------------------------------------------

/** The shape the nested arrays claim, read along their first elements. */
export function claimedShape(value: unknown): number[] {
  const shape: number[] = [];
  let v = value;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

/** Leaves in row-major order; throws when the nesting is ragged. */
function flatten(value: unknown, shape: Shape, fail: (msg: string) => never): Leaf[] {
  const leaves: Leaf[] = [];
  const walk = (v: unknown, depth: number, path: number[]): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) fail(`is ragged: element ${pathText(path)} is an array, its siblings are not`);
      leaves.push(v);
      return;
    }
    if (!Array.isArray(v)) fail(`is ragged: element ${pathText(path)} is ${describe(v)}, expected an array`);
    if (v.length !== shape[depth])
      fail(
        `is ragged: element ${pathText(path)} has ${v.length} entries, expected ${shape[depth]} like the first`,
      );
    v.forEach((item, i) => walk(item, depth + 1, [...path, i]));
  };
  walk(value, 0, []);
  return leaves;
}

/**
 * Whether the claimed shape is acceptable for the expected one. An empty
 * tensor's nesting stops at its first zero dimension ([] for [0,3]), so
 * there the claimed shape only has to match up to that zero.
 */
function shapeFits(claimed: Shape, expected: Shape): boolean {
  if (shapeEquals(claimed, expected)) return true;
  const zero = expected.indexOf(0);
  return zero >= 0 && claimed.length === zero + 1 && shapeEquals(claimed, expected.slice(0, zero + 1));
}

// ---- elements -----------------------------------------------------------------------------------

const NON_FINITE: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;

type ElementReader<T> = (v: unknown) => T | string;

/** Each reader returns the element, or a string saying what is wrong with it. */
const readF32: ElementReader<number> = (v) => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v in NON_FINITE) return NON_FINITE[v]!;
  return 'not a number (f32 elements are numbers, or "NaN", "Infinity", "-Infinity")';
};

const readI64: ElementReader<bigint> = (v) => {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return 'not an integer (i64 elements are integers)';
    if (!Number.isSafeInteger(v))
      return 'an integer too large for a JSON number to hold exactly; write it as a decimal string';
    return BigInt(v);
  }
  if (typeof v === 'string' && /^-?\d+$/.test(v)) {
    const b = BigInt(v);
    return b < I64_MIN || b > I64_MAX ? 'outside the i64 range' : b;
  }
  return 'not an integer (i64 elements are integers)';
};

const readBool: ElementReader<number> = (v) => {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === 0 || v === 1) return v;
  return 'not a boolean (bool elements are true/false or 0/1)';
};

function convert<T>(
  leaves: readonly Leaf[],
  shape: Shape,
  read: ElementReader<T>,
  store: (i: number, x: T) => void,
  fail: (msg: string) => never,
): void {
  leaves.forEach((leaf, i) => {
    const r = read(leaf);
    if (typeof r === 'string') fail(`element ${pathText(unflatIndex(i, shape))} is ${describe(leaf)}: ${r}`);
    store(i, r);
  });
}

function unflatIndex(i: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

function fromLeaves(
  dtype: DType,
  shape: Shape,
  leaves: readonly Leaf[],
  fail: (msg: string) => never,
): Tensor {
  const t = makeTensor(dtype, shape);
  const d = t.data;
  if (d instanceof Float32Array) convert(leaves, shape, readF32, (i, x) => (d[i] = x), fail);
  else if (d instanceof BigInt64Array) convert(leaves, shape, readI64, (i, x) => (d[i] = x), fail);
  else convert(leaves, shape, readBool, (i, x) => (d[i] = x), fail);
  return t;
}

// ---- public API ---------------------------------------------------------------------------------

/** A tensor of the expected type from nested arrays; MarillError naming the tensor on any mismatch. */
export function tensorFromJson(name: string, value: unknown, expected: TensorType, file?: string): Tensor {
  const fail = (msg: string): never => {
    throw new MarillError(msg, where(name, file));
  };
  const claimed = claimedShape(value);
  const leaves = flatten(value, claimed, fail);
  if (!shapeFits(claimed, expected.shape))
    fail(`has shape ${formatShape(claimed)}, the model needs ${formatType(expected)}`);
  return fromLeaves(expected.dtype, expected.shape, numel(expected.shape) === 0 ? [] : leaves, fail);
}

function jsonElement(t: Tensor, i: number): unknown {
  const v = t.data[i]!;
  if (typeof v === 'bigint') return v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v.toString();
  if (t.dtype === 'bool') return v !== 0;
  return Number.isFinite(v) ? v : String(v);
}

/** Nested arrays (a bare value for a scalar), in the encoding described at the top of this file. */
export function tensorToJson(t: Tensor): unknown {
  let at = 0;
  const build = (depth: number): unknown => {
    if (depth === t.shape.length) return jsonElement(t, at++);
    return Array.from({ length: t.shape[depth]! }, () => build(depth + 1));
  };
  return build(0);
}

/**
 * The graph's inputs from a parsed input JSON: every graph input must be
 * present with its shape and dtype, and no other key may appear.
 */
export function readInputs(g: Graph, json: unknown, file: string): Map<string, Tensor> {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new MarillError(`expected an object from tensor name to nested arrays, got ${describe(json)}`, {
      file,
    });
  const given = json as Record<string, unknown>;
  const out = new Map<string, Tensor>();
  for (const name of g.inputs) {
    const type = g.values.get(name)?.type;
    if (!type) throw new MarillError('has no declared type in the model', where(name, file));
    if (!Object.prototype.hasOwnProperty.call(given, name))
      throw new MarillError(
        `is missing from the input (the model needs ${formatType(type)})`,
        where(name, file),
      );
    out.set(name, tensorFromJson(name, given[name], type, file));
  }
  const known = new Set(g.inputs);
  for (const key of Object.keys(given))
    if (!known.has(key))
      throw new MarillError(
        `is not an input of the model (its inputs: ${g.inputs.join(', ') || 'none'})`,
        where(key, file),
      );
  return out;
}
