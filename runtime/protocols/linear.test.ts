// The 'linear' op protocol on shares against the plaintext interpreter's evalOp, op by op.
import { describe, expect, it } from 'vitest';
import type { Attrs } from '../../ir/graph.ts';
import { evalOp } from '../../ir/interpret.ts';
import type { OpName } from '../../ir/ops.ts';
import { inferTypes, normalizeAttrs } from '../../ir/ops.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { makeTensor } from '../../ir/tensor.ts';
import type { Visibility } from '../../ir/types.ts';
import { numel } from '../../ir/types.ts';
import { Prg } from '../crypto/prg.ts';
import type { Operand } from '../protocol.ts';
import { TwoPartySession, splitShares } from '../../test/runtime/two-party.ts';
import { linearProtocol } from './linear.ts';
import { decodeTensor, encodeTensor } from './sharing.ts';

const F = 16;

function rand(shape: number[]): Tensor {
  const u = new Uint32Array(Prg.fresh().bytes(4 * numel(shape)).buffer);
  return makeTensor(
    'f32',
    shape,
    Float32Array.from(u, (v) => (v / 2 ** 32) * 8 - 4),
  );
}

interface Case {
  op: OpName;
  attrs?: Attrs;
  inputs: { tensor: Tensor; visibility: Visibility }[];
}

/** Runs a node through 'linear' with the given operand visibilities; returns the opened result. */
async function runLinear(c: Case): Promise<{ got: Tensor[]; want: Tensor[]; rounds: number }> {
  const attrs = normalizeAttrs(c.op, c.attrs ?? {});
  const types = c.inputs.map((i) => ({ dtype: i.tensor.dtype, shape: i.tensor.shape }));
  const outputs = inferTypes(c.op, types, attrs);
  const node = {
    id: 'n',
    op: c.op,
    attrs,
    inputs: c.inputs.map((i, k) => ({ type: types[k]!, visibility: i.visibility })),
    outputs,
  };
  const bound = linearProtocol.bind(node, { fracBits: F });
  const shares = c.inputs.map((i) =>
    i.visibility === 'secret' ? splitShares(encodeTensor(i.tensor, F)) : undefined,
  );
  const ops = ([0, 1] as const).map((party) =>
    c.inputs.map((i, k): Operand => {
      const sh = shares[k];
      if (sh) return { kind: 'share', share: { shape: i.tensor.shape, data: sh[party] } };
      if (i.visibility === 'public' || (i.visibility === 'server') === (party === 0))
        return { kind: 'plain', tensor: i.tensor };
      return { kind: 'hidden', type: { dtype: i.tensor.dtype, shape: i.tensor.shape } };
    }),
  );
  const s = new TwoPartySession();
  const [r0, r1] = await s.runBound(bound, [ops[0]!, ops[1]!], 'n', 'linear');
  const got = r0.map((o, k) => {
    const p = r1[k]!;
    if (o.kind !== 'share' || p.kind !== 'share') throw new Error('linear returned a non-share');
    const sum = new BigInt64Array(o.share.data.length);
    for (let i = 0; i < sum.length; i++) sum[i] = BigInt.asIntN(64, o.share.data[i]! + p.share.data[i]!);
    return decodeTensor(sum, outputs[k]!, F);
  });
  const want = evalOp(
    c.op,
    c.inputs.map((i) => i.tensor),
    attrs,
    outputs,
  );
  return { got, want, rounds: s.stats('n').rounds };
}

function expectClose(got: Tensor, want: Tensor, tol: number): void {
  expect(got.shape).toEqual(want.shape);
  const g = got.data as Float32Array;
  const w = want.data as Float32Array;
  for (let i = 0; i < g.length; i++) expect(Math.abs(g[i]! - w[i]!)).toBeLessThanOrEqual(tol);
}

const sec = (t: Tensor) => ({ tensor: t, visibility: 'secret' as const });
const pub = (t: Tensor) => ({ tensor: t, visibility: 'public' as const });
const srv = (t: Tensor) => ({ tensor: t, visibility: 'server' as const });

describe("'linear' op protocol", () => {
  it.each<[string, Case, number]>([
    ['add secret + public (broadcast)', { op: 'add', inputs: [sec(rand([3, 4])), pub(rand([4]))] }, 0],
    ['sub server - secret', { op: 'sub', inputs: [srv(rand([3, 4])), sec(rand([3, 4]))] }, 0],
    ['neg', { op: 'neg', inputs: [sec(rand([5]))] }, 0],
    ['mul by public', { op: 'mul', inputs: [pub(rand([2, 1])), sec(rand([2, 3]))] }, 1],
    [
      'div by public',
      { op: 'div', inputs: [sec(rand([2, 3])), pub(makeTensor('f32', [], Float32Array.of(3)))] },
      1,
    ],
    [
      'matmul by public weight, batched',
      { op: 'matmul', inputs: [sec(rand([2, 3, 4])), pub(rand([4, 5]))] },
      1,
    ],
    ['public weight times secret', { op: 'matmul', inputs: [pub(rand([3, 4])), sec(rand([2, 4, 2]))] }, 1],
    [
      'reduce_sum',
      { op: 'reduce_sum', attrs: { axes: [0, 2], keepdims: 1 }, inputs: [sec(rand([2, 3, 4]))] },
      0,
    ],
    [
      'reduce_mean',
      { op: 'reduce_mean', attrs: { axes: [-1], keepdims: 0 }, inputs: [sec(rand([2, 3, 4]))] },
      1,
    ],
    ['transpose', { op: 'transpose', attrs: { perm: [2, 0, 1] }, inputs: [sec(rand([2, 3, 4]))] }, 0],
    ['reshape', { op: 'reshape', attrs: { shape: [4, -1] }, inputs: [sec(rand([2, 3, 4]))] }, 0],
    [
      'slice',
      { op: 'slice', attrs: { starts: [1], ends: [4], axes: [1], steps: [2] }, inputs: [sec(rand([2, 5]))] },
      0,
    ],
    [
      'concat secret with public',
      { op: 'concat', attrs: { axis: 0 }, inputs: [sec(rand([1, 3])), pub(rand([2, 3]))] },
      0,
    ],
    ['expand', { op: 'expand', attrs: { shape: [3, 2, 4] }, inputs: [sec(rand([2, 1]))] }, 0],
    ['trilu', { op: 'trilu', attrs: { upper: 0, k: 0 }, inputs: [sec(rand([3, 3]))] }, 0],
    [
      'gather at public indices',
      {
        op: 'gather',
        attrs: { axis: 0 },
        inputs: [sec(rand([5, 3])), pub(makeTensor('i64', [2, 2], BigInt64Array.of(4n, 0n, -1n, 2n)))],
      },
      0,
    ],
    [
      'where with a public mask',
      {
        op: 'where',
        inputs: [
          pub(makeTensor('bool', [2, 3], Uint8Array.of(1, 0, 1, 0, 0, 1))),
          sec(rand([2, 3])),
          pub(rand([3])),
        ],
      },
      0,
    ],
  ])('%s', async (_name, c, rounds) => {
    const { got, want, rounds: measured } = await runLinear(c);
    got.forEach((g, k) => expectClose(g, want[k]!, 4 * 2 ** -F + 1e-6 * 64));
    expect(measured).toBe(rounds);
  });

  it('cast of a secret integer to f32 is exact', async () => {
    const ints = makeTensor('i64', [4], BigInt64Array.of(-3n, 0n, 7n, 1000n));
    const { got } = await runLinear({ op: 'cast', attrs: { to: 'f32' }, inputs: [sec(ints)] });
    expect([...(got[0]!.data as Float32Array)]).toEqual([-3, 0, 7, 1000]);
  });

  it('split gives every piece', async () => {
    const { got, want } = await runLinear({
      op: 'split',
      attrs: { axis: 1, sizes: [1, 3] },
      inputs: [sec(rand([2, 4]))],
    });
    expect(got).toHaveLength(2);
    got.forEach((g, k) => expectClose(g, want[k]!, 2 ** -F));
  });

  it('refuses a product with no public operand, naming the node', () => {
    const t = { type: { dtype: 'f32' as const, shape: [2] }, visibility: 'secret' as const };
    expect(() =>
      linearProtocol.bind(
        { id: '9', op: 'mul', attrs: {}, inputs: [t, t], outputs: [t.type] },
        { fracBits: F },
      ),
    ).toThrow(/'linear' needs a public operand for mul/);
  });
});
