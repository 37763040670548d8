/**
 * Protocol selection (docs/cost-model.md), as the pass `select-protocols`.
 *
 * Preconditions: the graph is placed; every MPC node's op has at least one
 * protocol that accepts its operands (its entry in runtime/protocols/registry.ts)
 * and, in setting '2pc', runs without a dealer.
 * Algorithm:
 *   1. For each protocol node (share, reveal, every @mpc node), bind every
 *      protocol its op's registry entry lists in the plan's setting
 *      (runtime/bound-plan.ts `bindInSetting`); those that refuse the node's
 *      operands, and in '2pc' those that need a dealer (DCF keys, or a
 *      correlation the parties cannot make), drop out. A node naming its
 *      protocol already keeps it (in '2pc', if that protocol runs without a dealer).
 *   2. Estimate each candidate's time on the chosen network (cost model:
 *      exact bytes and rounds, calibrated local work) and keep the fastest
 *      (on equal estimates, the one the entry lists first). With a dealer the
 *      time is the online estimate (the dealer works ahead); in '2pc' the
 *      online estimate plus the op's preprocessing, which the parties run
 *      themselves before every inference.
 * Why per node is optimal: every registered op protocol takes and returns
 * arithmetic shares mod 2^64 (or plaintext at its owner), so a choice at one
 * node never forces a conversion at another: conversion costs are zero and the
 * dynamic program over the graph reduces to an independent minimum per node.
 * (In '2pc' the plan's preprocessing merges a flight of one op with the next
 * op's when the same party sends both, at most one latency per pair of ops;
 * the per-node choice ignores that small coupling.)
 */
import { MarillError } from '../../ir/errors.ts';
import type { Graph, Node } from '../../ir/graph.ts';
import { mayRunUnderMpc } from '../../ir/ops.ts';
import { bindInSetting, isProtocolNode, nodeLabel, nodeSpec } from '../../runtime/bound-plan.ts';
import type { Setting } from '../../runtime/plan.ts';
import { DEFAULT_SETTING } from '../../runtime/plan.ts';
import type { Cost, NodeSpec } from '../../runtime/protocol.ts';
import type { OpProtocol } from '../../runtime/protocols/op-protocol.ts';
import { protocolsFor } from '../../runtime/protocols/registry.ts';
import type { Pass } from '../../passes/manager.ts';
import type { Calibration } from './calibration.ts';
import { DEFAULT_CALIBRATION } from './calibration.ts';
import { mpcSeconds, preprocessSeconds } from './cost.ts';
import type { NetworkProfile } from './network.ts';

export interface Candidate {
  readonly protocol: string;
  readonly seconds: number;
}

/** What selection minimises for one node: online time, plus in '2pc' the preprocessing. */
export function selectionSeconds(
  g: Graph,
  n: Node,
  c: Cost,
  net: NetworkProfile,
  cal: Calibration,
  setting: Setting,
): number {
  const online = mpcSeconds(g, n, c, net, cal);
  return setting === '2pc'
    ? online + preprocessSeconds(c.preprocessBytes, c.preprocessRounds, net, cal)
    : online;
}

/** Whether `p` accepts the node's operands at all (whatever the setting). */
function acceptsOperands(p: OpProtocol, spec: NodeSpec, fracBits: number): boolean {
  try {
    p.bind(spec, { fracBits });
    return true;
  } catch (e) {
    if (e instanceof MarillError) return false;
    throw e;
  }
}

/** A refusal without the protocol's name repeated (`gelu.erf.dcf: sends dealer keys: ...`). */
function refusal(name: string, message: string): string {
  const prefix = `protocol '${name}' `;
  return `${name}: ${message.startsWith(prefix) ? message.slice(prefix.length) : message}`;
}

/**
 * Every protocol of the node's op that accepts it in the setting, with its
 * estimated seconds, fastest first.
 */
export function candidates(
  g: Graph,
  n: Node,
  net: NetworkProfile,
  fracBits: number,
  cal: Calibration,
  setting: Setting = DEFAULT_SETTING,
): Candidate[] {
  if (!mayRunUnderMpc(n.op))
    throw new MarillError(
      `op '${n.op}' has no MPC protocol, so it runs only on data in the clear; here it is placed @mpc`,
      { what: nodeLabel(n) },
    );
  const spec = nodeSpec(g, n);
  const out: Candidate[] = [];
  const refusals: string[] = [];
  let needsDealer = false;
  for (const p of protocolsFor(n.op)) {
    try {
      const { bound } = bindInSetting(setting, spec, p.name, { fracBits });
      out.push({ protocol: p.name, seconds: selectionSeconds(g, n, bound.cost, net, cal, setting) });
    } catch (e) {
      if (!(e instanceof MarillError)) throw e;
      refusals.push(refusal(p.name, e.message));
      // Refused in '2pc' although it takes these operands: it is the dealer it needs.
      if (setting === '2pc' && acceptsOperands(p, spec, fracBits)) needsDealer = true;
    }
  }
  if (out.length === 0) {
    const operands = spec.inputs.map((i) => i.visibility).join(', ');
    const why = refusals.length > 0 ? ` (${refusals.join('; ')})` : ' (the op has none)';
    const what = needsDealer
      ? `no protocol runs '${n.op}' on ${operands} operands without a dealer (setting '2pc')`
      : `no MPC protocol runs '${n.op}' on ${operands} operands`;
    throw new MarillError(`${what}${why}`, { what: nodeLabel(n) });
  }
  return out.sort((a, b) => a.seconds - b.seconds);
}

/** A node that names its protocol keeps it; in '2pc' only if it runs without a dealer. */
function checkNamed(g: Graph, n: Node, fracBits: number, setting: Setting): void {
  if (setting === DEFAULT_SETTING) return;
  try {
    bindInSetting(setting, nodeSpec(g, n), n.protocol, { fracBits });
  } catch (e) {
    if (e instanceof MarillError) throw new MarillError(e.message, { ...e.location, what: nodeLabel(n) });
    throw e;
  }
}

export function selectProtocols(
  g: Graph,
  net: NetworkProfile,
  fracBits: number,
  cal: Calibration = DEFAULT_CALIBRATION,
  setting: Setting = DEFAULT_SETTING,
): Graph {
  const nodes = g.nodes.map((n) => {
    if (!isProtocolNode(n)) return n;
    if (n.protocol !== undefined) {
      checkNamed(g, n, fracBits, setting);
      return n;
    }
    return { ...n, protocol: candidates(g, n, net, fracBits, cal, setting)[0]!.protocol };
  });
  return { ...g, nodes };
}

export function selectProtocolsPass(
  net: NetworkProfile,
  fracBits: number,
  cal?: Calibration,
  setting: Setting = DEFAULT_SETTING,
): Pass {
  const without = setting === '2pc' ? ' without a dealer' : '';
  return {
    name: 'select-protocols',
    summary: `pick each MPC op's protocol for the ${net.name} network${without}`,
    run: (g) => selectProtocols(g, net, fracBits, cal, setting),
  };
}
