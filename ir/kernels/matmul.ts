/**
 * Batched matrix product a[..., m, k] x b[..., k, n] with broadcast batch dims.
 *
 * The f32 path is the interpreter's hot loop (BERT-base benchmarks): it runs
 * i-k-j so the inner loop streams rows of b and output rows, all contiguous,
 * and accumulates each output row in float64 before a single rounding to
 * float32. That is at least as accurate as onnxruntime's float32
 * GEMM, so the two agree to ~1e-6 relative even on 3072-wide dot products.
 */
import { MarillError } from '../errors.ts';
import { matmulShape } from '../shape-rules.ts';
import { makeTensor } from '../tensor.ts';
import type { Shape } from '../types.ts';
import { formatShape, numel } from '../types.ts';
import { broadcastOffsets } from './indexing.ts';
import type { Kernel } from './kernel.ts';
import { f32Data, i64Data, operand } from './kernel.ts';

interface Dims {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly batches: number;
  /** Start of each batch's matrix in a and b (in elements). */
  readonly aStart: (batch: number) => number;
  readonly bStart: (batch: number) => number;
}

function batchStarts(own: Shape, batch: Shape, size: number): (i: number) => number {
  const at = broadcastOffsets(own, batch);
  return at ? (i) => at[i]! * size : (i) => i * size;
}

function dims(a: Shape, b: Shape, out: Shape): Dims {
  const m = a[a.length - 2]!;
  const k = a[a.length - 1]!;
  const n = b[b.length - 1]!;
  const batch = out.slice(0, -2);
  return {
    m,
    k,
    n,
    batches: numel(batch),
    aStart: batchStarts(a.slice(0, -2), batch, m * k),
    bStart: batchStarts(b.slice(0, -2), batch, k * n),
  };
}

/** One output row: out[i, :] = sum_p a[i, p] * b[p, :], accumulated in float64. */
function oneRow(
  a: Float32Array,
  ai: number,
  b: Float32Array,
  b0: number,
  k: number,
  n: number,
  acc: Float64Array,
): void {
  acc.fill(0);
  for (let p = 0; p < k; p++) {
    const x = a[ai + p]!;
    const bp = b0 + p * n;
    for (let j = 0; j < n; j++) acc[j]! += x * b[bp + j]!;
  }
}

/**
 * Two output rows at once, four steps of p per pass: each b element loaded
 * feeds two rows, and each accumulator store covers four products. Measured
 * 2-3x faster than the plain i-k-j loop in V8 on BERT-base shapes.
 */
function twoRows(
  a: Float32Array,
  ai: number,
  b: Float32Array,
  b0: number,
  k: number,
  n: number,
  acc0: Float64Array,
  acc1: Float64Array,
): void {
  acc0.fill(0);
  acc1.fill(0);
  const aj = ai + k;
  let p = 0;
  for (; p + 4 <= k; p += 4) {
    const x0 = a[ai + p]!,
      x1 = a[ai + p + 1]!,
      x2 = a[ai + p + 2]!,
      x3 = a[ai + p + 3]!;
    const y0 = a[aj + p]!,
      y1 = a[aj + p + 1]!,
      y2 = a[aj + p + 2]!,
      y3 = a[aj + p + 3]!;
    const r0 = b0 + p * n,
      r1 = r0 + n,
      r2 = r1 + n,
      r3 = r2 + n;
    for (let j = 0; j < n; j++) {
      const c0 = b[r0 + j]!,
        c1 = b[r1 + j]!,
        c2 = b[r2 + j]!,
        c3 = b[r3 + j]!;
      acc0[j]! += x0 * c0 + x1 * c1 + x2 * c2 + x3 * c3;
      acc1[j]! += y0 * c0 + y1 * c1 + y2 * c2 + y3 * c3;
    }
  }
  for (; p < k; p++) {
    const x = a[ai + p]!;
    const y = a[aj + p]!;
    const r = b0 + p * n;
    for (let j = 0; j < n; j++) {
      const c = b[r + j]!;
      acc0[j]! += x * c;
      acc1[j]! += y * c;
    }
  }
}

function matmulF32(a: Float32Array, b: Float32Array, d: Dims): Float32Array {
  const { m, k, n } = d;
  const out = new Float32Array(d.batches * m * n);
  const acc0 = new Float64Array(n);
  const acc1 = new Float64Array(n);
  for (let t = 0; t < d.batches; t++) {
    const a0 = d.aStart(t);
    const b0 = d.bStart(t);
    const o0 = t * m * n;
    let i = 0;
    for (; i + 2 <= m; i += 2) {
      twoRows(a, a0 + i * k, b, b0, k, n, acc0, acc1);
      out.set(acc0, o0 + i * n);
      out.set(acc1, o0 + (i + 1) * n);
    }
    if (i < m) {
      oneRow(a, a0 + i * k, b, b0, k, n, acc0);
      out.set(acc0, o0 + i * n);
    }
  }
  return out;
}

function matmulI64(a: BigInt64Array, b: BigInt64Array, d: Dims): BigInt64Array {
  const { m, k, n } = d;
  const out = new BigInt64Array(d.batches * m * n);
  for (let t = 0; t < d.batches; t++) {
    const a0 = d.aStart(t);
    const b0 = d.bStart(t);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0n;
        for (let p = 0; p < k; p++) acc += a[a0 + i * k + p]! * b[b0 + p * n + j]!;
        out[(t * m + i) * n + j] = BigInt.asIntN(64, acc);
      }
  }
  return out;
}

export const matmul: Kernel = (inputs) => {
  const a = operand(inputs, 0, 'matmul');
  const b = operand(inputs, 1, 'matmul');
  const shape = matmulShape(a.shape, b.shape);
  const d = dims(a.shape, b.shape, shape);
  if (a.dtype === 'f32' && b.dtype === 'f32')
    return [makeTensor('f32', shape, matmulF32(f32Data(a), f32Data(b), d))];
  if (a.dtype === 'i64' && b.dtype === 'i64')
    return [makeTensor('i64', shape, matmulI64(i64Data(a), i64Data(b), d))];
  throw new MarillError(
    `matmul needs two f32 or two i64 operands, got ${a.dtype}${formatShape(a.shape)} and ${b.dtype}${formatShape(b.shape)}`,
  );
};
