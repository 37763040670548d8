/**
 * The non-linear MPC protocols, as op protocols for the registry (../registry.ts), and the
 * building blocks other runtime code may compose (comparison, spline, Newton, exp).
 */
import type { OpProtocol } from '../op-protocol.ts';
import { ELEMENTWISE_PROTOCOLS } from './ops-elementwise.ts';
import { ROW_PROTOCOLS } from './ops-rows.ts';

/** Every non-linear op protocol (which ops each runs, and the defaults: ../registry.ts). */
export const NONLINEAR_PROTOCOLS: readonly OpProtocol[] = [...ELEMENTWISE_PROTOCOLS, ...ROW_PROTOCOLS];

export type { CompareParams, CompareResult, CompareVariant } from './compare.ts';
export { COMPARE_VARIANTS } from './compare.ts';
export { compare, compareCost, compareMaterial, compareProtocol, dealCompare } from './comparator.ts';
