/**
 * DCF key-generation kernels: `gen` (one tree level for both parties at once) and `genLeaf`
 * (the final correction word). See ./dcf.ts for the algorithm they implement and
 * ./dcf-wasm-common.ts for the memory layout; here the arrays are per key (e < keys), and
 * both parties' seeds and control bits are advanced side by side.
 */
import type { FunctionSpec } from '../ring/wasm-asm.ts';
import type { Local } from '../ring/wasm-expr.ts';
import { FunctionBuilder, i32, i64, select } from '../ring/wasm-expr.ts';
import { CONVERT_TWEAK, I32, I64, at16, at8, valueWord } from './dcf-wasm-common.ts';

/**
 * gen(encL0, encR0, encL1, encR1, seeds0, seeds1, ctrl0, ctrl1, alpha, bitPos, beta, vAlpha,
 *     scw, ccw, vcw, keys, w, perSide): one level of key generation (Gen of ./dcf.ts) for `keys`
 * keys, from both parties' expanded blocks of both sides (encL0: party 0's left blocks, perSide
 * per key); writes this level's correction words and advances both parties' seeds, control
 * bits and V_alpha (w words per key). alpha: keys words, compared at bit bitPos; beta: w
 * planes of `keys` words.
 *
 * Per key: a = alpha's bit; `keep` is the side a takes, `lose` the other. The seed correction
 * is the xor of the parties' lose seeds; the value correction makes the parties' lose-side
 * values differ by V_alpha - a beta, and V_alpha accumulates the keep-side difference.
 */
export function genKernel(): FunctionSpec {
  const f = new FunctionBuilder('gen');
  const P = f.params({
    encL0: I32,
    encR0: I32,
    encL1: I32,
    encR1: I32,
    seeds0: I32,
    seeds1: I32,
    ctrl0: I32,
    ctrl1: I32,
    alpha: I32,
    bitPos: I64,
    beta: I32,
    vAlpha: I32,
    scw: I32,
    ccw: I32,
    vcw: I32,
    keys: I32,
    w: I32,
    perSide: I32,
  });
  const { e, a, k, sideKeep, sideLose } = f.locals({ e: I32, a: I32, k: I32, sideKeep: I32, sideLose: I32 });
  // One local per party b for each of these.
  const perParty = (name: string, type: 'i32' | 'i64'): readonly [Local, Local] => [
    f.local(`${name}_p0`, type),
    f.local(`${name}_p1`, type),
  ];
  // os0/os1: the seed before this level; t: its control bit; tL/tR: the children's bits
  const os0 = perParty('os0', I64);
  const os1 = perParty('os1', I64);
  const t = perParty('t', I32);
  const tL = perParty('tL', I32);
  const tR = perParty('tR', I32);
  // the blocks of the keep and lose sides, and the child seeds (words 0/1) expanded there
  const bpKeep = perParty('bpKeep', I32);
  const bpLose = perParty('bpLose', I32);
  const keep0 = perParty('keep0', I64);
  const keep1 = perParty('keep1', I64);
  const lose0 = perParty('lose0', I64);
  const lose1 = perParty('lose1', I64);
  const { cw0, cw1, tmp, tLCW, tRCW, tKeepCW, vp, va } = f.locals({
    cw0: I64,
    cw1: I64,
    tmp: I64,
    tLCW: I32,
    tRCW: I32,
    tKeepCW: I32,
    vp: I32,
    va: I32,
  });
  const enc = { L: [P.encL0, P.encL1], R: [P.encR0, P.encR1] } as const;
  const seeds = [P.seeds0, P.seeds1] as const;
  const ctrl = [P.ctrl0, P.ctrl1] as const;
  const parties = [0, 1] as const;
  // value word k of party b's keep / lose side
  const keepWord = (b: 0 | 1) =>
    valueWord({ bp: bpKeep[b], os0: os0[b], os1: os1[b], k, side: sideKeep }, 1, 0, true);
  const loseWord = (b: 0 | 1) =>
    valueWord({ bp: bpLose[b], os0: os0[b], os1: os1[b], k, side: sideLose }, 1, 0, true);
  const lowBit = (x: Local) => i32.and(i32.wrap_i64(x), 1);

  return f.build((s) => {
    s.whileLess(e, P.keys, (s) => {
      s.set(a, i32.wrap_i64(i64.and(i64.shr_u(i64.load(at8(P.alpha, e)), P.bitPos), 1n)));
      // keep = the side alpha's bit takes (R if 1), lose = the other; as tweaks 16 side
      s.set(sideKeep, i32.shl(a, 4));
      s.set(sideLose, i32.sub(16, sideKeep));
      for (const b of parties) {
        s.set(os0[b], i64.load(at16(seeds[b], e)));
        s.set(os1[b], i64.load(at16(seeds[b], e), 8));
        s.set(t[b], i32.load8_u(i32.add(ctrl[b], e)));
        const blocksOf = (side: 'L' | 'R') => at16(enc[side][b], i32.mul(e, P.perSide));
        s.set(bpKeep[b], select(blocksOf('R'), blocksOf('L'), a));
        s.set(bpLose[b], select(blocksOf('L'), blocksOf('R'), a));
        // seed blocks (MMO: output ^ seed ^ tweak), control bits = their lowest bits
        for (const [bp, side, w0, w1] of [
          [bpKeep[b], sideKeep, keep0[b], keep1[b]],
          [bpLose[b], sideLose, lose0[b], lose1[b]],
        ] as const) {
          s.set(w0, i64.xor(i64.load(bp), os0[b]));
          s.set(w1, i64.xor(i64.xor(i64.load(bp, 8), os1[b]), i64.shl(i64.extend_i32_u(side), 32n)));
        }
        // a = 1: L is the lose side
        s.set(tL[b], select(lowBit(lose0[b]), lowBit(keep0[b]), a));
        s.set(tR[b], select(lowBit(keep0[b]), lowBit(lose0[b]), a));
        s.set(keep0[b], i64.and(keep0[b], -2n));
        s.set(lose0[b], i64.and(lose0[b], -2n));
      }
      // seed correction
      s.set(cw0, i64.xor(lose0[0], lose0[1]));
      s.set(cw1, i64.xor(lose1[0], lose1[1]));
      s.emit(i64.store(at16(P.scw, e), cw0));
      s.emit(i64.store(at16(P.scw, e), cw1, 8));
      // value corrections
      s.set(k, 0);
      s.whileLess(k, P.w, (s) => {
        s.set(va, at8(P.vAlpha, i32.add(i32.mul(e, P.w), k)));
        // tmp = v1_lose - v0_lose - V_alpha + a * beta
        const aBeta = select(i64.load(at8(P.beta, i32.add(i32.mul(k, P.keys), e))), 0n, a);
        s.set(tmp, i64.add(i64.sub(i64.sub(loseWord(1), loseWord(0)), i64.load(va)), aBeta));
        // V_alpha += v0_keep - v1_keep + tmp
        s.emit(i64.store(va, i64.add(i64.sub(i64.add(i64.load(va), keepWord(0)), keepWord(1)), tmp)));
        // V_CW = (-1)^t1 tmp
        s.set(vp, at8(P.vcw, i32.add(i32.mul(e, P.w), k)));
        s.emit(i64.store(vp, select(i64.sub(0n, tmp), tmp, t[1])));
        s.set(k, i32.add(k, 1));
      });
      // control corrections and the next level's state
      s.set(tLCW, i32.xor(i32.xor(i32.xor(tL[0], tL[1]), a), 1));
      s.set(tRCW, i32.xor(i32.xor(tR[0], tR[1]), a));
      s.emit(i32.store8(i32.add(P.ccw, e), i32.or(tLCW, i32.shl(tRCW, 1))));
      s.set(tKeepCW, select(tRCW, tLCW, a));
      for (const b of parties) {
        const mask = i64.sub(0n, i64.extend_i32_u(t[b])); // all ones when t = 1
        s.emit(i64.store(at16(seeds[b], e), i64.xor(keep0[b], i64.and(cw0, mask))));
        s.emit(i64.store(at16(seeds[b], e), i64.xor(keep1[b], i64.and(cw1, mask)), 8));
        s.emit(i32.store8(i32.add(ctrl[b], e), i32.xor(select(tR[b], tL[b], a), i32.and(t[b], tKeepCW))));
      }
      s.set(e, i32.add(e, 1));
    });
  });
}

/**
 * genLeaf(enc0, enc1, seeds0, seeds1, ctrl1, vAlpha, fcw, keys, w, vb): the final correction
 * word CW_{n+1} = (-1)^t1 [c1 - c0 - V_alpha] per key, c_b being party b's converted leaf (the
 * vb value blocks per key at enc_b, expanded with CONVERT_TWEAK); fcw: w words per key.
 */
export function genLeafKernel(): FunctionSpec {
  const f = new FunctionBuilder('genLeaf');
  const { enc0, enc1, seeds0, seeds1, ctrl1, vAlpha, fcw, keys, w, vb } = f.params({
    enc0: I32,
    enc1: I32,
    seeds0: I32,
    seeds1: I32,
    ctrl1: I32,
    vAlpha: I32,
    fcw: I32,
    keys: I32,
    w: I32,
    vb: I32,
  });
  // a0/a1: party 0's seed, b0/b1 party 1's; side stays 0 (the leaf has one side)
  const { e, k, side, bp0, bp1, a0, a1, b0, b1, tmp, at } = f.locals({
    e: I32,
    k: I32,
    side: I32,
    bp0: I32,
    bp1: I32,
    a0: I64,
    a1: I64,
    b0: I64,
    b1: I64,
    tmp: I64,
    at: I32,
  });
  return f.build((s) => {
    s.whileLess(e, keys, (s) => {
      s.set(bp0, at16(enc0, i32.mul(e, vb)));
      s.set(bp1, at16(enc1, i32.mul(e, vb)));
      s.set(a0, i64.load(at16(seeds0, e)));
      s.set(a1, i64.load(at16(seeds0, e), 8));
      s.set(b0, i64.load(at16(seeds1, e)));
      s.set(b1, i64.load(at16(seeds1, e), 8));
      s.set(k, 0);
      s.whileLess(k, w, (s) => {
        const c1 = valueWord({ bp: bp1, os0: b0, os1: b1, k, side }, 0, CONVERT_TWEAK);
        const c0 = valueWord({ bp: bp0, os0: a0, os1: a1, k, side }, 0, CONVERT_TWEAK);
        s.set(tmp, i64.sub(i64.sub(c1, c0), i64.load(at8(vAlpha, i32.add(i32.mul(e, w), k)))));
        s.set(at, at8(fcw, i32.add(i32.mul(e, w), k)));
        s.emit(i64.store(at, select(i64.sub(0n, tmp), tmp, i32.load8_u(i32.add(ctrl1, e)))));
        s.set(k, i32.add(k, 1));
      });
      s.set(e, i32.add(e, 1));
    });
  });
}
