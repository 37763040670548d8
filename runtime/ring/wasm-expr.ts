/**
 * WebAssembly function bodies written over named locals, as statements of folded expressions.
 * The text format's `(i64.store (i32.add (local.get $out) (local.get $off)) (i64.load ...))`
 * is written `s.emit(i64.store(i32.add(out, off), i64.load(...)))`, and a loop is
 * `s.forRange(i, n, 1, (s) => { ... })`: a kernel reads as structured code, one statement per
 * line, instead of a stack program over numbered locals.
 *
 * Lowering is a post-order walk into the stack encoder of ./wasm-asm.ts: operands in argument
 * order, then the operator; `s.set(x, e)` is `e` then `local.set`. A kernel therefore
 * assembles to exactly the instruction sequence one would write by hand, and the notation
 * costs nothing at run time. Operators take their operands in the text format's order
 * (`select(ifTrue, ifFalse, cond)`, `i64.store(address, value, offset)`).
 *
 * Every expression carries its type and every operator checks its operands, so a kernel with a
 * type error fails where it is built, naming the operator and the local, rather than in the
 * engine's validator at a byte offset. A JavaScript number operand is an `i32.const`, a bigint
 * an `i64.const`.
 */
import type { FunctionSpec, ValType } from './wasm-asm.ts';
import { Code } from './wasm-asm.ts';

/** A tree of instructions: leaves one value of `type` on the stack, or none (a statement). */
export interface Instr {
  readonly type: ValType | 'none';
  emit(c: Code): void;
}

/** A parameter or local, declared by name; as an operand it is `local.get`. */
export class Local implements Instr {
  constructor(
    readonly name: string,
    readonly type: ValType,
    readonly index: number,
  ) {}

  emit(c: Code): void {
    c.get(this.index);
  }
}

/** An operand of type T: an instruction tree, or a constant (number for i32, bigint for i64). */
export type Operand<T extends ValType> =
  Instr | (T extends 'i32' ? number : T extends 'i64' ? bigint : never);

function describe(x: Instr): string {
  return x instanceof Local ? `$${x.name} (${x.type})` : x.type;
}

/** Checks (or, for a constant, makes) an operand of type `want` of operator `op`. */
function operand(x: Arg, want: ValType, op: string): Instr {
  if (typeof x === 'number') {
    // i32 constants: signed or unsigned 32-bit values
    if (want !== 'i32' || !Number.isInteger(x) || x < -0x80000000 || x > 0xffffffff)
      throw new Error(`wasm: ${op}: ${x} is not an ${want} constant`);
    return node('i32', (c) => c.i32Const(x));
  }
  if (typeof x === 'bigint') {
    if (want !== 'i64') throw new Error(`wasm: ${op}: ${x}n is not an ${want} constant`);
    return node('i64', (c) => c.i64Const(x));
  }
  if (x.type !== want) throw new Error(`wasm: ${op}: operand ${describe(x)} where ${want} is wanted`);
  return x;
}

function node(type: ValType | 'none', emit: (c: Code) => void): Instr {
  return { type, emit };
}

/** Any operand: a tree or a constant, checked against the operator's operand type. */
type Arg = Instr | number | bigint;

/** An operator node: operands checked against `types`, emitted in order, then the operator. */
function apply(
  op: string,
  result: ValType | 'none',
  args: readonly Arg[],
  types: readonly ValType[],
  encode: (c: Code) => void,
): Instr {
  const operands = args.map((x, i) => operand(x, types[i]!, op));
  return node(result, (c) => {
    for (const x of operands) x.emit(c);
    encode(c);
  });
}

type Encode = (c: Code) => Code;

const unary =
  <A extends ValType, R extends ValType>(op: string, from: A, to: R, encode: Encode) =>
  (a: Operand<A>): Instr =>
    apply(op, to, [a], [from], encode);

const binary =
  <A extends ValType>(op: string, type: A, encode: Encode) =>
  (a: Operand<A>, b: Operand<A>): Instr =>
    apply(op, type, [a, b], [type, type], encode);

/** A load of `type` from address + offset (the offset is the instruction's immediate). */
const load =
  <R extends ValType>(op: string, type: R, encode: (c: Code, offset: number) => Code) =>
  (address: Operand<'i32'>, offset = 0): Instr =>
    apply(op, type, [address], ['i32'], (c) => encode(c, offset));

const store =
  <V extends ValType>(op: string, type: V, encode: (c: Code, offset: number) => Code) =>
  (address: Operand<'i32'>, value: Operand<V>, offset = 0): Instr =>
    apply(op, 'none', [address, value], ['i32', type], (c) => encode(c, offset));

export const i32 = {
  load: load('i32.load', 'i32', (c, o) => c.i32Load(o)),
  store: store('i32.store', 'i32', (c, o) => c.i32Store(o)),
  load8_u: load('i32.load8_u', 'i32', (c, o) => c.i32Load8U(o)),
  store8: store('i32.store8', 'i32', (c, o) => c.i32Store8(o)),
  eq: binary('i32.eq', 'i32', (c) => c.i32Eq()),
  lt_u: binary('i32.lt_u', 'i32', (c) => c.i32LtU()),
  ge_u: binary('i32.ge_u', 'i32', (c) => c.i32GeU()),
  add: binary('i32.add', 'i32', (c) => c.i32Add()),
  sub: binary('i32.sub', 'i32', (c) => c.i32Sub()),
  mul: binary('i32.mul', 'i32', (c) => c.i32Mul()),
  div_u: binary('i32.div_u', 'i32', (c) => c.i32DivU()),
  and: binary('i32.and', 'i32', (c) => c.i32And()),
  or: binary('i32.or', 'i32', (c) => c.i32Or()),
  xor: binary('i32.xor', 'i32', (c) => c.i32Xor()),
  shl: binary('i32.shl', 'i32', (c) => c.i32Shl()),
  shr_u: binary('i32.shr_u', 'i32', (c) => c.i32ShrU()),
  wrap_i64: unary('i32.wrap_i64', 'i64', 'i32', (c) => c.i32WrapI64()),
};

export const i64 = {
  load: load('i64.load', 'i64', (c, o) => c.i64Load(o)),
  store: store('i64.store', 'i64', (c, o) => c.i64Store(o)),
  add: binary('i64.add', 'i64', (c) => c.i64Add()),
  sub: binary('i64.sub', 'i64', (c) => c.i64Sub()),
  mul: binary('i64.mul', 'i64', (c) => c.i64Mul()),
  and: binary('i64.and', 'i64', (c) => c.i64And()),
  or: binary('i64.or', 'i64', (c) => c.i64Or()),
  /** i32 1 where a != b, else 0. */
  ne: (a: Operand<'i64'>, b: Operand<'i64'>): Instr =>
    apply('i64.ne', 'i32', [a, b], ['i64', 'i64'], (c) => c.i64Ne()),
  xor: binary('i64.xor', 'i64', (c) => c.i64Xor()),
  shl: binary('i64.shl', 'i64', (c) => c.i64Shl()),
  shr_s: binary('i64.shr_s', 'i64', (c) => c.i64ShrS()),
  shr_u: binary('i64.shr_u', 'i64', (c) => c.i64ShrU()),
  extend_i32_u: unary('i64.extend_i32_u', 'i32', 'i64', (c) => c.i64ExtendI32U()),
  /** NaN -> 0, out of range -> saturated. */
  trunc_sat_f64_s: unary('i64.trunc_sat_f64_s', 'f64', 'i64', (c) => c.i64TruncSatF64S()),
};

export const f32 = {
  load: load('f32.load', 'f32', (c, o) => c.f32Load(o)),
  store: store('f32.store', 'f32', (c, o) => c.f32Store(o)),
  demote_f64: unary('f32.demote_f64', 'f64', 'f32', (c) => c.f32DemoteF64()),
};

export const f64 = {
  load: load('f64.load', 'f64', (c, o) => c.f64Load(o)),
  store: store('f64.store', 'f64', (c, o) => c.f64Store(o)),
  mul: binary('f64.mul', 'f64', (c) => c.f64Mul()),
  min: binary('f64.min', 'f64', (c) => c.f64Min()),
  max: binary('f64.max', 'f64', (c) => c.f64Max()),
  nearest: unary('f64.nearest', 'f64', 'f64', (c) => c.f64Nearest()),
  convert_i64_s: unary('f64.convert_i64_s', 'i64', 'f64', (c) => c.f64ConvertI64S()),
  promote_f32: unary('f64.promote_f32', 'f32', 'f64', (c) => c.f64PromoteF32()),
};

export const v128 = {
  load: load('v128.load', 'v128', (c, o) => c.v128Load(o)),
  store: store('v128.store', 'v128', (c, o) => c.v128Store(o)),
  and: binary('v128.and', 'v128', (c) => c.v128And()),
  xor: binary('v128.xor', 'v128', (c) => c.v128Xor()),
};

/** 128-bit SIMD with two i64 lanes. */
export const i64x2 = {
  splat: unary('i64x2.splat', 'i64', 'v128', (c) => c.i64x2Splat()),
  add: binary('i64x2.add', 'v128', (c) => c.i64x2Add()),
  mul: binary('i64x2.mul', 'v128', (c) => c.i64x2Mul()),
};

// ---- locals, selection, control ----------------------------------------------------------------

/** local.tee: `local = value`, which is also the result. */
export function tee(local: Local, value: Arg): Instr {
  return apply(`local.tee $${local.name}`, local.type, [value], [local.type], (c) => c.tee(local.index));
}

/** `cond ? ifTrue : ifFalse`; all three are evaluated (no branch). */
export function select(ifTrue: Arg, ifFalse: Arg, cond: Operand<'i32'>): Instr {
  const type = [ifTrue, ifFalse].find((x): x is Instr => typeof x === 'object')?.type;
  if (type === undefined || type === 'none') throw new Error('wasm: select: needs a typed value operand');
  return apply('select', type, [ifTrue, ifFalse, cond], [type, type, 'i32'], (c) => c.select());
}

/**
 * The statements of a function body, emitted in order, one call per statement; structured
 * control takes its body as a callback, so nesting in the kernel source is nesting in the
 * code. Loops unrolled at assembly time are plain TypeScript loops around these calls.
 */
export class Body {
  constructor(private readonly code: Code) {}

  /** A statement: an instruction tree that leaves nothing (a store). */
  emit(statement: Instr): void {
    if (statement.type !== 'none')
      throw new Error(`wasm: a statement leaves a value of type ${describe(statement)}`);
    statement.emit(this.code);
  }

  /** local.set: `local = value`. */
  set(local: Local, value: Arg): void {
    this.emit(apply(`local.set $${local.name}`, 'none', [value], [local.type], (c) => c.set(local.index)));
  }

  /** `if (cond) { then }` */
  ifThen(cond: Operand<'i32'>, then: (s: Body) => void): void {
    operand(cond, 'i32', 'if').emit(this.code);
    this.code.if();
    then(this);
    this.code.end();
  }

  /** `if (cond) { then } else { otherwise }` */
  ifElse(cond: Operand<'i32'>, then: (s: Body) => void, otherwise: (s: Body) => void): void {
    operand(cond, 'i32', 'if').emit(this.code);
    this.code.if();
    then(this);
    this.code.else();
    otherwise(this);
    this.code.end();
  }

  /**
   * `while (i < end) { body }`, unsigned compare; the body advances i. Lowered as
   * `block loop (br_if 1 (i32.ge_u i end)) body (br 0) end end`.
   */
  whileLess(i: Local, end: Operand<'i32'>, body: (s: Body) => void): void {
    this.code.block().loop();
    i32.ge_u(i, end).emit(this.code);
    this.code.brIf(1);
    body(this);
    this.code.br(0).end().end();
  }

  /** `for (; i < end; i += step) { body }`: i starts from its current value (locals start at 0). */
  forRange(i: Local, end: Operand<'i32'>, step: number, body: (s: Body) => void): void {
    this.whileLess(i, end, (s) => {
      body(s);
      s.set(i, i32.add(i, step));
    });
  }
}

// ---- functions ----------------------------------------------------------------------------------

/** The locals of a declaration record, by the record's keys. */
export type Locals<T extends Record<string, ValType>> = { readonly [K in keyof T]: Local };

/**
 * Declares a function's parameters and locals by name and assembles its body. Index order is
 * declaration order (parameters first, as the binary format wants); the names also go into the
 * module's name section, so engines and disassemblers show them.
 */
export class FunctionBuilder {
  private readonly declared: Local[] = [];
  private readonly names = new Set<string>();
  private paramCount = 0;

  constructor(readonly name: string) {}

  /** Declares parameters in the record's key order: `const { out, n } = f.params({ out: 'i32', n: 'i32' })`. */
  params<T extends Record<string, ValType>>(spec: T): Locals<T> {
    if (this.declared.length > this.paramCount)
      throw new Error(`wasm: ${this.name}: parameters must be declared before locals`);
    const out = this.declareAll(spec);
    this.paramCount = this.declared.length;
    return out;
  }

  /** Declares locals in the record's key order. */
  locals<T extends Record<string, ValType>>(spec: T): Locals<T> {
    return this.declareAll(spec);
  }

  /** Declares one local. */
  local(name: string, type: ValType): Local {
    if (this.names.has(name)) throw new Error(`wasm: ${this.name}: local $${name} declared twice`);
    this.names.add(name);
    const l = new Local(name, type, this.declared.length);
    this.declared.push(l);
    return l;
  }

  /** The function (no results) whose statements `body` emits. */
  build(body: (s: Body) => void): FunctionSpec {
    const code = new Code();
    body(new Body(code));
    return {
      name: this.name,
      params: this.declared.slice(0, this.paramCount).map((l) => l.type),
      locals: this.declared.slice(this.paramCount).map((l) => l.type),
      localNames: this.declared.map((l) => l.name),
      body: code,
    };
  }

  private declareAll<T extends Record<string, ValType>>(spec: T): Locals<T> {
    const out: Record<string, Local> = {};
    for (const [name, type] of Object.entries(spec)) out[name] = this.local(name, type);
    return out as Locals<T>;
  }
}
