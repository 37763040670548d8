/**
 * DCF key-generation kernels: `gen` (one tree level for both parties at once) and `genLeaf`
 * (the final correction word). See ./dcf.ts for the algorithm they implement.
 */
import { Code } from '../ring/wasm-asm.ts';
import type { FunctionSpec } from '../ring/wasm-asm.ts';
import { CONVERT_TWEAK, I32, I64, emitValueWord, whileLess } from './dcf-wasm-common.ts';

/**
 * gen(encL0, encR0, encL1, encR1, seeds0, seeds1, ctrl0, ctrl1, alpha, bitPos, beta, vAlpha,
 *     scw, ccw, vcw, keys, w, perSide): one level of key generation (Gen of ./dcf.ts) for `keys`
 * keys, from both parties' expanded blocks of both sides; writes this level's correction words
 * and advances both parties' seeds, control bits and V_alpha.
 */
export function genKernel(): FunctionSpec {
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
export function genLeafKernel(): FunctionSpec {
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
