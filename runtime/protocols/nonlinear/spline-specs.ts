/**
 * The functions the spline protocol approximates, with their tails and fitting targets. The
 * reference functions are the plaintext interpreter's (ir/kernels), so MPC results are held to
 * the same semantics. Fitted ranges are where the function is within ~1e-5 of its tails.
 */
import { erf } from '../../../ir/kernels/erf.ts';
import { GELU, sigmoid } from '../../../ir/kernels/unary.ts';
import type { SplineSpec } from './spline-fit.ts';

export type SplineFunction = 'gelu.erf' | 'gelu.tanh' | 'silu' | 'sigmoid' | 'tanh' | 'erf';

/** Comparisons in the spline protocol resolve knots to 2^-SPLINE_RESOLUTION_BITS. */
export const SPLINE_RESOLUTION_BITS = 6;

const resolution = 2 ** -SPLINE_RESOLUTION_BITS;
const ZERO = [0, 0];
const IDENTITY = [0, 1];

export const SPLINE_SPECS: Readonly<Record<SplineFunction, SplineSpec>> = {
  'gelu.erf': { f: GELU.erf!, range: 4.5, left: ZERO, right: IDENTITY, target: 1e-4, resolution },
  'gelu.tanh': { f: GELU.tanh!, range: 4.5, left: ZERO, right: IDENTITY, target: 1e-4, resolution },
  silu: { f: (x) => x * sigmoid(x), range: 14, left: ZERO, right: IDENTITY, target: 1e-4, resolution },
  sigmoid: { f: sigmoid, range: 14, left: ZERO, right: [1, 0], target: 1e-4, resolution },
  tanh: { f: Math.tanh, range: 6, left: [-1, 0], right: [1, 0], target: 1e-4, resolution },
  erf: { f: erf, range: 4, left: [-1, 0], right: [1, 0], target: 1e-4, resolution },
};
