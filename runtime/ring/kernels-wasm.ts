/**
 * The ring kernels as WebAssembly, generated at startup with the assembler in
 * ./wasm-asm.ts. Every kernel works on Z_2^64 (i64 arithmetic wraps) over byte
 * offsets into one imported memory; the JavaScript side (./kernels.ts) copies
 * operands in and results out.
 *
 * Matrix products follow the usual GEMM structure: both operands are packed
 * into panels (A in MR-row panels, B in NR-column panels, each stored k-major),
 * and a register-blocked MR x NR micro-kernel accumulates over a k block of KC
 * so the B panel stays in L1 and the A block in L2. Packing pads partial panels
 * with zeros, so the micro-kernel never branches; the padded result is cut back
 * by `unpack_c`.
 */
import type { FunctionSpec, ValType } from './wasm-asm.ts';
import { Code, assembleModule } from './wasm-asm.ts';

/** Micro-kernel tile: rows of A and columns of B (even: i64x2 lanes) per register block (measured best on x86-64). */
export const MR = 4;
export const NR = 8;
/** k block of the packed product: KC * NR * 8 bytes of B stay in L1. */
export const KC = 128;

export const WASM_PAGE_BYTES = 65536;
/** Upper bound of the kernel memory: 2 GiB of ring data is far beyond any plan we run. */
export const MAX_PAGES = 32768;

const I32 = 'i32' satisfies ValType;

/** `for (idx = start; idx < end; idx += step) body` with idx, end being i32 locals. */
function forLoop(c: Code, idx: number, end: number, step: number, body: (c: Code) => void): void {
  c.block().loop();
  c.get(idx).get(end).i32GeU().brIf(1);
  body(c);
  c.get(idx).i32Const(step).i32Add().set(idx);
  c.br(0).end().end();
}

// ---- elementwise kernels ------------------------------------------------------------------------

type BinaryOp = 'add' | 'sub' | 'mul' | 'and' | 'xor' | 'shr_s' | 'shr_u' | 'shl';

function emitBinary(c: Code, op: BinaryOp): void {
  if (op === 'add') c.i64Add();
  else if (op === 'sub') c.i64Sub();
  else if (op === 'mul') c.i64Mul();
  else if (op === 'and') c.i64And();
  else if (op === 'xor') c.i64Xor();
  else if (op === 'shr_s') c.i64ShrS();
  else if (op === 'shr_u') c.i64ShrU();
  else c.i64Shl();
}

/**
 * out[i] = a[i] op b[i] with params (out, a, b, n), or with a `scalar` second operand
 * out[i] = a[i] op s with params (out, a, s: i64, n). Scalar loop: V8 turns it into tight code.
 */
function binaryKernel(name: string, op: BinaryOp, second: 'array' | 'scalar' = 'array'): FunctionSpec {
  const [out, a, b, n, off, end] = [0, 1, 2, 3, 4, 5];
  const c = new Code();
  c.get(n).i32Const(3).i32Shl().set(end);
  forLoop(c, off, end, 8, (c) => {
    c.get(out).get(off).i32Add();
    c.get(a).get(off).i32Add().i64Load();
    if (second === 'array') c.get(b).get(off).i32Add().i64Load();
    else c.get(b);
    emitBinary(c, op);
    c.i64Store();
  });
  const bType: ValType = second === 'array' ? I32 : 'i64';
  return { name, params: [I32, I32, bType, I32], locals: [I32, I32], body: c };
}

/** out[i] = -a[i]; params (out, a, n). */
function negKernel(): FunctionSpec {
  const [out, a, n, off, end] = [0, 1, 2, 3, 4];
  const c = new Code();
  c.get(n).i32Const(3).i32Shl().set(end);
  forLoop(c, off, end, 8, (c) => {
    c.get(out).get(off).i32Add();
    c.i64Const(0n);
    c.get(a).get(off).i32Add().i64Load();
    c.i64Sub().i64Store();
  });
  return { name: 'neg', params: [I32, I32, I32], locals: [I32, I32], body: c };
}

/**
 * Fixed-point encode: out[i] = saturate(round_half_even(x[i] * scale)) with the
 * result clamped to [lo, hi] (f64 bounds) before conversion; NaN encodes as 0.
 * params (out, x, n, scale, lo, hi); `f32` reads a Float32Array.
 */
function encodeKernel(name: string, input: 'f32' | 'f64'): FunctionSpec {
  const [out, x, n, scale, lo, hi, i, end] = [0, 1, 2, 3, 4, 5, 6, 7];
  const width = input === 'f32' ? 4 : 8;
  const c = new Code();
  c.get(n).set(end);
  forLoop(c, i, end, 1, (c) => {
    c.get(out).get(i).i32Const(3).i32Shl().i32Add();
    c.get(x)
      .get(i)
      .i32Const(width === 4 ? 2 : 3)
      .i32Shl()
      .i32Add();
    if (input === 'f32') c.f32Load().f64PromoteF32();
    else c.f64Load();
    c.get(scale).f64Mul().f64Nearest();
    c.get(lo).f64Max().get(hi).f64Min();
    c.i64TruncSatF64S().i64Store();
  });
  return { name, params: [I32, I32, I32, 'f64', 'f64', 'f64'], locals: [I32, I32], body: c };
}

/** Fixed-point decode: out[i] = f64(signed x[i]) * invScale. params (out, x, n, invScale). */
function decodeKernel(name: string, output: 'f32' | 'f64'): FunctionSpec {
  const [out, x, n, invScale, i, end] = [0, 1, 2, 3, 4, 5];
  const c = new Code();
  c.get(n).set(end);
  forLoop(c, i, end, 1, (c) => {
    c.get(out)
      .get(i)
      .i32Const(output === 'f32' ? 2 : 3)
      .i32Shl()
      .i32Add();
    c.get(x).get(i).i32Const(3).i32Shl().i32Add().i64Load();
    c.f64ConvertI64S().get(invScale).f64Mul();
    if (output === 'f32') c.f32DemoteF64().f32Store();
    else c.f64Store();
  });
  return { name, params: [I32, I32, I32, 'f64'], locals: [I32, I32], body: c };
}

/**
 * Sum over the middle axis of an (outer, len, inner) array: out[o, j] = sum_l a[o, l, j].
 * params (out, a, outer, len, inner).
 */
function reduceMiddleKernel(): FunctionSpec {
  const [out, a, outer, len, inner, o, l, j, acc, src, rowBytes, innerBytes] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
  ];
  const c = new Code();
  c.get(inner).i32Const(3).i32Shl().set(innerBytes);
  c.get(innerBytes).get(len).i32Mul().set(rowBytes);
  forLoop(c, o, outer, 1, (c) => {
    c.i32Const(0).set(j);
    forLoop(c, j, innerBytes, 8, (c) => {
      c.i64Const(0n).set(acc);
      c.get(a).get(o).get(rowBytes).i32Mul().i32Add().get(j).i32Add().set(src);
      c.i32Const(0).set(l);
      forLoop(c, l, len, 1, (c) => {
        c.get(acc).get(src).i64Load().i64Add().set(acc);
        c.get(src).get(innerBytes).i32Add().set(src);
      });
      c.get(out).get(o).get(innerBytes).i32Mul().i32Add().get(j).i32Add().get(acc).i64Store();
    });
  });
  return {
    name: 'reduce_middle',
    params: [I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, 'i64', I32, I32, I32],
    body: c,
  };
}

// ---- matrix product -----------------------------------------------------------------------------

/**
 * Packs a row-major (rows x cols) matrix into panels of `width` lines, each
 * panel k-major. `panelAxis` 'rows' packs rows (A, width MR):
 * dst[p][kk][r] = src[p*width + r][kk], zero past `rows`; 'cols' packs columns
 * (B, width NR): dst[p][kk][q] = src[kk][p*width + q], zero past `cols`.
 * params (dst, src, rows, cols).
 */
function packPanelsKernel(name: string, width: number, panelAxis: 'rows' | 'cols'): FunctionSpec {
  const [dst, src, rows, cols, p, kk, panels, line, d] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  // The panels run along one axis, the k-major depth along the other.
  const [panelExtent, depth] = panelAxis === 'rows' ? [rows, cols] : [cols, rows];
  // src index = major*cols + minor: (line, kk) for packed rows, (kk, line) for packed columns.
  const [major, minor] = panelAxis === 'rows' ? [line, kk] : [kk, line];
  const c = new Code();
  c.get(panelExtent)
    .i32Const(width - 1)
    .i32Add()
    .i32Const(width)
    .i32DivU()
    .set(panels);
  c.get(dst).set(d);
  forLoop(c, p, panels, 1, (c) => {
    c.i32Const(0).set(kk);
    forLoop(c, kk, depth, 1, (c) => {
      for (let r = 0; r < width; r++) {
        c.get(p).i32Const(width).i32Mul().i32Const(r).i32Add().set(line);
        // value = line < panelExtent ? src[major*cols + minor] : 0
        c.get(line).get(panelExtent).i32LtU().if();
        c.get(d)
          .get(src)
          .get(major)
          .get(cols)
          .i32Mul()
          .get(minor)
          .i32Add()
          .i32Const(3)
          .i32Shl()
          .i32Add()
          .i64Load();
        c.i64Store(r * 8);
        c.else();
        c.get(d)
          .i64Const(0n)
          .i64Store(r * 8);
        c.end();
      }
      c.get(d)
        .i32Const(width * 8)
        .i32Add()
        .set(d);
    });
  });
  return { name, params: [I32, I32, I32, I32], locals: [I32, I32, I32, I32, I32], body: c };
}

/**
 * Padded product over packed panels, accumulating into a zero-initialised
 * padded C (row stride nPanels*NR): for each k block, each B panel, each A
 * panel in [panelStart, panelEnd), an MR x NR register-blocked micro-kernel
 * with 128-bit SIMD: each tile row is NR/2 i64x2 accumulators, and a splat of
 * A's element multiplies two of B's lanes at once (measured ~1.3x the scalar
 * 4x4 kernel on x86-64). Threads split the A panels (disjoint rows of C).
 * params (cp, ap, bp, k, nPanels, panelStart, panelEnd).
 */
function gemmPackedKernel(): FunctionSpec {
  const [cp, ap, bp, k, nPanels, panelStart, panelEnd] = [0, 1, 2, 3, 4, 5, 6];
  const [kb, kc, jp, ip, a, b, bEnd, cRow, cStride] = [7, 8, 9, 10, 11, 12, 13, 14, 15];
  const halves = NR / 2;
  const acc0 = 16;
  const nAcc = MR * halves;
  const bReg0 = acc0 + nAcc;
  const aReg = bReg0 + halves;
  const c = new Code();
  c.get(nPanels)
    .i32Const(NR * 8)
    .i32Mul()
    .set(cStride);
  forLoop(c, kb, k, KC, (c) => {
    c.get(k).get(kb).i32Sub().set(kc);
    c.get(kc).i32Const(KC).i32GeU().if().i32Const(KC).set(kc).end();
    c.i32Const(0).set(jp);
    forLoop(c, jp, nPanels, 1, (c) => {
      c.get(panelStart).set(ip);
      forLoop(c, ip, panelEnd, 1, (c) => {
        c.get(ap)
          .get(ip)
          .get(k)
          .i32Mul()
          .get(kb)
          .i32Add()
          .i32Const(MR * 8)
          .i32Mul()
          .i32Add()
          .set(a);
        c.get(bp)
          .get(jp)
          .get(k)
          .i32Mul()
          .get(kb)
          .i32Add()
          .i32Const(NR * 8)
          .i32Mul()
          .i32Add()
          .set(b);
        c.get(b)
          .get(kc)
          .i32Const(NR * 8)
          .i32Mul()
          .i32Add()
          .set(bEnd);
        for (let t = 0; t < nAcc; t++)
          c.i64Const(0n)
            .i64x2Splat()
            .set(acc0 + t);
        c.block().loop();
        c.get(b).get(bEnd).i32GeU().brIf(1);
        for (let h = 0; h < halves; h++)
          c.get(b)
            .v128Load(h * 16)
            .set(bReg0 + h);
        for (let r = 0; r < MR; r++) {
          c.get(a)
            .i64Load(r * 8)
            .i64x2Splat()
            .set(aReg);
          for (let h = 0; h < halves; h++) {
            const acc = acc0 + r * halves + h;
            c.get(acc)
              .get(aReg)
              .get(bReg0 + h)
              .i64x2Mul()
              .i64x2Add()
              .set(acc);
          }
        }
        c.get(a)
          .i32Const(MR * 8)
          .i32Add()
          .set(a);
        c.get(b)
          .i32Const(NR * 8)
          .i32Add()
          .set(b);
        c.br(0).end().end();
        for (let r = 0; r < MR; r++) {
          c.get(cp).get(ip).i32Const(MR).i32Mul().i32Const(r).i32Add().get(cStride).i32Mul().i32Add();
          c.get(jp)
            .i32Const(NR * 8)
            .i32Mul()
            .i32Add()
            .set(cRow);
          for (let h = 0; h < halves; h++) {
            c.get(cRow);
            c.get(cRow).v128Load(h * 16);
            c.get(acc0 + r * halves + h).i64x2Add();
            c.v128Store(h * 16);
          }
        }
      });
    });
  });
  const locals: ValType[] = [
    ...new Array<ValType>(9).fill('i32'),
    ...new Array<ValType>(nAcc + halves + 1).fill('v128'),
  ];
  return { name: 'gemm_packed', params: [I32, I32, I32, I32, I32, I32, I32], locals, body: c };
}

/** Copies the valid (m x n) block out of padded C (row stride nPad). params (dst, cp, m, n, nPad). */
function unpackCKernel(): FunctionSpec {
  const [dst, cp, m, n, nPad, i, j, src, d] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const c = new Code();
  c.get(dst).set(d);
  forLoop(c, i, m, 1, (c) => {
    c.get(cp).get(i).get(nPad).i32Mul().i32Const(3).i32Shl().i32Add().set(src);
    c.i32Const(0).set(j);
    forLoop(c, j, n, 1, (c) => {
      c.get(d).get(src).i64Load().i64Store();
      c.get(d).i32Const(8).i32Add().set(d);
      c.get(src).i32Const(8).i32Add().set(src);
    });
  });
  return { name: 'unpack_c', params: [I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32], body: c };
}

/** Zeroes n i64 words at p. params (p, n). */
function zeroKernel(): FunctionSpec {
  const [p, n, off, end] = [0, 1, 2, 3];
  const c = new Code();
  c.get(n).i32Const(3).i32Shl().set(end);
  forLoop(c, off, end, 8, (c) => {
    c.get(p).get(off).i32Add().i64Const(0n).i64Store();
  });
  return { name: 'zero', params: [I32, I32], locals: [I32, I32], body: c };
}

/** The names of all exported kernels, with their JavaScript signatures. */
export interface KernelExports {
  add(out: number, a: number, b: number, n: number): void;
  sub(out: number, a: number, b: number, n: number): void;
  mul(out: number, a: number, b: number, n: number): void;
  and(out: number, a: number, b: number, n: number): void;
  xor(out: number, a: number, b: number, n: number): void;
  neg(out: number, a: number, n: number): void;
  add_scalar(out: number, a: number, s: bigint, n: number): void;
  mul_scalar(out: number, a: number, s: bigint, n: number): void;
  and_scalar(out: number, a: number, s: bigint, n: number): void;
  shr_s(out: number, a: number, s: bigint, n: number): void;
  shr_u(out: number, a: number, s: bigint, n: number): void;
  shl(out: number, a: number, s: bigint, n: number): void;
  encode_f32(out: number, x: number, n: number, scale: number, lo: number, hi: number): void;
  encode_f64(out: number, x: number, n: number, scale: number, lo: number, hi: number): void;
  decode_f32(out: number, x: number, n: number, invScale: number): void;
  decode_f64(out: number, x: number, n: number, invScale: number): void;
  reduce_middle(out: number, a: number, outer: number, len: number, inner: number): void;
  pack_a(dst: number, src: number, rows: number, cols: number): void;
  pack_b(dst: number, src: number, rows: number, cols: number): void;
  gemm_packed(
    cp: number,
    ap: number,
    bp: number,
    k: number,
    nPanels: number,
    start: number,
    end: number,
  ): void;
  unpack_c(dst: number, cp: number, m: number, n: number, nPad: number): void;
  zero(p: number, n: number): void;
}

/** Bytes of the kernel module, importing `env.mem` (shared, so worker threads can use the same memory). */
export function kernelModuleBytes(): Uint8Array {
  const functions: FunctionSpec[] = [
    binaryKernel('add', 'add'),
    binaryKernel('sub', 'sub'),
    binaryKernel('mul', 'mul'),
    binaryKernel('and', 'and'),
    binaryKernel('xor', 'xor'),
    negKernel(),
    binaryKernel('add_scalar', 'add', 'scalar'),
    binaryKernel('mul_scalar', 'mul', 'scalar'),
    binaryKernel('and_scalar', 'and', 'scalar'),
    binaryKernel('shr_s', 'shr_s', 'scalar'),
    binaryKernel('shr_u', 'shr_u', 'scalar'),
    binaryKernel('shl', 'shl', 'scalar'),
    encodeKernel('encode_f32', 'f32'),
    encodeKernel('encode_f64', 'f64'),
    decodeKernel('decode_f32', 'f32'),
    decodeKernel('decode_f64', 'f64'),
    reduceMiddleKernel(),
    packPanelsKernel('pack_a', MR, 'rows'),
    packPanelsKernel('pack_b', NR, 'cols'),
    gemmPackedKernel(),
    unpackCKernel(),
    zeroKernel(),
  ];
  return assembleModule(
    { module: 'env', field: 'mem', initialPages: 16, maximumPages: MAX_PAGES, shared: true },
    functions,
  );
}
