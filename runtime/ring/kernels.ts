/**
 * Ring arithmetic over Z_2^64 on BigInt64Array (two's complement), run by the
 * WebAssembly kernels of ./kernels-wasm.ts. No BigInt arithmetic happens per
 * element: JavaScript only copies typed arrays in and out of kernel memory.
 *
 * Every function returns a new array unless an `out` array is given (which may
 * alias an operand). Shapes are the caller's business: these are flat kernels
 * with explicit sizes; broadcasting is done by the callers (./tensor-ops.ts).
 */
import { MarillError } from '../../ir/errors.ts';
import { KC, MR, NR } from './kernels-wasm.ts';
import { gemmTwoThreads, useHelperThread } from './parallel.ts';
import { arena, putI64, scoped, takeI64, uninitializedRing, wasm } from './wasm-runtime.ts';

/** A flat array of ring elements. */
export type Ring = BigInt64Array;

function sameLength(a: Ring, b: Ring, what: string): void {
  if (a.length !== b.length)
    throw new MarillError(`${what}: operand lengths differ (${a.length} vs ${b.length})`);
}

type BinaryKernel = 'add' | 'sub' | 'mul' | 'xor';

function binary(kernel: BinaryKernel, a: Ring, b: Ring, out?: Ring): Ring {
  sameLength(a, b, `ring ${kernel}`);
  const n = a.length;
  return scoped(() => {
    const pa = putI64(a);
    const pb = putI64(b);
    wasm().k[kernel](pa, pa, pb, n);
    return takeI64(pa, n, out);
  });
}

type ScalarKernel = 'add_scalar' | 'mul_scalar' | 'and_scalar' | 'shr_s' | 'shr_u' | 'shl';

function withScalar(kernel: ScalarKernel, a: Ring, s: bigint, out?: Ring): Ring {
  const n = a.length;
  return scoped(() => {
    const pa = putI64(a);
    wasm().k[kernel](pa, pa, BigInt.asIntN(64, s), n);
    return takeI64(pa, n, out);
  });
}

export const ringAdd = (a: Ring, b: Ring, out?: Ring): Ring => binary('add', a, b, out);
export const ringSub = (a: Ring, b: Ring, out?: Ring): Ring => binary('sub', a, b, out);
/** Elementwise product mod 2^64 (no fixed-point rescaling). */
export const ringMul = (a: Ring, b: Ring, out?: Ring): Ring => binary('mul', a, b, out);
export const ringXor = (a: Ring, b: Ring, out?: Ring): Ring => binary('xor', a, b, out);

export function ringNeg(a: Ring, out?: Ring): Ring {
  const n = a.length;
  return scoped(() => {
    const pa = putI64(a);
    wasm().k.neg(pa, pa, n);
    return takeI64(pa, n, out);
  });
}

export const ringAddScalar = (a: Ring, s: bigint, out?: Ring): Ring => withScalar('add_scalar', a, s, out);
export const ringMulScalar = (a: Ring, s: bigint, out?: Ring): Ring => withScalar('mul_scalar', a, s, out);
export const ringAndScalar = (a: Ring, s: bigint, out?: Ring): Ring => withScalar('and_scalar', a, s, out);

function checkShift(bits: number): bigint {
  if (!Number.isInteger(bits) || bits < 0 || bits > 63)
    throw new MarillError(`shift by ${bits} bits is out of range`);
  return BigInt(bits);
}

/** Arithmetic (sign-extending) shift right: floor(a / 2^bits) for signed a. */
export const ringShrArith = (a: Ring, bits: number, out?: Ring): Ring =>
  withScalar('shr_s', a, checkShift(bits), out);
/** Logical shift right: floor(a / 2^bits) for a read as unsigned. */
export const ringShrLogical = (a: Ring, bits: number, out?: Ring): Ring =>
  withScalar('shr_u', a, checkShift(bits), out);
export const ringShl = (a: Ring, bits: number, out?: Ring): Ring =>
  withScalar('shl', a, checkShift(bits), out);

/** The most significant bit of each element (1 for negative), as ring 0/1. */
export const ringMsb = (a: Ring, out?: Ring): Ring => ringShrLogical(a, 63, out);

/** Bit `i` of each element, as ring 0/1. */
export function ringBit(a: Ring, i: number, out?: Ring): Ring {
  return ringAndScalar(ringShrLogical(a, i), 1n, out);
}

// ---- products and reductions ----------------------------------------------------------------

function checkMatmul(a: Ring, b: Ring, m: number, k: number, n: number): void {
  if (a.length !== m * k || b.length !== k * n)
    throw new MarillError(
      `ring matmul: operands have ${a.length} and ${b.length} elements, shapes need ${m * k} and ${k * n}`,
    );
}

/**
 * The padded product of packed panels at ap/bp into fresh zeroed arena space;
 * returns its offset. Large products split rows with the helper thread.
 */
function gemmPacked(ap: number, bp: number, m: number, k: number, n: number): number {
  const k32 = wasm().k;
  const mPanels = Math.ceil(m / MR);
  const nPanels = Math.ceil(n / NR);
  const cWords = mPanels * MR * nPanels * NR;
  const cp = arena.alloc(cWords * 8);
  k32.zero(cp, cWords);
  if (mPanels >= 2 && useHelperThread(m * k * n)) gemmTwoThreads(cp, ap, bp, k, nPanels, mPanels);
  else k32.gemm_packed(cp, ap, bp, k, nPanels, 0, mPanels);
  return cp;
}

function packB(b: Ring, k: number, n: number): number {
  const pb = putI64(b);
  const bp = arena.alloc(Math.ceil(n / NR) * NR * k * 8);
  wasm().k.pack_b(bp, pb, k, n);
  return bp;
}

function packA(a: Ring, m: number, k: number): number {
  const pa = putI64(a);
  const ap = arena.alloc(Math.ceil(m / MR) * MR * k * 8);
  wasm().k.pack_a(ap, pa, m, k);
  return ap;
}

function unpack(cp: number, m: number, n: number, out: Ring, outOffset: number): void {
  const dst = arena.alloc(m * n * 8);
  wasm().k.unpack_c(dst, cp, m, n, Math.ceil(n / NR) * NR);
  out.set(new BigInt64Array(arena.bytes(), dst, m * n), outOffset);
}

/** Row-major product (m x k) by (k x n) mod 2^64. */
export function ringMatmul(a: Ring, b: Ring, m: number, k: number, n: number): Ring {
  checkMatmul(a, b, m, k, n);
  const out = uninitializedRing(m * n);
  scoped(() => {
    const bp = packB(b, k, n);
    const ap = packA(a, m, k);
    unpack(gemmPacked(ap, bp, m, k, n), m, n, out, 0);
  });
  return out;
}

/**
 * `batch` products (m x k) by (k x n). An operand with batch stride 0 is
 * shared by every product (a weight broadcast over the batch) and packed once.
 */
export function ringMatmulBatched(
  a: Ring,
  b: Ring,
  batch: number,
  m: number,
  k: number,
  n: number,
  strides: { a: number; b: number } = { a: m * k, b: k * n },
): Ring {
  // Every product's block is written by unpack (batch 0: nothing to write).
  const out = uninitializedRing(batch * m * n);
  const needA = (batch - 1) * strides.a + m * k;
  const needB = (batch - 1) * strides.b + k * n;
  if (batch > 0 && (a.length < needA || b.length < needB))
    throw new MarillError(
      `ring batched matmul: operands too short for ${batch} products of ${m}x${k} by ${k}x${n}`,
    );
  scoped(() => {
    const sharedB = strides.b === 0 ? packB(b.subarray(0, k * n), k, n) : -1;
    for (let t = 0; t < batch; t++) {
      const mark = arena.mark();
      const bp = sharedB >= 0 ? sharedB : packB(b.subarray(t * strides.b, t * strides.b + k * n), k, n);
      const ap = packA(a.subarray(t * strides.a, t * strides.a + m * k), m, k);
      unpack(gemmPacked(ap, bp, m, k, n), m, n, out, t * m * n);
      arena.release(mark);
    }
  });
  return out;
}

/** Sums the middle axis of an (outer, len, inner) array: result (outer, inner). */
export function ringReduceMiddle(a: Ring, outer: number, len: number, inner: number): Ring {
  if (a.length !== outer * len * inner)
    throw new MarillError(`ring reduce: ${a.length} elements do not form ${outer}x${len}x${inner}`);
  return scoped(() => {
    const pa = putI64(a);
    const po = arena.alloc(outer * inner * 8);
    wasm().k.reduce_middle(po, pa, outer, len, inner);
    return takeI64(po, outer * inner);
  });
}

/** The k block size the kernels use (exported for the benchmark's report). */
export const GEMM_TILE = { mr: MR, nr: NR, kc: KC } as const;
