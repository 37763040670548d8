/**
 * The IR graph: SSA values with static types and visibility, and a list of nodes
 * in topological order. Graphs are immutable values; passes build new ones
 * (see `rebuild` and `GraphBuilder`).
 */
import type { OpName } from './ops.ts';
import type { Tensor } from './tensor.ts';
import type { Placement, TensorType, Visibility } from './types.ts';
import { MarillError } from './errors.ts';

export type ValueId = string;

export interface ValueInfo {
  readonly id: ValueId;
  readonly type: TensorType;
  readonly visibility: Visibility;
}

export type AttrValue = number | string | readonly number[];
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface Node {
  readonly op: OpName;
  readonly inputs: readonly ValueId[];
  readonly outputs: readonly ValueId[];
  readonly attrs: Attrs;
  /** Where the node runs; set by placement (absent before it). */
  readonly placement?: Placement;
  /** For `mpc` nodes: the protocol chosen by protocol selection. */
  readonly protocol?: string;
  /** `weight` and `const` nodes: their tensor. A weight parsed from .mir has none (only its hash). */
  readonly tensor?: Tensor;
  /** The ONNX node (or other source) this came from, for error messages. Not printed. */
  readonly origin?: string;
}

/**
 * A graph output: the user-facing name (ONNX output name) and the value it holds.
 *
 * A `state` output is not a result: it is carried to the next step of a
 * generation (docs/generation.md) as the graph input it names (e.g.
 * `present.0.key` becomes `past_key_values.0.key`). It is never revealed: it
 * stays where it was computed, at the client when it is the client's, as the
 * parties' shares when it is secret (ir/flow.ts).
 */
export interface GraphOutput {
  readonly name: string;
  readonly value: ValueId;
  /** The graph input this output becomes at the next step (state outputs only). */
  readonly state?: ValueId;
}

/** Whether an output is carried state rather than a result revealed to the client. */
export function isStateOutput(o: GraphOutput): boolean {
  return o.state !== undefined;
}

/** The graph inputs that state outputs feed at the next step. */
export function stateInputs(g: Pick<Graph, 'outputs'>): Set<ValueId> {
  return new Set(g.outputs.flatMap((o) => (o.state !== undefined ? [o.state] : [])));
}

export interface Graph {
  readonly name: string;
  /** Graph inputs; their ids are the user-facing input names. */
  readonly inputs: readonly ValueId[];
  readonly outputs: readonly GraphOutput[];
  readonly values: ReadonlyMap<ValueId, ValueInfo>;
  /** Topological order. */
  readonly nodes: readonly Node[];
}

export function valueInfo(g: Graph, id: ValueId): ValueInfo {
  const v = g.values.get(id);
  if (!v) throw new MarillError(`unknown value %${id}`, { what: g.name });
  return v;
}

/** Map from value id to the node that defines it (graph inputs have none). */
export function producers(g: Graph): Map<ValueId, Node> {
  const m = new Map<ValueId, Node>();
  for (const n of g.nodes) for (const o of n.outputs) m.set(o, n);
  return m;
}

/** Map from value id to the nodes that read it. */
export function users(g: Graph): Map<ValueId, Node[]> {
  const m = new Map<ValueId, Node[]>();
  for (const n of g.nodes) {
    for (const i of n.inputs) {
      const list = m.get(i);
      if (list) {
        if (!list.includes(n)) list.push(n);
      } else m.set(i, [n]);
    }
  }
  return m;
}

/** Removes nodes none of whose outputs reach a graph output, and values no longer defined or used. */
export function removeDeadNodes(g: Graph): Graph {
  const live = new Set<ValueId>(g.outputs.map((o) => o.value));
  const kept: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (n.outputs.some((o) => live.has(o))) {
      kept.push(n);
      for (const v of n.inputs) live.add(v);
    }
  }
  kept.reverse();
  return withNodes(g, kept);
}

/** The same graph with another node list; the value table keeps exactly the values still present. */
export function withNodes(g: Graph, nodes: readonly Node[], extraValues: readonly ValueInfo[] = []): Graph {
  const all = new Map(g.values);
  for (const v of extraValues) all.set(v.id, v);
  const values = new Map<ValueId, ValueInfo>();
  const keep = (id: ValueId) => {
    const v = all.get(id);
    if (v) values.set(id, v);
  };
  for (const i of g.inputs) keep(i);
  for (const n of nodes) {
    for (const o of n.outputs) keep(o);
    for (const i of n.inputs) keep(i);
  }
  return { ...g, nodes, values };
}

/** Generates value ids not yet used in a graph: `%0`, `%1`, ... */
export class IdSource {
  private next = 0;
  private readonly taken: Set<ValueId>;

  constructor(taken: Iterable<ValueId> = []) {
    this.taken = new Set(taken);
  }

  fresh(): ValueId {
    while (this.taken.has(String(this.next))) this.next++;
    const id = String(this.next++);
    this.taken.add(id);
    return id;
  }

  reserve(id: ValueId): void {
    this.taken.add(id);
  }
}

/**
 * Renumbers intermediate values `%0, %1, ...` in node order (graph inputs keep
 * their names). Gives printed IR a canonical, readable form after rewrites.
 */
export function renumber(g: Graph): Graph {
  const inputs = new Set(g.inputs);
  const rename = new Map<ValueId, ValueId>();
  let k = 0;
  for (const n of g.nodes) for (const o of n.outputs) if (!inputs.has(o)) rename.set(o, String(k++));
  const r = (id: ValueId) => rename.get(id) ?? id;
  const values = new Map<ValueId, ValueInfo>();
  for (const [id, v] of g.values) values.set(r(id), { ...v, id: r(id) });
  return {
    ...g,
    values,
    outputs: g.outputs.map((o) => ({ ...o, value: r(o.value) })),
    nodes: g.nodes.map((n) => ({ ...n, inputs: n.inputs.map(r), outputs: n.outputs.map(r) })),
  };
}
