/**
 * Protocol selection (docs/cost-model.md), as the pass `select-protocols`.
 *
 * Preconditions: the graph is placed; every MPC node's op has at least one
 * protocol that accepts its operands (its entry in runtime/protocols/registry.ts).
 * Algorithm:
 *   1. For each protocol node (share, reveal, every @mpc node), bind every
 *      protocol its op's registry entry lists; those that refuse the node's
 *      operands drop out. A node naming its protocol already keeps it.
 *   2. Estimate each candidate's time on the chosen network (cost model:
 *      exact bytes and rounds, calibrated local work) and keep the fastest
 *      (on equal estimates, the one the entry lists first).
 * Why per node is optimal: every registered op protocol takes and returns
 * arithmetic shares mod 2^64 (or plaintext at its owner), so a choice at one
 * node never forces a conversion at another: conversion costs are zero and the
 * dynamic program over the graph reduces to an independent minimum per node.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Graph, Node } from '../../ir/graph.ts';
import { mayRunUnderMpc } from '../../ir/ops.ts';
import { isProtocolNode, nodeLabel, nodeSpec } from '../../runtime/bound-plan.ts';
import { protocolsFor } from '../../runtime/protocols/registry.ts';
import type { Pass } from '../../passes/manager.ts';
import type { Calibration } from './calibration.ts';
import { DEFAULT_CALIBRATION } from './calibration.ts';
import { mpcSeconds } from './cost.ts';
import type { NetworkProfile } from './network.ts';

export interface Candidate {
  readonly protocol: string;
  readonly seconds: number;
}

/** Every protocol of the node's op that accepts it, with its estimated seconds, fastest first. */
export function candidates(
  g: Graph,
  n: Node,
  net: NetworkProfile,
  fracBits: number,
  cal: Calibration,
): Candidate[] {
  if (!mayRunUnderMpc(n.op))
    throw new MarillError(
      `op '${n.op}' has no MPC protocol, so it runs only on data in the clear; here it is placed @mpc`,
      { what: nodeLabel(n) },
    );
  const spec = nodeSpec(g, n);
  const out: Candidate[] = [];
  const refusals: string[] = [];
  for (const p of protocolsFor(n.op)) {
    try {
      const bound = p.bind(spec, { fracBits });
      out.push({ protocol: p.name, seconds: mpcSeconds(g, n, bound.cost, net, cal) });
    } catch (e) {
      if (!(e instanceof MarillError)) throw e;
      refusals.push(`${p.name}: ${e.message}`);
    }
  }
  if (out.length === 0) {
    const operands = spec.inputs.map((i) => i.visibility).join(', ');
    const why = refusals.length > 0 ? ` (${refusals.join('; ')})` : ' (the op has none)';
    throw new MarillError(`no MPC protocol runs '${n.op}' on ${operands} operands${why}`, {
      what: nodeLabel(n),
    });
  }
  return out.sort((a, b) => a.seconds - b.seconds);
}

export function selectProtocols(
  g: Graph,
  net: NetworkProfile,
  fracBits: number,
  cal: Calibration = DEFAULT_CALIBRATION,
): Graph {
  const nodes = g.nodes.map((n) => {
    if (!isProtocolNode(n) || n.protocol !== undefined) return n;
    return { ...n, protocol: candidates(g, n, net, fracBits, cal)[0]!.protocol };
  });
  return { ...g, nodes };
}

export function selectProtocolsPass(net: NetworkProfile, fracBits: number, cal?: Calibration): Pass {
  return {
    name: 'select-protocols',
    summary: `pick each MPC op's protocol for the ${net.name} network`,
    run: (g) => selectProtocols(g, net, fracBits, cal),
  };
}
