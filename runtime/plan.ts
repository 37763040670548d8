/**
 * Plans: what generated plan.ts modules hand to the runtime. A plan is data:
 * the placed IR graph (nodes with `placement` and, for MPC nodes, `protocol`),
 * its value types and visibilities, its inputs and outputs, the fixed-point
 * setting, the plan hash and the public weights' hashes. Weight nodes carry
 * name and content hash only: each party loads its own weights (the server
 * all of them, the client the public ones) and they are checked against the
 * hashes.
 *
 * Two ways to make one:
 *   makePlan(graph, { fracBits })       from a placed Graph (tests, simulate)
 *   definePlan(spec)                    from the JSON-like literal a generated plan.ts states
 * `planSpec(plan)` gives that literal; definePlan checks the stated hash.
 *
 * The plan hash is SHA-256 over the canonical JSON of the spec (graph
 * structure, attributes including weight hashes, placements, protocols,
 * fracBits): two parties agree on it exactly when they run the same plan.
 */
import { createHash } from 'node:crypto';
import { MarillError } from '../ir/errors.ts';
import type { AttrValue, Graph, GraphOutput, Node, ValueId, ValueInfo } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import { isOpName } from '../ir/ops.ts';
import type { DType, Placement, Visibility } from '../ir/types.ts';
import { placementOf } from '../ir/types.ts';
import { DEFAULT_FRAC_BITS, checkFracBits } from './ring/fixed.ts';

export const PLAN_FORMAT = 'marill-plan/1';

export interface PlanValueSpec {
  readonly id: ValueId;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly visibility: Visibility;
}

export interface PlanNodeSpec {
  readonly op: OpName;
  readonly inputs: readonly ValueId[];
  readonly outputs: readonly ValueId[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
  readonly placement: Placement;
  readonly protocol?: string;
}

/** The literal a generated plan.ts contains (JSON-compatible). */
export interface PlanSpec {
  readonly format: typeof PLAN_FORMAT;
  readonly name: string;
  readonly fracBits: number;
  readonly inputs: readonly ValueId[];
  readonly outputs: readonly GraphOutput[];
  readonly values: readonly PlanValueSpec[];
  readonly nodes: readonly PlanNodeSpec[];
  /** SHA-256 of the canonical spec without this field; checked when present. */
  readonly hash?: string;
}

export interface Plan {
  readonly name: string;
  readonly graph: Graph;
  readonly fracBits: number;
  readonly hash: string;
  /** Public weight name -> content hash (from the plan). */
  readonly publicWeights: Readonly<Record<string, string>>;
}

/** JSON with object keys sorted, so equal specs hash equally. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function specHash(spec: PlanSpec): string {
  const { hash: _hash, ...rest } = spec;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

function nodePlacement(n: Node, values: ReadonlyMap<ValueId, ValueInfo>): Placement {
  if (n.placement) return n.placement;
  const v = values.get(n.outputs[0]!);
  if (!v) throw new MarillError(`result %${n.outputs[0]} has no type`);
  return placementOf(v.visibility);
}

/** The spec of a placed graph (weights by name and hash; const values kept). */
export function graphSpec(graph: Graph, fracBits: number): PlanSpec {
  const values = [...graph.values.values()].map((v) => ({
    id: v.id,
    dtype: v.type.dtype,
    shape: [...v.type.shape],
    visibility: v.visibility,
  }));
  const nodes = graph.nodes.map((n) => {
    const spec: PlanNodeSpec = {
      op: n.op,
      inputs: [...n.inputs],
      outputs: [...n.outputs],
      attrs: { ...n.attrs },
      placement: nodePlacement(n, graph.values),
      ...(n.protocol !== undefined ? { protocol: n.protocol } : {}),
    };
    return spec;
  });
  return {
    format: PLAN_FORMAT,
    name: graph.name,
    fracBits,
    inputs: [...graph.inputs],
    outputs: graph.outputs.map((o) => ({ name: o.name, value: o.value })),
    values,
    nodes,
  };
}

function publicWeightsOf(graph: Graph): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of graph.nodes) {
    if (n.op !== 'weight') continue;
    if (graph.values.get(n.outputs[0]!)?.visibility !== 'public') continue;
    out[String(n.attrs['name'])] = String(n.attrs['hash']);
  }
  return out;
}

/** The graph a spec describes (weight nodes without tensors). */
function specGraph(spec: PlanSpec): Graph {
  const values = new Map<ValueId, ValueInfo>();
  for (const v of spec.values)
    values.set(v.id, { id: v.id, type: { dtype: v.dtype, shape: [...v.shape] }, visibility: v.visibility });
  const nodes: Node[] = spec.nodes.map((n, i) => {
    if (!isOpName(n.op)) throw new MarillError(`plan node ${i} has unknown op '${String(n.op)}'`);
    for (const id of [...n.inputs, ...n.outputs])
      if (!values.has(id))
        throw new MarillError(`plan node ${i} (${n.op}) refers to undeclared value %${id}`);
    return {
      op: n.op,
      inputs: [...n.inputs],
      outputs: [...n.outputs],
      attrs: { ...n.attrs },
      placement: n.placement,
      ...(n.protocol !== undefined ? { protocol: n.protocol } : {}),
    };
  });
  return { name: spec.name, inputs: [...spec.inputs], outputs: [...spec.outputs], values, nodes };
}

/** A plan from its spec; a stated hash must match the spec's content. */
export function definePlan(spec: PlanSpec): Plan {
  if (spec.format !== PLAN_FORMAT)
    throw new MarillError(`plan format '${String(spec.format)}' is not ${PLAN_FORMAT}`);
  checkFracBits(spec.fracBits);
  const hash = specHash(spec);
  if (spec.hash !== undefined && spec.hash !== hash)
    throw new MarillError(
      `plan '${spec.name}' states hash ${spec.hash.slice(0, 12)}… but its content hashes to ${hash.slice(0, 12)}…`,
    );
  const graph = specGraph(spec);
  return { name: spec.name, graph, fracBits: spec.fracBits, hash, publicWeights: publicWeightsOf(graph) };
}

/** A plan from a placed graph. Weight tensors in the graph are not part of the plan. */
export function makePlan(graph: Graph, opts: { fracBits?: number } = {}): Plan {
  return definePlan(graphSpec(graph, opts.fracBits ?? DEFAULT_FRAC_BITS));
}

/** The spec of a plan, with its hash (what codegen writes into plan.ts). */
export function planSpec(plan: Plan): PlanSpec {
  const spec = graphSpec(plan.graph, plan.fracBits);
  return { ...spec, hash: specHash(spec) };
}

/** One hash over all public weight hashes (sorted by name), for the handshake. */
export function publicWeightsDigest(weights: Readonly<Record<string, string>>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(weights).sort()) h.update(`${name}=${weights[name]}\n`);
  return h.digest('hex');
}
