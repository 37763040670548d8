/**
 * Product of a shared activation X by a SERVER-PRIVATE weight W (plaintext at
 * the server), with the weight's masked form opened once per session: the
 * protocol of ./weight-beaver.ts with the matrix product, right (X W, so
 * C = A B, Z0 = (X0 + E) W + C0, Z1 = A F + C1) or left (W X, so C = B A,
 * Z0 = W (X0 + E) + C0, Z1 = F A + C1). Exact in the ring; one matrix product
 * per party. The result has 2f fractional bits (see ./fixed-mul.ts for the
 * truncating version).
 *
 * X may carry batch dimensions (batch products against the same W).
 */
import type { Protocol } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringMatmulBatched } from '../ring/kernels.ts';
import type { WeightBeaverInputs, WeightBeaverMaterial, WeightOtForm, WeightSizes } from './weight-beaver.ts';
import { weightBeaverProtocol } from './weight-beaver.ts';

export interface WeightMatmulParams {
  /** 'right': X (batch, m, k) times W (k, n); 'left': W (m, k) times X (batch, k, n). */
  readonly side: 'right' | 'left';
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

export type WeightMatmulMaterial = WeightBeaverMaterial;
export type WeightMatmulInputs = WeightBeaverInputs;

function sizes(p: WeightMatmulParams): WeightSizes {
  return p.side === 'right'
    ? { x: p.batch * p.m * p.k, w: p.k * p.n, z: p.batch * p.m * p.n }
    : { x: p.batch * p.k * p.n, w: p.m * p.k, z: p.batch * p.m * p.n };
}

/** The batch of products activation x weight (in the side's order); the weight is shared by the batch. */
function product(p: WeightMatmulParams, activation: Ring, weight: Ring): Ring {
  const { batch, m, k, n } = p;
  return p.side === 'right'
    ? ringMatmulBatched(activation, weight, batch, m, k, n, { a: m * k, b: 0 })
    : ringMatmulBatched(weight, activation, batch, m, k, n, { a: 0, b: k * n });
}

/** `batch` row-major [rows, cols] matrices, each transposed. */
function transposed(r: Ring, batch: number, rows: number, cols: number): Ring {
  const out = new BigInt64Array(r.length);
  // 32-bit halves: moving words without making BigInts.
  const src = new Int32Array(r.buffer, r.byteOffset, 2 * r.length);
  const dst = new Int32Array(out.buffer);
  for (let t = 0; t < batch; t++) {
    const at = t * rows * cols;
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) {
        const from = 2 * (at + i * cols + j);
        const to = 2 * (at + j * rows + i);
        dst[to] = src[from]!;
        dst[to + 1] = src[from + 1]!;
      }
  }
  return out;
}

/**
 * The product as one Gilboa matrix product X' W' (dealer-free triples): right, X's rows of
 * every product against W (the batch flattens into rows); left, W X_b = (X_b^T W^T)^T, so
 * X' stacks the X_b^T and W' = W^T.
 */
const ot: WeightOtForm<WeightMatmulParams> = {
  kind: 'matmul',
  shape: (p) =>
    p.side === 'right' ? { n: p.batch * p.m, k: p.k, w: p.n } : { n: p.batch * p.n, k: p.k, w: p.m },
  activation: (p, a) => (p.side === 'right' ? a : transposed(a, p.batch, p.k, p.n)),
  weight: (p, b) => (p.side === 'right' ? b : transposed(b, 1, p.m, p.k)),
  result: (p, c) => (p.side === 'right' ? c : transposed(c, p.batch, p.n, p.m)),
};

export const weightMatmul: Protocol<WeightMatmulParams, WeightMatmulMaterial, WeightMatmulInputs, Ring> =
  weightBeaverProtocol<WeightMatmulParams>({
    name: 'beaver.weight',
    label: 'beaver.weight',
    sizes,
    product,
    ot,
  });
