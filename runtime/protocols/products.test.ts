// The 'beaver' and 'beaver.weight' op protocols on broadcast operands, against evalOp; and the
// once-per-session rule of 'beaver.weight'.
import { describe, expect, it } from 'vitest';
import { evalOp } from '../../ir/interpret.ts';
import type { OpName } from '../../ir/ops.ts';
import { inferTypes } from '../../ir/ops.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { makeTensor, tensorMaxAbsDiff } from '../../ir/tensor.ts';
import type { Visibility } from '../../ir/types.ts';
import { numel } from '../../ir/types.ts';
import { Prg } from '../crypto/prg.ts';
import type { Operand } from '../protocol.ts';
import { ringAdd } from '../ring/kernels.ts';
import { TwoPartySession, splitShares } from '../../test/runtime/two-party.ts';
import type { OpProtocol } from './op-protocol.ts';
import { beaverProtocol, weightProtocol } from './products.ts';
import { decodeTensor, encodeTensor } from './sharing.ts';

const F = 16;

function rand(shape: number[], scale = 2): Tensor {
  const u = new Uint32Array(Prg.fresh().bytes(4 * numel(shape)).buffer);
  return makeTensor(
    'f32',
    shape,
    Float32Array.from(u, (v) => ((v / 2 ** 32) * 2 - 1) * scale),
  );
}

type Input = { tensor: Tensor; visibility: Visibility };

function operands(inputs: readonly Input[]): [Operand[], Operand[]] {
  const shares = inputs.map((i) =>
    i.visibility === 'secret' ? splitShares(encodeTensor(i.tensor, F)) : undefined,
  );
  const view = (party: 0 | 1) =>
    inputs.map((i, k): Operand => {
      const sh = shares[k];
      if (sh) return { kind: 'share', share: { shape: i.tensor.shape, data: sh[party] } };
      if (i.visibility === 'public' || (i.visibility === 'server') === (party === 0))
        return { kind: 'plain', tensor: i.tensor };
      return { kind: 'hidden', type: { dtype: i.tensor.dtype, shape: i.tensor.shape } };
    });
  return [view(0), view(1)];
}

async function run(
  s: TwoPartySession,
  protocol: OpProtocol,
  op: OpName,
  inputs: readonly Input[],
): Promise<{ got: Tensor; want: Tensor }> {
  const types = inputs.map((i) => ({ dtype: i.tensor.dtype, shape: i.tensor.shape }));
  const outputs = inferTypes(op, types, {});
  const node = {
    id: 'n',
    op,
    attrs: {},
    inputs: inputs.map((i, k) => ({ type: types[k]!, visibility: i.visibility })),
    outputs,
  };
  const [r0, r1] = await s.runBound(
    protocol.bind(node, { fracBits: F }),
    operands(inputs),
    'n',
    protocol.name,
  );
  const [a, b] = [r0[0]!, r1[0]!];
  if (a.kind !== 'share' || b.kind !== 'share') throw new Error('expected shares');
  return {
    got: decodeTensor(ringAdd(a.share.data, b.share.data), outputs[0]!, F),
    want: evalOp(
      op,
      inputs.map((i) => i.tensor),
      {},
      outputs,
    )[0]!,
  };
}

describe('product op protocols', () => {
  it.each<[string, OpProtocol, OpName, Input[], number]>([
    [
      'beaver mul, broadcast',
      beaverProtocol,
      'mul',
      [
        { tensor: rand([3, 1]), visibility: 'secret' },
        { tensor: rand([4]), visibility: 'client' },
      ],
      1e-3,
    ],
    [
      'beaver batched matmul, broadcast batch',
      beaverProtocol,
      'matmul',
      [
        { tensor: rand([2, 3, 5]), visibility: 'secret' },
        { tensor: rand([5, 4]), visibility: 'secret' },
      ],
      2e-3,
    ],
    [
      'beaver.weight elementwise, broadcast weight',
      weightProtocol,
      'mul',
      [
        { tensor: rand([2, 3, 4]), visibility: 'secret' },
        { tensor: rand([4]), visibility: 'server' },
      ],
      1e-3,
    ],
    [
      'beaver.weight on a client activation',
      weightProtocol,
      'matmul',
      [
        { tensor: rand([3, 6]), visibility: 'client' },
        { tensor: rand([6, 2]), visibility: 'server' },
      ],
      2e-3,
    ],
  ])('%s matches evalOp', async (_name, protocol, op, inputs, tol) => {
    const { got, want } = await run(new TwoPartySession(), protocol, op, inputs);
    expect(tensorMaxAbsDiff(got, want)).toBeLessThan(tol);
  });

  it("'beaver.weight' refuses a server operand that changes within a session", async () => {
    const s = new TwoPartySession();
    const x = { tensor: rand([2, 3]), visibility: 'secret' as const };
    await run(s, weightProtocol, 'matmul', [x, { tensor: rand([3, 2]), visibility: 'server' }]);
    await expect(
      run(s, weightProtocol, 'matmul', [x, { tensor: rand([3, 2]), visibility: 'server' }]),
    ).rejects.toThrow(/server operand changed between inferences/);
  });
});
