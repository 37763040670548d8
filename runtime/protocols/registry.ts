/**
 * The protocol registry: protocol name (a placed node's `protocol` field) ->
 * op protocol. The executor, the dealer and the cost model all look protocols
 * up here, so a protocol registered here is usable by plans everywhere.
 *
 * To add protocols: append them to PROTOCOLS (one line each). When a node has
 * no `protocol`, the first protocol in this list that implements its op and
 * accepts its operands (visibilities, shapes) is used.
 */
import { MarillError } from '../../ir/errors.ts';
import type { OpName } from '../../ir/ops.ts';
import type { BoundOp, NodeSpec, RingSettings } from '../protocol.ts';
import { revealProtocol, shareProtocol } from './boundary.ts';
import { linearProtocol } from './linear.ts';
import { NONLINEAR_PROTOCOLS } from './nonlinear/index.ts';
import type { OpProtocol } from './op-protocol.ts';
import { beaverProtocol, weightProtocol } from './products.ts';

const PROTOCOLS: OpProtocol[] = [
  shareProtocol,
  revealProtocol,
  linearProtocol,
  weightProtocol,
  beaverProtocol,
  // runtime/protocols/nonlinear/: comparison, ReLU, max/argmax, exp, reciprocal, rsqrt, GeLU, SiLU,
  // softmax, LayerNorm/RMSNorm, embedding lookup, MPCFormer approximations
  ...NONLINEAR_PROTOCOLS,
];

const byName = new Map<string, OpProtocol>();
for (const p of PROTOCOLS) byName.set(p.name, p);

export function protocolByName(name: string): OpProtocol {
  const p = byName.get(name);
  if (!p) throw new MarillError(`unknown protocol '${name}' (known: ${[...byName.keys()].join(', ')})`);
  return p;
}

/** The registered protocols implementing an op, in preference order. */
export function protocolsFor(op: OpName): OpProtocol[] {
  return PROTOCOLS.filter((p) => p.ops.includes(op));
}

export function allProtocols(): readonly OpProtocol[] {
  return PROTOCOLS;
}

/**
 * Binds a node to its protocol: the named one, or else the first that accepts
 * it. Returns the protocol's name with the bound op.
 */
export function bindNode(
  node: NodeSpec,
  protocol: string | undefined,
  settings: RingSettings,
): { name: string; bound: BoundOp } {
  if (protocol !== undefined) return { name: protocol, bound: protocolByName(protocol).bind(node, settings) };
  const reasons: string[] = [];
  for (const p of protocolsFor(node.op)) {
    try {
      return { name: p.name, bound: p.bind(node, settings) };
    } catch (e) {
      if (!(e instanceof MarillError)) throw e;
      reasons.push(`${p.name}: ${e.message}`);
    }
  }
  throw new MarillError(
    `no MPC protocol for op '${node.op}' with ${node.inputs.map((i) => i.visibility).join(', ')} operands` +
      (reasons.length ? ` (${reasons.join('; ')})` : ''),
    { what: `%${node.id} = ${node.op}` },
  );
}
