/**
 * The state lowering works on, and the view of it one ONNX node's rule gets.
 *
 * Every ONNX value is bound to a `Val`: either a compile-time constant tensor
 * (integer/bool initializers, Constant nodes, anything folded from them, the
 * Shape of a static value) or a value of the IR graph. Rules emit IR ops
 * through `op()`: when every operand is a constant the op is evaluated on the
 * spot with the interpreter's `evalOp` (one implementation of each op's math)
 * and nothing is emitted; otherwise constant operands become `const` nodes,
 * once each, and the op is added to the graph.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Location } from '../../ir/errors.ts';
import type { Attrs, ValueId } from '../../ir/graph.ts';
import type { GraphBuilder } from '../../ir/builder.ts';
import { evalOp } from '../../ir/interpret.ts';
import type { OpName } from '../../ir/ops.ts';
import { inferTypes, normalizeAttrs } from '../../ir/ops.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { toNumbers } from '../../ir/tensor.ts';
import type { TensorType } from '../../ir/types.ts';
import type { OnnxAttribute, OnnxNode, OnnxTensor } from './model.ts';

export interface ConstVal {
  readonly kind: 'const';
  readonly tensor: Tensor;
}

export interface IrVal {
  readonly kind: 'ir';
  readonly id: ValueId;
  readonly type: TensorType;
}

export type Val = ConstVal | IrVal;

export function constVal(tensor: Tensor): ConstVal {
  return { kind: 'const', tensor };
}

export function typeOf(v: Val): TensorType {
  return v.kind === 'const' ? { dtype: v.tensor.dtype, shape: v.tensor.shape } : v.type;
}

/** A float initializer: becomes a `weight` node the first time something reads it. */
interface PendingWeight {
  readonly kind: 'weight';
  readonly name: string;
  readonly tensor: Tensor;
}

type Binding = Val | PendingWeight;

/** The ONNX value table plus the graph being built; shared by all nodes of one model. */
export class LoweringState {
  private readonly bindings = new Map<string, Binding>();
  private readonly constIds = new WeakMap<Tensor, ValueId>();
  /** Outputs a rule does not produce (e.g. LayerNormalization's saved mean), with the reason. */
  private readonly unavailable = new Map<string, string>();

  constructor(
    readonly builder: GraphBuilder,
    readonly file: string,
  ) {}

  bindWeight(name: string, tensor: Tensor): void {
    this.bindings.set(name, { kind: 'weight', name, tensor });
  }

  bind(name: string, v: Val): void {
    this.bindings.set(name, v);
  }

  isBound(name: string): boolean {
    return this.bindings.has(name);
  }

  markUnavailable(name: string, reason: string): void {
    this.unavailable.set(name, reason);
  }

  /** The value of an ONNX name; a pending weight becomes a weight node now (origin: its own name). */
  lookup(name: string, loc: Location): Val {
    const b = this.bindings.get(name);
    if (!b) {
      const reason = this.unavailable.get(name);
      throw new MarillError(
        reason ? `value '${name}' is not available: ${reason}` : `value '${name}' is used but never defined`,
        loc,
      );
    }
    if (b.kind !== 'weight') return b;
    const id = this.builder.addWeight(b.name, 'server', { tensor: b.tensor }, { origin: b.name });
    const v: IrVal = { kind: 'ir', id, type: { dtype: b.tensor.dtype, shape: b.tensor.shape } };
    this.bindings.set(name, v);
    return v;
  }

  /** The compile-time value of a name, if it has one (a weight's tensor counts: its value is known here). */
  known(name: string): Tensor | undefined {
    const b = this.bindings.get(name);
    if (!b) return undefined;
    if (b.kind === 'weight' || b.kind === 'const') return b.tensor;
    return undefined;
  }

  /** The IR id holding a value, adding a `const` node (once per tensor) for a constant. */
  materialize(v: Val, origin: string): ValueId {
    if (v.kind === 'ir') return v.id;
    const cached = this.constIds.get(v.tensor);
    if (cached !== undefined) return cached;
    const id = this.builder.addConst(v.tensor, { origin });
    this.constIds.set(v.tensor, id);
    return id;
  }

  /** Emits one IR op, or folds it when every operand is a constant. */
  op(op: OpName, inputs: readonly Val[], attrs: Attrs, origin: string): Val[] {
    if (inputs.every((v) => v.kind === 'const')) {
      const tensors = inputs.map((v) => (v as ConstVal).tensor);
      const full = normalizeAttrs(op, attrs);
      const outTypes = inferTypes(op, tensors, full);
      return evalOp(op, tensors, full, outTypes).map(constVal);
    }
    const ids = inputs.map((v) => this.materialize(v, origin));
    const outs = this.builder.add(op, ids, attrs, { origin });
    return outs.map((id): IrVal => ({ kind: 'ir', id, type: this.builder.info(id).type }));
  }
}

/** What a lowering rule sees: one ONNX node, its opset, its operands and attributes, and `op()`. */
export class NodeContext {
  readonly loc: Location;

  constructor(
    private readonly state: LoweringState,
    readonly node: OnnxNode,
    readonly opset: number,
  ) {
    this.loc = { file: state.file, what: `node '${node.name}' (${node.opType})` };
  }

  fail(message: string): never {
    throw new MarillError(message, this.loc);
  }

  // ---- operands ---------------------------------------------------------------------------------

  get inputCount(): number {
    return this.node.inputs.length;
  }

  hasInput(i: number): boolean {
    return (this.node.inputs[i] ?? '') !== '';
  }

  input(i: number): Val {
    if (!this.hasInput(i)) this.fail(`input ${i} is missing`);
    return this.state.lookup(this.node.inputs[i]!, this.loc);
  }

  /** All present inputs, in order (variadic ops). */
  inputs(): Val[] {
    return this.node.inputs.filter((n) => n !== '').map((n) => this.state.lookup(n, this.loc));
  }

  /** An operand that must be known at compile time (shapes, axes, indices of shape plumbing). */
  constInput(i: number, role: string): Tensor {
    if (!this.hasInput(i)) this.fail(`input ${i} (${role}) is missing`);
    const name = this.node.inputs[i]!;
    const t = this.state.known(name);
    if (t) return t;
    this.state.lookup(name, this.loc); // reports an undefined name first
    return this.fail(
      `input '${name}' (${role}) must be a compile-time constant, but it depends on the model's inputs`,
    );
  }

  /** A constant operand as JS numbers (i64 shape/axes values). */
  intsInput(i: number, role: string): number[] {
    return toNumbers(this.constInput(i, role));
  }

  // ---- attributes -------------------------------------------------------------------------------

  hasAttr(name: string): boolean {
    return this.node.attributes.has(name);
  }

  private attr<K extends OnnxAttribute['kind']>(
    name: string,
    kinds: readonly K[],
  ): Extract<OnnxAttribute, { kind: K }> | undefined {
    const a = this.node.attributes.get(name);
    if (!a) return undefined;
    if (!(kinds as readonly string[]).includes(a.kind))
      this.fail(`attribute '${name}' must be ${kinds.join(' or ')}, got ${a.kind}`);
    return a as Extract<OnnxAttribute, { kind: K }>;
  }

  private required<T>(name: string, v: T | undefined): T {
    if (v === undefined) this.fail(`attribute '${name}' is required`);
    return v;
  }

  int(name: string, fallback?: number): number {
    const a = this.attr(name, ['int']);
    return this.required(name, a ? a.value : fallback);
  }

  float(name: string, fallback?: number): number {
    const a = this.attr(name, ['float', 'int']);
    return this.required(name, a ? a.value : fallback);
  }

  ints(name: string, fallback?: readonly number[]): readonly number[] {
    const a = this.attr(name, ['ints']);
    return this.required(name, a ? a.value : fallback);
  }

  /** A float list (an integral list written as INTS is accepted too). */
  floats(name: string, fallback?: readonly number[]): readonly number[] {
    const a = this.attr(name, ['floats', 'ints']);
    return this.required(name, a ? a.value : fallback);
  }

  string(name: string, fallback?: string): string {
    const a = this.attr(name, ['string']);
    return this.required(name, a ? a.value : fallback);
  }

  tensorAttr(name: string): OnnxTensor | undefined {
    const a = this.attr(name, ['tensor']);
    return a ? a.value : undefined;
  }

  // ---- emitting ---------------------------------------------------------------------------------

  op(op: OpName, inputs: readonly Val[], attrs: Attrs = {}): Val[] {
    return this.state.op(op, inputs, attrs, this.node.name);
  }

  op1(op: OpName, inputs: readonly Val[], attrs: Attrs = {}): Val {
    const out = this.op(op, inputs, attrs);
    if (out.length !== 1) this.fail(`op '${op}' gave ${out.length} results, expected 1`);
    return out[0]!;
  }
}
