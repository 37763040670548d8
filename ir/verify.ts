/**
 * Structural verifier: is a Graph a well-formed program of the IR?
 * (Information-flow rules, e.g. what may be revealed, are a separate pass.)
 *
 * Checked:
 *  - every value is defined exactly once (a graph input or one node result),
 *    has an entry in the value table under its own id, and the table holds no
 *    value that nothing defines;
 *  - operands are defined before the node that reads them (graph order is a
 *    topological order);
 *  - every op is in the op table, its attributes are valid (`normalizeAttrs`),
 *    and its result types are exactly what `inferTypes` derives;
 *  - sources: a weight has a `#sha256` content hash of 64 lowercase hex digits;
 *    a const has one value per element, each valid for its dtype; a tensor,
 *    when attached, has the declared dtype and shape;
 *  - visibility: all results of a node share one visibility, and except for
 *    sources (weight, const), whose visibility is declared, it is the join rule
 *    (`resultVisibility`). A `share` reads a value of its `from` party (or a
 *    public one); a `reveal` reads a secret value;
 *  - placement, when present (see `allowedPlacements`), and a protocol only
 *    on `@mpc` nodes;
 *  - graph outputs name defined values, under distinct names; a state output
 *    names a graph input of its element type that no other state output names.
 */
import { resultVisibility } from './builder.ts';
import { MarillError } from './errors.ts';
import type { Attrs, Graph, GraphOutput, Node, ValueId } from './graph.ts';
import { formatValueName, orList } from './mir-text.ts';
import type { OpName } from './ops.ts';
import { hasGroup, inferTypes, isOpName, normalizeAttrs } from './ops.ts';
import { describeNode } from './print.ts';
import type { Tensor } from './tensor.ts';
import { toNumbers } from './tensor.ts';
import type { DType, Placement, TensorType, Visibility } from './types.ts';
import { PLACEMENTS, formatType, numel, placementOf, shapeEquals } from './types.ts';

/** The parts of a node that decide where it may run. */
export interface PlacedNode {
  readonly op: OpName;
  readonly attrs: Attrs;
  readonly placement?: Placement;
  readonly protocol?: string;
}

export const WEIGHT_HASH = /^[0-9a-f]{64}$/;
export const PROTOCOL_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Where a node may run, given its results' visibility:
 *  - `share` runs at the party that owns the value (`from`), which sends the
 *    other party its share, or under `@mpc`;
 *  - `reveal` runs under `@mpc` (both parties send shares to the receiver);
 *  - every other node runs where its result lives, `placementOf(visibility)`:
 *    secret -> @mpc, client -> @client, server -> @server, public -> @both.
 */
export function allowedPlacements(node: PlacedNode, visibility: Visibility): readonly Placement[] {
  if (node.op === 'share') return [node.attrs['from'] as Placement, 'mpc'];
  if (node.op === 'reveal') return ['mpc'];
  return [placementOf(visibility)];
}

/** Throws (without a location) when a node's placement does not fit its visibility. */
export function checkPlacement(node: PlacedNode, visibility: Visibility): void {
  if (node.placement === undefined) return;
  if (!PLACEMENTS.includes(node.placement))
    throw new MarillError(`unknown placement '${String(node.placement)}'`);
  const allowed = allowedPlacements(node, visibility);
  if (!allowed.includes(node.placement)) {
    const why = node.op === 'share' || node.op === 'reveal' ? `a ${node.op}` : `a ${visibility} result`;
    throw new MarillError(
      `placed @${node.placement}, but ${why} runs ${orList(allowed.map((p) => `@${p}`))}`,
    );
  }
}

/** Throws (without a location) when a protocol is given off `@mpc` or cannot be spelled in the text form. */
export function checkProtocol(node: PlacedNode): void {
  if (node.protocol === undefined) return;
  if (node.placement !== 'mpc') {
    const where = node.placement === undefined ? 'without a placement' : `for @${node.placement}`;
    throw new MarillError(`protocol '${node.protocol}' given ${where}; only @mpc nodes have one`);
  }
  if (!PROTOCOL_NAME.test(node.protocol))
    throw new MarillError(
      `protocol name '${node.protocol}' may only contain letters, digits, '_', '.' and '-'`,
    );
}

/** Throws (without a location) when a `share`/`reveal` reads a value of the wrong visibility. */
export function checkBoundaryOperand(op: OpName, attrs: Attrs, operand: Visibility): void {
  if (op === 'share') {
    const from = attrs['from'];
    if (operand !== from && operand !== 'public')
      throw new MarillError(`share from ${String(from)} reads a ${operand} value`);
  } else if (op === 'reveal' && operand !== 'secret') {
    throw new MarillError(`reveal reads a ${operand} value; only secret values are revealed`);
  }
}

/** Throws (without a location) when a const's values do not fit its type. */
export function checkConstValues(values: readonly number[], type: TensorType): void {
  const n = numel(type.shape);
  if (values.length !== n)
    throw new MarillError(`const has ${values.length} values but ${formatType(type)} needs ${n}`);
  const ok: Record<DType, (x: number) => boolean> = {
    f32: () => true,
    i64: (x) => Number.isInteger(x),
    bool: (x) => x === 0 || x === 1,
  };
  const bad = values.find((x) => !ok[type.dtype](x));
  if (bad !== undefined) throw new MarillError(`const value ${bad} is not a valid ${type.dtype}`);
}

/** Runs `check`, adding `what` to a MarillError that does not yet say where it happened. */
function at<T>(what: string, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof MarillError && e.location.what === undefined)
      throw new MarillError(e.message, { ...e.location, what });
    throw e;
  }
}

function nodeWhere(n: Node): string {
  return n.origin === undefined ? describeNode(n) : `${describeNode(n)} (from ${n.origin})`;
}

export function verifyGraph(g: Graph): void {
  const defined = new Set<ValueId>();
  const definedByNodes = new Set(g.nodes.flatMap((n) => n.outputs));
  at(`graph @${g.name} inputs`, () =>
    g.inputs.forEach((id) => {
      checkNewValue(g, id, defined);
      defined.add(id);
    }),
  );
  for (const n of g.nodes) at(nodeWhere(n), () => verifyNode(g, n, defined, definedByNodes));
  for (const id of g.values.keys())
    if (!defined.has(id))
      throw new MarillError(`value ${formatValueName(id)} is in the value table but nothing defines it`, {
        what: `graph @${g.name}`,
      });
  at(`graph @${g.name} outputs`, () => verifyOutputs(g, defined));
}

/** A value about to be defined: not defined yet, and in the value table under its own id. */
function checkNewValue(g: Graph, id: ValueId, defined: ReadonlySet<ValueId>): void {
  if (defined.has(id)) throw new MarillError(`value ${formatValueName(id)} is defined more than once`);
  const info = g.values.get(id);
  if (info === undefined)
    throw new MarillError(`value ${formatValueName(id)} has no entry in the value table`);
  if (info.id !== id)
    throw new MarillError(`value table entry ${formatValueName(id)} names itself ${info.id}`);
}

/**
 * A state output becomes a graph input at the next step: it names one, of its
 * element type, that no other state output names. (Shapes differ: a cache grows.)
 */
function verifyStateOutput(g: Graph, o: GraphOutput, carried: Set<ValueId>): void {
  const input = o.state!;
  if (!g.inputs.includes(input))
    throw new MarillError(
      `state output '${o.name}' names ${formatValueName(input)}, which is not a graph input`,
    );
  if (carried.has(input))
    throw new MarillError(`state input ${formatValueName(input)} is fed by two state outputs`);
  carried.add(input);
  const have = g.values.get(o.value)!.type.dtype;
  const want = g.values.get(input)!.type.dtype;
  if (have !== want)
    throw new MarillError(
      `state output '${o.name}' is ${have} but the input it becomes, ${formatValueName(input)}, is ${want}`,
    );
}

function verifyOutputs(g: Graph, defined: ReadonlySet<ValueId>): void {
  const names = new Set<string>();
  const carried = new Set<ValueId>();
  for (const o of g.outputs) {
    if (names.has(o.name)) throw new MarillError(`output '${o.name}' is declared twice`);
    names.add(o.name);
    if (!defined.has(o.value))
      throw new MarillError(`output '${o.name}' is ${formatValueName(o.value)}, which is never defined`);
    if (o.state !== undefined) verifyStateOutput(g, o, carried);
  }
}

function verifyNode(g: Graph, n: Node, defined: Set<ValueId>, definedByNodes: ReadonlySet<ValueId>): void {
  if (!isOpName(n.op)) throw new MarillError(`unknown op '${String(n.op)}'`);
  for (const id of n.inputs) {
    if (defined.has(id)) continue;
    const problem = definedByNodes.has(id) ? 'is used before it is defined' : 'is never defined';
    throw new MarillError(`operand ${formatValueName(id)} ${problem}`);
  }
  if (n.outputs.length === 0) throw new MarillError('node has no results');
  if (new Set(n.outputs).size !== n.outputs.length) throw new MarillError('node names one result twice');
  for (const id of n.outputs) checkNewValue(g, id, defined);
  const attrs = normalizeAttrs(n.op, n.attrs);
  const results = n.outputs.map((id) => g.values.get(id)!);
  const visibility = results[0]!.visibility;
  if (results.some((r) => r.visibility !== visibility))
    throw new MarillError(`results differ in visibility: ${results.map((r) => r.visibility).join(', ')}`);
  if (hasGroup(n.op, 'source')) verifySource(n, attrs, results[0]!.type);
  else verifyComputed(g, n, attrs, visibility);
  checkPlacement(n, visibility);
  checkProtocol(n);
  for (const id of n.outputs) defined.add(id);
}

function verifySource(n: Node, attrs: Attrs, type: TensorType): void {
  if (n.inputs.length !== 0 || n.outputs.length !== 1)
    throw new MarillError(`a ${n.op} has no operands and one result`);
  if (n.op === 'weight' && !WEIGHT_HASH.test(String(attrs['hash'])))
    throw new MarillError(`weight hash '${String(attrs['hash'])}' is not 64 lowercase hex digits (sha256)`);
  if (n.op === 'const') checkConstValues(attrs['value'] as readonly number[], type);
  if (n.tensor !== undefined && (n.tensor.dtype !== type.dtype || !shapeEquals(n.tensor.shape, type.shape)))
    throw new MarillError(`attached tensor is ${formatType(n.tensor)} but the value is ${formatType(type)}`);
  if (n.op === 'const' && n.tensor !== undefined)
    checkConstTensor(attrs['value'] as readonly number[], n.tensor);
}

/**
 * A const's `value` (what the text shows) and its tensor (what is computed
 * with) must hold the same elements: f32 up to rounding to f32, i64 as JS numbers.
 */
function checkConstTensor(values: readonly number[], tensor: Tensor): void {
  const elements = toNumbers(tensor);
  const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
  const k = elements.findIndex(
    (e, i) => !same(e, tensor.dtype === 'f32' ? Math.fround(values[i]!) : values[i]!),
  );
  if (k >= 0)
    throw new MarillError(`const value ${values[k]} at index ${k} differs from its tensor's ${elements[k]}`);
}

function verifyComputed(g: Graph, n: Node, attrs: Attrs, visibility: Visibility): void {
  const operands = n.inputs.map((id) => g.values.get(id)!);
  const types = inferTypes(
    n.op,
    operands.map((o) => o.type),
    attrs,
  );
  if (types.length !== n.outputs.length)
    throw new MarillError(
      `op '${n.op}' gives ${types.length} results but the node names ${n.outputs.length}`,
    );
  n.outputs.forEach((id, k) => {
    const have = g.values.get(id)!.type;
    const want = types[k]!;
    if (have.dtype !== want.dtype || !shapeEquals(have.shape, want.shape))
      throw new MarillError(
        `${formatValueName(id)} is recorded as ${formatType(have)} but its op gives ${formatType(want)}`,
      );
  });
  const derived = resultVisibility(
    n.op,
    operands.map((o) => o.visibility),
    attrs,
  );
  if (visibility !== derived)
    throw new MarillError(`results are recorded ${visibility} but the join of the operands gives ${derived}`);
  if (n.op === 'share' || n.op === 'reveal') checkBoundaryOperand(n.op, attrs, operands[0]!.visibility);
}
