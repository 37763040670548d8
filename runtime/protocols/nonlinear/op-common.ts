/**
 * What the non-linear op protocols share: reading a node's operands as shares, the comparison
 * variant a protocol name carries, and the naming scheme.
 *
 * Names: every comparison-based protocol exists twice, `<base>.dcf` (function secret sharing:
 * one round per comparison, large dealer keys) and `<base>.bool` (boolean sharing with AND
 * triples: log rounds per comparison, small material), so the cost model can pick per network.
 */
import type { Attrs } from '../../../ir/graph.ts';
import { normalizeAttrs } from '../../../ir/ops.ts';
import { numel } from '../../../ir/types.ts';
import type { Shape } from '../../../ir/types.ts';
import { broadcastRing } from '../../mpc/layout.ts';
import type { NodeSpec, Operand, PartyContext } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { nodeError, ownerOf, shareOperands } from '../op-protocol.ts';
import { operandShare, scaleOf } from '../sharing.ts';
import type { CompareVariant } from './compare.ts';

/** This party's share of operand i (public and private operands are shared at no cost). */
export function operandRing(ctx: PartyContext, node: NodeSpec, inputs: readonly Operand[], i: number): Ring {
  const inp = node.inputs[i]!;
  const op = inputs[i];
  if (!op) throw nodeError(node, `operand ${i} is missing`);
  return operandShare(ctx, op, inp.type, ownerOf(inp.visibility)).data;
}

/** Operand i broadcast to `shape`. */
export function operandAs(
  ctx: PartyContext,
  node: NodeSpec,
  inputs: readonly Operand[],
  i: number,
  shape: Shape,
): Ring {
  return broadcastRing(operandRing(ctx, node, inputs, i), node.inputs[i]!.type.shape, shape);
}

/** The node's single result as a share operand. */
export function resultOperand(node: NodeSpec, data: Ring): Operand[] {
  return shareOperands([{ shape: node.outputs[0]!.shape, data }]);
}

/** Throws unless operand `i` is not public (a public-only op never runs in MPC). */
export function requireNonPublic(node: NodeSpec, i: number, protocol: string): void {
  if (node.inputs[i]?.visibility === 'public')
    throw nodeError(node, `'${protocol}' runs on a non-public operand ${i}`);
}

/** Throws unless the node's result is f32. */
export function requireFloat(node: NodeSpec, protocol: string): void {
  if (node.outputs[0]?.dtype !== 'f32') throw nodeError(node, `'${protocol}' computes f32 values`);
}

/** The node's attributes with defaults filled in. */
export function attrsOf(node: NodeSpec): Attrs {
  return normalizeAttrs(node.op, node.attrs);
}

/** Throws unless the string attribute `name` (default included) is `value`. */
export function requireAttr(node: NodeSpec, name: string, value: string, protocol: string): void {
  const v = attrsOf(node)[name];
  if (v !== value)
    throw nodeError(node, `'${protocol}' implements ${name} = ${value}, the node has ${String(v)}`);
}

/** Elements of the node's result. */
export function resultSize(node: NodeSpec): number {
  return numel(node.outputs[0]!.shape);
}

/** Fractional bits of operand i. */
export function operandScale(node: NodeSpec, i: number, fracBits: number): number {
  return scaleOf(node.inputs[i]!.type.dtype, fracBits);
}

/** A protocol name for a comparison variant. */
export function variantName(base: string, variant: CompareVariant): string {
  return `${base}.${variant}`;
}
