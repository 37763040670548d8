/**
 * The visibility boundary as op protocols:
 *
 *  - 'share' (op share): the owner's plaintext becomes a sharing, from the
 *    parties' common PRG (./sharing.ts): 0 bytes, 0 rounds.
 *  - 'reveal' (op reveal): a shared value is opened to one party (`to`, the
 *    client for graph outputs): the other party sends its share, 1 round,
 *    8 bytes per element. The receiver decodes it (f32: fixed point).
 */
import { stringAttr } from '../../ir/ops.ts';
import type { TensorType } from '../../ir/types.ts';
import { numel } from '../../ir/types.ts';
import type { NodeSpec, Party } from '../protocol.ts';
import { cost } from '../protocol.ts';
import { defineOpProtocol, nodeError, ownerOf, shareOperands } from './op-protocol.ts';
import { decodeTensor, operandShare, revealCost, revealTo } from './sharing.ts';

interface ShareParams {
  readonly owner: Party | undefined;
  readonly type: TensorType;
}

export const shareProtocol = defineOpProtocol<ShareParams, null>({
  name: 'share',
  doc: 'secret-share a private value from its owner (common PRG: no communication)',
  params(node) {
    const { visibility, type } = node.inputs[0]!;
    if (visibility === 'secret') throw nodeError(node, 'the value is already secret');
    const from = stringAttr(node.attrs, 'from');
    if (visibility !== 'public' && visibility !== from)
      throw nodeError(node, `share from ${from} of a ${visibility} value`);
    return { owner: ownerOf(visibility), type };
  },
  deal() {},
  material: () => null,
  async online(ctx, p, _m, inputs) {
    return shareOperands([operandShare(ctx, inputs[0]!, p.type, p.owner)]);
  },
  cost: () => cost({}),
});

interface RevealParams {
  readonly to: Party;
  readonly n: number;
  readonly node: NodeSpec;
}

export const revealProtocol = defineOpProtocol<RevealParams, null>({
  name: 'reveal',
  doc: 'open a secret value to one party (the other sends its share)',
  params(node) {
    if (node.inputs[0]!.visibility !== 'secret')
      throw nodeError(node, 'reveal of a value that is not secret');
    const to = stringAttr(node.attrs, 'to') === 'server' ? 'server' : 'client';
    return { to, n: numel(node.outputs[0]!.shape), node };
  },
  deal() {},
  material: () => null,
  async online(ctx, p, _m, inputs) {
    const input = inputs[0]!;
    if (input.kind !== 'share') throw nodeError(p.node, 'reveal needs a share');
    const value = await revealTo(ctx, p.to, input.share.data);
    const type = p.node.outputs[0]!;
    return [
      value ? { kind: 'plain', tensor: decodeTensor(value, type, ctx.fracBits) } : { kind: 'hidden', type },
    ];
  },
  cost: (p) => revealCost(p.n, p.to),
});
