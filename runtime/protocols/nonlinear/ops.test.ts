// The registered op protocols, bound to IR nodes as the executor binds them, against the
// plaintext interpreter (ir/interpret.ts evalOp); measured communication against cost().
import { describe, expect, it } from 'vitest';
import type { Attrs } from '../../../ir/graph.ts';
import { evalOp } from '../../../ir/interpret.ts';
import type { OpName } from '../../../ir/ops.ts';
import { inferTypes } from '../../../ir/ops.ts';
import type { Tensor } from '../../../ir/tensor.ts';
import { makeTensor } from '../../../ir/tensor.ts';
import type { Visibility } from '../../../ir/types.ts';
import type { NodeSpec, Operand } from '../../protocol.ts';
import { ringAdd } from '../../ring/kernels.ts';
import { TwoPartySession, splitShares } from '../../../test/runtime/two-party.ts';
import { bindNode, protocolsFor } from '../registry.ts';
import { decodeTensor, encodeTensor } from '../sharing.ts';
import { expectMeasuredCost } from '../../../test/runtime/expect-cost.ts';
import { uniform } from '../../../test/runtime/real-inputs.ts';

const F = 16;
const q = (v: number) => Math.round(v * 2 ** F) / 2 ** F;
const f32 = (shape: number[], lo: number, hi: number) =>
  makeTensor(
    'f32',
    shape,
    Float32Array.from(
      uniform(
        shape.reduce((a, b) => a * b, 1),
        lo,
        hi,
      ).map(q),
    ),
  );

interface Case {
  readonly op: OpName;
  readonly attrs?: Attrs;
  readonly inputs: readonly { readonly tensor: Tensor; readonly vis: Visibility }[];
  readonly tolerance: number;
  readonly protocol?: string;
}

function operands(c: Case): [Operand[], Operand[]] {
  const server: Operand[] = [];
  const client: Operand[] = [];
  for (const { tensor, vis } of c.inputs) {
    if (vis === 'secret') {
      const [a, b] = splitShares(encodeTensor(tensor, F));
      server.push({ kind: 'share', share: { shape: tensor.shape, data: a } });
      client.push({ kind: 'share', share: { shape: tensor.shape, data: b } });
    } else {
      const plain: Operand = { kind: 'plain', tensor };
      const hidden: Operand = { kind: 'hidden', type: { dtype: tensor.dtype, shape: tensor.shape } };
      server.push(vis === 'client' ? hidden : plain);
      client.push(vis === 'server' ? hidden : plain);
    }
  }
  return [server, client];
}

async function runCase(c: Case, id: string): Promise<{ name: string }> {
  const types = c.inputs.map((i) => ({ dtype: i.tensor.dtype, shape: i.tensor.shape }));
  const outputs = inferTypes(c.op, types, c.attrs ?? {});
  const node: NodeSpec = {
    id,
    op: c.op,
    attrs: c.attrs ?? {},
    inputs: c.inputs.map((i, k) => ({ type: types[k]!, visibility: i.vis })),
    outputs,
  };
  const { name, bound } = bindNode(node, c.protocol, { fracBits: F });
  const s = new TwoPartySession();
  const [r0, r1] = await s.runBound(bound, operands(c), id, name);
  const a = r0[0]!;
  const b = r1[0]!;
  if (a.kind !== 'share' || b.kind !== 'share') throw new Error('expected shares');
  const got = decodeTensor(ringAdd(a.share.data, b.share.data), outputs[0]!, F);
  const want = evalOp(
    c.op,
    c.inputs.map((i) => i.tensor),
    c.attrs ?? {},
    outputs,
  )[0]!;
  const g = Array.from(got.data as ArrayLike<number | bigint>, Number);
  const w = Array.from(want.data as ArrayLike<number | bigint>, Number);
  let worst = 0;
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i]! - w[i]!));
  expect(worst, `${name} on ${c.op}`).toBeLessThanOrEqual(c.tolerance);
  expectMeasuredCost(s, id, bound.cost);
  return { name };
}

const x = f32([2, 3, 8], -5, 5);
const y = f32([2, 3, 8], -5, 5);
const positive = f32([2, 8], 0.1, 50);
const causal = makeTensor(
  'f32',
  [1, 8, 8],
  Float32Array.from({ length: 64 }, (_, i) => (i % 8 > Math.floor(i / 8) ? -Infinity : 0)),
);

const CASES: Record<string, Case> = {
  relu: { op: 'relu', inputs: [{ tensor: x, vis: 'secret' }], tolerance: 0 },
  'gelu relu': {
    op: 'gelu',
    attrs: { approx: 'relu' },
    inputs: [{ tensor: x, vis: 'secret' }],
    tolerance: 0,
  },
  'gelu erf': { op: 'gelu', inputs: [{ tensor: x, vis: 'secret' }], tolerance: 2e-4 },
  'gelu tanh': {
    op: 'gelu',
    attrs: { approx: 'tanh' },
    inputs: [{ tensor: x, vis: 'secret' }],
    tolerance: 2e-4,
  },
  'gelu quad': {
    op: 'gelu',
    attrs: { approx: 'quad' },
    inputs: [{ tensor: x, vis: 'secret' }],
    tolerance: 2e-5,
  },
  silu: { op: 'silu', inputs: [{ tensor: x, vis: 'client' }], tolerance: 2e-4 },
  sigmoid: { op: 'sigmoid', inputs: [{ tensor: x, vis: 'secret' }], tolerance: 2e-4 },
  tanh: { op: 'tanh', inputs: [{ tensor: x, vis: 'secret' }], tolerance: 2e-4 },
  erf: { op: 'erf', inputs: [{ tensor: x, vis: 'secret' }], tolerance: 2e-4 },
  exp: { op: 'exp', inputs: [{ tensor: f32([16], -20, 0), vis: 'secret' }], tolerance: 1e-4 },
  reciprocal: { op: 'reciprocal', inputs: [{ tensor: positive, vis: 'secret' }], tolerance: 1e-3 },
  rsqrt: { op: 'rsqrt', inputs: [{ tensor: positive, vis: 'secret' }], tolerance: 1e-3 },
  abs: { op: 'abs', inputs: [{ tensor: x, vis: 'secret' }], tolerance: 0 },
  max: {
    op: 'max',
    inputs: [
      { tensor: x, vis: 'secret' },
      { tensor: y, vis: 'server' },
    ],
    tolerance: 0,
  },
  'min broadcast': {
    op: 'min',
    inputs: [
      { tensor: x, vis: 'secret' },
      { tensor: f32([8], -1, 1), vis: 'public' },
    ],
    tolerance: 0,
  },
  less: {
    op: 'less',
    inputs: [
      { tensor: x, vis: 'secret' },
      { tensor: y, vis: 'secret' },
    ],
    tolerance: 0,
  },
  greater: {
    op: 'greater',
    inputs: [
      { tensor: x, vis: 'secret' },
      { tensor: y, vis: 'public' },
    ],
    tolerance: 0,
  },
  equal: {
    op: 'equal',
    inputs: [
      { tensor: x, vis: 'secret' },
      { tensor: x, vis: 'client' },
    ],
    tolerance: 0,
  },
  'reduce_max middle axis': {
    op: 'reduce_max',
    attrs: { axes: [1], keepdims: 0 },
    inputs: [{ tensor: x, vis: 'secret' }],
    tolerance: 0,
  },
  argmax: { op: 'argmax', attrs: { axis: -1 }, inputs: [{ tensor: x, vis: 'secret' }], tolerance: 0 },
  'softmax exact causal': {
    op: 'softmax',
    inputs: [
      { tensor: f32([2, 8, 8], -4, 4), vis: 'secret' },
      { tensor: causal, vis: 'public' },
    ],
    tolerance: 5e-4,
  },
  'softmax 2quad': {
    op: 'softmax',
    attrs: { approx: '2quad' },
    inputs: [{ tensor: x, vis: 'secret' }],
    tolerance: 5e-4,
  },
  layernorm: {
    op: 'layernorm',
    inputs: [
      { tensor: f32([4, 16], -3, 3), vis: 'secret' },
      { tensor: f32([16], 0.5, 1.5), vis: 'public' },
      { tensor: f32([16], -1, 1), vis: 'server' },
    ],
    tolerance: 2e-3,
  },
  rmsnorm: {
    op: 'rmsnorm',
    inputs: [
      { tensor: f32([4, 16], -3, 3), vis: 'secret' },
      { tensor: f32([16], 0.5, 1.5), vis: 'server' },
    ],
    tolerance: 2e-3,
  },
  where: {
    op: 'where',
    inputs: [
      {
        tensor: makeTensor(
          'bool',
          [2, 3, 8],
          Uint8Array.from({ length: 48 }, (_, i) => i % 2),
        ),
        vis: 'secret',
      },
      { tensor: x, vis: 'secret' },
      { tensor: y, vis: 'public' },
    ],
    tolerance: 0,
  },
  embedding: {
    op: 'gather',
    inputs: [
      { tensor: f32([10, 4], -1, 1), vis: 'server' },
      { tensor: makeTensor('i64', [1, 3], BigInt64Array.from([2n, 9n, -1n])), vis: 'client' },
    ],
    tolerance: 0,
  },
};

describe('non-linear op protocols bound to IR nodes', () => {
  it.each(Object.keys(CASES))('%s matches the interpreter (default protocol)', async (name) => {
    const { name: chosen } = await runCase(CASES[name]!, name.replace(/ /g, '_'));
    expect(chosen).not.toMatch(/\.bool$/); // the DCF variant is preferred by default
  });

  it.each(['relu', 'argmax', 'softmax exact causal', 'layernorm', 'gelu erf'])(
    '%s matches with the boolean variant',
    async (name) => {
      const c = CASES[name]!;
      const dcf = bindNode(
        {
          id: 'probe',
          op: c.op,
          attrs: c.attrs ?? {},
          inputs: c.inputs.map((i) => ({
            type: { dtype: i.tensor.dtype, shape: i.tensor.shape },
            visibility: i.vis,
          })),
          outputs: inferTypes(
            c.op,
            c.inputs.map((i) => ({ dtype: i.tensor.dtype, shape: i.tensor.shape })),
            c.attrs ?? {},
          ),
        },
        undefined,
        { fracBits: F },
      ).name;
      await runCase({ ...c, protocol: dcf.replace(/\.dcf$/, '.bool') }, `${name.replace(/ /g, '_')}_bool`);
    },
  );

  it('offers both comparison variants for comparison-based ops', () => {
    for (const op of ['relu', 'exp', 'softmax', 'layernorm', 'argmax', 'reduce_max', 'less'] as OpName[]) {
      const names = protocolsFor(op).map((p) => p.name);
      expect(names.some((n) => n.endsWith('.dcf'))).toBe(true);
      expect(names.some((n) => n.endsWith('.bool'))).toBe(true);
    }
  });

  it('rejects nodes it cannot run, with the node named', () => {
    const node: NodeSpec = {
      id: 'g',
      op: 'gelu',
      attrs: { approx: 'tanh' },
      inputs: [{ type: { dtype: 'f32', shape: [2] }, visibility: 'secret' }],
      outputs: [{ dtype: 'f32', shape: [2] }],
    };
    expect(() => bindNode(node, 'gelu.erf.dcf', { fracBits: F })).toThrow(/approx = erf/);
  });
});
