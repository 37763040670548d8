/**
 * Writing ONNX models from TypeScript (onnx-proto): small test models, the
 * benchmark model generator and, later, the client bundle. Specs are plain
 * data; `makeModel` turns them into a ModelProto, `encodeOnnx` into bytes,
 * `writeOnnx` into a file (optionally moving large initializers to an
 * external-data file).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNs } from 'onnx-proto';
import type { OnnxDtypeName } from './dtypes.ts';
import { onnxDtypeCode, onnxElementSize } from './dtypes.ts';

const { onnx } = onnxProto;

export interface ValueSpec {
  readonly name: string;
  readonly type: OnnxDtypeName;
  /** Dimensions: a size, a symbolic name, or null (unknown). Absent: unknown rank. */
  readonly shape?: readonly (number | string | null)[];
}

export interface TensorSpec {
  readonly name?: string;
  readonly type: OnnxDtypeName;
  readonly dims: readonly number[];
  /** Element values (floats for float types, integers otherwise, 0/1 for bool). */
  readonly values: ArrayLike<number> | readonly bigint[];
  /** 'raw' (raw_data, the default) or 'typed' (float_data, int32_data, int64_data, ...). */
  readonly encoding?: 'raw' | 'typed';
}

/**
 * Attribute values. A JS integer is written as INT and a list of integers as INTS;
 * use `{ float }` / `{ floats }` for float attributes whose values happen to be integral.
 */
export type AttrInput =
  | number
  | string
  | readonly number[]
  | readonly string[]
  | TensorSpec
  | { readonly float: number }
  | { readonly floats: readonly number[] };

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly domain?: string;
  readonly attrs?: Readonly<Record<string, AttrInput>>;
}

export interface ModelSpec {
  readonly opset: number;
  readonly irVersion?: number;
  readonly graphName?: string;
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly initializers?: readonly (TensorSpec & { readonly name: string })[];
  readonly nodes: readonly NodeSpec[];
  /** Opsets of other domains (e.g. com.microsoft). */
  readonly extraOpsets?: readonly { readonly domain: string; readonly version: number }[];
}

/** IR version paired with each opset by the ONNX release that introduced it (onnx/helper.py table). */
function irVersionFor(opset: number): number {
  if (opset <= 8) return 4;
  if (opset <= 10) return 5;
  if (opset <= 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  return 9;
}

export function makeModel(spec: ModelSpec): OnnxNs.ModelProto {
  return onnx.ModelProto.create({
    irVersion: spec.irVersion ?? irVersionFor(spec.opset),
    producerName: 'marillc',
    opsetImport: [
      { domain: '', version: spec.opset },
      ...(spec.extraOpsets ?? []).map((o) => ({ domain: o.domain, version: o.version })),
    ],
    graph: makeGraph(spec),
  });
}

export function makeGraph(spec: Omit<ModelSpec, 'opset' | 'irVersion' | 'extraOpsets'>): OnnxNs.GraphProto {
  return onnx.GraphProto.create({
    name: spec.graphName ?? 'main_graph',
    input: spec.inputs.map(valueInfoProto),
    output: spec.outputs.map(valueInfoProto),
    initializer: (spec.initializers ?? []).map((t) => tensorProto(t)),
    node: spec.nodes.map((n, i) => nodeProto(n, i)),
  });
}

export function encodeOnnx(model: OnnxNs.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

export interface WriteOptions {
  /** Move initializers of at least `minBytes` (default 1024) into this file, beside the model. */
  readonly externalData?: { readonly location: string; readonly minBytes?: number };
}

/** Writes the model; with `externalData`, large initializers go to the data file (the model is changed in place). */
export function writeOnnx(path: string, model: OnnxNs.ModelProto, opts: WriteOptions = {}): void {
  if (opts.externalData)
    moveToExternalData(model, join(dirname(path), opts.externalData.location), opts.externalData);
  writeFileSync(path, encodeOnnx(model));
}

function moveToExternalData(
  model: OnnxNs.ModelProto,
  dataPath: string,
  ext: NonNullable<WriteOptions['externalData']>,
): void {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of model.graph?.initializer ?? []) {
    const raw = t.rawData;
    if (!raw || raw.byteLength < (ext.minBytes ?? 1024)) continue;
    chunks.push(raw);
    t.externalData = [
      { key: 'location', value: ext.location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.byteLength) },
    ];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.rawData = new Uint8Array(0);
    offset += raw.byteLength;
  }
  writeFileSync(dataPath, Buffer.concat(chunks));
}

// ---- protos -------------------------------------------------------------------------------------

export function valueInfoProto(v: ValueSpec): OnnxNs.ValueInfoProto {
  const shape = v.shape
    ? {
        dim: v.shape.map((d) =>
          typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {},
        ),
      }
    : undefined;
  return onnx.ValueInfoProto.create({
    name: v.name,
    type: { tensorType: { elemType: onnxDtypeCode(v.type), ...(shape ? { shape } : {}) } },
  });
}

export function nodeProto(n: NodeSpec, index = 0): OnnxNs.NodeProto {
  return onnx.NodeProto.create({
    name: n.name ?? `${n.op}_${index}`,
    opType: n.op,
    domain: n.domain ?? '',
    input: [...n.inputs],
    output: [...n.outputs],
    attribute: Object.entries(n.attrs ?? {}).map(([name, v]) => attributeProto(name, v)),
  });
}

const A = onnx.AttributeProto.AttributeType;

export function attributeProto(name: string, v: AttrInput): OnnxNs.AttributeProto {
  const make = (fields: OnnxNs.IAttributeProto) => onnx.AttributeProto.create({ name, ...fields });
  if (typeof v === 'number')
    return Number.isInteger(v) ? make({ type: A.INT, i: v }) : make({ type: A.FLOAT, f: v });
  if (typeof v === 'string') return make({ type: A.STRING, s: Buffer.from(v, 'utf8') });
  if (isStringList(v)) return make({ type: A.STRINGS, strings: v.map((s) => Buffer.from(s, 'utf8')) });
  if (isNumberList(v))
    return v.every((x) => Number.isInteger(x))
      ? make({ type: A.INTS, ints: [...v] })
      : make({ type: A.FLOATS, floats: [...v] });
  if ('float' in v) return make({ type: A.FLOAT, f: v.float });
  if ('floats' in v) return make({ type: A.FLOATS, floats: [...v.floats] });
  return make({ type: A.TENSOR, t: tensorProto(v) });
}

function isStringList(v: AttrInput): v is readonly string[] {
  return Array.isArray(v) && v.length > 0 && typeof v[0] === 'string';
}

function isNumberList(v: AttrInput): v is readonly number[] {
  return Array.isArray(v);
}

export function tensorProto(spec: TensorSpec): OnnxNs.TensorProto {
  const base = { name: spec.name ?? '', dims: [...spec.dims], dataType: onnxDtypeCode(spec.type) };
  if ((spec.encoding ?? 'raw') === 'raw')
    return onnx.TensorProto.create({ ...base, rawData: rawBytes(spec) });
  return onnx.TensorProto.create({ ...base, ...typedFields(spec) });
}

/** Little-endian raw_data bytes of a spec. */
export function rawBytes(spec: TensorSpec): Uint8Array {
  const n = spec.values.length;
  const out = new Uint8Array(n * onnxElementSize(spec.type));
  const view = new DataView(out.buffer);
  const num = (i: number) => Number(spec.values[i]!);
  const big = (i: number) => BigInt(spec.values[i]!);
  for (let i = 0; i < n; i++) {
    switch (spec.type) {
      case 'float':
        view.setFloat32(4 * i, num(i), true);
        break;
      case 'double':
        view.setFloat64(8 * i, num(i), true);
        break;
      case 'float16':
        view.setUint16(2 * i, floatToHalf(num(i)), true);
        break;
      case 'bfloat16':
        view.setUint16(2 * i, floatToBfloat16(num(i)), true);
        break;
      case 'int64':
      case 'uint64':
        view.setBigInt64(8 * i, BigInt.asIntN(64, big(i)), true);
        break;
      case 'int32':
      case 'uint32':
        view.setInt32(4 * i, num(i) | 0, true);
        break;
      case 'int16':
      case 'uint16':
        view.setInt16(2 * i, num(i), true);
        break;
      case 'int8':
      case 'uint8':
        view.setInt8(i, (num(i) << 24) >> 24);
        break;
      case 'bool':
        view.setUint8(i, num(i) ? 1 : 0);
        break;
    }
  }
  return out;
}

function typedFields(spec: TensorSpec): OnnxNs.ITensorProto {
  const nums = Array.from({ length: spec.values.length }, (_, i) => Number(spec.values[i]!));
  const bigs = () => Array.from({ length: spec.values.length }, (_, i) => BigInt(spec.values[i]!).toString());
  switch (spec.type) {
    case 'float':
      return { floatData: nums };
    case 'double':
      return { doubleData: nums };
    case 'float16':
      return { int32Data: nums.map(floatToHalf) };
    case 'bfloat16':
      return { int32Data: nums.map(floatToBfloat16) };
    case 'int64':
      // protobufjs accepts decimal strings for int64 fields, keeping values beyond 2^53 exact.
      return { int64Data: bigs() as unknown as number[] };
    case 'uint32':
    case 'uint64':
      return { uint64Data: bigs() as unknown as number[] };
    case 'bool':
      return { int32Data: nums.map((x) => (x ? 1 : 0)) };
    default:
      return { int32Data: nums };
  }
}

// ---- float conversions --------------------------------------------------------------------------

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** number -> IEEE half bits, rounding to nearest even (values beyond the half range become infinity). */
export function floatToHalf(x: number): number {
  F32[0] = x;
  const bits = U32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  let half = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) {
    half++;
    if (half === 0x400) {
      half = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | half;
}

/** number -> bfloat16 bits, rounding to nearest even. */
export function floatToBfloat16(x: number): number {
  F32[0] = x;
  const bits = U32[0]!;
  if (Number.isNaN(x)) return (bits >>> 16) | 0x40;
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}
