/**
 * Op protocols for non-linear ops over rows or tables (see ./op-common.ts for the naming):
 *
 *   max.{dcf,bool}               max, min (elementwise), reduce_max over contiguous axes   exact
 *   argmax.{dcf,bool}            argmax over one axis (first on ties)                      exact
 *   softmax.exact.{dcf,bool}     softmax(approx=exact) with no, public or shared mask      softmaxErrorBound
 *   softmax.2quad.{dcf,bool}     softmax(approx=2quad)                                      softmaxErrorBound
 *   layernorm.{dcf,bool}         layernorm with public or non-public scale/bias            normErrorBound
 *   rmsnorm.{dcf,bool}           rmsnorm                                                   normErrorBound
 *   embedding.onehot             gather(server table, client indices, axis 0)              exact
 */
import { intAttr, intsAttr } from '../../../ir/ops.ts';
import { normalizeAxis } from '../../../ir/shape-rules.ts';
import { numel } from '../../../ir/types.ts';
import type { Shape } from '../../../ir/types.ts';
import { broadcastMap } from '../../mpc/layout.ts';
import type { NodeSpec, Operand, PartyContext } from '../../protocol.ts';
import type { OpProtocol } from '../op-protocol.ts';
import { defineOpProtocol, nodeError } from '../op-protocol.ts';
import { encodeTensor } from '../sharing.ts';
import type { CompareVariant } from './compare.ts';
import { COMPARE_VARIANTS } from './compare.ts';
import type { CompareMaterial } from './comparator.ts';
import type { EmbeddingParams } from './embedding.ts';
import { embeddingProtocol } from './embedding.ts';
import type { TreeMaterial, TreeParams } from './max.ts';
import { maxTreeProtocol } from './max.ts';
import type { NormMaterial, NormParam, NormParams } from './norm.ts';
import { normProtocol } from './norm.ts';
import {
  attrsOf,
  operandAs,
  operandRing,
  operandScale,
  requireAttr,
  requireFloat,
  requireNonPublic,
  resultOperand,
  resultSize,
  variantName,
} from './op-common.ts';
import { exactCompare, magnitudeBitsAt } from './ranges.ts';
import type { SignParams } from './sign-ops.ts';
import { signCompare, signProtocol } from './sign-ops.ts';
import type { SoftmaxApprox, SoftmaxMask, SoftmaxMaterial, SoftmaxParams } from './softmax.ts';
import { softmaxProtocol } from './softmax.ts';

/** [outer, len, inner] of reducing `shape` over the contiguous `axes`. */
function reductionView(
  node: NodeSpec,
  shape: Shape,
  axes: readonly number[],
): { outer: number; len: number; inner: number } {
  const sorted = [...new Set(axes.map((a) => normalizeAxis(a, shape.length)))].sort((a, b) => a - b);
  if (sorted.length === 0) throw nodeError(node, 'reduction over no axes');
  if (sorted.some((a, i) => i > 0 && a !== sorted[i - 1]! + 1))
    throw nodeError(node, `MPC maximum reduces contiguous axes only, got [${axes.join(',')}]`);
  const first = sorted[0]!;
  const last = sorted[sorted.length - 1]!;
  return {
    outer: numel(shape.slice(0, first)),
    len: numel(shape.slice(first, last + 1)),
    inner: numel(shape.slice(last + 1)),
  };
}

// ---- max / min / reduce_max / argmax -----------------------------------------------------------

type MaxOpParams =
  | { readonly kind: 'elementwise'; readonly node: NodeSpec; readonly sign: SignParams }
  | { readonly kind: 'tree'; readonly node: NodeSpec; readonly tree: TreeParams };

function maxProtocolFor(variant: CompareVariant, withIndex: boolean): OpProtocol {
  const name = variantName(withIndex ? 'argmax' : 'max', variant);
  return defineOpProtocol<MaxOpParams, CompareMaterial | TreeMaterial>({
    name,
    doc: withIndex
      ? `index of the maximum by a comparison tree carrying indices, first on ties; exact (${variant})`
      : `elementwise max/min by one comparison, reduce_max by a comparison tree; exact (${variant})`,
    params(node, settings) {
      requireNonPublic(node, 0, name);
      const scale = operandScale(node, 0, settings.fracBits);
      const compare = exactCompare(variant, resultSize(node), 1, scale, true, magnitudeBitsAt(scale));
      if (node.op === 'max' || node.op === 'min')
        return { kind: 'elementwise', node, sign: { op: node.op, compare: signCompare(node.op, compare) } };
      const shape = node.inputs[0]!.type.shape;
      const attrs = attrsOf(node);
      const axes = node.op === 'argmax' ? [intAttr(attrs, 'axis')] : intsAttr(attrs, 'axes');
      return { kind: 'tree', node, tree: { ...reductionView(node, shape, axes), compare, withIndex } };
    },
    deal: (p, d) =>
      p.kind === 'elementwise' ? signProtocol.deal(p.sign, d) : maxTreeProtocol.deal(p.tree, d),
    material: (p, s) =>
      p.kind === 'elementwise' ? signProtocol.material(p.sign, s) : maxTreeProtocol.material(p.tree, s),
    async online(ctx, p, m, inputs) {
      if (p.kind === 'elementwise') {
        const shape = p.node.outputs[0]!.shape;
        const [x, y] = [0, 1].map((i) => operandAs(ctx, p.node, inputs, i, shape));
        return resultOperand(p.node, await signProtocol.online(ctx, p.sign, m as CompareMaterial, [x!, y!]));
      }
      const r = await maxTreeProtocol.online(
        ctx,
        p.tree,
        m as TreeMaterial,
        operandRing(ctx, p.node, inputs, 0),
      );
      return resultOperand(p.node, withIndex ? r.index! : r.max);
    },
    cost: (p) => (p.kind === 'elementwise' ? signProtocol.cost(p.sign) : maxTreeProtocol.cost(p.tree)),
  });
}

/** The f32 values of public operand i; `missing` is the error when it is absent or not f32. */
function publicFloats(node: NodeSpec, inputs: readonly Operand[], i: number, missing: string): Float32Array {
  const op = inputs[i];
  if (!op || op.kind !== 'plain' || !(op.tensor.data instanceof Float32Array)) throw nodeError(node, missing);
  return op.tensor.data;
}

// ---- softmax -----------------------------------------------------------------------------------

interface SoftmaxOpParams {
  readonly node: NodeSpec;
  readonly softmax: SoftmaxParams;
  /** Mask element for each x element (absent: same shape). */
  readonly maskMap: Int32Array | undefined;
}

function maskOf(ctx: PartyContext, p: SoftmaxOpParams, inputs: readonly Operand[]): SoftmaxMask | undefined {
  if (p.softmax.mask === 'none') return undefined;
  const xShape = p.node.inputs[0]!.type.shape;
  if (p.softmax.mask === 'shared')
    return { kind: 'shared', share: operandAs(ctx, p.node, inputs, 1, xShape) };
  const mask = publicFloats(p.node, inputs, 1, 'the public softmax mask is missing');
  if (!p.maskMap) return { kind: 'public', values: mask };
  const map = p.maskMap;
  const values = new Float32Array(map.length);
  for (let i = 0; i < map.length; i++) values[i] = mask[map[i]!]!;
  return { kind: 'public', values };
}

function softmaxProtocolFor(approx: SoftmaxApprox, variant: CompareVariant): OpProtocol {
  const name = variantName(`softmax.${approx}`, variant);
  return defineOpProtocol<SoftmaxOpParams, SoftmaxMaterial>({
    name,
    doc:
      approx === 'exact'
        ? `softmax(x + mask): max tree, exp, Newton reciprocal, fused product; masks public (excluded <= -1e4) or shared (${variant})`
        : `MPCFormer 2Quad (x + mask + 5)^2 / sum with a Newton reciprocal (${variant})`,
    params(node, settings) {
      requireNonPublic(node, 0, name);
      requireFloat(node, name);
      requireAttr(node, 'approx', approx, name);
      const shape = node.inputs[0]!.type.shape;
      const axis = normalizeAxis(intAttr(attrsOf(node), 'axis'), shape.length);
      const view = {
        outer: numel(shape.slice(0, axis)),
        len: shape[axis]!,
        inner: numel(shape.slice(axis + 1)),
      };
      const maskInput = node.inputs[1];
      const mask = !maskInput ? 'none' : maskInput.visibility === 'public' ? 'public' : 'shared';
      const maskMap = maskInput && mask === 'public' ? broadcastMap(maskInput.type.shape, shape) : undefined;
      return { node, maskMap, softmax: { approx, variant, ...view, fracBits: settings.fracBits, mask } };
    },
    deal: (p, d) => softmaxProtocol.deal(p.softmax, d),
    material: (p, s) => softmaxProtocol.material(p.softmax, s),
    async online(ctx, p, m, inputs) {
      const x = operandRing(ctx, p.node, inputs, 0);
      return resultOperand(
        p.node,
        await softmaxProtocol.online(ctx, p.softmax, m, { x, mask: maskOf(ctx, p, inputs) }),
      );
    },
    cost: (p) => softmaxProtocol.cost(p.softmax),
  });
}

// ---- layernorm / rmsnorm -----------------------------------------------------------------------

interface NormOpParams {
  readonly node: NodeSpec;
  readonly norm: NormParams;
}

function normParam(ctx: PartyContext, p: NormOpParams, inputs: readonly Operand[], i: number): NormParam {
  if (p.node.inputs[i]!.visibility !== 'public')
    return { kind: 'shared', share: operandRing(ctx, p.node, inputs, i) };
  const missing = `public ${p.norm.kind} parameter ${i} is missing`;
  return { kind: 'public', values: publicFloats(p.node, inputs, i, missing) };
}

function normProtocolFor(kind: 'layernorm' | 'rmsnorm', variant: CompareVariant): OpProtocol {
  const name = variantName(kind, variant);
  return defineOpProtocol<NormOpParams, NormMaterial>({
    name,
    doc: `${kind}: Beaver square, Newton 1/sqrt on sum(c^2) + size eps, fused products (${variant})`,
    params(node, settings) {
      requireNonPublic(node, 0, name);
      requireFloat(node, name);
      const shape = node.inputs[0]!.type.shape;
      const attrs = attrsOf(node);
      const axis = normalizeAxis(intAttr(attrs, 'axis'), shape.length);
      const vis = (i: number) => (node.inputs[i]!.visibility === 'public' ? 'public' : 'shared');
      const norm: NormParams = {
        kind,
        variant,
        rows: numel(shape.slice(0, axis)),
        size: numel(shape.slice(axis)),
        fracBits: settings.fracBits,
        epsilon: attrs.epsilon as number,
        gamma: vis(1),
        beta: kind === 'layernorm' && node.inputs[2] ? vis(2) : 'none',
      };
      return { node, norm };
    },
    deal: (p, d) => normProtocol.deal(p.norm, d),
    material: (p, s) => normProtocol.material(p.norm, s),
    async online(ctx, p, m, inputs) {
      const x = operandRing(ctx, p.node, inputs, 0);
      const gamma = normParam(ctx, p, inputs, 1);
      const beta = p.norm.beta === 'none' ? undefined : normParam(ctx, p, inputs, 2);
      return resultOperand(p.node, await normProtocol.online(ctx, p.norm, m, { x, gamma, beta }));
    },
    cost: (p) => normProtocol.cost(p.norm),
  });
}

// ---- embedding ---------------------------------------------------------------------------------

interface EmbeddingOpParams {
  readonly node: NodeSpec;
  readonly lookup: EmbeddingParams;
}

const embeddingOp = defineOpProtocol<EmbeddingOpParams, ReturnType<typeof embeddingProtocol.material>>({
  name: 'embedding.onehot',
  doc: 'client-private indices into a server-private table: client one-hot times the table (server-weight product); exact',
  params(node) {
    const [data, indices] = node.inputs;
    if (data?.visibility !== 'server' || indices?.visibility !== 'client')
      throw nodeError(node, `'embedding.onehot' looks up client indices in a server table`);
    if (intAttr(attrsOf(node), 'axis') !== 0)
      throw nodeError(node, `'embedding.onehot' gathers along axis 0`);
    requireFloat(node, 'embedding.onehot');
    const [vocab, ...rest] = data.type.shape;
    return { node, lookup: { tokens: numel(indices.type.shape), vocab: vocab!, dim: numel(rest) } };
  },
  deal: (p, d) => embeddingProtocol.deal(p.lookup, d),
  material: (p, s) => embeddingProtocol.material(p.lookup, s),
  async online(ctx, p, m, inputs) {
    const [data, indices] = inputs;
    const table =
      ctx.party === 'server' && data?.kind === 'plain' ? encodeTensor(data.tensor, ctx.fracBits) : undefined;
    const idx = ctx.party === 'client' && indices?.kind === 'plain' ? indices.tensor.data : undefined;
    if (idx !== undefined && !(idx instanceof BigInt64Array))
      throw nodeError(p.node, 'embedding indices must be i64');
    if ((ctx.party === 'server' && !table) || (ctx.party === 'client' && !idx))
      throw nodeError(p.node, `the ${ctx.party} does not hold its embedding operand`);
    return resultOperand(p.node, await embeddingProtocol.online(ctx, p.lookup, m, { indices: idx, table }));
  },
  cost: (p) => embeddingProtocol.cost(p.lookup),
});

/** All row-wise non-linear op protocols, DCF variants before boolean ones. */
export const ROW_PROTOCOLS: readonly OpProtocol[] = [
  ...COMPARE_VARIANTS.flatMap((v) => [
    maxProtocolFor(v, false),
    maxProtocolFor(v, true),
    softmaxProtocolFor('exact', v),
    softmaxProtocolFor('2quad', v),
    normProtocolFor('layernorm', v),
    normProtocolFor('rmsnorm', v),
  ]),
  embeddingOp,
];
