/**
 * What the DCF WebAssembly kernels (./dcf-wasm-eval.ts, ./dcf-wasm-gen.ts) share: the loop
 * shape, the PRG tweaks, the `prep` kernel (PRG input blocks, which the fused level kernels
 * also write) and the value-word computation that key generation and evaluation both do.
 */
import { Code } from '../ring/wasm-asm.ts';
import type { FunctionSpec } from '../ring/wasm-asm.ts';

export const I32 = 'i32' as const;
export const I64 = 'i64' as const;

/** Tweak base of a side (its seed block; value blocks follow) and of the leaf conversion. */
export const SIDE_TWEAK = 16;
export const CONVERT_TWEAK = 32;

/** `while (i < end) { body; }` over i32 locals; the body advances i itself. */
export function whileLess(c: Code, i: number, end: number, body: (c: Code) => void): void {
  c.block().loop();
  c.get(i).get(end).i32GeU().brIf(1);
  body(c);
  c.br(0).end().end();
}

/**
 * prep(x, seeds, blocks, sides, m, bitPos, perSide, base, useSide): for point j, side =
 * bit bitPos of x[j] (0 unless useSide), then perSide blocks seed_j ^ ((base + 16 side + k) << 96).
 */
export function prepKernel(): FunctionSpec {
  const [x, seeds, blocks, sides, m, bitPos, perSide, base, useSide] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [j, side, s0, s1, k, out] = [9, 10, 11, 12, 13, 14];
  const c = new Code();
  c.get(blocks).set(out);
  whileLess(c, j, m, (c) => {
    emitPointSide(c, { x, j, sides, side }, bitPos, useSide);
    c.get(seeds).get(j).i32Const(4).i32Shl().i32Add().i64Load().set(s0);
    c.get(seeds).get(j).i32Const(4).i32Shl().i32Add().i64Load(8).set(s1);
    emitSeedBlocks(c, { out, s0, s1, k, side }, perSide, base);
    c.get(j).i32Const(1).i32Add().set(j);
  });
  return {
    name: 'prep',
    params: [I32, I32, I32, I32, I32, I64, I32, I32, I32],
    locals: [I32, I32, I64, I64, I32, I32],
    body: c,
  };
}

/**
 * Emits side = bit `bitPos` (i64 local) of x[j], or 0 unless the i32 local `useSide` is set,
 * and records it at sides[j].
 */
export function emitPointSide(
  c: Code,
  l: { x: number; j: number; sides: number; side: number },
  bitPos: number,
  useSide: number,
): void {
  c.i32Const(0).set(l.side);
  c.get(useSide).if();
  c.get(l.x)
    .get(l.j)
    .i32Const(3)
    .i32Shl()
    .i32Add()
    .i64Load()
    .get(bitPos)
    .i64ShrU()
    .i64Const(1n)
    .i64And()
    .i32WrapI64()
    .set(l.side);
  c.end();
  c.get(l.sides).get(l.j).i32Add().get(l.side).i32Store8();
}

/**
 * Emits the PRG input blocks of one point at `out` (advanced past them): `perSide` blocks
 * (s0, s1 ^ ((base + 16 side + k) << 32)), i.e. seed ^ tweak << 96; `perSide` and `base` are
 * i32 locals, k is the block counter.
 */
export function emitSeedBlocks(
  c: Code,
  l: { out: number; s0: number; s1: number; k: number; side: number },
  perSide: number,
  base: number,
): void {
  c.i32Const(0).set(l.k);
  whileLess(c, l.k, perSide, (c) => {
    c.get(l.out).get(l.s0).i64Store();
    c.get(l.out).get(l.s1);
    c.get(base)
      .get(l.side)
      .i32Const(4)
      .i32Shl()
      .i32Add()
      .get(l.k)
      .i32Add()
      .i64ExtendI32U()
      .i64Const(32n)
      .i64Shl();
    c.i64Xor().i64Store(8);
    c.get(l.out).i32Const(16).i32Add().set(l.out);
    c.get(l.k).i32Const(1).i32Add().set(l.k);
  });
}

/** Emits the step to the next point: e = (e + 1) mod keys (the point's key), j += 1. */
export function emitNextPoint(c: Code, e: number, keys: number, j: number): void {
  c.get(e).i32Const(1).i32Add().tee(e).get(keys).i32Eq().if().i32Const(0).set(e).end();
  c.get(j).i32Const(1).i32Add().set(j);
}

/**
 * Emits v = value word k of point j (MMO output xor input), leaving it on the stack.
 * Needs locals bp (the point's first block), os0/os1 (its seed before this level), side
 * (0 for the leaf; already 16 side with `sideIsTweak`) and the block offset `first` of value
 * block 0 (1 per level, 0 at the leaf).
 */
export function emitValueWord(
  c: Code,
  l: { bp: number; os0: number; os1: number; k: number; side: number },
  first: number,
  tweakBase: number,
  sideIsTweak = false,
): void {
  // address bp + (first + (k >> 1)) * 16 + (k & 1) * 8
  c.get(l.bp).get(l.k).i32Const(1).i32ShrU().i32Const(first).i32Add().i32Const(4).i32Shl().i32Add();
  c.get(l.k).i32Const(1).i32And().i32Const(3).i32Shl().i32Add().i64Load();
  // input word: os1 ^ (tweak << 32) for odd k, os0 for even k
  c.get(l.os1);
  c.i32Const(tweakBase).get(l.side);
  if (!sideIsTweak) c.i32Const(4).i32Shl();
  c.i32Add().get(l.k).i32Const(1).i32ShrU().i32Const(first).i32Add().i32Add();
  c.i64ExtendI32U().i64Const(32n).i64Shl().i64Xor();
  c.get(l.os0);
  c.get(l.k).i32Const(1).i32And();
  c.select();
  c.i64Xor();
}
