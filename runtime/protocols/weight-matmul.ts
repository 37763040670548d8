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
import type { WeightBeaverInputs, WeightBeaverMaterial, WeightSizes } from './weight-beaver.ts';
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

export const weightMatmul: Protocol<WeightMatmulParams, WeightMatmulMaterial, WeightMatmulInputs, Ring> =
  weightBeaverProtocol<WeightMatmulParams>({ name: 'beaver.weight', label: 'beaver.weight', sizes, product });
