/**
 * A plan's protocol nodes bound to their protocols: the `share`/`reveal`
 * nodes and every node placed `mpc`, in plan order. Dealer and parties bind
 * the same plan the same way, so the k-th dealer frame of an inference is
 * always the k-th bound op's material. `planCosts` gives the exact predicted
 * communication of a plan (what the cost model promises).
 */
import { MarillError } from '../ir/errors.ts';
import type { Graph, Node } from '../ir/graph.ts';
import { valueInfo } from '../ir/graph.ts';
import type { Plan } from './plan.ts';
import type { BoundOp, Cost, NodeSpec } from './protocol.ts';
import { bindNode } from './protocols/registry.ts';

export interface BoundPlanOp {
  /** Index of the node in the plan's node list. */
  readonly index: number;
  readonly node: Node;
  readonly spec: NodeSpec;
  /** The protocol that runs it (the node's, or the registry's default). */
  readonly protocol: string;
  readonly bound: BoundOp;
}

/** Whether a node runs through a protocol (rather than in plaintext at its owner). */
export function isProtocolNode(node: Node): boolean {
  return node.op === 'share' || node.op === 'reveal' || node.placement === 'mpc';
}

export function nodeSpec(graph: Graph, node: Node): NodeSpec {
  return {
    id: node.outputs[0]!,
    op: node.op,
    attrs: node.attrs,
    inputs: node.inputs.map((v) => {
      const info = valueInfo(graph, v);
      return { type: info.type, visibility: info.visibility };
    }),
    outputs: node.outputs.map((v) => valueInfo(graph, v).type),
  };
}

/** Describes a node for error messages: `%7 = matmul (onnx node name)`. */
export function nodeLabel(node: Node): string {
  const origin = node.origin !== undefined ? ` (${node.origin})` : '';
  return `${node.outputs.map((o) => `%${o}`).join(', ')} = ${node.op}${origin}`;
}

export function bindPlan(plan: Plan): BoundPlanOp[] {
  const out: BoundPlanOp[] = [];
  plan.graph.nodes.forEach((node, index) => {
    if (!isProtocolNode(node)) return;
    const spec = nodeSpec(plan.graph, node);
    try {
      const { name, bound } = bindNode(spec, node.protocol, { fracBits: plan.fracBits });
      out.push({ index, node, spec, protocol: name, bound });
    } catch (e) {
      if (e instanceof MarillError)
        throw new MarillError(e.message, { ...e.location, what: nodeLabel(node) });
      throw e;
    }
  });
  return out;
}

/** Predicted communication per protocol node, in plan order. */
export function planCosts(plan: Plan): { id: string; op: string; protocol: string; cost: Cost }[] {
  return bindPlan(plan).map((b) => ({
    id: b.spec.id,
    op: b.node.op,
    protocol: b.protocol,
    cost: b.bound.cost,
  }));
}

/** Room for hellos and control frames, whatever the plan. */
const MIN_MESSAGE_BYTES = 64 * 1024;

/**
 * An upper bound on any one message a party of this plan sends: no message
 * of an op is larger than all the bytes its sender sends in that op, online
 * or at setup (the costs are exact: tests hold every protocol to them). A
 * frame announced above it cannot be the plan's and is refused unread.
 */
export function largestMessageBytes(plan: Plan): number {
  let max = MIN_MESSAGE_BYTES;
  for (const b of bindPlan(plan)) {
    const c = b.bound.cost;
    max = Math.max(max, ...c.onlineBytes, ...c.setupBytes);
  }
  return max;
}
