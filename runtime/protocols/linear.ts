/**
 * The 'linear' op protocol: ops that are linear in their secret operands, run
 * locally on shares. No communication, except one truncation round
 * (./truncate.ts) after a fixed-point product by a public value.
 *
 *   add, sub, neg                         local (public operands enter as (x, 0))
 *   mul, div by a public operand          local product, truncation for f32 (+1 ulp)
 *   matmul with a public operand          local product (Marill's public-weight win), truncation for f32
 *   reduce_sum                            local
 *   reduce_mean                           local sum, product by public 1/count, truncation
 *   where with a public condition         y + cond * (x - y), local, exact
 *   cast between integer types, to f32     local (integer -> f32 multiplies by 2^f), exact
 *   reshape, transpose, slice, concat,
 *   split, expand, trilu, gather (public
 *   indices)                              local data movement (./../mpc/layout.ts)
 *
 * Operands private to one party are shared from their owner first (0 bytes,
 * ./sharing.ts). Errors: exact in the ring, except the truncation's +1 ulp and
 * the encoding of public operands (<= 1/2 ulp each).
 */
import { intsAttr } from '../../ir/ops.ts';
import type { Tensor } from '../../ir/tensor.ts';
import type { Shape } from '../../ir/types.ts';
import { numel } from '../../ir/types.ts';
import {
  applyMap,
  broadcastRing,
  concatRings,
  movementMaps,
  reductionMap,
  scatterAdd,
} from '../mpc/layout.ts';
import type { NodeSpec, Operand, PartyContext, Share } from '../protocol.ts';
import { cost, sumCosts } from '../protocol.ts';
import { encodeFixed, encodeScalar } from '../ring/fixed.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringAdd, ringMatmulBatched, ringMul, ringMulScalar, ringNeg, ringSub } from '../ring/kernels.ts';
import { defineOpProtocol, nodeError, ownerOf, shareOperands } from './op-protocol.ts';
import { encodeTensor, operandShare, scaleOf } from './sharing.ts';
import type { TruncMaterial } from './truncate.ts';
import { truncate } from './truncate.ts';

interface LinearParams {
  readonly node: NodeSpec;
  readonly fracBits: number;
  /** Elements truncated after the local product (0: no truncation). */
  readonly truncN: number;
  /** Index maps of a movement op, computed on first use. */
  readonly maps: { value?: Int32Array[] };
}

/** Whether operand i is public (plaintext at both parties). */
const isPublic = (node: NodeSpec, i: number) => node.inputs[i]!.visibility === 'public';

/** Checks the node is linear in its secret operands; returns how many elements need truncation. */
function truncationSize(node: NodeSpec, fracBits: number): number {
  const out = node.outputs[0]!;
  const scaled = scaleOf(out.dtype, fracBits) > 0;
  switch (node.op) {
    case 'mul':
    case 'matmul':
      if (!isPublic(node, 0) && !isPublic(node, 1))
        throw nodeError(
          node,
          `'linear' needs a public operand for ${node.op}; use 'beaver' or 'beaver.weight'`,
        );
      return scaled ? numel(out.shape) : 0;
    case 'div':
      if (!isPublic(node, 1)) throw nodeError(node, `'linear' divides by public values only`);
      return scaled ? numel(out.shape) : 0;
    case 'reduce_mean':
      return scaled ? numel(out.shape) : 0;
    case 'where':
      if (!isPublic(node, 0)) throw nodeError(node, `'linear' needs a public condition for where`);
      return 0;
    case 'cast':
      if (node.inputs[0]!.type.dtype === 'f32' && out.dtype !== 'f32')
        throw nodeError(
          node,
          `'linear' casts integers only; f32 -> ${out.dtype} needs a comparison protocol`,
        );
      return 0;
    case 'gather':
      if (!isPublic(node, 1))
        throw nodeError(
          node,
          `'linear' gathers at public indices only (secret indices need a lookup protocol)`,
        );
      return 0;
    default:
      return 0;
  }
}

function plainOf(node: NodeSpec, inputs: readonly Operand[], i: number): Tensor {
  const o = inputs[i]!;
  if (o.kind !== 'plain') throw nodeError(node, `operand ${i} should be a public plaintext here`);
  return o.tensor;
}

/** Operand i as this party's share (a private one shared from its owner). */
function lift(ctx: PartyContext, node: NodeSpec, inputs: readonly Operand[], i: number): Share {
  return operandShare(ctx, inputs[i]!, node.inputs[i]!.type, ownerOf(node.inputs[i]!.visibility));
}

/** Every operand as this party's share (private ones shared from their owner, in operand order). */
function liftAll(ctx: PartyContext, node: NodeSpec, inputs: readonly Operand[]): Share[] {
  return inputs.map((_, i) => lift(ctx, node, inputs, i));
}

/** A public f32 tensor as fixed point (or an integer tensor as integers), broadcast to `to`. */
function publicRing(t: Tensor, to: Shape, fracBits: number): Ring {
  return broadcastRing(encodeTensor(t, fracBits), t.shape, to);
}

/** 1 / t for a public f32 divisor, encoded and broadcast to `to`. */
function publicReciprocalRing(node: NodeSpec, t: Tensor, to: Shape, fracBits: number): Ring {
  if (!(t.data instanceof Float32Array)) throw nodeError(node, `'linear' divides f32 values only`);
  const inverse = Float64Array.from(t.data, (v) => 1 / v);
  return broadcastRing(encodeFixed(inverse, fracBits), t.shape, to);
}

/** Batched product with numpy batch broadcasting (2-D operands broadcast without copies). */
function ringMatmulNd(a: Ring, aShape: Shape, b: Ring, bShape: Shape, outShape: Shape): Ring {
  const m = aShape[aShape.length - 2]!;
  const k = aShape[aShape.length - 1]!;
  const n = bShape[bShape.length - 1]!;
  const batchShape = outShape.slice(0, -2);
  const batch = numel(batchShape);
  const aBatch = numel(aShape.slice(0, -2));
  const bBatch = numel(bShape.slice(0, -2));
  const expandTo = (r: Ring, shape: Shape, tail: Shape) => broadcastRing(r, shape, [...batchShape, ...tail]);
  const aFull = aBatch === batch || aBatch === 1 ? a : expandTo(a, aShape, [m, k]);
  const bFull = bBatch === batch || bBatch === 1 ? b : expandTo(b, bShape, [k, n]);
  const strides = { a: aBatch === 1 && batch > 1 ? 0 : m * k, b: bBatch === 1 && batch > 1 ? 0 : k * n };
  return ringMatmulBatched(aFull, bFull, batch, m, k, n, strides);
}

function localResult(ctx: PartyContext, p: LinearParams, inputs: readonly Operand[]): Ring[] {
  const { node, fracBits } = p;
  const out = node.outputs[0]!;
  const shapeOf = (i: number) => node.inputs[i]!.type.shape;
  switch (node.op) {
    case 'add':
    case 'sub': {
      const [x, y] = liftAll(ctx, node, inputs).map((s, i) => broadcastRing(s.data, shapeOf(i), out.shape));
      return [node.op === 'add' ? ringAdd(x!, y!) : ringSub(x!, y!)];
    }
    case 'neg':
      return [ringNeg(liftAll(ctx, node, inputs)[0]!.data)];
    case 'mul':
    case 'div': {
      const pub = node.op === 'div' ? 1 : isPublic(node, 1) ? 1 : 0;
      const sec = 1 - pub;
      const x = lift(ctx, node, inputs, sec);
      const plain = plainOf(node, inputs, pub);
      const factor =
        node.op === 'div'
          ? publicReciprocalRing(node, plain, out.shape, fracBits)
          : publicRing(plain, out.shape, fracBits);
      return [ringMul(broadcastRing(x.data, shapeOf(sec), out.shape), factor)];
    }
    case 'matmul': {
      const pub = isPublic(node, 1) ? 1 : 0;
      const sec = 1 - pub;
      const x = lift(ctx, node, inputs, sec);
      const w = encodeTensor(plainOf(node, inputs, pub), fracBits);
      return [
        pub === 1
          ? ringMatmulNd(x.data, shapeOf(0), w, shapeOf(1), out.shape)
          : ringMatmulNd(w, shapeOf(0), x.data, shapeOf(1), out.shape),
      ];
    }
    case 'reduce_sum':
    case 'reduce_mean': {
      const x = liftAll(ctx, node, inputs)[0]!;
      const { map, count, outSize } = reductionMap(shapeOf(0), intsAttr(node.attrs, 'axes'));
      const sum = scatterAdd(x.data, map, outSize);
      if (node.op === 'reduce_sum') return [sum];
      return [out.dtype === 'f32' ? ringMulScalar(sum, encodeScalar(1 / count, fracBits)) : sum];
    }
    case 'cast': {
      // integer -> f32 scales by 2^f exactly; integer -> integer and f32 -> f32 keep the ring value
      const x = liftAll(ctx, node, inputs)[0]!.data;
      const up = node.inputs[0]!.type.dtype !== 'f32' && out.dtype === 'f32';
      return [up ? ringMulScalar(x, 1n << BigInt(fracBits)) : x];
    }
    case 'where': {
      const cond = publicRing(plainOf(node, inputs, 0), out.shape, 0);
      const shares = [1, 2].map((i) => lift(ctx, node, inputs, i));
      const [x, y] = shares.map((s, j) => broadcastRing(s.data, shapeOf(j + 1), out.shape));
      return [ringAdd(y!, ringMul(cond, ringSub(x!, y!)))];
    }
    default:
      return moveShares(ctx, p, inputs);
  }
}

function moveShares(ctx: PartyContext, p: LinearParams, inputs: readonly Operand[]): Ring[] {
  const { node } = p;
  const moved = node.inputs.map((_, i) => !(node.op === 'gather' && i === 1));
  if (!p.maps.value) {
    const operands = node.inputs.map((inp, i) => (moved[i] ? inp.type : plainOf(node, inputs, i)));
    p.maps.value = movementMaps(node.op, node.attrs, operands, moved, node.outputs);
  }
  const data = concatRings(inputs.flatMap((_, i) => (moved[i] ? [lift(ctx, node, inputs, i).data] : [])));
  return p.maps.value.map((m) => applyMap(data, m));
}

export const linearProtocol = defineOpProtocol<LinearParams, TruncMaterial | null>({
  name: 'linear',
  doc: 'linear ops on shares: local, plus one truncation round after a fixed-point product by a public value',
  params(node, settings) {
    if (node.op === 'gather' && node.inputs[1]!.visibility !== 'public')
      throw nodeError(node, `'linear' gathers at public indices only`);
    return { node, fracBits: settings.fracBits, truncN: truncationSize(node, settings.fracBits), maps: {} };
  },
  deal(p, d) {
    if (p.truncN > 0) truncate.deal({ n: p.truncN, bits: p.fracBits }, d);
  },
  material(p, s) {
    return p.truncN > 0 ? truncate.material({ n: p.truncN, bits: p.fracBits }, s) : null;
  },
  async online(ctx, p, m, inputs) {
    const results = localResult(ctx, p, inputs);
    if (p.truncN > 0)
      results[0] = await truncate.online(ctx, { n: p.truncN, bits: p.fracBits }, m!, results[0]!);
    return shareOperands(results.map((data, i) => ({ shape: p.node.outputs[i]!.shape, data })));
  },
  cost(p) {
    return p.truncN > 0 ? sumCosts(truncate.cost({ n: p.truncN, bits: p.fracBits })) : cost({});
  },
});
