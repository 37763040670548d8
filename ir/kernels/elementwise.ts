/**
 * Elementwise ops with several operands: arithmetic, comparisons, boolean
 * logic, where, and cast. All broadcasting goes through `broadcastOffsets`.
 */
import { MarillError } from '../errors.ts';
import { stringAttr } from '../ops.ts';
import { broadcastShapes } from '../shape-rules.ts';
import type { Tensor } from '../tensor.ts';
import { makeTensor } from '../tensor.ts';
import type { DType, Shape } from '../types.ts';
import { DTYPES, numel } from '../types.ts';
import { broadcastOffsets, selectElements } from './indexing.ts';
import type { Kernel } from './kernel.ts';
import { boolData, f32Data, i64Data, operand } from './kernel.ts';

/** Two operands broadcast to a common shape, each with its offset map (null: same shape). */
interface Broadcast2 {
  readonly a: Tensor;
  readonly b: Tensor;
  readonly shape: Shape;
  readonly n: number;
  readonly aAt: Int32Array | null;
  readonly bAt: Int32Array | null;
}

function broadcast2(op: string, inputs: readonly Tensor[]): Broadcast2 {
  const a = operand(inputs, 0, op);
  const b = operand(inputs, 1, op);
  if (a.dtype !== b.dtype) throw new MarillError(`${op} operand types differ: ${a.dtype} vs ${b.dtype}`);
  const shape = broadcastShapes([a.shape, b.shape]);
  return {
    a,
    b,
    shape,
    n: numel(shape),
    aAt: broadcastOffsets(a.shape, shape),
    bAt: broadcastOffsets(b.shape, shape),
  };
}

// ---- arithmetic -------------------------------------------------------------------------------

interface ArithFns {
  readonly f32: (a: number, b: number) => number;
  readonly i64: (a: bigint, b: bigint) => bigint;
}

function arithF32(p: Broadcast2, f: ArithFns['f32']): Tensor {
  const x = f32Data(p.a);
  const y = f32Data(p.b);
  const out = new Float32Array(p.n);
  const { aAt, bAt } = p;
  if (!aAt && !bAt) for (let i = 0; i < p.n; i++) out[i] = f(x[i]!, y[i]!);
  else for (let i = 0; i < p.n; i++) out[i] = f(x[aAt ? aAt[i]! : i]!, y[bAt ? bAt[i]! : i]!);
  return makeTensor('f32', p.shape, out);
}

function arithI64(p: Broadcast2, f: ArithFns['i64']): Tensor {
  const x = i64Data(p.a);
  const y = i64Data(p.b);
  const out = new BigInt64Array(p.n);
  const { aAt, bAt } = p;
  for (let i = 0; i < p.n; i++) out[i] = BigInt.asIntN(64, f(x[aAt ? aAt[i]! : i]!, y[bAt ? bAt[i]! : i]!));
  return makeTensor('i64', p.shape, out);
}

function arithmetic(op: string, fns: ArithFns): Kernel {
  return (inputs) => {
    const p = broadcast2(op, inputs);
    if (p.a.dtype === 'f32') return [arithF32(p, fns.f32)];
    if (p.a.dtype === 'i64') return [arithI64(p, fns.i64)];
    throw new MarillError(`${op} needs f32 or i64 operands, got ${p.a.dtype}`);
  };
}

/** Integer division truncating toward zero, as C and onnxruntime do. */
function divI64(a: bigint, b: bigint): bigint {
  if (b === 0n) throw new MarillError('integer division by zero');
  return a / b;
}

/** Integer power; a negative exponent gives the truncated reciprocal (0 unless |a| = 1). */
function powI64(a: bigint, b: bigint): bigint {
  if (b >= 0n) return a ** b;
  if (a === 0n) throw new MarillError('integer 0 raised to a negative power');
  if (a === 1n) return 1n;
  if (a === -1n) return b % 2n === 0n ? 1n : -1n;
  return 0n;
}

export const ARITHMETIC = {
  add: arithmetic('add', { f32: (a, b) => a + b, i64: (a, b) => a + b }),
  sub: arithmetic('sub', { f32: (a, b) => a - b, i64: (a, b) => a - b }),
  mul: arithmetic('mul', { f32: (a, b) => a * b, i64: (a, b) => a * b }),
  div: arithmetic('div', { f32: (a, b) => a / b, i64: divI64 }),
  pow: arithmetic('pow', { f32: Math.pow, i64: powI64 }),
  max: arithmetic('max', { f32: Math.max, i64: (a, b) => (a > b ? a : b) }),
  min: arithmetic('min', { f32: Math.min, i64: (a, b) => (a < b ? a : b) }),
} as const satisfies Record<string, Kernel>;

// ---- comparisons and boolean logic ------------------------------------------------------------

type Scalar = number | bigint;

function elementTest(op: string, test: (a: Scalar, b: Scalar) => boolean): Kernel {
  return (inputs) => {
    const p = broadcast2(op, inputs);
    const x = p.a.data;
    const y = p.b.data;
    const { aAt, bAt } = p;
    const out = new Uint8Array(p.n);
    for (let i = 0; i < p.n; i++) out[i] = test(x[aAt ? aAt[i]! : i]!, y[bAt ? bAt[i]! : i]!) ? 1 : 0;
    return [makeTensor('bool', p.shape, out)];
  };
}

function boolOnly(op: string, test: (a: Scalar, b: Scalar) => boolean): Kernel {
  const k = elementTest(op, test);
  return (inputs, attrs, outTypes) => {
    boolData(operand(inputs, 0, op));
    return k(inputs, attrs, outTypes);
  };
}

export const LOGIC = {
  equal: elementTest('equal', (a, b) => a === b),
  less: elementTest('less', (a, b) => a < b),
  greater: elementTest('greater', (a, b) => a > b),
  and: boolOnly('and', (a, b) => a !== 0 && b !== 0),
  or: boolOnly('or', (a, b) => a !== 0 || b !== 0),
} as const satisfies Record<string, Kernel>;

export const where: Kernel = (inputs) => {
  const c = operand(inputs, 0, 'where');
  const x = operand(inputs, 1, 'where');
  const y = operand(inputs, 2, 'where');
  const cond = boolData(c, 'condition');
  if (x.dtype !== y.dtype) throw new MarillError(`where branch types differ: ${x.dtype} vs ${y.dtype}`);
  const shape = broadcastShapes([c.shape, x.shape, y.shape]);
  const at = (s: Shape) => broadcastOffsets(s, shape);
  const data = selectElements(
    x.dtype,
    numel(shape),
    cond,
    at(c.shape),
    x.data,
    at(x.shape),
    y.data,
    at(y.shape),
  );
  return [makeTensor(x.dtype, shape, data)];
};

// ---- cast -------------------------------------------------------------------------------------

function floatToI64(v: number): bigint {
  if (!Number.isFinite(v)) throw new MarillError(`cannot cast ${v} to i64`);
  return BigInt.asIntN(64, BigInt(Math.trunc(v)));
}

function castData(x: Tensor, to: DType): Tensor {
  const n = x.data.length;
  const src = x.data;
  if (to === 'bool') {
    const out = new Uint8Array(n);
    // x != 0, as ONNX Cast: -0 is false, NaN is true (so not JS truthiness).
    for (let i = 0; i < n; i++) out[i] = src[i] === 0 || src[i] === 0n ? 0 : 1;
    return makeTensor('bool', x.shape, out);
  }
  if (to === 'f32') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = Number(src[i]!);
    return makeTensor('f32', x.shape, out);
  }
  const out = new BigInt64Array(n);
  if (src instanceof Float32Array) for (let i = 0; i < n; i++) out[i] = floatToI64(src[i]!);
  else for (let i = 0; i < n; i++) out[i] = BigInt(src[i]!);
  return makeTensor('i64', x.shape, out);
}

/** f32 -> i64 truncates toward zero (NaN and infinities are an error); x != 0 -> bool; bool -> 0/1. */
export const cast: Kernel = (inputs, attrs) => {
  const to = stringAttr(attrs, 'to');
  if (!(DTYPES as readonly string[]).includes(to)) throw new MarillError(`cast to unknown type '${to}'`);
  const x = operand(inputs, 0, 'cast');
  if (x.dtype === to) return [x];
  return [castData(x, to as DType)];
};
