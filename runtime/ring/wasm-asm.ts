/**
 * A tiny WebAssembly assembler: just enough of the binary format to emit the ring and DCF
 * kernels (./kernels-wasm.ts, ../fss/dcf-wasm.ts) from TypeScript at startup, so no external
 * toolchain is needed at install or test time.
 *
 * `Code` is the stack-level instruction encoder, one method per instruction, named after the
 * text format (`i64Add` for `i64.add`); kernels are not written with it directly but as folded
 * expressions over named locals (./wasm-expr.ts), which lower into it. `assembleModule` lays
 * out the sections (types, one imported memory, functions, exports, code, names).
 * Reference: WebAssembly Core Specification 2.0, §5 (binary format) and appendix 7.4 (name
 * section), and the fixed-width SIMD proposal (0xfd-prefixed opcodes).
 */

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';

const VALTYPE_BYTE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

// ---- LEB128 and strings -----------------------------------------------------------------------

export function unsignedLeb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of an integer given as a bigint (covers the whole i64 range). */
export function signedLeb(value: bigint): number[] {
  const out: number[] = [];
  let v = value;
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const signBitSet = (byte & 0x40) !== 0;
    if ((v === 0n && !signBitSet) || (v === -1n && signBitSet)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const UTF8 = new TextEncoder();

function encodeName(name: string): number[] {
  // Names are ASCII in practice: their UTF-8 is their char codes (and TextEncoder is slower).
  const codes = Array.from(name, (ch) => ch.charCodeAt(0));
  const bytes = codes.every((c) => c < 0x80) ? codes : Array.from(UTF8.encode(name));
  return join([unsignedLeb(bytes.length), bytes]);
}

/** The concatenation of byte lists (a loop: spreading and flattening long arrays is slow in V8). */
function join(parts: readonly (readonly number[])[]): number[] {
  const out: number[] = [];
  for (const part of parts) for (const b of part) out.push(b);
  return out;
}

function vector(items: readonly number[][]): number[] {
  return join([unsignedLeb(items.length), ...items]);
}

// ---- instruction emitter ------------------------------------------------------------------------

/** Memory access immediates: log2 alignment and constant byte offset. */
function memarg(alignLog2: number, offset: number): number[] {
  return [...unsignedLeb(alignLog2), ...unsignedLeb(offset)];
}

/**
 * Chainable instruction emitter for one function body. Locals are referred to
 * by index (parameters first, then declared locals, as in the spec).
 */
export class Code {
  readonly bytes: number[] = [];

  private op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }

  private simd(opcode: number, ...imm: number[]): this {
    return this.op(0xfd, ...unsignedLeb(opcode), ...imm);
  }

  // control
  block(): this {
    return this.op(0x02, 0x40);
  }
  loop(): this {
    return this.op(0x03, 0x40);
  }
  /** `if` with no result; the condition is on the stack. */
  if(): this {
    return this.op(0x04, 0x40);
  }
  else(): this {
    return this.op(0x05);
  }
  end(): this {
    return this.op(0x0b);
  }
  br(depth: number): this {
    return this.op(0x0c, ...unsignedLeb(depth));
  }
  brIf(depth: number): this {
    return this.op(0x0d, ...unsignedLeb(depth));
  }
  select(): this {
    return this.op(0x1b);
  }

  // locals
  get(local: number): this {
    return this.op(0x20, ...unsignedLeb(local));
  }
  set(local: number): this {
    return this.op(0x21, ...unsignedLeb(local));
  }
  tee(local: number): this {
    return this.op(0x22, ...unsignedLeb(local));
  }

  // constants
  i32Const(v: number): this {
    return this.op(0x41, ...signedLeb(BigInt(v | 0)));
  }
  i64Const(v: bigint): this {
    return this.op(0x42, ...signedLeb(BigInt.asIntN(64, v)));
  }

  // memory
  i64Load(offset = 0): this {
    return this.op(0x29, ...memarg(3, offset));
  }
  f32Load(offset = 0): this {
    return this.op(0x2a, ...memarg(2, offset));
  }
  f64Load(offset = 0): this {
    return this.op(0x2b, ...memarg(3, offset));
  }
  i32Load(offset = 0): this {
    return this.op(0x28, ...memarg(2, offset));
  }
  i32Store(offset = 0): this {
    return this.op(0x36, ...memarg(2, offset));
  }
  i32Load8U(offset = 0): this {
    return this.op(0x2d, ...memarg(0, offset));
  }
  i64Store(offset = 0): this {
    return this.op(0x37, ...memarg(3, offset));
  }
  f32Store(offset = 0): this {
    return this.op(0x38, ...memarg(2, offset));
  }
  f64Store(offset = 0): this {
    return this.op(0x39, ...memarg(3, offset));
  }
  i32Store8(offset = 0): this {
    return this.op(0x3a, ...memarg(0, offset));
  }

  // i32 arithmetic and comparison
  i32Eq(): this {
    return this.op(0x46);
  }
  i32LtU(): this {
    return this.op(0x49);
  }
  i32GeU(): this {
    return this.op(0x4f);
  }
  i32Add(): this {
    return this.op(0x6a);
  }
  i32Sub(): this {
    return this.op(0x6b);
  }
  i32Mul(): this {
    return this.op(0x6c);
  }
  i32DivU(): this {
    return this.op(0x6e);
  }
  i32And(): this {
    return this.op(0x71);
  }
  i32Or(): this {
    return this.op(0x72);
  }
  i32Xor(): this {
    return this.op(0x73);
  }
  i32Shl(): this {
    return this.op(0x74);
  }
  i32ShrU(): this {
    return this.op(0x76);
  }

  // i64 arithmetic and comparison
  i64Ne(): this {
    return this.op(0x52);
  }
  i64Add(): this {
    return this.op(0x7c);
  }
  i64Sub(): this {
    return this.op(0x7d);
  }
  i64Mul(): this {
    return this.op(0x7e);
  }
  i64And(): this {
    return this.op(0x83);
  }
  i64Or(): this {
    return this.op(0x84);
  }
  i64Xor(): this {
    return this.op(0x85);
  }
  i64Shl(): this {
    return this.op(0x86);
  }
  i64ShrS(): this {
    return this.op(0x87);
  }
  i64ShrU(): this {
    return this.op(0x88);
  }

  // f64
  f64Mul(): this {
    return this.op(0xa2);
  }
  f64Min(): this {
    return this.op(0xa4);
  }
  f64Max(): this {
    return this.op(0xa5);
  }
  f64Nearest(): this {
    return this.op(0x9e);
  }

  // conversions
  i32WrapI64(): this {
    return this.op(0xa7);
  }
  i64ExtendI32U(): this {
    return this.op(0xad);
  }
  f64ConvertI64S(): this {
    return this.op(0xb9);
  }
  f32DemoteF64(): this {
    return this.op(0xb6);
  }
  f64PromoteF32(): this {
    return this.op(0xbb);
  }
  /** i64.trunc_sat_f64_s: NaN -> 0, out of range -> saturated. */
  i64TruncSatF64S(): this {
    return this.op(0xfc, ...unsignedLeb(6));
  }

  // SIMD (128-bit, two i64 lanes)
  v128Load(offset = 0): this {
    return this.simd(0x00, ...memarg(4, offset));
  }
  v128Store(offset = 0): this {
    return this.simd(0x0b, ...memarg(4, offset));
  }
  v128And(): this {
    return this.simd(0x4e);
  }
  v128Xor(): this {
    return this.simd(0x51);
  }
  i64x2Splat(): this {
    return this.simd(0x12);
  }
  i64x2Add(): this {
    return this.simd(0xce);
  }
  i64x2Mul(): this {
    return this.simd(0xd5);
  }
}

// ---- module builder -----------------------------------------------------------------------------

export interface FunctionSpec {
  readonly name: string;
  readonly params: readonly ValType[];
  readonly results?: readonly ValType[];
  /** Extra locals after the parameters. */
  readonly locals?: readonly ValType[];
  /** Names of the parameters and locals, in index order, for the name section. */
  readonly localNames?: readonly string[];
  readonly body: Code;
}

export interface MemoryImport {
  readonly module: string;
  readonly field: string;
  readonly initialPages: number;
  readonly maximumPages: number;
  readonly shared: boolean;
}

function section(id: number, payload: number[]): number[] {
  return join([[id], unsignedLeb(payload.length), payload]);
}

function limits(m: MemoryImport): number[] {
  const flags = m.shared ? 0x03 : 0x01;
  return [flags, ...unsignedLeb(m.initialPages), ...unsignedLeb(m.maximumPages)];
}

/** Groups consecutive locals of the same type, as the code section wants them. */
function localDecls(locals: readonly ValType[]): number[][] {
  const groups: number[][] = [];
  let i = 0;
  while (i < locals.length) {
    let j = i;
    while (j < locals.length && locals[j] === locals[i]) j++;
    groups.push([...unsignedLeb(j - i), VALTYPE_BYTE[locals[i]!]]);
    i = j;
  }
  return groups;
}

/**
 * The "name" custom section (spec appendix 7.4): function names and, where given, local names,
 * so engines' stack traces and disassemblers show them. It has no effect on execution.
 */
function nameSection(functions: readonly FunctionSpec[]): number[] {
  const subsection = (id: number, payload: number[]) => join([[id], unsignedLeb(payload.length), payload]);
  const functionNames = vector(functions.map((f, i) => [...unsignedLeb(i), ...encodeName(f.name)]));
  const localNames = vector(
    functions.flatMap((f, i) =>
      f.localNames
        ? [[...unsignedLeb(i), ...vector(f.localNames.map((n, l) => [...unsignedLeb(l), ...encodeName(n)]))]]
        : [],
    ),
  );
  return section(0, join([encodeName('name'), subsection(1, functionNames), subsection(2, localNames)]));
}

/** Assembles a module with one imported memory and exported functions. */
export function assembleModule(memory: MemoryImport, functions: readonly FunctionSpec[]): Uint8Array {
  const types = functions.map((f) => [
    0x60,
    ...vector(f.params.map((p) => [VALTYPE_BYTE[p]])),
    ...vector((f.results ?? []).map((r) => [VALTYPE_BYTE[r]])),
  ]);
  const imports = [[...encodeName(memory.module), ...encodeName(memory.field), 0x02, ...limits(memory)]];
  const funcIndices = functions.map((_, i) => unsignedLeb(i));
  const exports = functions.map((f, i) => [...encodeName(f.name), 0x00, ...unsignedLeb(i)]);
  const bodies = functions.map((f) => {
    const body = join([vector(localDecls(f.locals ?? [])), f.body.bytes, [0x0b]]);
    return join([unsignedLeb(body.length), body]);
  });
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]; // "\0asm", version 1
  const bytes = join([
    header,
    section(1, vector(types)),
    section(2, vector(imports)),
    section(3, vector(funcIndices)),
    section(7, vector(exports)),
    section(10, vector(bodies)),
    nameSection(functions),
  ]);
  return Uint8Array.from(bytes);
}
