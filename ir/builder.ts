/**
 * GraphBuilder: the one way to construct graphs (frontend, parser, passes).
 * Every node added has its operands checked and its result types and
 * visibilities derived from the op table, so a built graph is well-typed.
 */
import { MarillError } from './errors.ts';
import type { Attrs, Graph, GraphOutput, Node, ValueId, ValueInfo } from './graph.ts';
import { IdSource } from './graph.ts';
import type { OpName } from './ops.ts';
import { inferTypes, normalizeAttrs } from './ops.ts';
import type { Tensor } from './tensor.ts';
import { tensorHash } from './tensor.ts';
import type { Placement, TensorType, Visibility } from './types.ts';
import { formatType, joinVisibility, shapeEquals } from './types.ts';

/** Visibility of an op's results by the join rule; `share` and `reveal` move across it explicitly. */
export function resultVisibility(op: OpName, inputs: readonly Visibility[], attrs: Attrs): Visibility {
  if (op === 'share') return 'secret';
  if (op === 'reveal') return attrs['to'] === 'server' ? 'server' : 'client';
  return inputs.reduce<Visibility>((acc, v) => joinVisibility(acc, v), 'public');
}

export interface NodeOptions {
  origin?: string;
  placement?: Placement;
  protocol?: string;
  /** Ids to give the results (default: fresh numbers). */
  outputIds?: readonly ValueId[];
  /** Override the derived visibility (used when re-building a graph whose text states it). */
  visibility?: Visibility;
}

export class GraphBuilder {
  private readonly values = new Map<ValueId, ValueInfo>();
  private readonly nodes: Node[] = [];
  private readonly inputs: ValueId[] = [];
  private outputs: GraphOutput[] = [];
  private readonly ids: IdSource;

  constructor(
    private readonly name: string,
    reservedIds: Iterable<ValueId> = [],
  ) {
    this.ids = new IdSource(reservedIds);
  }

  info(id: ValueId): ValueInfo {
    const v = this.values.get(id);
    if (!v) throw new MarillError(`value %${id} is not defined`);
    return v;
  }

  has(id: ValueId): boolean {
    return this.values.has(id);
  }

  freshId(): ValueId {
    return this.ids.fresh();
  }

  addInput(id: ValueId, type: TensorType, visibility: Visibility = 'client'): ValueId {
    this.define({ id, type, visibility });
    this.inputs.push(id);
    return id;
  }

  /** A named initializer. `tensor` may be absent (weights parsed from text); then `type` and `hash` are needed. */
  addWeight(
    name: string,
    visibility: Visibility,
    source: { tensor: Tensor } | { type: TensorType; hash: string },
    opts: NodeOptions = {},
  ): ValueId {
    const tensor = 'tensor' in source ? source.tensor : undefined;
    const type: TensorType = tensor
      ? { dtype: tensor.dtype, shape: tensor.shape }
      : (source as { type: TensorType }).type;
    const hash = tensor ? tensorHash(tensor) : (source as { hash: string }).hash;
    const id = opts.outputIds?.[0] ?? this.ids.fresh();
    this.define({ id, type, visibility });
    this.nodes.push(this.node('weight', [], [id], { name, hash }, opts, tensor));
    return id;
  }

  /** A literal tensor (public). */
  addConst(tensor: Tensor, opts: NodeOptions = {}): ValueId {
    const id = opts.outputIds?.[0] ?? this.ids.fresh();
    this.define({
      id,
      type: { dtype: tensor.dtype, shape: tensor.shape },
      visibility: opts.visibility ?? 'public',
    });
    const value = Array.from(tensor.data as ArrayLike<number | bigint>, Number);
    this.nodes.push(this.node('const', [], [id], { value }, opts, tensor));
    return id;
  }

  /** Adds an op node; returns its result ids. */
  add(op: OpName, inputs: readonly ValueId[], attrs: Attrs = {}, opts: NodeOptions = {}): ValueId[] {
    const infos = inputs.map((i) => this.info(i));
    const full = normalizeAttrs(op, attrs);
    const types = inferTypes(
      op,
      infos.map((i) => i.type),
      full,
    );
    const vis =
      opts.visibility ??
      resultVisibility(
        op,
        infos.map((i) => i.visibility),
        full,
      );
    const ids = opts.outputIds ?? types.map(() => this.ids.fresh());
    if (ids.length !== types.length)
      throw new MarillError(`op '${op}' has ${types.length} results, ${ids.length} named`);
    ids.forEach((id, k) => this.define({ id, type: types[k]!, visibility: vis }));
    this.nodes.push(this.node(op, inputs, ids, full, opts));
    return [...ids];
  }

  /** Adds an op node with a single result. */
  add1(op: OpName, inputs: readonly ValueId[], attrs: Attrs = {}, opts: NodeOptions = {}): ValueId {
    const out = this.add(op, inputs, attrs, opts);
    if (out.length !== 1) throw new MarillError(`op '${op}' has ${out.length} results`);
    return out[0]!;
  }

  /** Checks a declared result type against the derived one (used by the text parser). */
  expectType(id: ValueId, declared: TensorType): void {
    const t = this.info(id).type;
    if (t.dtype !== declared.dtype || !shapeEquals(t.shape, declared.shape))
      throw new MarillError(`%${id} is declared ${formatType(declared)} but its op gives ${formatType(t)}`);
  }

  setOutputs(outputs: readonly GraphOutput[]): void {
    for (const o of outputs) this.info(o.value);
    this.outputs = [...outputs];
  }

  build(): Graph {
    return {
      name: this.name,
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      values: new Map(this.values),
      nodes: [...this.nodes],
    };
  }

  private define(v: ValueInfo): void {
    if (this.values.has(v.id)) throw new MarillError(`value %${v.id} is defined twice`);
    this.ids.reserve(v.id);
    this.values.set(v.id, v);
  }

  private node(
    op: OpName,
    inputs: readonly ValueId[],
    outputs: readonly ValueId[],
    attrs: Attrs,
    opts: NodeOptions,
    tensor?: Tensor,
  ): Node {
    const n: { -readonly [K in keyof Node]: Node[K] } = {
      op,
      inputs: [...inputs],
      outputs: [...outputs],
      attrs,
    };
    if (opts.placement !== undefined) n.placement = opts.placement;
    if (opts.protocol !== undefined) n.protocol = opts.protocol;
    if (opts.origin !== undefined) n.origin = opts.origin;
    if (tensor !== undefined) n.tensor = tensor;
    return n;
  }
}
