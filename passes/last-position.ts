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
 *     runs before fusion, which then finds the same norm on one position).
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
import type { Attrs, Graph, Node, ValueId, ValueInfo } from '../ir/graph.ts';
import { IdSource, removeDeadNodes, users } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import { hasGroup, inferTypes, normalizeAttrs } from '../ir/ops.ts';

const NORMALISING: ReadonlySet<OpName> = new Set(['layernorm', 'rmsnorm', 'softmax', 'log_softmax']);
const REDUCING: ReadonlySet<OpName> = new Set(['reduce_sum', 'reduce_mean', 'reduce_max']);

/** How an operand relates to the positions of a rank-3 result with S positions. */
function operandKind(info: ValueInfo, positions: number): 'fixed' | 'positional' | 'other' {
  const shape = info.type.shape;
  const axis = shape.length - 2;
  if (axis < 0 || shape[axis] === 1) return 'fixed';
  return shape.length === 3 && shape[1] === positions ? 'positional' : 'other';
}

/** Whether f acts on each position of its rank-3 result separately (see the header). */
function perPosition(g: Graph, f: Node, positions: number): boolean {
  if (f.outputs.length !== 1) return false;
  const out = g.values.get(f.outputs[0]!)!.type.shape;
  if (out.length !== 3 || out[1] !== positions) return false;
  const kinds = f.inputs.map((id) => operandKind(g.values.get(id)!, positions));
  if (f.op === 'matmul')
    return kinds[0] === 'positional' && g.values.get(f.inputs[1]!)!.type.shape.length <= 3;
  if (REDUCING.has(f.op)) {
    // Kept rank, and the reduced axes are all after the position axis.
    const axes = (f.attrs['axes'] as readonly number[]).map((a) => (a < 0 ? a + 3 : a));
    return Number(f.attrs['keepdims'] ?? 1) !== 0 && kinds[0] === 'positional' && axes.every((a) => a >= 2);
  }
  if (NORMALISING.has(f.op)) {
    const axis = Number(f.attrs['axis'] ?? -1);
    return (
      (axis < 0 ? axis + 3 : axis) >= 2 && kinds[0] === 'positional' && kinds.every((k) => k !== 'other')
    );
  }
  return hasGroup(f.op, 'elementwise') && kinds.every((k) => k !== 'other');
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
  // per-position node whose result varies along the positions and is read only by nodes
  // of the region (the output's producer: read by nothing else and output once).
  const region = new Set<Node>();
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k]!;
    if (!perPosition(g, n, positions)) continue;
    const v = n.outputs[0]!;
    const reads = readers.get(v) ?? [];
    const isRoot = v === output.value && reads.length === 0 && outputCount.get(v) === 1;
    const inner =
      reads.length > 0 &&
      !outputCount.has(v) &&
      operandKind(g.values.get(v)!, positions) === 'positional' &&
      reads.every((r) => region.has(r));
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

  // slice_1(v) for each value of the region (its producer's copy on one position) and, once
  // per value, an explicit slice where the region reads a positional value from outside.
  const sliced = new Map<ValueId, ValueId>();
  const sliceOf = (v: ValueId, origin: string | undefined): ValueId => {
    let id = sliced.get(v);
    if (id === undefined) {
      id = emit('slice', [v], { starts: [positions - 1], ends: [positions], axes: [1], steps: [1] }, origin);
      sliced.set(v, id);
    }
    return id;
  };
  for (const n of g.nodes) {
    if (!region.has(n)) continue;
    const inputs = n.inputs.map((x) =>
      operandKind(g.values.get(x)!, positions) === 'positional' ? sliceOf(x, n.origin) : x,
    );
    sliced.set(n.outputs[0]!, emit(n.op, inputs, n.attrs, n.origin));
  }

  const last = sliceOf(output.value, undefined);
  const rewritten: Graph = {
    ...g,
    values,
    nodes: [...g.nodes, ...added],
    outputs: g.outputs.map((o) => (o === output ? { ...o, value: last } : o)),
  };
  return removeDeadNodes(rewritten);
}
