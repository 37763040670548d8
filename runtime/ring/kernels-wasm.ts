/**
 * The ring kernels as WebAssembly, written as folded expressions over named
 * locals (./wasm-expr.ts) and assembled at startup (./wasm-asm.ts). Every kernel
 * works on Z_2^64 (i64 arithmetic wraps) over byte offsets into one imported
 * memory; the JavaScript side (./kernels.ts) copies operands in and results out.
 *
 * Matrix products follow the usual GEMM structure: both operands are packed
 * into panels (A in MR-row panels, B in NR-column panels, each stored k-major),
 * and a register-blocked MR x NR micro-kernel accumulates over a k block of KC
 * so the B panel stays in L1 and the A block in L2. Packing pads partial panels
 * with zeros, so the micro-kernel never branches; the padded result is cut back
 * by `unpack_c`.
 */
import type { FunctionSpec, ValType } from './wasm-asm.ts';
import { assembleModule } from './wasm-asm.ts';
import type { Instr } from './wasm-expr.ts';
import { FunctionBuilder, f32, f64, i32, i64, i64x2, select, v128 } from './wasm-expr.ts';

/** Micro-kernel tile: rows of A and columns of B (even: i64x2 lanes) per register block (measured best on x86-64). */
export const MR = 4;
export const NR = 8;
/** k block of the packed product: KC * NR * 8 bytes of B stay in L1. */
export const KC = 128;

export const WASM_PAGE_BYTES = 65536;
/** Upper bound of the kernel memory: 2 GiB of ring data is far beyond any plan we run. */
export const MAX_PAGES = 32768;

const I32 = 'i32' satisfies ValType;
const I64 = 'i64' satisfies ValType;
const V128 = 'v128' satisfies ValType;

// ---- elementwise kernels ------------------------------------------------------------------------
// Arrays are n consecutive i64 words (8 bytes each) at byte offsets; the loops step a byte
// offset `off` up to `end` = 8n, so one add addresses each operand.

type BinaryOp = 'add' | 'sub' | 'mul' | 'and' | 'xor' | 'shr_s' | 'shr_u' | 'shl';

const BINARY: Record<BinaryOp, (a: Instr, b: Instr) => Instr> = {
  add: i64.add,
  sub: i64.sub,
  mul: i64.mul,
  and: i64.and,
  xor: i64.xor,
  shr_s: i64.shr_s,
  shr_u: i64.shr_u,
  shl: i64.shl,
};

/**
 * out[i] = a[i] op b[i] with params (out, a, b, n), or with a `scalar` second operand
 * out[i] = a[i] op s with params (out, a, s: i64, n). Scalar loop: V8 turns it into tight code.
 */
function binaryKernel(name: string, op: BinaryOp, second: 'array' | 'scalar' = 'array'): FunctionSpec {
  const f = new FunctionBuilder(name);
  const { out, a, b, n } = f.params({ out: I32, a: I32, b: second === 'array' ? I32 : I64, n: I32 });
  const { off, end } = f.locals({ off: I32, end: I32 });
  const rhs = second === 'array' ? i64.load(i32.add(b, off)) : b;
  return f.build((s) => {
    s.set(end, i32.shl(n, 3));
    s.forRange(off, end, 8, (s) => {
      s.emit(i64.store(i32.add(out, off), BINARY[op](i64.load(i32.add(a, off)), rhs)));
    });
  });
}

/** out[i] = -a[i]; params (out, a, n). */
function negKernel(): FunctionSpec {
  const f = new FunctionBuilder('neg');
  const { out, a, n } = f.params({ out: I32, a: I32, n: I32 });
  const { off, end } = f.locals({ off: I32, end: I32 });
  return f.build((s) => {
    s.set(end, i32.shl(n, 3));
    s.forRange(off, end, 8, (s) => {
      s.emit(i64.store(i32.add(out, off), i64.sub(0n, i64.load(i32.add(a, off)))));
    });
  });
}

/**
 * Fixed-point encode: out[i] = saturate(round_half_even(x[i] * scale)) with the
 * result clamped to [lo, hi] (f64 bounds) before conversion; NaN encodes as 0.
 * params (out, x, n, scale, lo, hi); x holds n f32 (`f32`) or f64 values, out n i64 words.
 */
function encodeKernel(name: string, input: 'f32' | 'f64'): FunctionSpec {
  const f = new FunctionBuilder(name);
  const p = f.params({ out: I32, x: I32, n: I32, scale: 'f64', lo: 'f64', hi: 'f64' });
  const { out, x, n, scale, lo, hi } = p;
  const { i, end } = f.locals({ i: I32, end: I32 });
  const value =
    input === 'f32'
      ? f64.promote_f32(f32.load(i32.add(x, i32.shl(i, 2))))
      : f64.load(i32.add(x, i32.shl(i, 3)));
  const rounded = f64.nearest(f64.mul(value, scale));
  return f.build((s) => {
    s.set(end, n);
    s.forRange(i, end, 1, (s) => {
      s.emit(i64.store(i32.add(out, i32.shl(i, 3)), i64.trunc_sat_f64_s(f64.min(f64.max(rounded, lo), hi))));
    });
  });
}

/**
 * Fixed-point decode: out[i] = f64(signed x[i]) * invScale, stored as f32 (`f32`) or f64.
 * params (out, x, n, invScale).
 */
function decodeKernel(name: string, output: 'f32' | 'f64'): FunctionSpec {
  const f = new FunctionBuilder(name);
  const { out, x, n, invScale } = f.params({ out: I32, x: I32, n: I32, invScale: 'f64' });
  const { i, end } = f.locals({ i: I32, end: I32 });
  const value = f64.mul(f64.convert_i64_s(i64.load(i32.add(x, i32.shl(i, 3)))), invScale);
  return f.build((s) => {
    s.set(end, n);
    s.forRange(i, end, 1, (s) => {
      if (output === 'f32') s.emit(f32.store(i32.add(out, i32.shl(i, 2)), f32.demote_f64(value)));
      else s.emit(f64.store(i32.add(out, i32.shl(i, 3)), value));
    });
  });
}

/**
 * Sum over the middle axis of a row-major (outer, len, inner) array: out[o, j] = sum_l a[o, l, j],
 * out row-major (outer, inner). Each output word walks its column down the len axis (stride
 * innerBytes). params (out, a, outer, len, inner).
 */
function reduceMiddleKernel(): FunctionSpec {
  const f = new FunctionBuilder('reduce_middle');
  const { out, a, outer, len, inner } = f.params({ out: I32, a: I32, outer: I32, len: I32, inner: I32 });
  // j: byte offset of the column within a row of `inner` words
  const { o, l, j, acc, src, rowBytes, innerBytes } = f.locals({
    o: I32,
    l: I32,
    j: I32,
    acc: I64,
    src: I32,
    rowBytes: I32,
    innerBytes: I32,
  });
  return f.build((s) => {
    s.set(innerBytes, i32.shl(inner, 3));
    s.set(rowBytes, i32.mul(innerBytes, len));
    s.forRange(o, outer, 1, (s) => {
      s.set(j, 0);
      s.forRange(j, innerBytes, 8, (s) => {
        s.set(acc, 0n);
        s.set(src, i32.add(i32.add(a, i32.mul(o, rowBytes)), j));
        s.set(l, 0);
        s.forRange(l, len, 1, (s) => {
          s.set(acc, i64.add(acc, i64.load(src)));
          s.set(src, i32.add(src, innerBytes));
        });
        s.emit(i64.store(i32.add(i32.add(out, i32.mul(o, innerBytes)), j), acc));
      });
    });
  });
}

// ---- matrix product -----------------------------------------------------------------------------

/**
 * Packs a row-major (rows x cols) matrix into panels of `width` lines, each
 * panel k-major. `panelAxis` 'rows' packs rows (A, width MR):
 * dst[p][kk][r] = src[p*width + r][kk], zero past `rows`; 'cols' packs columns
 * (B, width NR): dst[p][kk][q] = src[kk][p*width + q], zero past `cols`.
 * A panel is depth * width words; each kk step writes one group of `width` words (unrolled).
 * params (dst, src, rows, cols).
 */
function packPanelsKernel(name: string, width: number, panelAxis: 'rows' | 'cols'): FunctionSpec {
  const f = new FunctionBuilder(name);
  const { dst, src, rows, cols } = f.params({ dst: I32, src: I32, rows: I32, cols: I32 });
  const { p, kk, panels, line, d } = f.locals({ p: I32, kk: I32, panels: I32, line: I32, d: I32 });
  // The panels run along one axis, the k-major depth along the other.
  const [panelExtent, depth] = panelAxis === 'rows' ? [rows, cols] : [cols, rows];
  // src index = major*cols + minor: (line, kk) for packed rows, (kk, line) for packed columns.
  const [major, minor] = panelAxis === 'rows' ? [line, kk] : [kk, line];
  const element = i64.load(i32.add(src, i32.shl(i32.add(i32.mul(major, cols), minor), 3)));
  return f.build((s) => {
    s.set(panels, i32.div_u(i32.add(panelExtent, width - 1), width));
    s.set(d, dst);
    s.forRange(p, panels, 1, (s) => {
      s.set(kk, 0);
      s.forRange(kk, depth, 1, (s) => {
        for (let r = 0; r < width; r++) {
          // word r of the group: the element of line p*width + r, or zero past the matrix
          s.set(line, i32.add(i32.mul(p, width), r));
          s.ifElse(
            i32.lt_u(line, panelExtent),
            (s) => s.emit(i64.store(d, element, r * 8)),
            (s) => s.emit(i64.store(d, 0n, r * 8)),
          );
        }
        s.set(d, i32.add(d, width * 8));
      });
    });
  });
}

/**
 * Padded product over packed panels, accumulating into a zero-initialised
 * padded C (row stride nPanels*NR words): for each k block of KC, each B panel jp, each A
 * panel ip in [panelStart, panelEnd), an MR x NR register-blocked micro-kernel
 * with 128-bit SIMD: each tile row is NR/2 i64x2 accumulators, and a splat of
 * A's element multiplies two of B's lanes at once (measured ~1.3x the scalar
 * 4x4 kernel on x86-64); the tile is then added into C. Threads split the A panels
 * (disjoint rows of C). Layouts as `pack_a`/`pack_b` write them: A panel ip holds k groups of
 * MR words at ap + ip*k*MR*8, B panel jp k groups of NR words at bp + jp*k*NR*8.
 * params (cp, ap, bp, k, nPanels, panelStart, panelEnd).
 */
function gemmPackedKernel(): FunctionSpec {
  const halves = NR / 2;
  const f = new FunctionBuilder('gemm_packed');
  const { cp, ap, bp, k, nPanels, panelStart, panelEnd } = f.params({
    cp: I32,
    ap: I32,
    bp: I32,
    k: I32,
    nPanels: I32,
    panelStart: I32,
    panelEnd: I32,
  });
  // kc: this k block's length; a, b: the current k group of the A and B panels; bEnd: the
  // end of the k block in B; cRow: the tile row's start in C
  const { kb, kc, jp, ip, a, b, bEnd, cRow, cStride } = f.locals({
    kb: I32,
    kc: I32,
    jp: I32,
    ip: I32,
    a: I32,
    b: I32,
    bEnd: I32,
    cRow: I32,
    cStride: I32,
  });
  // acc[r][h]: lanes 2h, 2h+1 of tile row r; bPair[h]: B's words 2h, 2h+1 at the current kk.
  const acc = Array.from({ length: MR }, (_, r) =>
    Array.from({ length: halves }, (_, h) => f.local(`acc${r}_${h}`, V128)),
  );
  const bPair = Array.from({ length: halves }, (_, h) => f.local(`bPair${h}`, V128));
  const aSplat = f.local('aSplat', V128);
  return f.build((s) => {
    s.set(cStride, i32.mul(nPanels, NR * 8));
    s.forRange(kb, k, KC, (s) => {
      // kc = min(KC, k - kb)
      s.set(kc, i32.sub(k, kb));
      s.ifThen(i32.ge_u(kc, KC), (s) => s.set(kc, KC));
      s.set(jp, 0);
      s.forRange(jp, nPanels, 1, (s) => {
        s.set(ip, panelStart);
        s.forRange(ip, panelEnd, 1, (s) => {
          s.set(a, i32.add(ap, i32.mul(i32.add(i32.mul(ip, k), kb), MR * 8)));
          s.set(b, i32.add(bp, i32.mul(i32.add(i32.mul(jp, k), kb), NR * 8)));
          s.set(bEnd, i32.add(b, i32.mul(kc, NR * 8)));
          for (const x of acc.flat()) s.set(x, i64x2.splat(0n));
          // per kk: the tile += column kk of the A panel times row kk of the B panel
          s.whileLess(b, bEnd, (s) => {
            bPair.forEach((pair, h) => s.set(pair, v128.load(b, h * 16)));
            for (let r = 0; r < MR; r++) {
              s.set(aSplat, i64x2.splat(i64.load(a, r * 8)));
              for (let h = 0; h < halves; h++)
                s.set(acc[r]![h]!, i64x2.add(acc[r]![h]!, i64x2.mul(aSplat, bPair[h]!)));
            }
            s.set(a, i32.add(a, MR * 8));
            s.set(b, i32.add(b, NR * 8));
          });
          // C[ip*MR + r][jp*NR ...] += the tile
          for (let r = 0; r < MR; r++) {
            s.set(
              cRow,
              i32.add(i32.add(cp, i32.mul(i32.add(i32.mul(ip, MR), r), cStride)), i32.mul(jp, NR * 8)),
            );
            for (let h = 0; h < halves; h++)
              s.emit(v128.store(cRow, i64x2.add(v128.load(cRow, h * 16), acc[r]![h]!), h * 16));
          }
        });
      });
    });
  });
}

/**
 * Copies the valid (m x n) block out of padded C (row stride nPad words) into a dense
 * row-major (m x n) dst. params (dst, cp, m, n, nPad).
 */
function unpackCKernel(): FunctionSpec {
  const f = new FunctionBuilder('unpack_c');
  const { dst, cp, m, n, nPad } = f.params({ dst: I32, cp: I32, m: I32, n: I32, nPad: I32 });
  const { i, j, src, d } = f.locals({ i: I32, j: I32, src: I32, d: I32 });
  return f.build((s) => {
    s.set(d, dst);
    s.forRange(i, m, 1, (s) => {
      s.set(src, i32.add(cp, i32.shl(i32.mul(i, nPad), 3)));
      s.set(j, 0);
      s.forRange(j, n, 1, (s) => {
        s.emit(i64.store(d, i64.load(src)));
        s.set(d, i32.add(d, 8));
        s.set(src, i32.add(src, 8));
      });
    });
  });
}

// ---- fused kernels of the comparisons ----------------------------------------------------------
// (./fused.ts states what they compute in ring terms; there, one kernel replaces a chain of the
// elementwise kernels above, so the operands cross into kernel memory once.)

/**
 * The end of a sign-based comparison, per lane i = k n + j (plane k of `planes`, element j of n):
 *   e = bit i of the bit vector at `e`, z = (1 - 2e) rho_i + [first] e,
 *   lt_i = (1 - 2a_i) z + [first] a_i,
 * and with `select` also zr = (1 - 2e) rhoR_i + e r_j, ltx_i = (1 - 2a_i)(z xhat_j - zr) + a_i x_j.
 * [first] is 1 at party 0 only (an i64 mask of all ones or zero, so the kernel does not branch).
 * params (lt, ltx, e, rho, rhoR, r, a, x, xhat, n, planes, first, select).
 */
function signCombineKernel(): FunctionSpec {
  const f = new FunctionBuilder('sign_combine');
  const p = f.params({
    lt: I32,
    ltx: I32,
    e: I32,
    rho: I32,
    rhoR: I32,
    r: I32,
    a: I32,
    x: I32,
    xhat: I32,
    n: I32,
    planes: I32,
    first: I32,
    select: I32,
  });
  const { k, i, off, jo, nb, ev, fe, av, fa, z, zr, firstMask } = f.locals({
    k: I32,
    i: I32,
    off: I32,
    jo: I32,
    nb: I32,
    ev: I64,
    fe: I64,
    av: I64,
    fa: I64,
    z: I64,
    zr: I64,
    firstMask: I64,
  });
  const bit = i64.extend_i32_u(
    i32.and(i32.shr_u(i32.load8_u(i32.add(p.e, i32.shr_u(i, 3))), i32.and(i, 7)), 1),
  );
  const oneMinusTwo = (v: Instr): Instr => i64.sub(1n, i64.shl(v, 1n));
  const at = (base: Instr, o: Instr): Instr => i64.load(i32.add(base, o));
  return f.build((s) => {
    s.set(nb, i32.shl(p.n, 3));
    s.set(firstMask, i64.sub(0n, i64.extend_i32_u(p.first)));
    s.forRange(k, p.planes, 1, (s) => {
      s.set(jo, 0);
      s.forRange(jo, nb, 8, (s) => {
        s.set(ev, bit);
        s.set(fe, oneMinusTwo(ev));
        s.set(z, i64.add(i64.mul(fe, at(p.rho, off)), i64.and(ev, firstMask)));
        s.set(av, at(p.a, off));
        s.set(fa, oneMinusTwo(av));
        s.emit(i64.store(i32.add(p.lt, off), i64.add(i64.mul(fa, z), i64.and(av, firstMask))));
        s.ifThen(p.select, (s) => {
          s.set(zr, i64.add(i64.mul(fe, at(p.rhoR, off)), i64.mul(ev, at(p.r, jo))));
          s.emit(
            i64.store(
              i32.add(p.ltx, off),
              i64.add(i64.mul(fa, i64.sub(i64.mul(z, at(p.xhat, jo)), zr)), i64.mul(av, at(p.x, jo))),
            ),
          );
        });
        s.set(i, i32.add(i, 1));
        s.set(off, i32.add(off, 8));
      });
    });
  });
}

/**
 * out_j = sum_k c_{2k} u_{k n + j} + c_{2k+1} v_{k n + j} over `planes` planes of n words of u and
 * v, with the 2 planes coefficients at `coef`; a plane whose two coefficients are 0 is skipped.
 * params (out, u, v, coef, n, planes).
 */
function planeCombineKernel(): FunctionSpec {
  const f = new FunctionBuilder('plane_combine');
  const { out, u, v, coef, n, planes } = f.params({
    out: I32,
    u: I32,
    v: I32,
    coef: I32,
    n: I32,
    planes: I32,
  });
  const { k, off, nb, base, cu, cv } = f.locals({ k: I32, off: I32, nb: I32, base: I32, cu: I64, cv: I64 });
  return f.build((s) => {
    s.set(nb, i32.shl(n, 3));
    s.forRange(off, nb, 8, (s) => {
      s.emit(i64.store(i32.add(out, off), 0n));
    });
    s.forRange(k, planes, 1, (s) => {
      s.set(cu, i64.load(i32.add(coef, i32.shl(k, 4))));
      s.set(cv, i64.load(i32.add(coef, i32.shl(k, 4)), 8));
      s.ifThen(i64.ne(i64.or(cu, cv), 0n), (s) => {
        s.set(base, i32.mul(k, nb));
        s.set(off, 0);
        s.forRange(off, nb, 8, (s) => {
          s.emit(
            i64.store(
              i32.add(out, off),
              i64.add(
                i64.load(i32.add(out, off)),
                i64.add(
                  i64.mul(cu, i64.load(i32.add(i32.add(u, base), off))),
                  i64.mul(cv, i64.load(i32.add(i32.add(v, base), off))),
                ),
              ),
            ),
          );
        });
      });
    });
  });
}

/**
 * The public parts of comparing x^ with each threshold, per lane i = k n + j: v = (x^_j - t_k)
 * >> drop (logical), a_i = bit m - 1 of v, y_i = v mod 2^(m-1). `t` holds the `planes`
 * thresholds. params (a, y, xhat, t, n, planes, drop: i64, m: i64).
 */
function openedPartsKernel(): FunctionSpec {
  const f = new FunctionBuilder('opened_parts');
  const p = f.params({ a: I32, y: I32, xhat: I32, t: I32, n: I32, planes: I32, drop: I64, m: I64 });
  const { k, off, jo, nb, tk, v, top, low } = f.locals({
    k: I32,
    off: I32,
    jo: I32,
    nb: I32,
    tk: I64,
    v: I64,
    top: I64,
    low: I64,
  });
  return f.build((s) => {
    s.set(nb, i32.shl(p.n, 3));
    s.set(top, i64.sub(p.m, 1n));
    s.set(low, i64.sub(i64.shl(1n, top), 1n));
    s.forRange(k, p.planes, 1, (s) => {
      s.set(tk, i64.load(i32.add(p.t, i32.shl(k, 3))));
      s.set(jo, 0);
      s.forRange(jo, nb, 8, (s) => {
        s.set(v, i64.shr_u(i64.sub(i64.load(i32.add(p.xhat, jo)), tk), p.drop));
        s.emit(i64.store(i32.add(p.a, off), i64.and(i64.shr_u(v, top), 1n)));
        s.emit(i64.store(i32.add(p.y, off), i64.and(v, low)));
        s.set(off, i32.add(off, 8));
      });
    });
  });
}

/**
 * One block of a bit expansion (./bit-expand.ts) over 32-bit words: first the table, entry k
 * (at table + k blockBytes) = P_k AND (S_k XOR inv_k); then each term, out_q ^= T_q AND A_q.
 * Descriptors are 4 i32 each: an entry [P address, S base, S kind, inv], a term [T address,
 * A base, A kind, out base]. A base is read at base + offW (kind 0), base + offS (kind 1) or
 * base (kind 2); out bases at base + offW. len words from there, 4 at a time, then the rest.
 * params (table, blockBytes, ents, nEnt, terms, nTerms, offW, offS, len).
 */
function bitExpandKernel(): FunctionSpec {
  const f = new FunctionBuilder('bit_expand');
  const p = f.params({
    table: I32,
    blockBytes: I32,
    ents: I32,
    nEnt: I32,
    terms: I32,
    nTerms: I32,
    offW: I32,
    offS: I32,
    len: I32,
  });
  const { k, d, i, at, pa, sa, inv, vinv, vbytes, bytes } = f.locals({
    k: I32,
    d: I32,
    i: I32,
    at: I32,
    pa: I32,
    sa: I32,
    inv: I32,
    vinv: V128,
    vbytes: I32,
    bytes: I32,
  });
  const based = (base: Instr, kind: Instr): Instr =>
    i32.add(base, select(p.offW, select(p.offS, 0, i32.eq(kind, 1)), i32.eq(kind, 0)));
  return f.build((s) => {
    s.set(bytes, i32.shl(p.len, 2));
    s.set(vbytes, i32.shl(i32.shr_u(p.len, 2), 4));
    s.forRange(k, p.nEnt, 1, (s) => {
      s.set(d, i32.add(p.ents, i32.shl(k, 4)));
      s.set(pa, i32.load(d));
      s.set(sa, based(i32.load(d, 4), i32.load(d, 8)));
      s.set(inv, i32.load(d, 12));
      s.set(vinv, i64x2.splat(i64.sub(0n, i64.extend_i32_u(i32.and(inv, 1)))));
      s.set(at, i32.add(p.table, i32.mul(k, p.blockBytes)));
      s.set(i, 0);
      s.forRange(i, vbytes, 16, (s) => {
        s.emit(
          v128.store(
            i32.add(at, i),
            v128.and(v128.load(i32.add(pa, i)), v128.xor(v128.load(i32.add(sa, i)), vinv)),
          ),
        );
      });
      s.forRange(i, bytes, 4, (s) => {
        s.emit(
          i32.store(
            i32.add(at, i),
            i32.and(i32.load(i32.add(pa, i)), i32.xor(i32.load(i32.add(sa, i)), inv)),
          ),
        );
      });
    });
    s.set(k, 0);
    s.forRange(k, p.nTerms, 1, (s) => {
      s.set(d, i32.add(p.terms, i32.shl(k, 4)));
      s.set(pa, i32.load(d));
      s.set(sa, based(i32.load(d, 4), i32.load(d, 8)));
      s.set(at, i32.add(i32.load(d, 12), p.offW));
      s.set(i, 0);
      s.forRange(i, vbytes, 16, (s) => {
        s.emit(
          v128.store(
            i32.add(at, i),
            v128.xor(
              v128.load(i32.add(at, i)),
              v128.and(v128.load(i32.add(pa, i)), v128.load(i32.add(sa, i))),
            ),
          ),
        );
      });
      s.forRange(i, bytes, 4, (s) => {
        s.emit(
          i32.store(
            i32.add(at, i),
            i32.xor(i32.load(i32.add(at, i)), i32.and(i32.load(i32.add(pa, i)), i32.load(i32.add(sa, i)))),
          ),
        );
      });
    });
  });
}

/**
 * A truncation after its opening (runtime/protocols/truncate.ts), per element: with c opened,
 * weight = (1 - msb(c)) << (64 - bits), a = msb_i weight - rHi_i, e = (c >>> bits) + add.
 * With `full` it stores e, a and weight; else only the share a + [lead] e (into a).
 * params (e, a, w, c, msb, rHi, n, bits: i64, add: i64, full, lead).
 */
function truncOpenedKernel(): FunctionSpec {
  const f = new FunctionBuilder('trunc_opened');
  const p = f.params({
    e: I32,
    a: I32,
    w: I32,
    c: I32,
    msb: I32,
    rHi: I32,
    n: I32,
    bits: I64,
    add: I64,
    full: I32,
    lead: I32,
  });
  const { off, end, cv, wv, av, ev, shift, leadMask } = f.locals({
    off: I32,
    end: I32,
    cv: I64,
    wv: I64,
    av: I64,
    ev: I64,
    shift: I64,
    leadMask: I64,
  });
  return f.build((s) => {
    s.set(end, i32.shl(p.n, 3));
    s.set(shift, i64.sub(64n, p.bits));
    s.set(leadMask, i64.sub(0n, i64.extend_i32_u(i32.and(p.lead, 1))));
    s.forRange(off, end, 8, (s) => {
      s.set(cv, i64.load(i32.add(p.c, off)));
      s.set(wv, i64.shl(i64.sub(1n, i64.shr_u(cv, 63n)), shift));
      s.set(av, i64.sub(i64.mul(i64.load(i32.add(p.msb, off)), wv), i64.load(i32.add(p.rHi, off))));
      s.set(ev, i64.add(i64.shr_u(cv, p.bits), p.add));
      s.ifElse(
        p.full,
        (s) => {
          s.emit(i64.store(i32.add(p.e, off), ev));
          s.emit(i64.store(i32.add(p.a, off), av));
          s.emit(i64.store(i32.add(p.w, off), wv));
        },
        (s) => {
          s.emit(i64.store(i32.add(p.a, off), i64.add(av, i64.and(ev, leadMask))));
        },
      );
    });
  });
}

/** Zeroes n i64 words at p. params (p, n). */
function zeroKernel(): FunctionSpec {
  const f = new FunctionBuilder('zero');
  const { p, n } = f.params({ p: I32, n: I32 });
  const { off, end } = f.locals({ off: I32, end: I32 });
  return f.build((s) => {
    s.set(end, i32.shl(n, 3));
    s.forRange(off, end, 8, (s) => {
      s.emit(i64.store(i32.add(p, off), 0n));
    });
  });
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
  sign_combine(
    lt: number,
    ltx: number,
    e: number,
    rho: number,
    rhoR: number,
    r: number,
    a: number,
    x: number,
    xhat: number,
    n: number,
    planes: number,
    first: number,
    select: number,
  ): void;
  plane_combine(out: number, u: number, v: number, coef: number, n: number, planes: number): void;
  opened_parts(
    a: number,
    y: number,
    xhat: number,
    t: number,
    n: number,
    planes: number,
    drop: bigint,
    m: bigint,
  ): void;
  trunc_opened(
    e: number,
    a: number,
    w: number,
    c: number,
    msb: number,
    rHi: number,
    n: number,
    bits: bigint,
    add: bigint,
    full: number,
    lead: number,
  ): void;
  bit_expand(
    table: number,
    blockBytes: number,
    ents: number,
    nEnt: number,
    terms: number,
    nTerms: number,
    offW: number,
    offS: number,
    len: number,
  ): void;
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
    signCombineKernel(),
    planeCombineKernel(),
    openedPartsKernel(),
    bitExpandKernel(),
    truncOpenedKernel(),
  ];
  return assembleModule(
    { module: 'env', field: 'mem', initialPages: 16, maximumPages: MAX_PAGES, shared: true },
    functions,
  );
}
