/**
 * What the DCF WebAssembly kernels (./dcf-wasm-eval.ts, ./dcf-wasm-gen.ts) share: the PRG
 * tweaks, the `prep` kernel (PRG input blocks, which the fused level kernels also write) and
 * the statements and expressions that several kernels emit.
 *
 * Memory layout (byte offsets into the module's memory; m points, `keys` keys, point j uses
 * key e = j mod keys; w payload words, vb = ceil(w / 2) value blocks):
 *   x        m i64 words: the evaluation points
 *   seeds    m 16-byte seeds: word s0 at +0, word s1 at +8 (the 128-bit seed s1:s0)
 *   ctrl     m bytes: control bits
 *   sides    m bytes: the side (0 left, 1 right) each point takes at this level
 *   blocks   perSide 16-byte PRG input blocks per point; enc the same blocks after AES. Per
 *            side, block 0 expands to the next seed (and control bit, its lowest bit) and
 *            blocks 1..vb hold the value words (2 per block, word k in block 1 + k/2)
 *   acc      w planes of m words: word k of point j's output at k*m + j
 *   scw      16 bytes per key (seed correction), ccw 1 byte per key (control corrections:
 *            bit 0 left, bit 1 right), vcw w words per key (value correction k of key e at
 *            e*w + k)
 * PRG (./prg.ts): block i of seed s is AES(s ^ t) ^ s ^ t with tweak t = i << 96, i.e. i
 * xored into the top 32 bits of s1; block i of side `side` at a level has i = 16 side + b
 * (SIDE_TWEAK = 16), at the leaf i = CONVERT_TWEAK + b.
 */
import type { FunctionSpec } from '../ring/wasm-asm.ts';
import type { Body, Instr, Local } from '../ring/wasm-expr.ts';
import { FunctionBuilder, i32, i64, select, tee } from '../ring/wasm-expr.ts';

export const I32 = 'i32' as const;
export const I64 = 'i64' as const;

/** Tweak base of a side (its seed block; value blocks follow) and of the leaf conversion. */
export const SIDE_TWEAK = 16;
export const CONVERT_TWEAK = 32;

/** The address of 16-byte element `index` of the array at `base`. */
export const at16 = (base: Instr, index: Instr): Instr => i32.add(base, i32.shl(index, 4));

/** The address of i64 word `index` of the array at `base`. */
export const at8 = (base: Instr, index: Instr): Instr => i32.add(base, i32.shl(index, 3));

/**
 * prep(x, seeds, blocks, sides, m, bitPos, perSide, base, useSide): for point j, side =
 * bit bitPos of x[j] (0 unless useSide), recorded in sides[j]; then perSide blocks
 * seed_j ^ ((base + 16 side + k) << 96) at blocks + 16 perSide j.
 */
export function prepKernel(): FunctionSpec {
  const f = new FunctionBuilder('prep');
  const { x, seeds, blocks, sides, m, bitPos, perSide, base, useSide } = f.params({
    x: I32,
    seeds: I32,
    blocks: I32,
    sides: I32,
    m: I32,
    bitPos: I64,
    perSide: I32,
    base: I32,
    useSide: I32,
  });
  const { j, side, s0, s1, k, out } = f.locals({ j: I32, side: I32, s0: I64, s1: I64, k: I32, out: I32 });
  return f.build((s) => {
    s.set(out, blocks);
    s.whileLess(j, m, (s) => {
      pointSide(s, { x, j, sides, side }, bitPos, useSide);
      s.set(s0, i64.load(at16(seeds, j)));
      s.set(s1, i64.load(at16(seeds, j), 8));
      seedBlocks(s, { out, s0, s1, k, side }, perSide, base);
      s.set(j, i32.add(j, 1));
    });
  });
}

/**
 * Emits side = bit `bitPos` of x[j], or 0 unless `useSide` is set, and records it at sides[j].
 */
export function pointSide(
  s: Body,
  l: { x: Local; j: Local; sides: Local; side: Local },
  bitPos: Local,
  useSide: Local,
): void {
  s.set(l.side, 0);
  s.ifThen(useSide, (s) => {
    s.set(l.side, i32.wrap_i64(i64.and(i64.shr_u(i64.load(at8(l.x, l.j)), bitPos), 1n)));
  });
  s.emit(i32.store8(i32.add(l.sides, l.j), l.side));
}

/**
 * Emits the PRG input blocks of one point at `out` (advanced past them): `perSide` blocks
 * (s0, s1 ^ ((base + 16 side + k) << 32)), i.e. seed ^ tweak << 96; k is the block counter.
 */
export function seedBlocks(
  s: Body,
  l: { out: Local; s0: Local; s1: Local; k: Local; side: Local },
  perSide: Local,
  base: Local,
): void {
  s.set(l.k, 0);
  s.whileLess(l.k, perSide, (s) => {
    const tweak = i32.add(i32.add(base, i32.shl(l.side, 4)), l.k);
    s.emit(i64.store(l.out, l.s0));
    s.emit(i64.store(l.out, i64.xor(l.s1, i64.shl(i64.extend_i32_u(tweak), 32n)), 8));
    s.set(l.out, i32.add(l.out, 16));
    s.set(l.k, i32.add(l.k, 1));
  });
}

/** Emits the step to the next point: e = (e + 1) mod keys (the point's key), j += 1. */
export function nextPoint(s: Body, e: Local, keys: Local, j: Local): void {
  s.ifThen(i32.eq(tee(e, i32.add(e, 1)), keys), (s) => s.set(e, 0));
  s.set(j, i32.add(j, 1));
}

/**
 * Value word k of a point (MMO output xor input): word k & 1 of block `first + (k >> 1)` of
 * the point's blocks at bp, xor the same word of that block's PRG input, which is os0 (even k)
 * or os1 ^ (tweak << 32) (odd k), os0/os1 being the seed the point expanded. side is 0/1, or
 * already 16 side with `sideIsTweak`; `first` is the block of value word 0 (1 per level, 0 at
 * the leaf).
 */
export function valueWord(
  l: { bp: Local; os0: Local; os1: Local; k: Local; side: Local },
  first: number,
  tweakBase: number,
  sideIsTweak = false,
): Instr {
  const block = i32.add(i32.shr_u(l.k, 1), first);
  const output = i64.load(i32.add(i32.add(l.bp, i32.shl(block, 4)), i32.shl(i32.and(l.k, 1), 3)));
  const sideTweak = sideIsTweak ? l.side : i32.shl(l.side, 4);
  const tweak = i32.add(i32.add(tweakBase, sideTweak), block);
  const input = select(i64.xor(l.os1, i64.shl(i64.extend_i32_u(tweak), 32n)), l.os0, i32.and(l.k, 1));
  return i64.xor(output, input);
}
