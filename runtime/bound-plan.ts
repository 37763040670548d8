/**
 * A plan's protocol nodes bound to their protocols: the `share`/`reveal`
 * nodes and every node placed `mpc`, in plan order. Dealer and parties bind
 * the same plan the same way, so the k-th dealer frame of an inference is
 * always the k-th bound op's material. `planCosts` gives the exact predicted
 * communication of a plan (what the cost model promises).
 */
import { createHash } from 'node:crypto';
import { MarillError } from '../ir/errors.ts';
import type { Graph, Node, ValueId } from '../ir/graph.ts';
import { producers, valueInfo } from '../ir/graph.ts';
import { HELLO_MAX_BYTES } from './net/handshake.ts';
import type { Plan, Setting } from './plan.ts';
import type { BoundOp, Cost, NodeSpec, RingSettings } from './protocol.ts';
import { bindNode, protocolsFor } from './protocols/registry.ts';
import type { CorrelationUse } from './twopc/correlations.ts';
import { correlationsOf, preprocessingCost } from './twopc/correlations.ts';
import { otSessionSetupCost } from './twopc/triples.ts';

export interface BoundPlanOp {
  /** Index of the node in the plan's node list. */
  readonly index: number;
  readonly node: Node;
  readonly spec: NodeSpec;
  /** The protocol that runs it (the node's, or its op's default in the registry). */
  readonly protocol: string;
  readonly bound: BoundOp;
  /**
   * What keys this op's once-per-session values (`ctx.once`, the dealer's
   * `sessionOwnedRandom`): see `sessionKeys`.
   */
  readonly sessionKey: string;
  /**
   * Setting '2pc': the correlations the two parties make for this op before
   * each inference (./twopc/correlations.ts), in the order its material reads
   * them; empty in the dealer setting.
   */
  readonly correlations: readonly CorrelationUse[];
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

/**
 * How a server-private value is made from the plan's weights and constants
 * (op, attributes and operands down to weight names and hashes): the same in
 * every plan that computes it the same way, whatever its value ids.
 */
function provenance(g: Graph, made: Map<ValueId, Node>, memo: Map<ValueId, string>, v: ValueId): string {
  const known = memo.get(v);
  if (known !== undefined) return known;
  const node = made.get(v);
  let text: string;
  if (!node) text = `input:${v}`;
  else if (node.op === 'weight') text = `weight:${String(node.attrs['name'])}:${String(node.attrs['hash'])}`;
  else {
    const operands = node.inputs.map((i) => provenance(g, made, memo, i));
    text = `${node.op}#${node.outputs.indexOf(v)}${JSON.stringify(node.attrs)}(${operands.join(',')})`;
  }
  memo.set(v, text);
  return text;
}

/**
 * The key of each protocol node's once-per-session values, by node index. A
 * node with a server-private operand (a `beaver.weight` product, an embedding
 * table) opens its masked form once per session; the steps of a generation
 * run different plans (one per shape, with their own value ids) in ONE
 * session, and must open each weight once, not once per step. So such a node
 * is keyed by its op, its protocol and the provenance of its server operands
 * (weights by name and hash), with the occurrence number among the plan's
 * nodes of the same key (two products by one weight keep their own values, as
 * before); every other node by its id.
 */
function sessionKeys(g: Graph, ops: readonly { index: number; node: Node; protocol: string }[]): string[] {
  const made = producers(g);
  const memo = new Map<ValueId, string>();
  const seen = new Map<string, number>();
  return ops.map(({ node, protocol }) => {
    const server = node.inputs.filter((v) => valueInfo(g, v).visibility === 'server');
    if (server.length === 0) return node.outputs[0]!;
    const text = `${node.op}/${protocol}/${server.map((v) => provenance(g, made, memo, v)).join('|')}`;
    const digest = createHash('sha256').update(text).digest('hex').slice(0, 32);
    const k = seen.get(digest) ?? 0;
    seen.set(digest, k + 1);
    return `w:${digest}:${k}`;
  });
}

/**
 * An op bound for the dealer-free setting: its correlations, and its cost with
 * no dealer bytes and the preprocessing that replaces them. Refused (naming
 * the node) when its protocol needs a dealer.
 */
function withoutDealer(bound: BoundOp, protocol: string): { bound: BoundOp; correlations: CorrelationUse[] } {
  const { uses, needsDealer } = correlationsOf(bound);
  if (needsDealer)
    throw new MarillError(
      `protocol '${protocol}' ${needsDealer}: not available in setting '2pc' (no dealer)`,
    );
  const pre = preprocessingCost(uses);
  const cost: Cost = {
    ...bound.cost,
    offlineBytes: [0, 0],
    preprocessBytes: pre.bytes,
    preprocessRounds: pre.flights,
  };
  return { bound: { ...bound, cost }, correlations: [...uses] };
}

/**
 * Binds a node to a protocol (its own, or its op's default) in a setting: in
 * '2pc', with the op's correlations and its dealer-free cost, and refused
 * when the protocol needs a dealer. The runtime, the cost model and protocol
 * selection all bind through here.
 */
export function bindInSetting(
  setting: Setting,
  spec: NodeSpec,
  protocol: string | undefined,
  settings: RingSettings,
): { name: string; bound: BoundOp; correlations: readonly CorrelationUse[] } {
  if (setting !== '2pc' || protocol !== undefined) {
    const { name, bound } = bindNode(spec, protocol, settings);
    return setting === '2pc' ? { name, ...withoutDealer(bound, name) } : { name, bound, correlations: [] };
  }
  // No protocol named: the op's first protocol that runs the node without a dealer.
  const reasons: string[] = [];
  for (const p of protocolsFor(spec.op)) {
    try {
      return { name: p.name, ...withoutDealer(p.bind(spec, settings), p.name) };
    } catch (e) {
      if (!(e instanceof MarillError)) throw e;
      reasons.push(e.message);
    }
  }
  throw new MarillError(
    `no protocol runs op '${spec.op}' without a dealer` + (reasons.length ? ` (${reasons.join('; ')})` : ''),
  );
}

export function bindPlan(plan: Plan): BoundPlanOp[] {
  const out: Omit<BoundPlanOp, 'sessionKey'>[] = [];
  plan.graph.nodes.forEach((node, index) => {
    if (!isProtocolNode(node)) return;
    const spec = nodeSpec(plan.graph, node);
    try {
      const bound = bindInSetting(plan.setting, spec, node.protocol, { fracBits: plan.fracBits });
      out.push({
        index,
        node,
        spec,
        protocol: bound.name,
        bound: bound.bound,
        correlations: bound.correlations,
      });
    } catch (e) {
      if (e instanceof MarillError)
        throw new MarillError(e.message, { ...e.location, what: nodeLabel(node) });
      throw e;
    }
  });
  const keys = sessionKeys(plan.graph, out);
  return out.map((b, i) => ({ ...b, sessionKey: keys[i]! }));
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

/**
 * The largest message any peer sends while running this plan: no single
 * message of an op exceeds what that op sends in all (its cost, which the
 * runtime's accounting matches byte for byte), and the dealer sends one frame
 * per op and party of exactly its offline bytes. Channels refuse anything
 * larger after the handshake (./net/channel.ts), so a hostile length prefix
 * cannot make a party allocate more than the plan ever needs.
 */
export function planMessageBound(plan: Plan): number {
  // Without a dealer, the base OTs of the session's OT extension come first.
  let most =
    plan.setting === '2pc' ? Math.max(HELLO_MAX_BYTES, ...otSessionSetupCost().bytes) : HELLO_MAX_BYTES;
  for (const { bound } of bindPlan(plan)) {
    const c = bound.cost;
    most = Math.max(most, ...c.onlineBytes, ...c.offlineBytes, ...c.setupBytes, ...c.preprocessBytes);
  }
  return most;
}
