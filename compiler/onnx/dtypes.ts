/**
 * ONNX element types (TensorProto.DataType) and how each maps onto the three
 * IR dtypes. The IR keeps only f32, i64 and bool: other float types widen or
 * narrow to f32, every integer type widens to i64. The original ONNX name is
 * kept beside converted tensors so reports can say what was converted.
 */
import type { DType } from '../../ir/types.ts';

/** The ONNX element types by their TensorProto.DataType number. */
export const ONNX_DTYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'float',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'double',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
};

export type OnnxDtypeName =
  | 'float'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'bool'
  | 'float16'
  | 'double'
  | 'uint32'
  | 'uint64'
  | 'bfloat16';

const CODES: Readonly<Record<OnnxDtypeName, number>> = {
  float: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  double: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
};

const IR_DTYPE: Readonly<Record<OnnxDtypeName, DType>> = {
  float: 'f32',
  float16: 'f32',
  bfloat16: 'f32',
  double: 'f32',
  uint8: 'i64',
  int8: 'i64',
  uint16: 'i64',
  int16: 'i64',
  int32: 'i64',
  int64: 'i64',
  uint32: 'i64',
  uint64: 'i64',
  bool: 'bool',
};

export function onnxDtypeName(code: number): string {
  return ONNX_DTYPE_NAMES[code] ?? `dtype #${code}`;
}

export function onnxDtypeCode(name: OnnxDtypeName): number {
  return CODES[name];
}

export function isSupportedOnnxDtype(name: string): name is OnnxDtypeName {
  return Object.prototype.hasOwnProperty.call(CODES, name);
}

/** The IR dtype an ONNX element type is represented by, or undefined (string, complex). */
export function irDtypeOfCode(code: number): DType | undefined {
  const name = ONNX_DTYPE_NAMES[code];
  return name !== undefined && isSupportedOnnxDtype(name) ? IR_DTYPE[name] : undefined;
}

export function irDtypeOf(name: OnnxDtypeName): DType {
  return IR_DTYPE[name];
}

/** The ONNX element type that holds an IR dtype without conversion. */
export function onnxNameOfIrDtype(dtype: DType): OnnxDtypeName {
  return dtype === 'f32' ? 'float' : dtype === 'i64' ? 'int64' : 'bool';
}

/** Bytes per element in raw_data. */
export function onnxElementSize(name: OnnxDtypeName): number {
  switch (name) {
    case 'uint8':
    case 'int8':
    case 'bool':
      return 1;
    case 'uint16':
    case 'int16':
    case 'float16':
    case 'bfloat16':
      return 2;
    case 'float':
    case 'int32':
    case 'uint32':
      return 4;
    case 'double':
    case 'int64':
    case 'uint64':
      return 8;
  }
}
