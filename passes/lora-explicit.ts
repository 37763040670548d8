/**
 * Recognition of explicit LoRA adapters (no rewrite): `x @ W (+ bias) + ((x @ A) @ B) * scale`
 * with W public and A, B private initializers named like lora_A / lora_B.
 *
 * Nothing needs rewriting: placement already makes `x @ W` local (a public weight
 * times secret shares) and the adapter branch secure. Recognising the form
 * gives the report its `lora[]` entries, and tells the user the adapters were
 * seen as such.
 *
 * Algorithm, per `add` node and each of its two operand orders:
 *   1. Adapter side: walk back a chain of ops, each one of
 *        mul/div by a one-element source        (the alpha / r scale)
 *        reshape / transpose                     (layout changes)
 *        matmul whose right operand is an adapter weight (possibly transposed)
 *      and require at least two adapter matmuls. The chain's start is the
 *      activation x; the rank is the narrowest result of an adapter matmul
 *      (the bottleneck of x -> x A -> x A B).
 *   2. Base side: walk back through bias adds / scalar muls with a public operand and
 *      through layout ops (reshape, transpose, split, slice: GPT-2's fused QKV is
 *      split after the matmul) to a matmul whose right operand is a PUBLIC weight
 *      and whose left operand is the same activation x, up to reshapes/transposes.
 *   3. Record {weight: W's name, rank, kind: 'explicit'}.
 */
import type { Graph, Node, ValueId } from '../ir/graph.ts';
import { producers } from '../ir/graph.ts';
import { stringAttr } from '../ir/ops.ts';
import { numel } from '../ir/types.ts';
import type { LoraNote } from './context.ts';
import { isLoraAdapterName } from './provenance.ts';

/** A weight node feeding a matmul directly or through one 2-d transpose. */
export interface WeightOperand {
  readonly weight: Node;
  readonly transpose?: Node;
}

export function isSwap2d(n: Node): boolean {
  const perm = n.attrs['perm'];
  return n.op === 'transpose' && Array.isArray(perm) && perm.length === 2 && perm[0] === 1 && perm[1] === 0;
}

/** The weight behind a matmul operand: `%w` or `transpose %w {perm = [1, 0]}`. */
export function weightOperand(v: ValueId, defs: ReadonlyMap<ValueId, Node>): WeightOperand | undefined {
  const p = defs.get(v);
  if (!p) return undefined;
  if (p.op === 'weight') return { weight: p };
  if (isSwap2d(p)) {
    const w = defs.get(p.inputs[0]!);
    if (w?.op === 'weight') return { weight: w, transpose: p };
  }
  return undefined;
}

export function weightName(n: Node): string {
  return stringAttr(n.attrs, 'name');
}

const LAYOUT_OPS = new Set(['reshape', 'transpose']);

/** Follows reshapes and transposes back to the value they relabel. */
function layoutRoot(v: ValueId, defs: ReadonlyMap<ValueId, Node>): ValueId {
  let cur = v;
  for (let p = defs.get(cur); p && LAYOUT_OPS.has(p.op); p = defs.get(cur)) cur = p.inputs[0]!;
  return cur;
}

function isScalarSource(g: Graph, v: ValueId, defs: ReadonlyMap<ValueId, Node>): boolean {
  const p = defs.get(v);
  return (p?.op === 'const' || p?.op === 'weight') && numel(g.values.get(v)!.type.shape) === 1;
}

/** For mul/div by a one-element source: the other (data) operand. */
function scaledOperand(g: Graph, n: Node, defs: ReadonlyMap<ValueId, Node>): ValueId | undefined {
  const [a, b] = n.inputs as [ValueId, ValueId];
  if (n.op === 'mul') {
    if (isScalarSource(g, b, defs)) return a;
    if (isScalarSource(g, a, defs)) return b;
  }
  if (n.op === 'div' && isScalarSource(g, b, defs)) return a;
  return undefined;
}

interface AdapterChain {
  readonly activation: ValueId;
  readonly rank: number;
}

function adapterChain(g: Graph, v: ValueId, defs: ReadonlyMap<ValueId, Node>): AdapterChain | undefined {
  let cur = v;
  let rank = Infinity;
  let adapters = 0;
  // The left operand of the innermost adapter matmul: x in x -> x A -> x A B.
  let activation = v;
  for (;;) {
    const p = defs.get(cur);
    if (!p) break;
    const scaled = p.op === 'mul' || p.op === 'div' ? scaledOperand(g, p, defs) : undefined;
    if (scaled !== undefined) {
      cur = scaled;
      continue;
    }
    if (LAYOUT_OPS.has(p.op)) {
      cur = p.inputs[0]!;
      continue;
    }
    const w = p.op === 'matmul' ? weightOperand(p.inputs[1]!, defs) : undefined;
    if (!w || !isLoraAdapterName(weightName(w.weight))) break;
    const shape = g.values.get(p.outputs[0]!)!.type.shape;
    rank = Math.min(rank, shape[shape.length - 1]!);
    adapters++;
    cur = activation = p.inputs[0]!;
  }
  return adapters >= 2 ? { activation, rank } : undefined;
}

const BASE_PATH_OPS = new Set(['reshape', 'transpose', 'split', 'slice']);

/** The public base matmul weight behind `v`, if `v` is `x @ W` (+ bias, scale, layout) with the given x. */
function baseWeight(
  g: Graph,
  v: ValueId,
  activation: ValueId,
  defs: ReadonlyMap<ValueId, Node>,
): Node | undefined {
  const isPublic = (id: ValueId) => g.values.get(id)!.visibility === 'public';
  const root = layoutRoot(activation, defs);
  let cur = v;
  for (let steps = 0; steps < 16; steps++) {
    const p = defs.get(cur);
    if (!p) return undefined;
    if (p.op === 'matmul') {
      const w = weightOperand(p.inputs[1]!, defs);
      const ok = w && isPublic(w.weight.outputs[0]!) && layoutRoot(p.inputs[0]!, defs) === root;
      return ok ? w.weight : undefined;
    }
    if (BASE_PATH_OPS.has(p.op)) cur = p.inputs[0]!;
    else if (p.op === 'add' || p.op === 'mul') {
      const [a, b] = p.inputs as [ValueId, ValueId];
      if (isPublic(b)) cur = a;
      else if (isPublic(a)) cur = b;
      else return undefined;
    } else return undefined;
  }
  return undefined;
}

/** Every explicit adapter in the graph, one note per adapter `add`. */
export function findExplicitAdapters(g: Graph): LoraNote[] {
  const defs = producers(g);
  const notes: LoraNote[] = [];
  for (const n of g.nodes) {
    if (n.op !== 'add') continue;
    const [a, b] = n.inputs as [ValueId, ValueId];
    for (const [adapterSide, baseSide] of [
      [a, b],
      [b, a],
    ] as const) {
      const chain = adapterChain(g, adapterSide, defs);
      const base = chain && baseWeight(g, baseSide, chain.activation, defs);
      if (chain && base) {
        notes.push({ weight: weightName(base), rank: chain.rank, kind: 'explicit' });
        break;
      }
    }
  }
  return notes;
}
