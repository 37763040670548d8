/**
 * DCF evaluation kernels: `level` (any payload width), `levelFused1/2` (payloads of one or two
 * words, also writing the next level's PRG inputs) and `leaf` (the final conversion step).
 * See ./dcf-wasm.ts for how a level runs.
 */
import { Code } from '../ring/wasm-asm.ts';
import type { FunctionSpec } from '../ring/wasm-asm.ts';
import {
  CONVERT_TWEAK,
  I32,
  I64,
  emitNextPoint,
  emitPointSide,
  emitSeedBlocks,
  emitValueWord,
  whileLess,
} from './dcf-wasm-common.ts';

/** The locals (and params) that adding a point's value words into its outputs reads. */
interface ValueWordLocals {
  acc: number;
  m: number;
  j: number;
  w: number;
  k: number;
  ap: number;
  e: number;
  tOld: number;
  cw: number;
  bp: number;
  os0: number;
  os1: number;
  side: number;
}

/**
 * Emits, for k < w: acc[k * m + j] += value word k + tOld * cw[e * w + k], the value
 * correction `cw` of the point's key e applied where its control bit was set.
 */
function emitAddValueWords(c: Code, l: ValueWordLocals, first: number, tweakBase: number): void {
  const { acc, m, j, w, k, ap, e, tOld, cw } = l;
  c.i32Const(0).set(k);
  whileLess(c, k, w, (c) => {
    c.get(acc).get(k).get(m).i32Mul().get(j).i32Add().i32Const(3).i32Shl().i32Add().set(ap);
    c.get(ap);
    c.get(ap).i64Load();
    emitValueWord(c, l, first, tweakBase);
    c.i64Add();
    c.get(cw).get(e).get(w).i32Mul().get(k).i32Add().i32Const(3).i32Shl().i32Add().i64Load();
    c.i64Const(0n).get(tOld).select().i64Add();
    c.i64Store();
    c.get(k).i32Const(1).i32Add().set(k);
  });
}

/**
 * level(enc, seeds, ctrl, sides, acc, scw, ccw, vcw, m, keys, w, perSide): one tree level for
 * m points whose keys are j mod keys, with this level's correction words of those keys.
 */
export function levelKernel(): FunctionSpec {
  const [enc, seeds, ctrl, sides, acc, scw, ccw, vcw, m, keys, w, perSide] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
  ];
  const [j, e, side, bp, sp, os0, os1, s0, s1, tNew, tOld, k, ap] = [
    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
  ];
  const c = new Code();
  whileLess(c, j, m, (c) => {
    c.get(sides).get(j).i32Add().i32Load8U().set(side);
    c.get(seeds).get(j).i32Const(4).i32Shl().i32Add().set(sp);
    c.get(enc).get(j).get(perSide).i32Mul().i32Const(4).i32Shl().i32Add().set(bp);
    c.get(sp).i64Load().set(os0);
    c.get(sp).i64Load(8).set(os1);
    // seed block: output ^ input, input = seed ^ (16 side) << 96
    c.get(bp).i64Load().get(os0).i64Xor().set(s0);
    c.get(bp).i64Load(8).get(os1).i64Xor();
    c.get(side).i32Const(4).i32Shl().i64ExtendI32U().i64Const(32n).i64Shl().i64Xor().set(s1);
    c.get(s0).i32WrapI64().i32Const(1).i32And().set(tNew);
    c.get(s0).i64Const(-2n).i64And().set(s0);
    c.get(ctrl).get(j).i32Add().i32Load8U().set(tOld);
    c.get(tOld).if();
    c.get(s0).get(scw).get(e).i32Const(4).i32Shl().i32Add().i64Load().i64Xor().set(s0);
    c.get(s1).get(scw).get(e).i32Const(4).i32Shl().i32Add().i64Load(8).i64Xor().set(s1);
    c.get(tNew)
      .get(ccw)
      .get(e)
      .i32Add()
      .i32Load8U()
      .get(side)
      .i32ShrU()
      .i32Const(1)
      .i32And()
      .i32Xor()
      .set(tNew);
    c.end();
    emitAddValueWords(c, { acc, m, j, w, k, ap, e, tOld, cw: vcw, bp, os0, os1, side }, 1, 0);
    c.get(sp).get(s0).i64Store();
    c.get(sp).get(s1).i64Store(8);
    c.get(ctrl).get(j).i32Add().get(tNew).i32Store8();
    emitNextPoint(c, e, keys, j);
  });
  return {
    name: 'level',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, I64, I64, I64, I64, I32, I32, I32, I32],
    body: c,
  };
}

/**
 * levelFused{1,2}(enc, seeds, ctrl, sides, acc, scw, ccw, vcw, m, keys, x, blocks, nextBitPos,
 * nextBase, nextUseSide, nextPer): `level` for payloads of 1 or 2 words (one value block, so two
 * blocks per point), unrolled and branch-free, which also writes the NEXT step's input blocks
 * (what `prep` would) from the new seeds: one pass over memory per level.
 */
export function levelFusedKernel(w: 1 | 2): FunctionSpec {
  const [
    enc,
    seeds,
    ctrl,
    sides,
    acc,
    scw,
    ccw,
    vcw,
    m,
    keys,
    x,
    blocks,
    nextBitPos,
    nextBase,
    nextUseSide,
    nextPer,
  ] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  let next = 16;
  const i32 = () => next++;
  const [j, e, side, bp, sp, tNew, tOld, cwp, ap, out, k, nside] = Array.from({ length: 12 }, i32);
  const [os0, os1, s0, s1, mask, v] = Array.from({ length: 6 }, i32);
  const c = new Code();
  whileLess(c, j, m, (c) => {
    c.get(sides).get(j).i32Add().i32Load8U().set(side);
    c.get(seeds).get(j).i32Const(4).i32Shl().i32Add().set(sp);
    c.get(enc).get(j).i32Const(5).i32Shl().i32Add().set(bp);
    c.get(sp).i64Load().set(os0);
    c.get(sp).i64Load(8).set(os1);
    c.get(bp).i64Load().get(os0).i64Xor().set(s0);
    c.get(bp).i64Load(8).get(os1).i64Xor().get(side).i64ExtendI32U().i64Const(36n).i64Shl().i64Xor().set(s1);
    c.get(s0).i32WrapI64().i32Const(1).i32And().set(tNew);
    c.get(s0).i64Const(-2n).i64And().set(s0);
    c.get(ctrl).get(j).i32Add().i32Load8U().set(tOld);
    c.i64Const(0n).get(tOld).i64ExtendI32U().i64Sub().set(mask);
    // corrections where t = 1, without branching
    c.get(scw).get(e).i32Const(4).i32Shl().i32Add().set(cwp);
    c.get(s0).get(cwp).i64Load().get(mask).i64And().i64Xor().set(s0);
    c.get(s1).get(cwp).i64Load(8).get(mask).i64And().i64Xor().set(s1);
    c.get(tNew)
      .get(ccw)
      .get(e)
      .i32Add()
      .i32Load8U()
      .get(side)
      .i32ShrU()
      .get(tOld)
      .i32And()
      .i32Xor()
      .set(tNew);
    // value words: block 1 xor (seed ^ tweak), + t * V_CW
    c.get(vcw)
      .get(e)
      .i32Const(w === 1 ? 3 : 4)
      .i32Shl()
      .i32Add()
      .set(cwp);
    c.get(acc).get(j).i32Const(3).i32Shl().i32Add().set(ap);
    c.get(bp).i64Load(16).get(os0).i64Xor().get(cwp).i64Load().get(mask).i64And().i64Add().set(v);
    c.get(ap).get(ap).i64Load().get(v).i64Add().i64Store();
    if (w === 2) {
      c.get(bp).i64Load(24).get(os1).i64Xor();
      c.get(side).i32Const(4).i32Shl().i32Const(1).i32Add().i64ExtendI32U().i64Const(32n).i64Shl().i64Xor();
      c.get(cwp).i64Load(8).get(mask).i64And().i64Add().set(v);
      c.get(ap).get(m).i32Const(3).i32Shl().i32Add().set(ap);
      c.get(ap).get(ap).i64Load().get(v).i64Add().i64Store();
    }
    c.get(sp).get(s0).i64Store();
    c.get(sp).get(s1).i64Store(8);
    c.get(ctrl).get(j).i32Add().get(tNew).i32Store8();
    // the next step's blocks: new seed ^ ((nextBase + 16 side' + k) << 96)
    emitPointSide(c, { x, j, sides, side: nside }, nextBitPos, nextUseSide);
    c.get(blocks).get(j).get(nextPer).i32Mul().i32Const(4).i32Shl().i32Add().set(out);
    emitSeedBlocks(c, { out, s0, s1, k, side: nside }, nextPer, nextBase);
    emitNextPoint(c, e, keys, j);
  });
  const locals = Array.from({ length: next - 16 }, (_, i) => (i < 12 ? I32 : I64));
  return {
    name: `levelFused${w}`,
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I64, I32, I32, I32],
    locals,
    body: c,
  };
}

/** leaf(enc, seeds, ctrl, acc, fcw, m, keys, w, vb): the conversion step and final correction. */
export function leafKernel(): FunctionSpec {
  const [enc, seeds, ctrl, acc, fcw, m, keys, w, vb] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [j, e, side, bp, sp, os0, os1, tOld, k, ap] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
  const c = new Code();
  c.i32Const(0).set(side);
  whileLess(c, j, m, (c) => {
    c.get(seeds).get(j).i32Const(4).i32Shl().i32Add().set(sp);
    c.get(enc).get(j).get(vb).i32Mul().i32Const(4).i32Shl().i32Add().set(bp);
    c.get(sp).i64Load().set(os0);
    c.get(sp).i64Load(8).set(os1);
    c.get(ctrl).get(j).i32Add().i32Load8U().set(tOld);
    emitAddValueWords(c, { acc, m, j, w, k, ap, e, tOld, cw: fcw, bp, os0, os1, side }, 0, CONVERT_TWEAK);
    emitNextPoint(c, e, keys, j);
  });
  return {
    name: 'leaf',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, I64, I64, I32, I32, I32],
    body: c,
  };
}
