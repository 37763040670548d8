/**
 * Op protocols for products of two non-public operands:
 *
 *  - 'beaver': mul and matmul of two secret (or differently owned) operands
 *    with dealer triples (./beaver.ts), then truncation for f32 (./truncate.ts).
 *    2 rounds; error +1 ulp beyond the ring-exact product. i64 products are
 *    exact (no truncation, 1 round).
 *  - 'beaver.weight': matmul or elementwise mul of a secret activation by a
 *    server-private operand (./weight-matmul.ts, ./weight-mul.ts): the masked
 *    operand is opened once per session,
 *    then 1 round (client -> server) plus truncation per inference. The server
 *    operand must be the same in every inference of the session (weights and
 *    values computed from weights only); the server checks this.
 */
import { numel } from '../../ir/types.ts';
import type { Shape } from '../../ir/types.ts';
import { broadcastMap, broadcastRing } from '../mpc/layout.ts';
import type { NodeSpec, Operand, PartyContext } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import type { MatmulParams, TripleMaterial } from './beaver.ts';
import { beaverMatmul, beaverMul } from './beaver.ts';
import type { Fixed, TruncatedMaterial } from './fixed-mul.ts';
import { fixedMatmul, fixedMul, fixedWeightMatmul, fixedWeightMul } from './fixed-mul.ts';
import { defineOpProtocol, nodeError, ownerOf, shareOperands } from './op-protocol.ts';
import { encodeTensor, operandShare } from './sharing.ts';
import type { WeightMatmulMaterial, WeightMatmulParams } from './weight-matmul.ts';
import type { WeightMulMaterial, WeightMulParams } from './weight-mul.ts';

function shareOf(ctx: PartyContext, node: NodeSpec, inputs: readonly Operand[], i: number): Ring {
  const inp = node.inputs[i]!;
  return operandShare(ctx, inputs[i]!, inp.type, ownerOf(inp.visibility)).data;
}

// ---- 'beaver' ----------------------------------------------------------------------------------

interface BeaverOpParams {
  readonly node: NodeSpec;
  readonly fixed: boolean;
  readonly fracBits: number;
  /** mul: elements; matmul: the batched shape. */
  readonly n: number;
  readonly mm: MatmulParams | undefined;
}

type BeaverOpMaterial = TripleMaterial | TruncatedMaterial<TripleMaterial>;

/** Operand of a batched matmul broadcast to the full batch. */
function batchOperand(r: Ring, shape: Shape, batchShape: Shape): Ring {
  return broadcastRing(r, shape, [...batchShape, ...shape.slice(-2)]);
}

export const beaverProtocol = defineOpProtocol<BeaverOpParams, BeaverOpMaterial>({
  name: 'beaver',
  doc: 'secret x secret product with dealer (matrix) triples, then truncation',
  params(node, settings) {
    const out = node.outputs[0]!;
    if (node.inputs.some((i) => i.visibility === 'public'))
      throw nodeError(node, `'beaver' multiplies two non-public operands; a public operand is 'linear'`);
    const fixed = out.dtype === 'f32';
    if (node.op === 'mul')
      return { node, fixed, fracBits: settings.fracBits, n: numel(out.shape), mm: undefined };
    const a = node.inputs[0]!.type.shape;
    const b = node.inputs[1]!.type.shape;
    const mm = {
      batch: numel(out.shape.slice(0, -2)),
      m: a[a.length - 2]!,
      k: a[a.length - 1]!,
      n: b[b.length - 1]!,
    };
    return { node, fixed, fracBits: settings.fracBits, n: numel(out.shape), mm };
  },
  deal(p, d) {
    if (p.mm) (p.fixed ? fixedMatmul : beaverMatmul).deal({ ...p.mm, fracBits: p.fracBits }, d);
    else (p.fixed ? fixedMul : beaverMul).deal({ n: p.n, fracBits: p.fracBits }, d);
  },
  material(p, s) {
    if (p.mm) return (p.fixed ? fixedMatmul : beaverMatmul).material({ ...p.mm, fracBits: p.fracBits }, s);
    return (p.fixed ? fixedMul : beaverMul).material({ n: p.n, fracBits: p.fracBits }, s);
  },
  async online(ctx, p, m, inputs) {
    const out = p.node.outputs[0]!;
    const x = shareOf(ctx, p.node, inputs, 0);
    const y = shareOf(ctx, p.node, inputs, 1);
    const [xs, ys] = [p.node.inputs[0]!.type.shape, p.node.inputs[1]!.type.shape];
    let z: Ring;
    if (p.mm) {
      const batchShape = out.shape.slice(0, -2);
      const operands = [batchOperand(x, xs, batchShape), batchOperand(y, ys, batchShape)] as const;
      const params = { ...p.mm, fracBits: p.fracBits };
      z = p.fixed
        ? await fixedMatmul.online(ctx, params, m as TruncatedMaterial<TripleMaterial>, operands)
        : await beaverMatmul.online(ctx, params, m as TripleMaterial, operands);
    } else {
      const operands = [broadcastRing(x, xs, out.shape), broadcastRing(y, ys, out.shape)] as const;
      const params = { n: p.n, fracBits: p.fracBits };
      z = p.fixed
        ? await fixedMul.online(ctx, params, m as TruncatedMaterial<TripleMaterial>, operands)
        : await beaverMul.online(ctx, params, m as TripleMaterial, operands);
    }
    return shareOperands([{ shape: out.shape, data: z }]);
  },
  cost(p) {
    if (p.mm) return (p.fixed ? fixedMatmul : beaverMatmul).cost({ ...p.mm, fracBits: p.fracBits });
    return (p.fixed ? fixedMul : beaverMul).cost({ n: p.n, fracBits: p.fracBits });
  },
});

// ---- 'beaver.weight' ------------------------------------------------------------------------------

type WeightOpParams = {
  readonly node: NodeSpec;
  /** Which operand is the server's. */
  readonly weightIndex: 0 | 1;
} & (
  | { readonly kind: 'matmul'; readonly mm: Fixed<WeightMatmulParams> }
  | { readonly kind: 'mul'; readonly mul: Fixed<WeightMulParams> }
);

type WeightOpMaterial = TruncatedMaterial<WeightMatmulMaterial> | TruncatedMaterial<WeightMulMaterial>;

function weightMatmulParams(node: NodeSpec, weightIndex: 0 | 1, fracBits: number): Fixed<WeightMatmulParams> {
  const w = node.inputs[weightIndex]!.type.shape;
  const x = node.inputs[1 - weightIndex]!.type.shape;
  if (w.slice(0, -2).some((d) => d !== 1))
    throw nodeError(node, `'beaver.weight' needs a 2-D server operand, got [${w.join(',')}]`);
  const batch = numel(x.slice(0, -2));
  const mm: Fixed<WeightMatmulParams> =
    weightIndex === 1
      ? { side: 'right', batch, m: x[x.length - 2]!, k: x[x.length - 1]!, n: w[w.length - 1]!, fracBits }
      : { side: 'left', batch, m: w[w.length - 2]!, k: w[w.length - 1]!, n: x[x.length - 1]!, fracBits };
  if (numel(node.outputs[0]!.shape) !== batch * mm.m * mm.n)
    throw nodeError(node, `'beaver.weight' cannot broadcast the activation's batch against the weight`);
  return mm;
}

/**
 * The server's operand, encoded. The first inference of the session keeps it
 * (with the tensor it came from); later ones reuse it when handed the same
 * tensor, and otherwise check the content is unchanged: 'beaver.weight' opens
 * W - B once per session, so W must not change.
 */
async function serverOperand(
  ctx: PartyContext,
  p: WeightOpParams,
  inputs: readonly Operand[],
): Promise<Ring | undefined> {
  if (ctx.party !== 'server') return undefined;
  const o = inputs[p.weightIndex]!;
  if (o.kind !== 'plain') throw nodeError(p.node, 'the server does not hold its weight operand');
  const first = await ctx.once('weight', async () => ({
    tensor: o.tensor,
    encoded: encodeTensor(o.tensor, ctx.fracBits),
  }));
  if (first.tensor === o.tensor) return first.encoded;
  const encoded = encodeTensor(o.tensor, ctx.fracBits);
  if (Buffer.compare(Buffer.from(first.encoded.buffer), Buffer.from(encoded.buffer)) !== 0)
    throw nodeError(
      p.node,
      `the server operand changed between inferences; 'beaver.weight' opens it once per session`,
    );
  return encoded;
}

export const weightProtocol = defineOpProtocol<WeightOpParams, WeightOpMaterial>({
  name: 'beaver.weight',
  doc: 'secret activation x server-private operand (matmul or elementwise): masked operand opened once per session, 1 round + truncation per inference',
  params(node, settings) {
    const vis = node.inputs.map((i) => i.visibility);
    const weightIndex = vis[1] === 'server' ? 1 : vis[0] === 'server' ? 0 : -1;
    if (weightIndex < 0) throw nodeError(node, `'beaver.weight' needs a server-private operand`);
    const act = 1 - weightIndex;
    if (vis[act] === 'server' || vis[act] === 'public')
      throw nodeError(node, `'beaver.weight' needs a secret or client activation, got ${vis[act]}`);
    if (node.outputs[0]!.dtype !== 'f32') throw nodeError(node, `'beaver.weight' multiplies f32 values`);
    const wi = weightIndex as 0 | 1;
    if (node.op === 'matmul')
      return { node, weightIndex: wi, kind: 'matmul', mm: weightMatmulParams(node, wi, settings.fracBits) };
    const out = node.outputs[0]!.shape;
    const wShape = node.inputs[wi]!.type.shape;
    const mul = {
      n: numel(out),
      w: numel(wShape),
      wMap: broadcastMap(wShape, out),
      fracBits: settings.fracBits,
    };
    return { node, weightIndex: wi, kind: 'mul', mul };
  },
  deal(p, d) {
    if (p.kind === 'matmul') fixedWeightMatmul.deal(p.mm, d);
    else fixedWeightMul.deal(p.mul, d);
  },
  material(p, s) {
    return p.kind === 'matmul' ? fixedWeightMatmul.material(p.mm, s) : fixedWeightMul.material(p.mul, s);
  },
  async online(ctx, p, m, inputs) {
    const act = 1 - p.weightIndex;
    const x = shareOf(ctx, p.node, inputs, act);
    const w = await serverOperand(ctx, p, inputs);
    const out = p.node.outputs[0]!.shape;
    const z =
      p.kind === 'matmul'
        ? await fixedWeightMatmul.online(ctx, p.mm, m as TruncatedMaterial<WeightMatmulMaterial>, { x, w })
        : await fixedWeightMul.online(ctx, p.mul, m as TruncatedMaterial<WeightMulMaterial>, {
            x: broadcastRing(x, p.node.inputs[act]!.type.shape, out),
            w,
          });
    return shareOperands([{ shape: out, data: z }]);
  },
  cost: (p) => (p.kind === 'matmul' ? fixedWeightMatmul.cost(p.mm) : fixedWeightMul.cost(p.mul)),
});
