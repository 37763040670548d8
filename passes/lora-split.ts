/**
 * Pass `lora-split`: moves the base part of LoRA fine-tuned matmuls out of secure multiplication.
 *
 * Preconditions: weight visibilities decided (provenance): a weight equal to a base
 * initializer is `public`, others `server`. Weights carry their tensors.
 *
 * Two cases (docs/architecture.md):
 *   Explicit adapters `x @ W + ((x @ A) @ B) * s` with W public: nothing to rewrite, placement
 *   makes `x @ W` local; recognised and recorded (passes/lora-explicit.ts).
 *
 *   Merged adapters: a matmul `x @ W'` with W' server-private [k, n] (or used as
 *   `transpose(W')`), whose difference from a base weight of the same shape is numerically
 *   low-rank. Rewrite, with D = W' - W_base of rank r (passes/numeric/lowrank.ts: D ~= B A,
 *   B [k, r] orthonormal columns, A [r, n]):
 *
 *       x @ W'  =  x @ W_base + x @ (W' - W_base)  =  x @ W_base + (x @ B) @ A
 *
 *   W_base becomes a new PUBLIC weight (the base tensor under its base name), so `x @ W_base`
 *   is a local operation on shares (or plaintext on the client); B and A are new private
 *   weights `<W'>.lora_B` / `<W'>.lora_A`. With a transposed use, the factors are taken of
 *   the matrix as used (D^T), and the base weight keeps its transpose.
 *
 *   Column blocks: a fused weight (GPT-2's c_attn = [Wq | Wk | Wv]) with adapters on Q and V
 *   has D = [Dq | 0 | Dv]: rank 8 as a whole, but two rank-4 blocks and a zero block. Split
 *   along the runs of unchanged (all-zero) columns of D:
 *
 *       x @ D  =  concat_j (x @ D_j)  =  concat(x @ Bq @ Aq,  0,  x @ Bv @ Av)     (along the last axis)
 *
 *   which costs r_j (k + n_j) secure MACs per row and block instead of r (k + n) for the whole.
 *   The cheaper of the two factorisations is used.
 *
 * Algorithm:
 *   1. --no-marill: the graph is returned unchanged (the baseline hoists nothing).
 *   2. Record explicit adapters.
 *   3. For each matmul whose right operand is a server weight (not itself an adapter) and whose
 *      left operand is client or secret (a server-side x gains nothing from a split):
 *      a. base candidates of the same dtype and shape, in order: the base initializer of the
 *         same name; then the one at the same position among same-shaped weights (the
 *         fine-tuned graph's weights in graph order against the base's initializers in the
 *         order of ctx.options.base.tensors). Exporters give a re-exported architecture the
 *         same generated names, so the name usually decides; the position covers renames.
 *      b. the first candidate whose difference factors (whole, or by column blocks) with
 *         every block of rank <= loraMaxRank, total rank >= 1, and fewer MACs per row than
 *         the dense product (r (k + n) < k n): a split only pays when the thin products cost
 *         fewer secure MACs than x @ W' itself. The fit tolerance is loraTolerance relative
 *         to ||D||, or the float32 rounding noise of W' (2^-23 ||W'||_F over the block),
 *         whichever is larger: below that noise a residual is indistinguishable from the
 *         exported weight's own rounding.
 *   4. Rewrite each such matmul in place (new nodes just before it; a weight used by several
 *      matmuls is factored once), then drop the replaced weights and transposes left unused.
 *   Each split is recorded in ctx.notes.lora (kind 'merged', with base, relative error and,
 *   for a block split, the blocks); the new weights in ctx.notes.weights.
 */
import type { Graph, Node, ValueId, ValueInfo } from '../ir/graph.ts';
import { IdSource, producers, users, withNodes } from '../ir/graph.ts';
import type { Tensor } from '../ir/tensor.ts';
import { makeTensor, tensorHash } from '../ir/tensor.ts';
import type { Visibility } from '../ir/types.ts';
import { joinVisibility } from '../ir/types.ts';
import type { BaseModel, LoraNote, PassContext, WeightNote } from './context.ts';
import { findExplicitAdapters, weightName, weightOperand } from './lora-explicit.ts';
import type { WeightOperand } from './lora-explicit.ts';
import { columnRange, factorColumnBlocks, frobeniusNorm, zeroColumnRuns } from './numeric/lowrank.ts';
import type { BlockFactors, Matrix } from './numeric/lowrank.ts';
import type { Pass } from './manager.ts';
import { isLoraAdapterName } from './provenance.ts';

/** A merged weight found to be base + low rank, in the orientation the matmul uses it. */
interface Split {
  readonly baseName: string;
  readonly baseTensor: Tensor;
  readonly factors: BlockFactors;
  /** The new weight nodes, emitted before the first matmul that uses them. */
  weights?: SplitWeights;
}

interface SplitWeights {
  /** The base weight as the matmul uses it (after its transpose, if any). */
  readonly base: ValueId;
  /** Per column block: its adapter weights, or undefined for an unchanged (zero) block. */
  readonly blocks: readonly ({ readonly b: ValueId; readonly a: ValueId } | undefined)[];
}

/** The largest rank at which x @ B @ A (k r + r n MACs per row) is cheaper than x @ W (k n). */
export function worthwhileRank(k: number, n: number, maxRank: number): number {
  return Math.min(maxRank, Math.ceil((k * n) / (k + n)) - 1);
}

function shapeKey(t: { dtype: string; shape: readonly number[] }): string {
  return `${t.dtype}[${t.shape.join(',')}]`;
}

/** The matrix a 2-d f32 tensor is used as, in Float64: itself, or its transpose. */
function asMatrix(t: Tensor, transposed: boolean): Matrix {
  const [r, c] = t.shape as [number, number];
  const src = t.data as Float32Array;
  if (!transposed) return { rows: r, cols: c, data: Float64Array.from(src) };
  const data = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) data[j * r + i] = src[i * c + j]!;
  return { rows: c, cols: r, data };
}

function difference(a: Matrix, b: Matrix): Matrix {
  const data = new Float64Array(a.data.length);
  for (let i = 0; i < data.length; i++) data[i] = a.data[i]! - b.data[i]!;
  return { rows: a.rows, cols: a.cols, data };
}

/** Base tensors to try for a fine-tuned weight, best first (see step 3a). */
function baseCandidates(weight: Node, tensor: Tensor, base: BaseModel, position: number): [string, Tensor][] {
  const key = shapeKey(tensor);
  const out: [string, Tensor][] = [];
  const sameName = base.tensors.get(weightName(weight));
  if (sameName && shapeKey(sameName) === key) out.push([weightName(weight), sameName]);
  let seen = 0;
  for (const [name, t] of base.tensors) {
    if (shapeKey(t) !== key) continue;
    if (seen++ === position) {
      if (!out.some(([n]) => n === name)) out.push([name, t]);
      break;
    }
  }
  return out;
}

/** Position of each weight among the graph's weights of the same dtype and shape, in graph order. */
function positionsByShape(g: Graph): Map<Node, number> {
  const counts = new Map<string, number>();
  const out = new Map<Node, number>();
  for (const n of g.nodes) {
    if (n.op !== 'weight') continue;
    const key = shapeKey(g.values.get(n.outputs[0]!)!.type);
    const k = counts.get(key) ?? 0;
    out.set(n, k);
    counts.set(key, k + 1);
  }
  return out;
}

/** The cheapest worthwhile factorisation of D = fine - base: as a whole, or by column blocks. */
function factorDifference(fine: Matrix, base: Matrix, ctx: PassContext): BlockFactors | undefined {
  const d = difference(fine, base);
  const { rows: k, cols: n } = d;
  const opts = { maxRank: ctx.options.loraMaxRank, tolerance: ctx.options.loraTolerance };
  const noiseFloor = (start: number, end: number) =>
    2 ** -23 * frobeniusNorm(start === 0 && end === n ? fine.data : columnRange(fine, start, end).data);
  const options: BlockFactors[] = [];
  const whole = factorColumnBlocks(
    d,
    [{ start: 0, end: n }],
    { ...opts, maxRank: worthwhileRank(k, n, opts.maxRank) },
    noiseFloor,
  );
  if (whole) options.push(whole);
  const runs = zeroColumnRuns(d);
  if (runs.length > 1) {
    const blocks = factorColumnBlocks(d, runs, opts, noiseFloor);
    if (blocks) options.push(blocks);
  }
  const best = options
    .filter((f) => f.rank >= 1 && f.macsPerRow < k * n)
    .sort((a, b) => a.macsPerRow - b.macsPerRow)[0];
  return best;
}

function findSplit(use: WeightOperand, position: number, ctx: PassContext): Split | undefined {
  const tensor = use.weight.tensor;
  const base = ctx.options.base;
  if (!base || !tensor || tensor.dtype !== 'f32' || tensor.shape.length !== 2) return undefined;
  const transposed = use.transpose !== undefined;
  const fine = asMatrix(tensor, transposed);
  const memo = ctx.options.factorMemo;
  const fineKey = memo ? tensorHash(tensor) : '';
  for (const [baseName, baseTensor] of baseCandidates(use.weight, tensor, base, position)) {
    const key = `${fineKey}/${baseName}/${transposed}`;
    const factors =
      memo?.has(key) === true ? memo.get(key) : factorDifference(fine, asMatrix(baseTensor, transposed), ctx);
    memo?.set(key, factors);
    if (factors) return { baseName, baseTensor, factors };
  }
  return undefined;
}

function f32Tensor(shape: readonly number[], data: Float64Array): Tensor {
  return makeTensor('f32', shape, Float32Array.from(data));
}

/** Builds the replacement nodes of split matmuls, collecting their new values and weight notes. */
class SplitEmitter {
  readonly values: ValueInfo[] = [];
  readonly weightNotes: WeightNote[] = [];

  constructor(
    private readonly g: Graph,
    private readonly ids: IdSource,
  ) {}

  /** x @ W'  ->  x @ W_base + delta,  delta = (x @ B) @ A  or  concat over column blocks. */
  emit(m: Node, use: WeightOperand, split: Split, out: Node[]): void {
    const x = m.inputs[0]!;
    const xInfo = this.g.values.get(x)!;
    const origin = m.origin !== undefined ? { origin: m.origin } : {};
    const weights = split.weights ?? this.emitWeights(use, split, out);
    split.weights = weights;
    const batch = xInfo.type.shape.slice(0, -1);
    const secretSide = joinVisibility(xInfo.visibility, 'server');
    const node = (
      op: Node['op'],
      inputs: ValueId[],
      shape: readonly number[],
      vis: Visibility,
      attrs = {},
    ) => {
      const id = this.define(shape, vis);
      out.push({ op, inputs, outputs: [id], attrs, ...origin });
      return id;
    };

    const resultShape = this.g.values.get(m.outputs[0]!)!.type.shape;
    const baseProduct = node('matmul', [x, weights.base], resultShape, xInfo.visibility);
    const parts = split.factors.blocks.map((block, j) => {
      const w = weights.blocks[j];
      const width = block.end - block.start;
      if (!w) {
        // An unchanged block contributes zeros: a public constant, free in MPC.
        const zero = this.constZero(out);
        return node('expand', [zero], [...batch, width], 'public', { shape: [...batch, width] });
      }
      const thin = node('matmul', [x, w.b], [...batch, block.factors.rank], secretSide);
      return node('matmul', [thin, w.a], [...batch, width], secretSide);
    });
    const delta =
      parts.length === 1 ? parts[0]! : node('concat', parts, resultShape, secretSide, { axis: batch.length });
    out.push({ op: 'add', inputs: [baseProduct, delta], outputs: [m.outputs[0]!], attrs: {}, ...origin });
  }

  private emitWeights(use: WeightOperand, split: Split, out: Node[]): SplitWeights {
    const { factors, baseTensor, baseName } = split;
    const name = weightName(use.weight);
    let base = this.weight(baseName, baseTensor, 'public', out);
    this.weightNotes.push({ name: baseName, public: true, reason: 'matches-base', baseName });
    if (use.transpose) {
      const t = this.define([baseTensor.shape[1]!, baseTensor.shape[0]!], 'public');
      out.push({ op: 'transpose', inputs: [base], outputs: [t], attrs: use.transpose.attrs });
      base = t;
    }
    const single = factors.blocks.length === 1;
    const blocks = factors.blocks.map((block) => {
      const { rank, left, right } = block.factors;
      if (rank === 0) return undefined;
      const suffix = single ? '' : `.${block.start}-${block.end}`;
      const k = left.length / rank;
      const b = this.weight(`${name}.lora_B${suffix}`, f32Tensor([k, rank], left), 'server', out);
      const a = this.weight(
        `${name}.lora_A${suffix}`,
        f32Tensor([rank, block.end - block.start], right),
        'server',
        out,
      );
      this.weightNotes.push(
        { name: `${name}.lora_B${suffix}`, public: false, reason: 'lora-adapter' },
        { name: `${name}.lora_A${suffix}`, public: false, reason: 'lora-adapter' },
      );
      return { b, a };
    });
    return { base, blocks };
  }

  private constZero(out: Node[]): ValueId {
    const tensor = makeTensor('f32', [], Float32Array.of(0));
    const id = this.define([], 'public');
    out.push({ op: 'const', inputs: [], outputs: [id], attrs: { value: [0] }, tensor });
    return id;
  }

  private weight(name: string, tensor: Tensor, visibility: Visibility, out: Node[]): ValueId {
    const id = this.define(tensor.shape, visibility);
    out.push({ op: 'weight', inputs: [], outputs: [id], attrs: { name, hash: tensorHash(tensor) }, tensor });
    return id;
  }

  private define(shape: readonly number[], visibility: Visibility): ValueId {
    const id = this.ids.fresh();
    this.values.push({ id, type: { dtype: 'f32', shape: [...shape] }, visibility });
    return id;
  }
}

/** Removes the given nodes whose results nothing reads any more. */
function dropUnused(g: Graph, candidates: ReadonlySet<Node>): Graph {
  let cur = g;
  // Twice: a transpose goes first, then the weight it read.
  for (let round = 0; round < 2; round++) {
    const read = users(cur);
    const outputs = new Set(cur.outputs.map((o) => o.value));
    const dead = (n: Node) => candidates.has(n) && n.outputs.every((o) => !read.has(o) && !outputs.has(o));
    cur = withNodes(
      cur,
      cur.nodes.filter((n) => !dead(n)),
    );
  }
  return cur;
}

function isSplittable(g: Graph, m: Node, use: WeightOperand | undefined): use is WeightOperand {
  if (!use) return false;
  const vis = (id: ValueId) => g.values.get(id)!.visibility;
  const x = vis(m.inputs[0]!);
  return (
    vis(use.weight.outputs[0]!) === 'server' &&
    !isLoraAdapterName(weightName(use.weight)) &&
    (x === 'client' || x === 'secret')
  );
}

function loraNote(weight: string, split: Split): LoraNote {
  const f = split.factors;
  const note = {
    weight,
    rank: f.rank,
    kind: 'merged' as const,
    base: split.baseName,
    relativeError: f.relativeError,
  };
  if (f.blocks.length === 1) return note;
  return { ...note, blocks: f.blocks.map((b) => ({ start: b.start, end: b.end, rank: b.factors.rank })) };
}

export function loraSplit(g: Graph, ctx: PassContext): Graph {
  if (ctx.options.noMarill) return g;
  ctx.notes.lora.push(...findExplicitAdapters(g));
  if (!ctx.options.base) return g;

  const defs = producers(g);
  const positions = positionsByShape(g);
  const splits = new Map<string, Split | undefined>();
  const plan = new Map<Node, { use: WeightOperand; split: Split }>();
  for (const m of g.nodes) {
    if (m.op !== 'matmul') continue;
    const use = weightOperand(m.inputs[1]!, defs);
    if (!isSplittable(g, m, use)) continue;
    const key = `${use.weight.outputs[0]}${use.transpose ? '^T' : ''}`;
    if (!splits.has(key)) splits.set(key, findSplit(use, positions.get(use.weight)!, ctx));
    const split = splits.get(key);
    if (split) plan.set(m, { use, split });
  }
  if (plan.size === 0) return g;

  const emitter = new SplitEmitter(g, new IdSource(g.values.keys()));
  const nodes: Node[] = [];
  const replaced = new Set<Node>();
  for (const n of g.nodes) {
    const p = plan.get(n);
    if (!p) {
      nodes.push(n);
      continue;
    }
    emitter.emit(n, p.use, p.split, nodes);
    replaced.add(p.use.weight);
    if (p.use.transpose) replaced.add(p.use.transpose);
    ctx.notes.lora.push(loraNote(weightName(p.use.weight), p.split));
  }
  const known = new Set(ctx.notes.weights.map((w) => w.name));
  for (const note of emitter.weightNotes) {
    if (!known.has(note.name)) ctx.notes.weights.push(note);
    known.add(note.name);
  }
  return dropUnused(withNodes(g, nodes, emitter.values), replaced);
}

export const loraSplitPass: Pass = {
  name: 'lora-split',
  summary:
    'recognise explicit LoRA adapters; split merged low-rank fine-tuned matmuls into public base + rank-r adapter',
  run: loraSplit,
};
