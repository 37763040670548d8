/**
 * TensorProto -> IR tensor. ONNX stores a tensor's elements in one of three
 * places: `raw_data` (little-endian bytes), a typed repeated field
 * (float_data, int32_data, int64_data, double_data, uint64_data; which one
 * depends on the element type), or an external file. All three give the same
 * IR tensor. Element types the IR lacks are converted (float16/bfloat16/double
 * -> f32, any integer -> i64).
 *
 * Memory: a float32 or int64 raw_data whose bytes are suitably aligned becomes
 * a view into the decoded file buffer; otherwise it is copied exactly once.
 * This host is assumed little-endian, as ONNX raw_data is.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Location } from '../../ir/errors.ts';
import type { TensorData } from '../../ir/tensor.ts';
import { makeTensor } from '../../ir/tensor.ts';
import { numel } from '../../ir/types.ts';
import type { OnnxDtypeName } from './dtypes.ts';
import { irDtypeOf, isSupportedOnnxDtype, onnxDtypeName, onnxElementSize } from './dtypes.ts';
import type { OnnxTensor } from './model.ts';

/** A protobuf int64 as protobufjs hands it over: a number, or a Long when the `long` package is present. */
export type Int64Like = number | { readonly low: number; readonly high: number };

/** The fields of a TensorProto this module reads (structurally typed, so the protobuf classes fit). */
export interface TensorProtoLike {
  readonly name?: string | null;
  readonly dims?: readonly Int64Like[] | null;
  readonly dataType?: number | null;
  readonly rawData?: Uint8Array | null;
  readonly floatData?: readonly number[] | null;
  readonly int32Data?: readonly number[] | null;
  readonly int64Data?: readonly Int64Like[] | null;
  readonly doubleData?: readonly number[] | null;
  readonly uint64Data?: readonly Int64Like[] | null;
  readonly dataLocation?: number | null;
  readonly externalData?: readonly { readonly key?: string | null; readonly value?: string | null }[] | null;
}

/** Reads the bytes of an externally stored tensor (see external-data.ts). */
export type ExternalReader = (
  tensorName: string,
  entries: ReadonlyMap<string, string>,
  byteLength: number,
) => Uint8Array;

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/** Exact int64 value of a protobuf int64 (a plain number above 2^53 is clamped to the int64 range). */
export function int64ToBigInt(v: Int64Like): bigint {
  if (typeof v === 'number') {
    // protobufjs without `long` rounds INT64_MAX up to 2^63; keep such values in range.
    const b = BigInt(Math.trunc(v));
    return b > INT64_MAX ? INT64_MAX : b < INT64_MIN ? INT64_MIN : b;
  }
  return BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0));
}

/** A protobuf int64 as a JS number (exact below 2^53; INT64_MAX-style sentinels stay huge). */
export function int64ToNumber(v: Int64Like): number {
  return typeof v === 'number' ? v : Number(int64ToBigInt(v));
}

const DATA_LOCATION_EXTERNAL = 1;

export interface DecodeOptions {
  /** Reads external data; without it an external tensor is an error. */
  readonly readExternal?: ExternalReader;
  /**
   * The caller owns the buffer `rawData` views into and never reads it again as
   * protobuf: an unaligned float32 payload may then be moved back over its own
   * field header (tag and length, already decoded) to become aligned, instead of
   * being copied. This keeps loading a large model at about its file size.
   */
  readonly alignInPlace?: boolean;
}

export function decodeTensorProto(t: TensorProtoLike, loc: Location, opts: DecodeOptions = {}): OnnxTensor {
  const { readExternal } = opts;
  const name = t.name ?? '';
  const sourceType = onnxDtypeName(t.dataType ?? 0);
  if (!isSupportedOnnxDtype(sourceType))
    throw new MarillError(
      `tensor '${name}' has element type '${sourceType}', which marillc does not support`,
      loc,
    );
  const shape = (t.dims ?? []).map(int64ToNumber);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0))
    throw new MarillError(`tensor '${name}' has invalid dimensions [${shape.join(',')}]`, loc);
  const n = numel(shape);
  const byteLength = n * onnxElementSize(sourceType);
  let data: TensorData;
  if (t.dataLocation === DATA_LOCATION_EXTERNAL) {
    if (!readExternal)
      throw new MarillError(`tensor '${name}' refers to external data, which is not allowed here`, loc);
    const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    data = fromBytes(sourceType, readExternal(name, entries, byteLength), n);
  } else if (t.rawData && t.rawData.byteLength > 0) {
    if (t.rawData.byteLength !== byteLength)
      throw new MarillError(
        `tensor '${name}' has ${t.rawData.byteLength} bytes of raw data; ${sourceType}[${shape.join(',')}] needs ${byteLength}`,
        loc,
      );
    data = fromBytes(sourceType, t.rawData, n, opts.alignInPlace ?? false);
  } else {
    data = fromTypedField(sourceType, t, n, name, loc);
  }
  return { tensor: makeTensor(irDtypeOf(sourceType), shape, data), sourceType };
}

// ---- raw bytes ----------------------------------------------------------------------------------

function fromBytes(type: OnnxDtypeName, bytes: Uint8Array, n: number, alignInPlace = false): TensorData {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case 'float': {
      const shift = bytes.byteOffset % 4;
      if (shift === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
      if (!alignInPlace || shift > rawFieldHeaderLength(bytes.byteLength))
        return new Float32Array(copyBytes(bytes), 0, n);
      const start = bytes.byteOffset - shift;
      new Uint8Array(bytes.buffer).copyWithin(start, bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      return new Float32Array(bytes.buffer, start, n);
    }
    case 'int64':
    case 'uint64': // same bits; values >= 2^63 wrap, as in a C cast
      return bytes.byteOffset % 8 === 0
        ? new BigInt64Array(bytes.buffer, bytes.byteOffset, n)
        : new BigInt64Array(copyBytes(bytes), 0, n);
    case 'double':
      return floats(n, (i) => view.getFloat64(8 * i, true));
    case 'float16':
      return floats(n, (i) => halfToFloat(view.getUint16(2 * i, true)));
    case 'bfloat16':
      return floats(n, (i) => bfloat16ToFloat(view.getUint16(2 * i, true)));
    case 'int32':
      return ints(n, (i) => view.getInt32(4 * i, true));
    case 'uint32':
      return ints(n, (i) => view.getUint32(4 * i, true));
    case 'int16':
      return ints(n, (i) => view.getInt16(2 * i, true));
    case 'uint16':
      return ints(n, (i) => view.getUint16(2 * i, true));
    case 'int8':
      return ints(n, (i) => view.getInt8(i));
    case 'uint8':
      return ints(n, (i) => view.getUint8(i));
    case 'bool':
      return bools(n, (i) => bytes[i]!);
  }
}

/** Bytes of the `raw_data` tag (one byte) and length varint that precede a payload in the wire format. */
function rawFieldHeaderLength(payloadBytes: number): number {
  let n = 2;
  for (let v = payloadBytes; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return n;
}

/** A fresh, aligned copy (note: Buffer#slice would be a view, not a copy). */
function copyBytes(bytes: Uint8Array): ArrayBuffer {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out.buffer;
}

// ---- typed fields -------------------------------------------------------------------------------

function fromTypedField(
  type: OnnxDtypeName,
  t: TensorProtoLike,
  n: number,
  name: string,
  loc: Location,
): TensorData {
  const field = typedFieldOf(type);
  const values = (t[field] ?? []) as readonly (number | Int64Like)[];
  if (values.length !== n)
    throw new MarillError(
      `tensor '${name}' has ${values.length} values in ${field}; its shape needs ${n}`,
      loc,
    );
  const num = (i: number) => values[i] as number;
  switch (type) {
    case 'float':
    case 'double':
      return floats(n, num);
    case 'float16':
      return floats(n, (i) => halfToFloat(num(i)));
    case 'bfloat16':
      return floats(n, (i) => bfloat16ToFloat(num(i)));
    case 'int64':
    case 'uint32':
    case 'uint64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt.asIntN(64, int64ToBigInt(values[i] as Int64Like));
      return out;
    }
    case 'bool':
      return bools(n, num);
    default:
      return ints(n, num);
  }
}

type TypedField = 'floatData' | 'int32Data' | 'int64Data' | 'doubleData' | 'uint64Data';

/** Which repeated field holds each element type (onnx.proto, TensorProto). */
function typedFieldOf(type: OnnxDtypeName): TypedField {
  switch (type) {
    case 'float':
      return 'floatData';
    case 'double':
      return 'doubleData';
    case 'int64':
      return 'int64Data';
    case 'uint32':
    case 'uint64':
      return 'uint64Data';
    default: // int32, int16, int8, uint16, uint8, bool, float16 and bfloat16 (as bit patterns)
      return 'int32Data';
  }
}

// ---- element conversion -------------------------------------------------------------------------

function floats(n: number, at: (i: number) => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = at(i);
  return out;
}

function ints(n: number, at: (i: number) => number): BigInt64Array {
  const out = new BigInt64Array(n);
  for (let i = 0; i < n; i++) out[i] = BigInt(at(i));
  return out;
}

function bools(n: number, at: (i: number) => number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = at(i) !== 0 ? 1 : 0;
  return out;
}

/** IEEE 754 half-precision bits -> number. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 bits are the top half of a float32. */
export function bfloat16ToFloat(bits: number): number {
  WORD_BITS[0] = (bits & 0xffff) << 16;
  return WORD_FLOAT[0]!;
}

const WORD_BITS = new Uint32Array(1);
const WORD_FLOAT = new Float32Array(WORD_BITS.buffer);
