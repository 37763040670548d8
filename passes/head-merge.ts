/**
 * Head merging as a graph rewrite, for `marillc advise`: every head split
 * (a reshape [.., S, H] -> [.., S, h, d]) becomes [.., S, h/m, d*m], and the
 * types of everything downstream are inferred again. Fewer, wider heads do
 * the same matmul work with m times fewer softmax rows. A model whose
 * attention is tied to the head size (rotary tables [.., S, d], a mask per
 * head) fails the re-inference: that is reported as not supported, with why.
 */
import { MarillError } from '../ir/errors.ts';
import type { Graph, Node, ValueInfo } from '../ir/graph.ts';
import { inferTypes } from '../ir/ops.ts';

export type HeadMergeResult =
  | { readonly ok: true; readonly graph: Graph; readonly splits: number }
  | { readonly ok: false; readonly reason: string };

/** A reshape whose last two output dims split its input's last dim into (heads, head size). */
function headSplit(g: Graph, n: Node): { heads: number; size: number } | null {
  if (n.op !== 'reshape') return null;
  const out = g.values.get(n.outputs[0]!)!.type.shape;
  const input = g.values.get(n.inputs[0]!)!.type.shape;
  if (out.length !== 4 || input.length !== 3) return null;
  const [heads, size] = [out[2]!, out[3]!];
  return heads * size === input[2] && heads > 1 ? { heads, size } : null;
}

export function mergeHeads(g: Graph, factor: number): HeadMergeResult {
  if (factor === 1) return { ok: true, graph: g, splits: 0 };
  const splits = g.nodes.filter((n) => headSplit(g, n) !== null);
  if (splits.length === 0)
    return { ok: false, reason: 'no head split (reshape [.., S, H] -> [.., S, h, d]) found' };
  const bad = splits.find((n) => headSplit(g, n)!.heads % factor !== 0);
  if (bad) return { ok: false, reason: `${headSplit(g, bad)!.heads} heads are not divisible by ${factor}` };
  const values = new Map<string, ValueInfo>(g.values);
  const nodes = g.nodes.map((n): Node => {
    const split = headSplit(g, n);
    if (!split) return n;
    const out = g.values.get(n.outputs[0]!)!.type.shape;
    const target = [out[0]!, out[1]!, split.heads / factor, split.size * factor];
    return { ...n, attrs: { ...n.attrs, shape: target } };
  });
  try {
    for (const n of nodes) {
      if (n.op === 'weight' || n.op === 'const') continue;
      const types = inferTypes(
        n.op,
        n.inputs.map((i) => values.get(i)!.type),
        n.attrs,
      );
      n.outputs.forEach((o, i) => values.set(o, { ...values.get(o)!, type: types[i]! }));
    }
  } catch (e) {
    if (e instanceof MarillError)
      return { ok: false, reason: `attention is tied to the head size (${e.message})` };
    throw e;
  }
  for (const o of g.outputs) {
    const before = g.values.get(o.value)!.type.shape.join('x');
    if (values.get(o.value)!.type.shape.join('x') !== before)
      return { ok: false, reason: `output '${o.name}' would change shape` };
  }
  return { ok: true, graph: { ...g, nodes, values }, splits: splits.length };
}
