// The protocol table held to the op table (ir/ops.ts): every op that may run under MPC has
// protocols, every name resolves, and every declared default is among its op's protocols and
// is the one that binds some representative node of the op.
import { describe, expect, it } from 'vitest';
import { MarillError } from '../../ir/errors.ts';
import type { Attrs } from '../../ir/graph.ts';
import type { OpName } from '../../ir/ops.ts';
import { OP_NAMES, inferTypes, mayRunUnderMpc } from '../../ir/ops.ts';
import type { DType, Shape, Visibility } from '../../ir/types.ts';
import type { NodeSpec } from '../protocol.ts';
import { OP_PROTOCOLS, allProtocols, bindNode, protocolByName, protocolsFor } from './registry.ts';

const F = 16;

interface Operand {
  readonly vis: Visibility;
  readonly shape?: Shape;
  readonly dtype?: DType;
}

function node(op: OpName, inputs: readonly Operand[], attrs: Attrs = {}): NodeSpec {
  const types = inputs.map((i) => ({ dtype: i.dtype ?? 'f32', shape: i.shape ?? [2, 4] }));
  return {
    id: op,
    op,
    attrs,
    inputs: types.map((type, k) => ({ type, visibility: inputs[k]!.vis })),
    outputs: inferTypes(op, types, attrs),
  };
}

const secret: Operand = { vis: 'secret' };
const pub: Operand = { vis: 'public' };
const unary = (op: OpName, attrs?: Attrs) => [node(op, [secret], attrs)];
const binary = (op: OpName) => [node(op, [secret, secret])];

/**
 * Nodes of each op that may run under MPC, one for each case that decides its protocol
 * (attributes, operand visibilities), written from the ops' documentation, not from the table.
 */
const REPRESENTATIVES: Readonly<Partial<Record<OpName, readonly NodeSpec[]>>> = {
  share: [node('share', [{ vis: 'client' }], { from: 'client' })],
  reveal: [node('reveal', [secret], { to: 'client' })],
  add: [node('add', [secret, pub])],
  sub: [node('sub', [secret, secret])],
  neg: unary('neg'),
  div: [node('div', [secret, pub])],
  cast: [node('cast', [{ vis: 'secret', dtype: 'i64' }], { to: 'f32' })],
  reduce_sum: unary('reduce_sum', { axes: [1] }),
  reduce_mean: unary('reduce_mean', { axes: [1] }),
  reshape: unary('reshape', { shape: [4, 2] }),
  transpose: unary('transpose', { perm: [1, 0] }),
  slice: unary('slice', { starts: [0], ends: [1], axes: [0], steps: [1] }),
  concat: [node('concat', [secret, secret], { axis: 0 })],
  split: unary('split', { axis: 1, sizes: [1, 3] }),
  expand: unary('expand', { shape: [3, 2, 4] }),
  trilu: unary('trilu'),
  mul: [node('mul', [secret, pub]), node('mul', [secret, { vis: 'server' }]), node('mul', [secret, secret])],
  matmul: [
    node('matmul', [secret, { vis: 'public', shape: [4, 3] }]),
    node('matmul', [secret, { vis: 'server', shape: [4, 3] }]),
    node('matmul', [secret, { vis: 'secret', shape: [4, 3] }]),
  ],
  where: [
    node('where', [{ vis: 'public', dtype: 'bool' }, secret, secret]),
    node('where', [{ vis: 'secret', dtype: 'bool' }, secret, secret]),
  ],
  gather: [
    node('gather', [
      { vis: 'secret', shape: [10, 4] },
      { vis: 'public', dtype: 'i64', shape: [3] },
    ]),
    node('gather', [
      { vis: 'server', shape: [10, 4] },
      { vis: 'client', dtype: 'i64', shape: [1, 3] },
    ]),
  ],
  relu: unary('relu'),
  abs: unary('abs'),
  less: binary('less'),
  greater: binary('greater'),
  equal: binary('equal'),
  max: binary('max'),
  min: binary('min'),
  reduce_max: unary('reduce_max', { axes: [1] }),
  argmax: unary('argmax', { axis: 1 }),
  exp: unary('exp'),
  reciprocal: unary('reciprocal'),
  rsqrt: unary('rsqrt'),
  sqrt: unary('sqrt'),
  erf: unary('erf'),
  tanh: unary('tanh'),
  sigmoid: unary('sigmoid'),
  silu: unary('silu'),
  gelu: (['erf', 'tanh', 'relu', 'quad'] as const).flatMap((approx) => unary('gelu', { approx })),
  softmax: (['exact', '2quad'] as const).flatMap((approx) => unary('softmax', { approx })),
  layernorm: [node('layernorm', [secret, { vis: 'public', shape: [4] }, { vis: 'public', shape: [4] }])],
  rmsnorm: [node('rmsnorm', [secret, { vis: 'server', shape: [4] }])],
};

const MPC_OPS = OP_NAMES.filter(mayRunUnderMpc);

describe('the protocol table', () => {
  it('has protocols for every op that may run under MPC, and none for the others', () => {
    const missing = MPC_OPS.filter((op) => !(OP_PROTOCOLS[op]?.protocols.length ?? 0));
    expect(missing, 'ops placeable under mpc with no protocol').toEqual([]);
    const extra = OP_NAMES.filter((op) => !mayRunUnderMpc(op) && OP_PROTOCOLS[op] !== undefined);
    expect(extra, 'ops that never run under mpc but have protocols').toEqual([]);
  });

  it('names only defined protocols, each once per op, and offers every defined protocol', () => {
    const offered = new Set<string>();
    for (const [op, entry] of Object.entries(OP_PROTOCOLS)) {
      expect(new Set(entry.protocols).size, op).toBe(entry.protocols.length);
      for (const name of entry.protocols) {
        expect(() => protocolByName(name), `${op}: ${name}`).not.toThrow();
        offered.add(name);
      }
    }
    expect(
      allProtocols()
        .filter((p) => !offered.has(p.name))
        .map((p) => p.name),
    ).toEqual([]);
  });

  it('has a representative node for every op it covers', () => {
    expect(MPC_OPS.filter((op) => !REPRESENTATIVES[op]?.length)).toEqual([]);
  });

  it.each(MPC_OPS)("%s: every default is among the op's protocols and binds a representative node", (op) => {
    const { protocols, defaults } = OP_PROTOCOLS[op]!;
    expect(defaults.length).toBeGreaterThan(0);
    for (const d of defaults) expect(protocols, d).toContain(d);
    const chosen = REPRESENTATIVES[op]!.map((n) => bindNode(n, undefined, { fracBits: F }).name);
    for (const name of chosen) expect(defaults).toContain(name);
    // A default that no representative node binds to would be unreachable or untested.
    expect([...new Set(chosen)].sort()).toEqual([...defaults].sort());
  });
});

describe('binding by the table', () => {
  it('binds products by their operands: public -> linear, server weight -> beaver.weight, else beaver', () => {
    const names = REPRESENTATIVES.matmul!.map((n) => bindNode(n, undefined, { fracBits: F }).name);
    expect(names).toEqual(['linear', 'beaver.weight', 'beaver']);
  });

  it('binds a named protocol of the op, even when it is not the default', () => {
    const n = REPRESENTATIVES.relu![0]!;
    expect(bindNode(n, 'relu.bool', { fracBits: F }).name).toBe('relu.bool');
  });

  it('refuses a protocol of another op, and an unknown one', () => {
    const n = REPRESENTATIVES.relu![0]!;
    expect(() => bindNode(n, 'exp.dcf', { fracBits: F })).toThrow(
      /protocol 'exp.dcf' does not run op 'relu' \(its protocols: relu.dcf, relu.bool\)/,
    );
    expect(() => bindNode(n, 'relu.fast', { fracBits: F })).toThrow(/unknown protocol 'relu.fast'/);
  });

  it('refuses an op with no MPC protocol, and a node no default accepts, with the reasons', () => {
    const sin = node('sin', [secret]);
    expect(protocolsFor('sin')).toEqual([]);
    expect(() => bindNode(sin, undefined, { fracBits: F })).toThrow(MarillError);
    expect(() => bindNode(sin, undefined, { fracBits: F })).toThrow(/the op has none/);
    // secret indices: neither a public-index gather nor a client-index lookup
    const gather = node('gather', [secret, { vis: 'secret', dtype: 'i64', shape: [3] }]);
    expect(() => bindNode(gather, undefined, { fracBits: F })).toThrow(
      /no MPC protocol for op 'gather' with secret, secret operands \(linear: .*; embedding.onehot: .*\)/,
    );
  });
});
