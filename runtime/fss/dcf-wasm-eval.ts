/**
 * DCF evaluation kernels: `level` (any payload width), `levelFused1/2` (payloads of one or two
 * words, also writing the next level's PRG inputs) and `leaf` (the final conversion step).
 * See ./dcf-wasm.ts for how a level runs and ./dcf-wasm-common.ts for the memory layout.
 */
import type { FunctionSpec } from '../ring/wasm-asm.ts';
import type { Body, Local } from '../ring/wasm-expr.ts';
import { FunctionBuilder, i32, i64, select } from '../ring/wasm-expr.ts';
import {
  CONVERT_TWEAK,
  I32,
  I64,
  at16,
  at8,
  nextPoint,
  pointSide,
  seedBlocks,
  valueWord,
} from './dcf-wasm-common.ts';

/** The locals (and params) that adding a point's value words into its outputs reads. */
interface ValueWordLocals {
  acc: Local;
  m: Local;
  j: Local;
  w: Local;
  k: Local;
  ap: Local;
  e: Local;
  tOld: Local;
  cw: Local;
  bp: Local;
  os0: Local;
  os1: Local;
  side: Local;
}

/**
 * Emits, for k < w: acc[k * m + j] += value word k + tOld * cw[e * w + k], the value
 * correction `cw` of the point's key e applied where its control bit was set.
 */
function addValueWords(s: Body, l: ValueWordLocals, first: number, tweakBase: number): void {
  const { acc, m, j, w, k, ap, e, tOld, cw } = l;
  s.set(k, 0);
  s.whileLess(k, w, (s) => {
    s.set(ap, at8(acc, i32.add(i32.mul(k, m), j)));
    const correction = select(i64.load(at8(cw, i32.add(i32.mul(e, w), k))), 0n, tOld);
    s.emit(i64.store(ap, i64.add(i64.add(i64.load(ap), valueWord(l, first, tweakBase)), correction)));
    s.set(k, i32.add(k, 1));
  });
}

/**
 * level(enc, seeds, ctrl, sides, acc, scw, ccw, vcw, m, keys, w, perSide): one tree level for
 * m points whose keys are j mod keys, with this level's correction words of those keys. Per
 * point: the seed block of its side completes the MMO hash (new seed and control bit); where
 * the old control bit is set, the seed and control corrections apply; the value words are
 * added into acc; the new seed and bit replace the old ones.
 */
export function levelKernel(): FunctionSpec {
  const f = new FunctionBuilder('level');
  const { enc, seeds, ctrl, sides, acc, scw, ccw, vcw, m, keys, w, perSide } = f.params({
    enc: I32,
    seeds: I32,
    ctrl: I32,
    sides: I32,
    acc: I32,
    scw: I32,
    ccw: I32,
    vcw: I32,
    m: I32,
    keys: I32,
    w: I32,
    perSide: I32,
  });
  // bp: the point's blocks; sp: its seed; os0/os1: the old seed, s0/s1 the new one
  const { j, e, side, bp, sp, os0, os1, s0, s1, tNew, tOld, k, ap } = f.locals({
    j: I32,
    e: I32,
    side: I32,
    bp: I32,
    sp: I32,
    os0: I64,
    os1: I64,
    s0: I64,
    s1: I64,
    tNew: I32,
    tOld: I32,
    k: I32,
    ap: I32,
  });
  return f.build((s) => {
    s.whileLess(j, m, (s) => {
      s.set(side, i32.load8_u(i32.add(sides, j)));
      s.set(sp, at16(seeds, j));
      s.set(bp, at16(enc, i32.mul(j, perSide)));
      s.set(os0, i64.load(sp));
      s.set(os1, i64.load(sp, 8));
      // seed block: output ^ input, input = seed ^ (16 side) << 96
      s.set(s0, i64.xor(i64.load(bp), os0));
      s.set(s1, i64.xor(i64.xor(i64.load(bp, 8), os1), i64.shl(i64.extend_i32_u(i32.shl(side, 4)), 32n)));
      s.set(tNew, i32.and(i32.wrap_i64(s0), 1));
      s.set(s0, i64.and(s0, -2n));
      s.set(tOld, i32.load8_u(i32.add(ctrl, j)));
      s.ifThen(tOld, (s) => {
        s.set(s0, i64.xor(s0, i64.load(at16(scw, e))));
        s.set(s1, i64.xor(s1, i64.load(at16(scw, e), 8)));
        s.set(tNew, i32.xor(tNew, i32.and(i32.shr_u(i32.load8_u(i32.add(ccw, e)), side), 1)));
      });
      addValueWords(s, { acc, m, j, w, k, ap, e, tOld, cw: vcw, bp, os0, os1, side }, 1, 0);
      s.emit(i64.store(sp, s0));
      s.emit(i64.store(sp, s1, 8));
      s.emit(i32.store8(i32.add(ctrl, j), tNew));
      nextPoint(s, e, keys, j);
    });
  });
}

/**
 * levelFused{1,2}(enc, seeds, ctrl, sides, acc, scw, ccw, vcw, m, keys, x, blocks, nextBitPos,
 * nextBase, nextUseSide, nextPer): `level` for payloads of 1 or 2 words (one value block, so two
 * blocks per point), unrolled and branch-free (the corrections are masked by the control bit),
 * which also writes the NEXT step's input blocks (what `prep` would) from the new seeds: one
 * pass over memory per level.
 */
export function levelFusedKernel(w: 1 | 2): FunctionSpec {
  const f = new FunctionBuilder(`levelFused${w}`);
  const p = f.params({
    enc: I32,
    seeds: I32,
    ctrl: I32,
    sides: I32,
    acc: I32,
    scw: I32,
    ccw: I32,
    vcw: I32,
    m: I32,
    keys: I32,
    x: I32,
    blocks: I32,
    nextBitPos: I64,
    nextBase: I32,
    nextUseSide: I32,
    nextPer: I32,
  });
  const { enc, seeds, ctrl, sides, acc, scw, ccw, vcw, m, keys, x, blocks } = p;
  // cwp: the key's correction words; out: the next step's blocks; nside: the next side;
  // mask: all ones where the old control bit is set; v: a value word with its correction
  const { j, e, side, bp, sp, tNew, tOld, cwp, ap, out, k, nside } = f.locals({
    j: I32,
    e: I32,
    side: I32,
    bp: I32,
    sp: I32,
    tNew: I32,
    tOld: I32,
    cwp: I32,
    ap: I32,
    out: I32,
    k: I32,
    nside: I32,
  });
  const { os0, os1, s0, s1, mask, v } = f.locals({ os0: I64, os1: I64, s0: I64, s1: I64, mask: I64, v: I64 });
  return f.build((s) => {
    s.whileLess(j, m, (s) => {
      s.set(side, i32.load8_u(i32.add(sides, j)));
      s.set(sp, at16(seeds, j));
      s.set(bp, i32.add(enc, i32.shl(j, 5))); // two 16-byte blocks per point
      s.set(os0, i64.load(sp));
      s.set(os1, i64.load(sp, 8));
      // seed block: output ^ seed ^ (16 side) << 96
      s.set(s0, i64.xor(i64.load(bp), os0));
      s.set(s1, i64.xor(i64.xor(i64.load(bp, 8), os1), i64.shl(i64.extend_i32_u(side), 36n)));
      s.set(tNew, i32.and(i32.wrap_i64(s0), 1));
      s.set(s0, i64.and(s0, -2n));
      s.set(tOld, i32.load8_u(i32.add(ctrl, j)));
      s.set(mask, i64.sub(0n, i64.extend_i32_u(tOld)));
      // corrections where t = 1, without branching
      s.set(cwp, at16(scw, e));
      s.set(s0, i64.xor(s0, i64.and(i64.load(cwp), mask)));
      s.set(s1, i64.xor(s1, i64.and(i64.load(cwp, 8), mask)));
      s.set(tNew, i32.xor(tNew, i32.and(i32.shr_u(i32.load8_u(i32.add(ccw, e)), side), tOld)));
      // value words: block 1 xor (seed ^ tweak), + t * V_CW
      s.set(cwp, i32.add(vcw, i32.shl(e, w === 1 ? 3 : 4)));
      s.set(ap, at8(acc, j));
      s.set(v, i64.add(i64.xor(i64.load(bp, 16), os0), i64.and(i64.load(cwp), mask)));
      s.emit(i64.store(ap, i64.add(i64.load(ap), v)));
      if (w === 2) {
        const tweak = i64.shl(i64.extend_i32_u(i32.add(i32.shl(side, 4), 1)), 32n);
        s.set(v, i64.add(i64.xor(i64.xor(i64.load(bp, 24), os1), tweak), i64.and(i64.load(cwp, 8), mask)));
        s.set(ap, i32.add(ap, i32.shl(m, 3)));
        s.emit(i64.store(ap, i64.add(i64.load(ap), v)));
      }
      s.emit(i64.store(sp, s0));
      s.emit(i64.store(sp, s1, 8));
      s.emit(i32.store8(i32.add(ctrl, j), tNew));
      // the next step's blocks: new seed ^ ((nextBase + 16 side' + k) << 96)
      pointSide(s, { x, j, sides, side: nside }, p.nextBitPos, p.nextUseSide);
      s.set(out, at16(blocks, i32.mul(j, p.nextPer)));
      seedBlocks(s, { out, s0, s1, k, side: nside }, p.nextPer, p.nextBase);
      nextPoint(s, e, keys, j);
    });
  });
}

/**
 * leaf(enc, seeds, ctrl, acc, fcw, m, keys, w, vb): the conversion step and final correction:
 * acc[k * m + j] += word k of the leaf seed's expansion (vb blocks per point at enc, tweak
 * CONVERT_TWEAK) + tOld * fcw[e * w + k].
 */
export function leafKernel(): FunctionSpec {
  const f = new FunctionBuilder('leaf');
  const { enc, seeds, ctrl, acc, fcw, m, keys, w, vb } = f.params({
    enc: I32,
    seeds: I32,
    ctrl: I32,
    acc: I32,
    fcw: I32,
    m: I32,
    keys: I32,
    w: I32,
    vb: I32,
  });
  const { j, e, side, bp, sp, os0, os1, tOld, k, ap } = f.locals({
    j: I32,
    e: I32,
    side: I32,
    bp: I32,
    sp: I32,
    os0: I64,
    os1: I64,
    tOld: I32,
    k: I32,
    ap: I32,
  });
  return f.build((s) => {
    s.set(side, 0);
    s.whileLess(j, m, (s) => {
      s.set(sp, at16(seeds, j));
      s.set(bp, at16(enc, i32.mul(j, vb)));
      s.set(os0, i64.load(sp));
      s.set(os1, i64.load(sp, 8));
      s.set(tOld, i32.load8_u(i32.add(ctrl, j)));
      addValueWords(s, { acc, m, j, w, k, ap, e, tOld, cw: fcw, bp, os0, os1, side }, 0, CONVERT_TWEAK);
      nextPoint(s, e, keys, j);
    });
  });
}
