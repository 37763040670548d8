/**
 * Secret sharing between client and server, and the conversions between
 * plaintext tensors and ring values.
 *
 *  - share from an owner: both parties draw r from their common PRG (seeded
 *    at the handshake, unknown to the dealer); the owner's share is x - r, the
 *    other's is r. No bytes, no rounds. (The owner knows both shares, exactly
 *    as when it sends the other party a random share itself.)
 *  - public values enter as (x, 0): the server holds x, the client 0.
 *  - reveal to one party: the other sends its share (one round, 8n bytes).
 *  - open to both: one exchange (one round, 8n bytes each way).
 *
 * Encoding: f32 values are fixed point with `fracBits` fractional bits; i64 and
 * bool values are ring integers (bool as 0/1).
 */
import { MarillError } from '../../ir/errors.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { makeTensor } from '../../ir/tensor.ts';
import type { DType, TensorType } from '../../ir/types.ts';
import { formatType, numel, shapeEquals } from '../../ir/types.ts';
import type { Operand, Party, PartyContext, Share } from '../protocol.ts';
import { cost } from '../protocol.ts';
import type { Cost } from '../protocol.ts';
import { decodeFixedF32, encodeFixed } from '../ring/fixed.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringAdd, ringSub } from '../ring/kernels.ts';

/** Fractional bits a value of this dtype is encoded with. */
export function scaleOf(dtype: DType, fracBits: number): number {
  return dtype === 'f32' ? fracBits : 0;
}

/** Plaintext -> ring: fixed point for f32, integers for i64, 0/1 for bool. */
export function encodeTensor(t: Tensor, fracBits: number): Ring {
  if (t.data instanceof Float32Array) return encodeFixed(t.data, fracBits);
  if (t.data instanceof BigInt64Array) return t.data.slice();
  const out = new BigInt64Array(t.data.length);
  const words = new Int32Array(out.buffer);
  for (let i = 0; i < t.data.length; i++) words[2 * i] = t.data[i] ? 1 : 0;
  return out;
}

/** Ring -> plaintext of the given type (the inverse of `encodeTensor`; bool is x != 0). */
export function decodeTensor(r: Ring, type: TensorType, fracBits: number): Tensor {
  if (r.length !== numel(type.shape))
    throw new MarillError(`${r.length} ring elements do not make a ${formatType(type)} tensor`);
  if (type.dtype === 'f32') return makeTensor('f32', type.shape, decodeFixedF32(r, fracBits));
  if (type.dtype === 'i64') return makeTensor('i64', type.shape, r.slice());
  const bits = new Uint8Array(r.length);
  const words = new Int32Array(r.buffer, r.byteOffset, r.length * 2);
  for (let i = 0; i < r.length; i++) bits[i] = words[2 * i]! !== 0 || words[2 * i + 1]! !== 0 ? 1 : 0;
  return makeTensor('bool', type.shape, bits);
}

/**
 * This party's share of a value owned by `owner`, from the common PRG: the
 * owner passes the (encoded) value and gets value - r, the other gets r.
 */
export function shareFromOwner(ctx: PartyContext, owner: Party, n: number, value?: Ring): Ring {
  const r = ctx.common.ring(n);
  if (ctx.party !== owner) return r;
  if (!value || value.length !== n)
    throw new MarillError(`the ${owner} shares a value of ${n} elements it does not hold`);
  return ringSub(value, r);
}

/** A public (encoded) value as a sharing: the server holds it, the client holds 0. */
export function sharePublic(ctx: Pick<PartyContext, 'index'>, value: Ring): Ring {
  return ctx.index === 0 ? value.slice() : new BigInt64Array(value.length);
}

/**
 * Any operand as this party's share (no communication): shares stay, public
 * plaintext becomes (x, 0), a private plaintext is shared from its owner.
 * Both parties must call this for the same operands in the same order (the
 * common PRG advances for private operands).
 */
export function operandShare(ctx: PartyContext, operand: Operand, type: TensorType, owner?: Party): Share {
  if (operand.kind === 'share') {
    if (!shapeEquals(operand.share.shape, type.shape))
      throw new MarillError(
        `share has shape [${operand.share.shape}] where ${formatType(type)} was expected`,
      );
    return operand.share;
  }
  const n = numel(type.shape);
  if (owner === undefined) {
    if (operand.kind !== 'plain') throw new MarillError(`a public ${formatType(type)} operand is missing`);
    return { shape: type.shape, data: sharePublic(ctx, encodeTensor(operand.tensor, ctx.fracBits)) };
  }
  const value = operand.kind === 'plain' ? encodeTensor(operand.tensor, ctx.fracBits) : undefined;
  return { shape: type.shape, data: shareFromOwner(ctx, owner, n, value) };
}

/** Reveals a shared value to `to` (one round): it gets the value, the other party undefined. */
export async function revealTo(ctx: PartyContext, to: Party, share: Ring): Promise<Ring | undefined> {
  if (ctx.party === to) {
    const other = await ctx.recvRing();
    if (other.length !== share.length)
      throw new MarillError(`peer revealed ${other.length} elements where ${share.length} were expected`);
    return ringAdd(share, other);
  }
  await ctx.sendRing(share);
  return undefined;
}

export function revealCost(n: number, to: Party): Cost {
  return cost({ onlineBytes: to === 'client' ? [8 * n, 0] : [0, 8 * n], rounds: 1 });
}
