/**
 * Plans: what the parties run. A plan is data: the placed IR graph (nodes
 * with `placement` and, for MPC nodes, `protocol`), its value types and
 * visibilities, its inputs and outputs, the ops the client may apply after a
 * reveal, the fixed-point setting and the plan hash. Weight nodes carry name
 * and hash only: each party loads its own weights (the server all of them,
 * the client the public ones) and checks them against the hashes. See
 * docs/plans.md for the file format.
 *
 * Two ways to make one:
 *   makePlan(graph, { fracBits, weightKey })  from a placed Graph (the compiler, tests)
 *   definePlan(spec)                          from the spec a plan file states
 * `planSpec(plan)` gives that spec. Either way the plan is checked before it
 * is returned: the stated hash must match the content, the graph must be
 * well formed (ir/verify.ts) and obey the information-flow rules
 * (ir/flow.ts: nothing revealed to the server, only declared outputs
 * revealed, only to the client). A Plan value is therefore always a checked
 * plan, on every party, before any connection.
 *
 * Weight hashes: a public weight's is its plain SHA-256 (ir/tensor.ts
 * tensorHash), which the client checks. A private (`server`) weight's is
 * keyed: HMAC-SHA-256 under a per-plan secret key that only the server
 * holds, over the weight's SHA-256, so a plan file does not let its holder
 * confirm a guessed tensor or fingerprint a model. The key lives in the
 * server's copy of the plan only (`weightKey`), never in the spec.
 *
 * The plan hash is SHA-256 over the canonical JSON of the spec (graph
 * structure, attributes including weight hashes, placements, protocols,
 * fracBits): two parties agree on it exactly when they run the same plan.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { MarillError } from '../ir/errors.ts';
import { verifyFlow } from '../ir/flow.ts';
import type { AttrValue, Graph, GraphOutput, Node, ValueId, ValueInfo } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import { isOpName } from '../ir/ops.ts';
import type { DType, Placement, Visibility } from '../ir/types.ts';
import { DTYPES, PLACEMENTS, VISIBILITIES, placementOf } from '../ir/types.ts';
import { verifyGraph } from '../ir/verify.ts';
import { DEFAULT_FRAC_BITS, checkFracBits } from './ring/fixed.ts';

/** Version 2: private weights are bound by keyed hashes; the hash is required. */
export const PLAN_FORMAT = 'marill-plan/2';

/** Bytes of a plan's weight key (HMAC-SHA-256 key). */
export const WEIGHT_KEY_BYTES = 32;

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

/**
 * Where the parties' correlated randomness comes from: '2pc-dealer' (a dealer
 * both trust not to collude with either) or '2pc' (the two parties make it
 * themselves, runtime/twopc/). Part of the hashed content.
 */
export type Setting = '2pc-dealer' | '2pc';
export const SETTINGS: readonly Setting[] = ['2pc-dealer', '2pc'];
export const DEFAULT_SETTING: Setting = '2pc-dealer';

/** The spec a plan file states (JSON-compatible), without its hash. */
export interface UnhashedPlanSpec {
  readonly format: typeof PLAN_FORMAT;
  readonly name: string;
  readonly fracBits: number;
  /** Absent: the default setting (so plans of the dealer setting keep their hashes). */
  readonly setting?: Setting;
  /** Ops the client may apply to a revealed value on its way to an output (`--client-post`). */
  readonly clientPost?: readonly string[];
  readonly inputs: readonly ValueId[];
  readonly outputs: readonly GraphOutput[];
  readonly values: readonly PlanValueSpec[];
  readonly nodes: readonly PlanNodeSpec[];
}

/** The spec a plan file states: the content and its SHA-256 (`specHash`). */
export interface PlanSpec extends UnhashedPlanSpec {
  readonly hash: string;
}

export interface Plan {
  readonly name: string;
  readonly graph: Graph;
  readonly fracBits: number;
  readonly setting: Setting;
  readonly hash: string;
  /** Ops the client may apply after a reveal (part of the hashed content). */
  readonly clientPost: readonly string[];
  /** Public weight name -> plain SHA-256 (what the client checks). */
  readonly publicWeights: Readonly<Record<string, string>>;
  /** Private weight name -> keyed hash (what the server checks with its weight key). */
  readonly privateWeights: Readonly<Record<string, string>>;
  /** One digest over every weight's binding, for the handshake (`weightsDigest`). */
  readonly weightsDigest: string;
  /** The key of the private weights' hashes: only on the server's copy of a plan. */
  readonly weightKey?: Uint8Array;
}

/** JSON with object keys sorted, so equal specs hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function specHash(spec: UnhashedPlanSpec | PlanSpec): string {
  const { hash: _hash, ...rest } = spec as PlanSpec;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** A private weight's hash in a plan: HMAC-SHA-256 under the plan's weight key, over its SHA-256. */
export function keyedWeightHash(key: Uint8Array, contentHash: string): string {
  return createHmac('sha256', key).update(`marill-weight/1:${contentHash}`).digest('hex');
}

/** A fresh weight key (crypto.randomBytes). */
export function freshWeightKey(): Uint8Array {
  return new Uint8Array(randomBytes(WEIGHT_KEY_BYTES));
}

function nodePlacement(n: Node, values: ReadonlyMap<ValueId, ValueInfo>): Placement {
  if (n.placement) return n.placement;
  const v = values.get(n.outputs[0]!);
  if (!v) throw new MarillError(`result %${n.outputs[0]} has no type`);
  return placementOf(v.visibility);
}

const isServerWeight = (n: Node, values: ReadonlyMap<ValueId, ValueInfo>): boolean =>
  n.op === 'weight' && values.get(n.outputs[0]!)?.visibility === 'server';

/**
 * The spec of a placed graph (weights by name and hash; const values kept).
 * With a weight key, the private weights' plain hashes become keyed ones
 * (what makePlan does); without one, hashes are copied as they are.
 */
export function graphSpec(
  graph: Graph,
  fracBits: number,
  opts: { clientPost?: readonly string[]; weightKey?: Uint8Array; setting?: Setting } = {},
): UnhashedPlanSpec {
  const values = [...graph.values.values()].map((v) => ({
    id: v.id,
    dtype: v.type.dtype,
    shape: [...v.type.shape],
    visibility: v.visibility,
  }));
  const nodes = graph.nodes.map((n) => {
    const attrs =
      opts.weightKey && isServerWeight(n, graph.values)
        ? { ...n.attrs, hash: keyedWeightHash(opts.weightKey, String(n.attrs['hash'])) }
        : { ...n.attrs };
    const spec: PlanNodeSpec = {
      op: n.op,
      inputs: [...n.inputs],
      outputs: [...n.outputs],
      attrs,
      placement: nodePlacement(n, graph.values),
      ...(n.protocol !== undefined ? { protocol: n.protocol } : {}),
    };
    return spec;
  });
  const clientPost = [...new Set(opts.clientPost ?? [])].sort();
  return {
    format: PLAN_FORMAT,
    name: graph.name,
    fracBits,
    ...(opts.setting !== undefined && opts.setting !== DEFAULT_SETTING ? { setting: opts.setting } : {}),
    ...(clientPost.length > 0 ? { clientPost } : {}),
    inputs: [...graph.inputs],
    outputs: graph.outputs.map((o) => ({
      name: o.name,
      value: o.value,
      ...(o.state !== undefined ? { state: o.state } : {}),
    })),
    values,
    nodes,
  };
}

function weightHashes(graph: Graph, visibility: Visibility): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of graph.nodes) {
    if (n.op !== 'weight') continue;
    if (graph.values.get(n.outputs[0]!)?.visibility !== visibility) continue;
    out[String(n.attrs['name'])] = String(n.attrs['hash']);
  }
  return out;
}

/**
 * One hash over every weight binding (public: plain SHA-256; private: keyed),
 * sorted by visibility and name: what the parties' hellos carry. The server
 * states it after checking its own weights against these hashes.
 */
export function weightsDigest(
  publicWeights: Readonly<Record<string, string>>,
  privateWeights: Readonly<Record<string, string>>,
): string {
  const h = createHash('sha256');
  for (const [label, weights] of [
    ['public', publicWeights],
    ['private', privateWeights],
  ] as const)
    for (const name of Object.keys(weights).sort()) h.update(`${label}/${name}=${weights[name]}\n`);
  return h.digest('hex');
}

// ---- checking a spec that came from a file (untrusted shape) ------------------------------------

type Fields = Record<string, unknown>;

function badSpec(what: string): never {
  throw new MarillError(`not a ${PLAN_FORMAT} plan: ${what}`);
}

function isObject(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, what: string): readonly string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    badSpec(`${what} is not a list of strings`);
  return v as string[];
}

function isAttrValue(v: unknown): v is AttrValue {
  return (
    typeof v === 'string' ||
    typeof v === 'number' ||
    (Array.isArray(v) && v.every((x) => typeof x === 'number'))
  );
}

function checkValueSpec(v: unknown, i: number): void {
  const where = `value ${i}`;
  if (!isObject(v) || typeof v['id'] !== 'string') badSpec(`${where} has no id`);
  if (!DTYPES.includes(v['dtype'] as DType)) badSpec(`${where} has dtype ${JSON.stringify(v['dtype'])}`);
  const shape = v['shape'];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0))
    badSpec(`${where} has shape ${JSON.stringify(shape)}`);
  if (!VISIBILITIES.includes(v['visibility'] as Visibility))
    badSpec(`${where} has visibility ${JSON.stringify(v['visibility'])}`);
}

function checkNodeSpec(n: unknown, i: number): void {
  const where = `node ${i}`;
  if (!isObject(n) || typeof n['op'] !== 'string') badSpec(`${where} has no op`);
  if (!isOpName(n['op'])) badSpec(`${where} has unknown op '${n['op']}'`);
  stringList(n['inputs'], `${where}'s inputs`);
  stringList(n['outputs'], `${where}'s outputs`);
  const attrs = n['attrs'];
  if (!isObject(attrs) || !Object.values(attrs).every(isAttrValue))
    badSpec(`${where} (${n['op']}) has attributes that are not strings, numbers or number lists`);
  if (!PLACEMENTS.includes(n['placement'] as Placement))
    badSpec(`${where} (${n['op']}) has placement ${JSON.stringify(n['placement'])}`);
  if (n['protocol'] !== undefined && typeof n['protocol'] !== 'string')
    badSpec(`${where} (${n['op']}) has a protocol that is not a string`);
}

/** Refuses a value that does not have the shape of a PlanSpec (e.g. parsed from an edited file). */
export function checkSpecShape(spec: unknown): asserts spec is PlanSpec {
  if (!isObject(spec)) badSpec('the spec is not an object');
  if (spec['format'] !== PLAN_FORMAT)
    throw new MarillError(`plan format ${JSON.stringify(spec['format'])} is not ${PLAN_FORMAT}`);
  if (typeof spec['hash'] !== 'string' || !/^[0-9a-f]{64}$/.test(spec['hash']))
    throw new MarillError('the plan states no hash (a plan is refused without one: recompile it)');
  if (typeof spec['name'] !== 'string') badSpec('it has no name');
  if (typeof spec['fracBits'] !== 'number') badSpec('fracBits is not a number');
  if (spec['setting'] !== undefined && !SETTINGS.includes(spec['setting'] as Setting))
    badSpec(`setting ${JSON.stringify(spec['setting'])} is not one of ${SETTINGS.join(', ')}`);
  if (spec['clientPost'] !== undefined) stringList(spec['clientPost'], 'clientPost');
  stringList(spec['inputs'], 'inputs');
  const outputs = spec['outputs'];
  if (
    !Array.isArray(outputs) ||
    !outputs.every(
      (o) =>
        isObject(o) &&
        typeof o['name'] === 'string' &&
        typeof o['value'] === 'string' &&
        (o['state'] === undefined || typeof o['state'] === 'string'),
    )
  )
    badSpec('outputs is not a list of {name, value, state?}');
  const values = spec['values'];
  if (!Array.isArray(values)) badSpec('values is not a list');
  values.forEach(checkValueSpec);
  const nodes = spec['nodes'];
  if (!Array.isArray(nodes)) badSpec('nodes is not a list');
  nodes.forEach(checkNodeSpec);
}

/** The graph a spec describes (weight nodes without tensors). */
function specGraph(spec: UnhashedPlanSpec): Graph {
  const values = new Map<ValueId, ValueInfo>();
  for (const v of spec.values)
    values.set(v.id, { id: v.id, type: { dtype: v.dtype, shape: [...v.shape] }, visibility: v.visibility });
  const nodes: Node[] = spec.nodes.map((n) => ({
    op: n.op,
    inputs: [...n.inputs],
    outputs: [...n.outputs],
    attrs: { ...n.attrs },
    placement: n.placement,
    ...(n.protocol !== undefined ? { protocol: n.protocol } : {}),
  }));
  return { name: spec.name, inputs: [...spec.inputs], outputs: [...spec.outputs], values, nodes };
}

/** The checked plan of a spec and its hash. */
function checkedPlan(spec: UnhashedPlanSpec, hash: string): Plan {
  checkFracBits(spec.fracBits);
  const graph = specGraph(spec);
  const clientPost = spec.clientPost ?? [];
  verifyGraph(graph);
  verifyFlow(graph, clientPost);
  const publicWeights = weightHashes(graph, 'public');
  const privateWeights = weightHashes(graph, 'server');
  return {
    name: spec.name,
    graph,
    fracBits: spec.fracBits,
    setting: spec.setting ?? DEFAULT_SETTING,
    hash,
    clientPost,
    publicWeights,
    privateWeights,
    weightsDigest: weightsDigest(publicWeights, privateWeights),
  };
}

/**
 * A plan from the spec a plan file states: refused when it has no hash, when
 * its content no longer matches the hash, when its graph is not well formed,
 * or when it breaks an information-flow rule (the error names the op).
 */
export function definePlan(spec: PlanSpec): Plan {
  checkSpecShape(spec);
  const hash = specHash(spec);
  if (spec.hash !== hash)
    throw new MarillError(
      `plan '${spec.name}' states hash ${spec.hash.slice(0, 12)}… but its content hashes to ${hash.slice(0, 12)}…`,
    );
  return checkedPlan(spec, hash);
}

export interface MakePlanOptions {
  readonly fracBits?: number;
  /** Ops the client may apply after a reveal (the compile's `--client-post`). */
  readonly clientPost?: readonly string[];
  /** Where correlated randomness comes from (default '2pc-dealer'). */
  readonly setting?: Setting;
  /**
   * The key of the private weights' hashes. Without one, a fresh random key:
   * processes that each build "the same" plan must pass the same key, or
   * their plan hashes differ.
   */
  readonly weightKey?: Uint8Array;
}

/**
 * A plan from a placed graph whose weight nodes carry plain SHA-256 hashes
 * (the compiler's graph); the private ones are keyed with `weightKey`, which
 * the returned (server's) plan keeps. Weight tensors are not part of the plan.
 */
export function makePlan(graph: Graph, opts: MakePlanOptions = {}): Plan {
  const weightKey = opts.weightKey ?? freshWeightKey();
  if (weightKey.length !== WEIGHT_KEY_BYTES)
    throw new MarillError(`a weight key has ${WEIGHT_KEY_BYTES} bytes, not ${weightKey.length}`);
  const spec = graphSpec(graph, opts.fracBits ?? DEFAULT_FRAC_BITS, {
    weightKey,
    ...(opts.clientPost ? { clientPost: opts.clientPost } : {}),
    ...(opts.setting ? { setting: opts.setting } : {}),
  });
  return { ...checkedPlan(spec, specHash(spec)), weightKey };
}

/** The server's copy of a plan: the plan with the key of its private weights' hashes. */
export function withWeightKey(plan: Plan, weightKey: Uint8Array): Plan {
  if (weightKey.length !== WEIGHT_KEY_BYTES)
    throw new MarillError(`a weight key has ${WEIGHT_KEY_BYTES} bytes, not ${weightKey.length}`);
  return { ...plan, weightKey };
}

/** The spec of a plan, with its hash (what codegen writes into plan.ts). Never holds the weight key. */
export function planSpec(plan: Plan): PlanSpec {
  const spec = graphSpec(plan.graph, plan.fracBits, { clientPost: plan.clientPost, setting: plan.setting });
  return { ...spec, hash: specHash(spec) };
}

/**
 * The hash by which this plan names a tensor of the given content hash: the
 * content hash itself for a public weight, its keyed hash (needing the plan's
 * weight key) for a private weight. A party's weight is the plan's when this
 * equals the weight node's `hash`.
 */
export function planWeightHash(plan: Plan, visibility: Visibility, contentHash: string): string {
  if (visibility !== 'server') return contentHash;
  if (!plan.weightKey)
    throw new MarillError(
      "the plan binds the server's weights with a keyed hash: the server needs the plan's weight key (<plan>.server.key, written by marillc -o)",
    );
  return keyedWeightHash(plan.weightKey, contentHash);
}
