/**
 * The protocol registry, declared as data: for each IR op (ir/ops.ts) that may
 * run under MPC, the op protocols that can run it, by name, and its default.
 * The executor, the dealer, protocol selection and the cost model all look
 * protocols up here, so a protocol listed here is usable by plans everywhere.
 *
 * To add a protocol: define it (./op-protocol.ts `defineOpProtocol`), put it in
 * PROTOCOLS, and name it in the entry of each op it runs (one entry per op).
 * registry.test.ts holds the table to ir/ops.ts: every op that may run under
 * MPC (`mayRunUnderMpc`) has an entry, every name resolves, every default is
 * among its op's protocols and accepts a representative node.
 */
import { MarillError } from '../../ir/errors.ts';
import type { OpName } from '../../ir/ops.ts';
import type { BoundOp, NodeSpec, RingSettings } from '../protocol.ts';
import { revealProtocol, shareProtocol } from './boundary.ts';
import { linearProtocol } from './linear.ts';
import { NONLINEAR_PROTOCOLS } from './nonlinear/index.ts';
import type { OpProtocol } from './op-protocol.ts';
import { beaverProtocol, weightProtocol } from './products.ts';

/** Every op protocol, by its unique name (a placed node's `protocol` field). */
const PROTOCOLS: ReadonlyMap<string, OpProtocol> = byUniqueName([
  shareProtocol,
  revealProtocol,
  linearProtocol,
  weightProtocol,
  beaverProtocol,
  // runtime/protocols/nonlinear/: comparison, ReLU, max/argmax, exp, reciprocal, rsqrt, GeLU, SiLU,
  // softmax, LayerNorm/RMSNorm, embedding lookup, MPCFormer approximations
  ...NONLINEAR_PROTOCOLS,
]);

function byUniqueName(list: readonly OpProtocol[]): ReadonlyMap<string, OpProtocol> {
  const map = new Map<string, OpProtocol>();
  for (const p of list) {
    if (map.has(p.name)) throw new Error(`protocol '${p.name}' is defined twice`);
    map.set(p.name, p);
  }
  return map;
}

/** The protocols of one op. */
export interface OpProtocols {
  /**
   * Every protocol that can run the op. Protocol selection
   * (compiler/backend/select.ts) binds each to a node and keeps the cheapest of
   * those that accept it; on equal estimates, the one listed first.
   */
  readonly protocols: readonly string[];
  /**
   * What a node that names no protocol binds to: the first of these that
   * accepts it. One name where one protocol runs every node of the op; more,
   * most specific first, where a node's attributes or operand visibilities
   * decide which protocol can run it (gelu's `approx`; a public or a
   * server-private operand of a product).
   */
  readonly defaults: readonly string[];
}

/** One protocol runs every node of the op. */
function only(name: string): OpProtocols {
  return { protocols: [name], defaults: [name] };
}

/** A comparison-based protocol in both variants (nonlinear/op-common.ts), the DCF one the default. */
function compareBased(base: string): OpProtocols {
  return { protocols: [`${base}.dcf`, `${base}.bool`], defaults: [`${base}.dcf`] };
}

const PRODUCTS: OpProtocols = {
  protocols: ['linear', 'beaver.weight', 'beaver'],
  // a public operand: local; a server-private weight: masked once per session; else two shares
  defaults: ['linear', 'beaver.weight', 'beaver'],
};

/**
 * The table. An op absent here has no MPC protocol: ir/ops.ts marks it
 * `plaintext` (or it is a source), and protocol selection refuses it @mpc.
 */
export const OP_PROTOCOLS: Readonly<Partial<Record<OpName, OpProtocols>>> = {
  // visibility boundary
  share: only('share'),
  reveal: only('reveal'),

  // linear in the secret operands: local on shares
  add: only('linear'),
  sub: only('linear'),
  neg: only('linear'),
  div: only('linear'),
  cast: only('linear'),
  reduce_sum: only('linear'),
  reduce_mean: only('linear'),
  reshape: only('linear'),
  transpose: only('linear'),
  slice: only('linear'),
  concat: only('linear'),
  split: only('linear'),
  expand: only('linear'),
  trilu: only('linear'),
  mul: PRODUCTS,
  matmul: PRODUCTS,
  where: { protocols: ['linear', 'where.beaver'], defaults: ['linear', 'where.beaver'] },
  gather: { protocols: ['linear', 'embedding.onehot'], defaults: ['linear', 'embedding.onehot'] },

  // comparisons
  relu: compareBased('relu'),
  abs: compareBased('abs'),
  less: compareBased('cmp'),
  greater: compareBased('cmp'),
  equal: compareBased('cmp'),
  max: compareBased('max'),
  min: compareBased('max'),
  reduce_max: compareBased('max'),
  argmax: compareBased('argmax'),

  // smooth functions
  exp: compareBased('exp'),
  reciprocal: compareBased('reciprocal'),
  rsqrt: compareBased('rsqrt'),
  sqrt: compareBased('sqrt'),
  erf: compareBased('erf'),
  tanh: compareBased('tanh'),
  sigmoid: compareBased('sigmoid'),
  silu: compareBased('silu'),
  gelu: {
    protocols: [
      'relu.dcf',
      'gelu.erf.dcf',
      'gelu.tanh.dcf',
      'relu.bool',
      'gelu.erf.bool',
      'gelu.tanh.bool',
      'gelu.quad',
    ],
    // one per `approx`: relu, erf, tanh, quad
    defaults: ['relu.dcf', 'gelu.erf.dcf', 'gelu.tanh.dcf', 'gelu.quad'],
  },

  // rows
  softmax: {
    protocols: ['softmax.exact.dcf', 'softmax.2quad.dcf', 'softmax.exact.bool', 'softmax.2quad.bool'],
    // one per `approx`: exact, 2quad
    defaults: ['softmax.exact.dcf', 'softmax.2quad.dcf'],
  },
  layernorm: compareBased('layernorm'),
  rmsnorm: compareBased('rmsnorm'),
};

export function protocolByName(name: string): OpProtocol {
  const p = PROTOCOLS.get(name);
  if (!p) throw new MarillError(`unknown protocol '${name}' (known: ${[...PROTOCOLS.keys()].join(', ')})`);
  return p;
}

/** The protocols that can run an op, as the table lists them (none: the op has no MPC protocol). */
export function protocolsFor(op: OpName): OpProtocol[] {
  return (OP_PROTOCOLS[op]?.protocols ?? []).map(protocolByName);
}

export function allProtocols(): readonly OpProtocol[] {
  return [...PROTOCOLS.values()];
}

function nodeWhat(node: NodeSpec): string {
  return `%${node.id} = ${node.op}`;
}

/**
 * Binds a node to its protocol: the named one (which must be one of the
 * op's), or else the op's default that accepts it. Returns the protocol's
 * name with the bound op.
 */
export function bindNode(
  node: NodeSpec,
  protocol: string | undefined,
  settings: RingSettings,
): { name: string; bound: BoundOp } {
  const entry = OP_PROTOCOLS[node.op];
  if (protocol !== undefined) {
    const p = protocolByName(protocol);
    if (!entry?.protocols.includes(protocol))
      throw new MarillError(
        `protocol '${protocol}' does not run op '${node.op}'` +
          ` (its protocols: ${entry?.protocols.join(', ') || 'none'})`,
        { what: nodeWhat(node) },
      );
    return { name: protocol, bound: p.bind(node, settings) };
  }
  const reasons: string[] = [];
  for (const name of entry?.defaults ?? []) {
    try {
      return { name, bound: protocolByName(name).bind(node, settings) };
    } catch (e) {
      if (!(e instanceof MarillError)) throw e;
      reasons.push(`${name}: ${e.message}`);
    }
  }
  throw new MarillError(
    `no MPC protocol for op '${node.op}' with ${node.inputs.map((i) => i.visibility).join(', ')} operands` +
      (reasons.length ? ` (${reasons.join('; ')})` : ' (the op has none)'),
    { what: nodeWhat(node) },
  );
}
