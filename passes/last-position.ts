/**
 * Rewrite `last-position`: a generation step reveals only the logits of its
 * last position (docs/generation.md), so the output [1, S, V] becomes
 * slice(logits, axis 1, S-1:S) [1, 1, V] before placement, and the slice is
 * sunk towards the inputs through the ops that act on each position alone,
 * so that the other positions' final norm and LM head are never computed
 * (under MPC, where they cost most).
 *
 * The algebra. Write slice_1 for taking position S-1 on axis 1 of a rank-3
 * value [1, S, *]. For an op f that acts on each position separately,
 *
 *   slice_1(f(x_1, ..., x_n)) = f(x_1', ..., x_n')
 *
 * where x_k' = slice_1(x_k) when x_k varies along the positions (rank 3 with S
 * positions) and x_k' = x_k when it does not (rank < 2, or size 1 on the axis
 * that broadcasting aligns with the positions: a weight, a bias, a norm scale).
 * The ops for which this holds:
 *   - elementwise ops (numpy broadcasting aligns axes from the right, so an
 *     operand of rank r meets the position axis at its axis r - 2);
 *   - matmul x @ W with x rank 3: row i of the product is row i of x times W
 *     (W's axes are contraction and columns, never positions);
 *   - layernorm, rmsnorm, softmax, log_softmax normalising over axes after the
 *     position axis (axis >= 2), with scale, bias and mask operands as above;
 *   - reduce_sum, reduce_mean, reduce_max over axes after the position axis,
 *     keeping the rank (what an exporter decomposes a norm into: the rewrite
 *     runs before fusion, which then finds the same norm on one position);
 *   - reshape between [1, S, D] and [S, D] (the 2-D view exporters give a Gemm):
 *     the same rows, so position S-1 of one is row S-1 of the other; in a 2-D
 *     view the positions are axis 0, and the rules above hold with that axis.
 * The rewrite applies the identity through a region: the output's producer,
 * and (upwards) every such op whose result varies along the positions and is
 * read only by ops of the region (nor is an output). Where the region reads a
 * positional value from outside it, an explicit slice, once per value. The
 * unsliced producers of the region are then dead and removed. Exact in real arithmetic and in float32 (the same
 * operations on the same elements), so the step's logits equal the last row
 * of the unsliced graph's.
 */
import { resultVisibility } from '../ir/builder.ts';
import { MarillError } from '../ir/errors.ts';
import type { Attrs, Graph, Node, ValueId } from '../ir/graph.ts';
import { IdSource, removeDeadNodes, users } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import { hasGroup, inferTypes, normalizeAttrs } from '../ir/ops.ts';

const NORMALISING: ReadonlySet<OpName> = new Set(['layernorm', 'rmsnorm', 'softmax', 'log_softmax']);
const REDUCING: ReadonlySet<OpName> = new Set(['reduce_sum', 'reduce_mean', 'reduce_max']);

/** The position axis of a value with S positions: 1 of [1, S, *], 0 of [S, *] (a 2-D view). */
function positionAxis(shape: readonly number[], positions: number): number | undefined {
  if (shape.length === 3 && shape[0] === 1 && shape[1] === positions) return 1;
  if (shape.length === 2 && shape[0] === positions) return 0;
  return undefined;
}

/**
 * The axis of operand k of f that meets f's position axis ('fixed': the operand does not
 * vary along the positions; 'other': it cannot be sliced there).
 */
function operandAxis(g: Graph, f: Node, k: number, positions: number): number | 'fixed' | 'other' {
  const out = g.values.get(f.outputs[0]!)!.type.shape;
  const pa = positionAxis(out, positions)!;
  const shape = g.values.get(f.inputs[k]!)!.type.shape;
  if (f.op === 'matmul') {
    // Rows of x @ W are rows of x times W: W's axes are contraction and columns.
    if (k === 1) return shape.length <= 2 || (shape.length === 3 && shape[0] === 1) ? 'fixed' : 'other';
    return shape.length === out.length ? shape.length - 2 : 'other';
  }
  if (f.op === 'reshape') return positionAxis(shape, positions) ?? 'other';
  const a = pa - (out.length - shape.length);
  if (a < 0 || shape[a] === 1) return 'fixed';
  return shape[a] === positions ? a : 'other';
}

/** [1, S, D] <-> [S, D]: the same rows, another view. */
function rowView(from: readonly number[], to: readonly number[], positions: number): boolean {
  const rest = (s: readonly number[]) => s.slice(positionAxis(s, positions)! + 1);
  return rest(from).length === rest(to).length && rest(from).every((d, i) => d === rest(to)[i]);
}

/** Whether f acts on each position of its result separately (see the header). */
function perPosition(g: Graph, f: Node, positions: number): boolean {
  if (f.outputs.length !== 1) return false;
  const out = g.values.get(f.outputs[0]!)!.type.shape;
  const pa = positionAxis(out, positions);
  if (pa === undefined) return false;
  const axes = f.inputs.map((_, k) => operandAxis(g, f, k, positions));
  const sliced = typeof axes[0] === 'number';
  const after = (a: number) => (a < 0 ? a + out.length : a) > pa;
  if (f.op === 'matmul') return sliced && axes[1] === 'fixed';
  if (f.op === 'reshape') return sliced && rowView(g.values.get(f.inputs[0]!)!.type.shape, out, positions);
  if (REDUCING.has(f.op))
    return (
      sliced && Number(f.attrs['keepdims'] ?? 1) !== 0 && (f.attrs['axes'] as readonly number[]).every(after)
    );
  if (NORMALISING.has(f.op))
    return sliced && after(Number(f.attrs['axis'] ?? -1)) && axes.every((a) => a !== 'other');
  return hasGroup(f.op, 'elementwise') && axes.every((a) => a !== 'other');
}

/**
 * The graph with output `name` ([1, S, V]) replaced by its last position
 * [1, 1, V], the slice sunk as far as the identity allows. S = 1: unchanged.
 */
export function sliceLastPosition(g: Graph, name: string): Graph {
  const output = g.outputs.find((o) => o.name === name);
  if (output === undefined) throw new MarillError(`the graph has no output '${name}'`);
  const shape = g.values.get(output.value)!.type.shape;
  if (shape.length !== 3 || shape[0] !== 1)
    throw new MarillError(`output '${name}' is [${shape.join(', ')}], not [1, sequence, vocab]`);
  const positions = shape[1]!;
  if (positions === 1) return g;

  const readers = users(g);
  const outputCount = new Map<ValueId, number>();
  for (const o of g.outputs) outputCount.set(o.value, (outputCount.get(o.value) ?? 0) + 1);

  // The region the slice sinks through, from the output up, in reverse graph order: a
  // per-position node whose result is read only by nodes of the region, each reading it
  // along its position axis (the output's producer: read by nothing else and output once).
  const region = new Set<Node>();
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k]!;
    if (!perPosition(g, n, positions)) continue;
    const v = n.outputs[0]!;
    const reads = readers.get(v) ?? [];
    const own = positionAxis(g.values.get(v)!.type.shape, positions);
    const isRoot = v === output.value && reads.length === 0 && outputCount.get(v) === 1;
    const inner =
      reads.length > 0 &&
      !outputCount.has(v) &&
      reads.every(
        (r) => region.has(r) && r.inputs.every((x, i) => x !== v || operandAxis(g, r, i, positions) === own),
      );
    if (isRoot || inner) region.add(n);
  }

  const ids = new IdSource(g.values.keys());
  const values = new Map(g.values);
  const added: Node[] = [];
  const emit = (
    op: OpName,
    inputs: readonly ValueId[],
    attrs: Attrs,
    origin: string | undefined,
  ): ValueId => {
    const normalized = normalizeAttrs(op, attrs);
    const [type] = inferTypes(
      op,
      inputs.map((id) => values.get(id)!.type),
      normalized,
    );
    const id = ids.fresh();
    const visibility = resultVisibility(
      op,
      inputs.map((i) => values.get(i)!.visibility),
      normalized,
    );
    values.set(id, { id, type: type!, visibility });
    added.push({
      op,
      inputs: [...inputs],
      outputs: [id],
      attrs: normalized,
      ...(origin !== undefined ? { origin } : {}),
    });
    return id;
  };

  // Each value of the region on its last position (its producer's copy), and, once per
  // value and axis, an explicit slice where the region reads a value from outside.
  const sunk = new Map<ValueId, ValueId>();
  const explicit = new Map<string, ValueId>();
  const sliceOf = (v: ValueId, axis: number, origin: string | undefined): ValueId => {
    const key = `${axis}/${v}`;
    let id = explicit.get(key);
    if (id === undefined) {
      id = emit(
        'slice',
        [v],
        { starts: [positions - 1], ends: [positions], axes: [axis], steps: [1] },
        origin,
      );
      explicit.set(key, id);
    }
    return id;
  };
  for (const n of g.nodes) {
    if (!region.has(n)) continue;
    const inputs = n.inputs.map((x, k) => {
      const axis = operandAxis(g, n, k, positions);
      if (axis === 'fixed') return x;
      return sunk.get(x) ?? sliceOf(x, axis as number, n.origin);
    });
    const out = g.values.get(n.outputs[0]!)!.type.shape;
    const pa = positionAxis(out, positions)!;
    const attrs = n.op === 'reshape' ? { ...n.attrs, shape: out.map((d, i) => (i === pa ? 1 : d)) } : n.attrs;
    sunk.set(n.outputs[0]!, emit(n.op, inputs, attrs, n.origin));
  }

  const last = sunk.get(output.value) ?? sliceOf(output.value, 1, undefined);
  const rewritten: Graph = {
    ...g,
    values,
    nodes: [...g.nodes, ...added],
    outputs: g.outputs.map((o) => (o === output ? { ...o, value: last } : o)),
  };
  return removeDeadNodes(rewritten);
}
