/**
 * Elementwise product of a shared X by a SERVER-PRIVATE W broadcast onto it
 * (e.g. a fine-tuned norm scale), the elementwise twin of ./weight-matmul.ts,
 * with the algebra of ./weight-beaver.ts: W's masked form F = W - B is opened
 * once per session (server -> client), then one round per inference
 * (client -> server) sends E = X1 - A, and
 *     X * W = (X0 + E) * W + A * F + A * B
 * so the server sets Z0 = (X0 + E) * W + C0 and the client Z1 = A * F + C1,
 * with C = A * B shared by the dealer (A: client-known, fresh per inference;
 * B: server-known, fixed per session). W, B and F have W's own size and are
 * broadcast (index map `wMap`) onto X's. Exact in the ring; the product has
 * 2f fractional bits (the op protocol truncates).
 */
import { applyMap } from '../mpc/layout.ts';
import type { Protocol } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringMul } from '../ring/kernels.ts';
import type { WeightBeaverInputs, WeightBeaverMaterial } from './weight-beaver.ts';
import { weightBeaverProtocol } from './weight-beaver.ts';

export interface WeightMulParams {
  /** Elements of X and of the result. */
  readonly n: number;
  /** Elements of W. */
  readonly w: number;
  /** W's index for each result element (undefined: same shape, no broadcast). */
  readonly wMap: Int32Array | undefined;
}

export type WeightMulMaterial = WeightBeaverMaterial;

const spread = (p: WeightMulParams, w: Ring): Ring => (p.wMap ? applyMap(w, p.wMap) : w);

export const weightMul: Protocol<WeightMulParams, WeightMulMaterial, WeightBeaverInputs, Ring> =
  weightBeaverProtocol<WeightMulParams>({
    name: 'beaver.weight-mul',
    label: 'weight mul',
    sizes: (p) => ({ x: p.n, w: p.w, z: p.n }),
    product: (p, activation, weight) => ringMul(activation, spread(p, weight)),
    ot: { kind: 'elementwise', spread },
  });
