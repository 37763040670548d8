/**
 * WebAssembly kernels for DCF evaluation (./dcf.ts), generated at startup with the ring's
 * assembler (../ring/wasm-asm.ts). One tree level of a whole batch is three steps:
 *   `prep`   builds every point's PRG input blocks (its seed xor the tweak of the side its
 *            input bit selects) and records the sides;
 *   AES      one node:crypto AES-ECB call over all blocks (AES-NI), outside WebAssembly;
 *   `level`  completes the Matyas-Meyer-Oseas hash (output xor input), applies the correction
 *            words where the control bit is set, and adds the value words into the outputs.
 * `leaf` does the final conversion step. All arithmetic is native i64 (mod 2^64): no BigInt.
 *
 * The module has its own memory (not the ring kernels'), used as a scratch arena per batch.
 */
import { Code, assembleModule } from '../ring/wasm-asm.ts';
import type { FunctionSpec } from '../ring/wasm-asm.ts';

const I32 = 'i32' as const;
const I64 = 'i64' as const;

/** Tweak base of a side (its seed block; value blocks follow) and of the leaf conversion. */
export const SIDE_TWEAK = 16;
export const CONVERT_TWEAK = 32;

/** `while (i < end) { body; }` over i32 locals; the body advances i itself. */
function whileLess(c: Code, i: number, end: number, body: (c: Code) => void): void {
  c.block().loop();
  c.get(i).get(end).i32GeU().brIf(1);
  body(c);
  c.br(0).end().end();
}

/**
 * prep(x, seeds, blocks, sides, m, bitPos, perSide, base, useSide): for point j, side =
 * bit bitPos of x[j] (0 unless useSide), then perSide blocks seed_j ^ ((base + 16 side + k) << 96).
 */
function prepKernel(): FunctionSpec {
  const [x, seeds, blocks, sides, m, bitPos, perSide, base, useSide] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [j, side, s0, s1, k, out] = [9, 10, 11, 12, 13, 14];
  const c = new Code();
  c.get(blocks).set(out);
  whileLess(c, j, m, (c) => {
    c.i32Const(0).set(side);
    c.get(useSide).if();
    c.get(x)
      .get(j)
      .i32Const(3)
      .i32Shl()
      .i32Add()
      .i64Load()
      .get(bitPos)
      .i64ShrU()
      .i64Const(1n)
      .i64And()
      .i32WrapI64()
      .set(side);
    c.end();
    c.get(sides).get(j).i32Add().get(side).i32Store8();
    c.get(seeds).get(j).i32Const(4).i32Shl().i32Add().i64Load().set(s0);
    c.get(seeds).get(j).i32Const(4).i32Shl().i32Add().i64Load(8).set(s1);
    c.i32Const(0).set(k);
    whileLess(c, k, perSide, (c) => {
      c.get(out).get(s0).i64Store();
      c.get(out).get(s1);
      c.get(base)
        .get(side)
        .i32Const(4)
        .i32Shl()
        .i32Add()
        .get(k)
        .i32Add()
        .i64ExtendI32U()
        .i64Const(32n)
        .i64Shl();
      c.i64Xor().i64Store(8);
      c.get(out).i32Const(16).i32Add().set(out);
      c.get(k).i32Const(1).i32Add().set(k);
    });
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
 * Emits v = value word k of point j (MMO output xor input), leaving it on the stack.
 * Needs locals bp (the point's first block), os0/os1 (its seed before this level), side
 * (0 for the leaf; already 16 side with `sideIsTweak`) and the block offset `first` of value
 * block 0 (1 per level, 0 at the leaf).
 */
function emitValueWord(
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

/**
 * level(enc, seeds, ctrl, sides, acc, scw, ccw, vcw, m, keys, w, perSide): one tree level for
 * m points whose keys are j mod keys, with this level's correction words of those keys.
 */
function levelKernel(): FunctionSpec {
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
    c.i32Const(0).set(k);
    whileLess(c, k, w, (c) => {
      c.get(acc).get(k).get(m).i32Mul().get(j).i32Add().i32Const(3).i32Shl().i32Add().set(ap);
      c.get(ap);
      c.get(ap).i64Load();
      emitValueWord(c, { bp, os0, os1, k, side }, 1, 0);
      c.i64Add();
      // + tOld * vcw[e * w + k]
      c.get(vcw).get(e).get(w).i32Mul().get(k).i32Add().i32Const(3).i32Shl().i32Add().i64Load();
      c.i64Const(0n).get(tOld).select().i64Add();
      c.i64Store();
      c.get(k).i32Const(1).i32Add().set(k);
    });
    c.get(sp).get(s0).i64Store();
    c.get(sp).get(s1).i64Store(8);
    c.get(ctrl).get(j).i32Add().get(tNew).i32Store8();
    c.get(e).i32Const(1).i32Add().tee(e).get(keys).i32Eq().if().i32Const(0).set(e).end();
    c.get(j).i32Const(1).i32Add().set(j);
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
function levelFusedKernel(w: 1 | 2): FunctionSpec {
  const [enc, seeds, ctrl, sides, acc, scw, ccw, vcw, m, keys, x, blocks, nextBitPos, nextBase, nextUseSide, nextPer] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  ];
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
    c.get(tNew).get(ccw).get(e).i32Add().i32Load8U().get(side).i32ShrU().get(tOld).i32And().i32Xor().set(tNew);
    // value words: block 1 xor (seed ^ tweak), + t * V_CW
    c.get(vcw).get(e).i32Const(w === 1 ? 3 : 4).i32Shl().i32Add().set(cwp);
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
    c.i32Const(0).set(nside);
    c.get(nextUseSide).if();
    c.get(x).get(j).i32Const(3).i32Shl().i32Add().i64Load().get(nextBitPos).i64ShrU().i64Const(1n).i64And().i32WrapI64().set(nside);
    c.end();
    c.get(sides).get(j).i32Add().get(nside).i32Store8();
    c.get(blocks).get(j).get(nextPer).i32Mul().i32Const(4).i32Shl().i32Add().set(out);
    c.i32Const(0).set(k);
    whileLess(c, k, nextPer, (c) => {
      c.get(out).get(s0).i64Store();
      c.get(out).get(s1);
      c.get(nextBase).get(nside).i32Const(4).i32Shl().i32Add().get(k).i32Add().i64ExtendI32U().i64Const(32n).i64Shl();
      c.i64Xor().i64Store(8);
      c.get(out).i32Const(16).i32Add().set(out);
      c.get(k).i32Const(1).i32Add().set(k);
    });
    c.get(e).i32Const(1).i32Add().tee(e).get(keys).i32Eq().if().i32Const(0).set(e).end();
    c.get(j).i32Const(1).i32Add().set(j);
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
function leafKernel(): FunctionSpec {
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
    c.i32Const(0).set(k);
    whileLess(c, k, w, (c) => {
      c.get(acc).get(k).get(m).i32Mul().get(j).i32Add().i32Const(3).i32Shl().i32Add().set(ap);
      c.get(ap);
      c.get(ap).i64Load();
      emitValueWord(c, { bp, os0, os1, k, side }, 0, CONVERT_TWEAK);
      c.i64Add();
      c.get(fcw).get(e).get(w).i32Mul().get(k).i32Add().i32Const(3).i32Shl().i32Add().i64Load();
      c.i64Const(0n).get(tOld).select().i64Add();
      c.i64Store();
      c.get(k).i32Const(1).i32Add().set(k);
    });
    c.get(e).i32Const(1).i32Add().tee(e).get(keys).i32Eq().if().i32Const(0).set(e).end();
    c.get(j).i32Const(1).i32Add().set(j);
  });
  return {
    name: 'leaf',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, I64, I64, I32, I32, I32],
    body: c,
  };
}

/**
 * gen(encL0, encR0, encL1, encR1, seeds0, seeds1, ctrl0, ctrl1, alpha, bitPos, beta, vAlpha,
 *     scw, ccw, vcw, keys, w, perSide): one level of key generation (Gen of ./dcf.ts) for `keys`
 * keys, from both parties' expanded blocks of both sides; writes this level's correction words
 * and advances both parties' seeds, control bits and V_alpha.
 */
function genKernel(): FunctionSpec {
  const P = {
    encL0: 0,
    encR0: 1,
    encL1: 2,
    encR1: 3,
    seeds0: 4,
    seeds1: 5,
    ctrl0: 6,
    ctrl1: 7,
    alpha: 8,
    bitPos: 9,
    beta: 10,
    vAlpha: 11,
    scw: 12,
    ccw: 13,
    vcw: 14,
    keys: 15,
    w: 16,
    perSide: 17,
  };
  let next = 18;
  const local = () => next++;
  const [e, a, k, sideKeep, sideLose] = [local(), local(), local(), local(), local()];
  const os0 = [local(), local()];
  const os1 = [local(), local()];
  const t = [local(), local()];
  const tL = [local(), local()];
  const tR = [local(), local()];
  const bpKeep = [local(), local()];
  const bpLose = [local(), local()];
  const keep0 = [local(), local()];
  const keep1 = [local(), local()];
  const lose0 = [local(), local()];
  const lose1 = [local(), local()];
  const [cw0, cw1, tmp, tLCW, tRCW, tKeepCW, vp, va] = [
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
    local(),
  ];
  const types: ('i32' | 'i64')[] = [];
  const i64Locals = new Set([...os0, ...os1, ...keep0, ...keep1, ...lose0, ...lose1, cw0, cw1, tmp]);
  for (let i = 18; i < next; i++) types.push(i64Locals.has(i) ? I64 : I32);
  const encOf = (side: 'L' | 'R', b: number) => (side === 'L' ? [P.encL0, P.encL1] : [P.encR0, P.encR1])[b]!;
  const seedsOf = [P.seeds0, P.seeds1];
  const ctrlOf = [P.ctrl0, P.ctrl1];

  const c = new Code();
  whileLess(c, e, P.keys, (c) => {
    c.get(P.alpha)
      .get(e)
      .i32Const(3)
      .i32Shl()
      .i32Add()
      .i64Load()
      .get(P.bitPos)
      .i64ShrU()
      .i64Const(1n)
      .i64And()
      .i32WrapI64()
      .set(a);
    // keep = the side alpha's bit takes (R if 1), lose = the other
    c.get(a).i32Const(4).i32Shl().set(sideKeep);
    c.i32Const(16).get(sideKeep).i32Sub().set(sideLose);
    for (const b of [0, 1]) {
      c.get(seedsOf[b]!).get(e).i32Const(4).i32Shl().i32Add().i64Load().set(os0[b]!);
      c.get(seedsOf[b]!).get(e).i32Const(4).i32Shl().i32Add().i64Load(8).set(os1[b]!);
      c.get(ctrlOf[b]!).get(e).i32Add().i32Load8U().set(t[b]!);
      // block pointers of both sides; keep/lose by alpha's bit
      const blockOf = (side: 'L' | 'R') =>
        c.get(encOf(side, b)).get(e).get(P.perSide).i32Mul().i32Const(4).i32Shl().i32Add();
      blockOf('R');
      blockOf('L');
      c.get(a).select().set(bpKeep[b]!);
      blockOf('L');
      blockOf('R');
      c.get(a).select().set(bpLose[b]!);
      // seed blocks (MMO: output ^ seed ^ tweak), control bits = their lowest bits
      for (const [bp, side, w0, w1] of [
        [bpKeep[b]!, sideKeep, keep0[b]!, keep1[b]!],
        [bpLose[b]!, sideLose, lose0[b]!, lose1[b]!],
      ] as const) {
        c.get(bp).i64Load().get(os0[b]!).i64Xor().set(w0);
        c.get(bp)
          .i64Load(8)
          .get(os1[b]!)
          .i64Xor()
          .get(side)
          .i64ExtendI32U()
          .i64Const(32n)
          .i64Shl()
          .i64Xor()
          .set(w1);
      }
      // tL / tR from keep/lose
      c.get(lose0[b]!).i32WrapI64().i32Const(1).i32And();
      c.get(keep0[b]!).i32WrapI64().i32Const(1).i32And();
      c.get(a).select().set(tL[b]!); // a = 1: L is the lose side
      c.get(keep0[b]!).i32WrapI64().i32Const(1).i32And();
      c.get(lose0[b]!).i32WrapI64().i32Const(1).i32And();
      c.get(a).select().set(tR[b]!);
      c.get(keep0[b]!).i64Const(-2n).i64And().set(keep0[b]!);
      c.get(lose0[b]!).i64Const(-2n).i64And().set(lose0[b]!);
    }
    // seed correction
    c.get(lose0[0]!).get(lose0[1]!).i64Xor().set(cw0);
    c.get(lose1[0]!).get(lose1[1]!).i64Xor().set(cw1);
    c.get(P.scw).get(e).i32Const(4).i32Shl().i32Add().get(cw0).i64Store();
    c.get(P.scw).get(e).i32Const(4).i32Shl().i32Add().get(cw1).i64Store(8);
    // value corrections
    c.i32Const(0).set(k);
    whileLess(c, k, P.w, (c) => {
      c.get(P.vAlpha).get(e).get(P.w).i32Mul().get(k).i32Add().i32Const(3).i32Shl().i32Add().set(va);
      // tmp = v1_lose - v0_lose - V_alpha + a * beta
      emitValueWord(c, { bp: bpLose[1]!, os0: os0[1]!, os1: os1[1]!, k, side: sideLose }, 1, 0, true);
      emitValueWord(c, { bp: bpLose[0]!, os0: os0[0]!, os1: os1[0]!, k, side: sideLose }, 1, 0, true);
      c.i64Sub();
      c.get(va).i64Load().i64Sub();
      c.get(P.beta).get(k).get(P.keys).i32Mul().get(e).i32Add().i32Const(3).i32Shl().i32Add().i64Load();
      c.i64Const(0n).get(a).select().i64Add();
      c.set(tmp);
      // V_alpha += v0_keep - v1_keep + tmp
      c.get(va);
      c.get(va).i64Load();
      emitValueWord(c, { bp: bpKeep[0]!, os0: os0[0]!, os1: os1[0]!, k, side: sideKeep }, 1, 0, true);
      c.i64Add();
      emitValueWord(c, { bp: bpKeep[1]!, os0: os0[1]!, os1: os1[1]!, k, side: sideKeep }, 1, 0, true);
      c.i64Sub().get(tmp).i64Add().i64Store();
      // V_CW = (-1)^t1 tmp
      c.get(P.vcw).get(e).get(P.w).i32Mul().get(k).i32Add().i32Const(3).i32Shl().i32Add().set(vp);
      c.get(vp);
      c.i64Const(0n).get(tmp).i64Sub();
      c.get(tmp);
      c.get(t[1]!).select();
      c.i64Store();
      c.get(k).i32Const(1).i32Add().set(k);
    });
    // control corrections and the next level's state
    c.get(tL[0]!).get(tL[1]!).i32Xor().get(a).i32Xor().i32Const(1).i32Xor().set(tLCW);
    c.get(tR[0]!).get(tR[1]!).i32Xor().get(a).i32Xor().set(tRCW);
    c.get(P.ccw).get(e).i32Add().get(tLCW).get(tRCW).i32Const(1).i32Shl().i32Or().i32Store8();
    c.get(tRCW).get(tLCW).get(a).select().set(tKeepCW);
    for (const b of [0, 1]) {
      const mask = () => c.i64Const(0n).get(t[b]!).i64ExtendI32U().i64Sub(); // all ones when t = 1
      c.get(seedsOf[b]!).get(e).i32Const(4).i32Shl().i32Add();
      c.get(keep0[b]!).get(cw0);
      mask();
      c.i64And().i64Xor().i64Store();
      c.get(seedsOf[b]!).get(e).i32Const(4).i32Shl().i32Add();
      c.get(keep1[b]!).get(cw1);
      mask();
      c.i64And().i64Xor().i64Store(8);
      c.get(ctrlOf[b]!).get(e).i32Add();
      c.get(tR[b]!).get(tL[b]!).get(a).select();
      c.get(t[b]!).get(tKeepCW).i32And().i32Xor().i32Store8();
    }
    c.get(e).i32Const(1).i32Add().set(e);
  });
  return {
    name: 'gen',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I64, I32, I32, I32, I32, I32, I32, I32, I32],
    locals: types,
    body: c,
  };
}

/** genLeaf(enc0, enc1, ctrl1, vAlpha, fcw, keys, w, vb): CW_{n+1} = (-1)^t1 [c1 - c0 - V_alpha]. */
function genLeafKernel(): FunctionSpec {
  const [enc0, enc1, seeds0, seeds1, ctrl1, vAlpha, fcw, keys, w, vb] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [e, k, side, bp0, bp1, a0, a1, b0, b1, tmp, at] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
  const c = new Code();
  whileLess(c, e, keys, (c) => {
    c.get(enc0).get(e).get(vb).i32Mul().i32Const(4).i32Shl().i32Add().set(bp0);
    c.get(enc1).get(e).get(vb).i32Mul().i32Const(4).i32Shl().i32Add().set(bp1);
    c.get(seeds0).get(e).i32Const(4).i32Shl().i32Add().i64Load().set(a0);
    c.get(seeds0).get(e).i32Const(4).i32Shl().i32Add().i64Load(8).set(a1);
    c.get(seeds1).get(e).i32Const(4).i32Shl().i32Add().i64Load().set(b0);
    c.get(seeds1).get(e).i32Const(4).i32Shl().i32Add().i64Load(8).set(b1);
    c.i32Const(0).set(k);
    whileLess(c, k, w, (c) => {
      emitValueWord(c, { bp: bp1, os0: b0, os1: b1, k, side }, 0, CONVERT_TWEAK);
      emitValueWord(c, { bp: bp0, os0: a0, os1: a1, k, side }, 0, CONVERT_TWEAK);
      c.i64Sub();
      c.get(vAlpha).get(e).get(w).i32Mul().get(k).i32Add().i32Const(3).i32Shl().i32Add().i64Load();
      c.i64Sub().set(tmp);
      c.get(fcw).get(e).get(w).i32Mul().get(k).i32Add().i32Const(3).i32Shl().i32Add().set(at);
      c.get(at);
      c.i64Const(0n).get(tmp).i64Sub();
      c.get(tmp);
      c.get(ctrl1).get(e).i32Add().i32Load8U();
      c.select().i64Store();
      c.get(k).i32Const(1).i32Add().set(k);
    });
    c.get(e).i32Const(1).i32Add().set(e);
  });
  return {
    name: 'genLeaf',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, I64, I64, I64, I64, I64, I32],
    body: c,
  };
}

type LevelFused = (
  enc: number,
  seeds: number,
  ctrl: number,
  sides: number,
  acc: number,
  scw: number,
  ccw: number,
  vcw: number,
  m: number,
  keys: number,
  x: number,
  blocks: number,
  nextBitPos: bigint,
  nextBase: number,
  nextUseSide: number,
  nextPer: number,
) => void;

export interface DcfKernels {
  prep(
    x: number,
    seeds: number,
    blocks: number,
    sides: number,
    m: number,
    bitPos: bigint,
    perSide: number,
    base: number,
    useSide: number,
  ): void;
  level(
    enc: number,
    seeds: number,
    ctrl: number,
    sides: number,
    acc: number,
    scw: number,
    ccw: number,
    vcw: number,
    m: number,
    keys: number,
    w: number,
    perSide: number,
  ): void;
  leaf(
    enc: number,
    seeds: number,
    ctrl: number,
    acc: number,
    fcw: number,
    m: number,
    keys: number,
    w: number,
    vb: number,
  ): void;
  levelFused1: LevelFused;
  levelFused2: LevelFused;
  gen(
    encL0: number,
    encR0: number,
    encL1: number,
    encR1: number,
    seeds0: number,
    seeds1: number,
    ctrl0: number,
    ctrl1: number,
    alpha: number,
    bitPos: bigint,
    beta: number,
    vAlpha: number,
    scw: number,
    ccw: number,
    vcw: number,
    keys: number,
    w: number,
    perSide: number,
  ): void;
  genLeaf(
    enc0: number,
    enc1: number,
    seeds0: number,
    seeds1: number,
    ctrl1: number,
    vAlpha: number,
    fcw: number,
    keys: number,
    w: number,
    vb: number,
  ): void;
}

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (desc: { initial: number; maximum: number }) => WasmMemory;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: object };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const PAGE = 65536;
const MAX_PAGES = 65536;

/** The kernels and a bump arena over their memory. */
export class DcfWasm {
  readonly k: DcfKernels;
  private readonly memory: WasmMemory;
  private top = 0;

  constructor() {
    this.memory = new WA.Memory({ initial: 16, maximum: MAX_PAGES });
    const bytes = assembleModule(
      { module: 'env', field: 'mem', initialPages: 16, maximumPages: MAX_PAGES, shared: false },
      [prepKernel(), levelKernel(), leafKernel(), genKernel(), genLeafKernel(), levelFusedKernel(1), levelFusedKernel(2)],
    );
    const instance = new WA.Instance(new WA.Module(bytes), { env: { mem: this.memory } });
    this.k = instance.exports as unknown as DcfKernels;
  }

  /** Frees everything allocated so far. */
  reset(): void {
    this.top = 0;
  }

  /** `bytes` of zeroed, 16-byte aligned memory; returns the offset. */
  alloc(bytes: number): number {
    const at = this.top;
    this.top = (at + bytes + 15) & ~15;
    const have = this.memory.buffer.byteLength;
    if (this.top > have) this.memory.grow(Math.ceil((this.top - have) / PAGE));
    new Uint8Array(this.memory.buffer, at, bytes).fill(0);
    return at;
  }

  bytes(at: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, at, length);
  }

  words(at: number, count: number): BigInt64Array {
    return new BigInt64Array(this.memory.buffer, at, count);
  }
}

let instance: DcfWasm | undefined;

/** The per-thread kernel instance. */
export function dcfWasm(): DcfWasm {
  instance ??= new DcfWasm();
  return instance;
}
