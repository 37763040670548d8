/**
 * Distributed comparison function (DCF), batched: the construction of Boyle, Chandran, Gilboa,
 * Gupta, Ishai, Kumar and Rathee, "Function Secret Sharing for Mixed-Mode and Fixed-Point Secure
 * Computation" (EUROCRYPT 2021, Fig. 1), with the fixed-key AES PRG of ./prg.ts.
 *
 * A key pair (k0, k1) for (alpha, beta) shares the function
 *     f(x) = beta   if x < alpha      (unsigned, on the low `bits` bits)
 *            0      otherwise
 * with output group G = (Z_2^64)^w (beta is a vector of w ring words): Eval(0, k0, x) +
 * Eval(1, k1, x) = f(x) for every x, and each key alone is pseudorandom (hides alpha and beta).
 *
 * Keys are generated and evaluated for a whole tensor at once, level by level of the tree, so
 * each level is one AES call over all elements. A key holds the party's root seed (16 bytes) and
 * the correction words shared by both keys: per level a 128-bit seed correction, two control-bit
 * corrections and a w-word value correction, and a final w-word correction. A key can be
 * evaluated at any number of points; every evaluation yields fresh shares of f at that point.
 */
import { add64, bit64, neg64, sub64, wordsOf } from './words.ts';
import { hashBlocksInPlace, prepareBlock } from './prg.ts';

/** Size of a batch of DCF keys. */
export interface DcfShape {
  /** Input bits compared (1..64): x and alpha are compared as unsigned `bits`-bit integers. */
  readonly bits: number;
  /** Ring words in the output group element (w >= 1). */
  readonly payloadWords: number;
  /** Number of keys (one per tensor element). */
  readonly count: number;
}

/** The correction words, identical in both parties' keys; arrays are level-major. */
export interface DcfCorrections extends DcfShape {
  /** bits * count seeds of 4 words. */
  readonly seedCW: Uint32Array;
  /** bits * count control corrections: bit 0 = left, bit 1 = right. */
  readonly controlCW: Uint8Array;
  /** bits * count * payloadWords ring words. */
  readonly valueCW: BigInt64Array;
  /** count * payloadWords ring words. */
  readonly finalCW: BigInt64Array;
}

/** Party b's batch of DCF keys. */
export interface DcfKeys {
  readonly party: 0 | 1;
  /** count root seeds of 4 words: the only party-specific part of a key. */
  readonly rootSeeds: Uint32Array;
  readonly corrections: DcfCorrections;
}

// Block tweaks: a side's seed block, then its value blocks; the leaf conversion blocks after both.
const SIDE_TWEAK = 16;
const CONVERT_TWEAK = 32;

/** 128-bit blocks holding one side's value words. */
function valueBlocks(payloadWords: number): number {
  return Math.ceil(payloadWords / 2);
}

function checkShape(shape: DcfShape): void {
  const { bits, payloadWords, count } = shape;
  if (!Number.isInteger(bits) || bits < 1 || bits > 64) throw new Error(`DCF input bits must be 1..64, got ${bits}`);
  if (!Number.isInteger(payloadWords) || payloadWords < 1 || payloadWords >= 2 * (SIDE_TWEAK - 1))
    throw new Error(`DCF payload words must be 1..${2 * (SIDE_TWEAK - 1) - 1}, got ${payloadWords}`);
  if (!Number.isInteger(count) || count < 0) throw new Error(`DCF key count must be a natural number, got ${count}`);
}

/** Bytes of the correction words of a batch (what the dealer sends to each party). */
export function dcfCorrectionBytes(shape: DcfShape): number {
  const { bits, payloadWords: w, count: n } = shape;
  return bits * n * 16 + Math.ceil((bits * n * 2) / 8) + bits * n * w * 8 + n * w * 8;
}

/**
 * Hashes each of `count` seeds (4 words each) into `blocksPer` consecutive blocks with tweaks
 * firstTweak, firstTweak + 1, ...; with `bothSides` the seed is expanded twice, into the left
 * side's tweaks (0...) and the right side's (SIDE_TWEAK...), left blocks first. Seed-major result.
 */
function expand(seeds: Uint32Array, count: number, blocksPer: number, firstTweak: number, bothSides: boolean): Uint32Array {
  const sides = bothSides ? 2 : 1;
  const stride = blocksPer * 4 * sides;
  const out = new Uint32Array(count * stride);
  for (let e = 0; e < count; e++) {
    for (let side = 0; side < sides; side++) {
      const base = e * stride + side * blocksPer * 4;
      const tw = firstTweak + side * SIDE_TWEAK;
      for (let k = 0; k < blocksPer; k++) prepareBlock(out, base + 4 * k, seeds, e * 4, tw + k);
    }
  }
  hashBlocksInPlace(out);
  return out;
}

/**
 * Dealer side: correction words for `count` keys. alpha[e] is compared on its low `bits` bits;
 * beta holds payloadWords planes of count words (word k of key e's beta at k * count + e). rootSeeds0/1 are the parties'
 * root seeds (count * 4 words each, uniformly random or derived from the parties' PRG keys).
 */
export function dcfGen(
  shape: DcfShape,
  alpha: BigInt64Array,
  beta: BigInt64Array,
  rootSeeds0: Uint32Array,
  rootSeeds1: Uint32Array,
): DcfCorrections {
  checkShape(shape);
  const { bits, payloadWords: w, count: n } = shape;
  if (alpha.length !== n || beta.length !== n * w || rootSeeds0.length !== n * 4 || rootSeeds1.length !== n * 4)
    throw new Error('dcfGen: array lengths do not match the key shape');
  const alphaW = wordsOf(alpha);
  const betaW = wordsOf(beta);
  const vb = valueBlocks(w);
  const perSide = 1 + vb;
  const sideWords = perSide * 4;
  const seedCW = new Uint32Array(bits * n * 4);
  const controlCW = new Uint8Array(bits * n);
  const valueCW = new BigInt64Array(bits * n * w);
  const valueCWW = wordsOf(valueCW);
  const finalCW = new BigInt64Array(n * w);
  const finalCWW = wordsOf(finalCW);

  // Party 0's and party 1's tree state on the path to alpha: seeds and control bits (t0 = 0, t1 = 1).
  const seeds0 = Uint32Array.from(rootSeeds0);
  const seeds1 = Uint32Array.from(rootSeeds1);
  const ctrl0 = new Uint8Array(n);
  const ctrl1 = new Uint8Array(n).fill(1);
  // V_alpha: the sum of both parties' outputs accumulated on the path to alpha.
  const vAlpha = new Uint32Array(n * w * 2);
  const tmp = new Uint32Array(2 * w);

  for (let level = 0; level < bits; level++) {
    const bitPos = bits - 1 - level;
    const ex0 = expand(seeds0, n, perSide, 0, true);
    const ex1 = expand(seeds1, n, perSide, 0, true);
    for (let e = 0; e < n; e++) {
      const a = bit64(alphaW, 2 * e, bitPos);
      const base = e * 2 * sideWords;
      const keepOff = base + (a === 0 ? 0 : sideWords);
      const loseOff = base + (a === 0 ? sideWords : 0);
      // Control bits are the seed blocks' lowest bits, cleared from the seeds afterwards.
      const tL0 = ex0[base]! & 1;
      const tR0 = ex0[base + sideWords]! & 1;
      const tL1 = ex1[base]! & 1;
      const tR1 = ex1[base + sideWords]! & 1;
      ex0[base] &= ~1;
      ex0[base + sideWords] &= ~1;
      ex1[base] &= ~1;
      ex1[base + sideWords] &= ~1;
      const cw = (level * n + e) * 4;
      for (let q = 0; q < 4; q++) seedCW[cw + q] = ex0[loseOff + q]! ^ ex1[loseOff + q]!;

      const t1 = ctrl1[e]!;
      const vcw = (level * n + e) * w * 2;
      const va = e * w * 2;
      for (let vo = 0; vo < 2 * w; vo += 2) {
        // V_CW = (-1)^t1 [v1_lose - v0_lose - V_alpha (+ beta if the lose side is left)]
        tmp[vo] = ex1[loseOff + 4 + vo]!;
        tmp[vo + 1] = ex1[loseOff + 4 + vo + 1]!;
        sub64(tmp, vo, ex0, loseOff + 4 + vo);
        sub64(tmp, vo, vAlpha, va + vo);
        if (a === 1) add64(tmp, vo, betaW, (vo / 2) * n * 2 + 2 * e);
        // V_alpha = V_alpha - v1_keep + v0_keep + (-1)^t1 V_CW, where (-1)^t1 V_CW is tmp.
        sub64(vAlpha, va + vo, ex1, keepOff + 4 + vo);
        add64(vAlpha, va + vo, ex0, keepOff + 4 + vo);
        add64(vAlpha, va + vo, tmp, vo);
        if (t1 === 1) neg64(tmp, vo);
        valueCWW[vcw + vo] = tmp[vo]!;
        valueCWW[vcw + vo + 1] = tmp[vo + 1]!;
      }

      const tLCW = tL0 ^ tL1 ^ a ^ 1;
      const tRCW = tR0 ^ tR1 ^ a;
      controlCW[level * n + e] = tLCW | (tRCW << 1);
      const tKeepCW = a === 0 ? tLCW : tRCW;
      const t0 = ctrl0[e]!;
      for (let q = 0; q < 4; q++) {
        seeds0[e * 4 + q] = ex0[keepOff + q]! ^ (t0 === 1 ? seedCW[cw + q]! : 0);
        seeds1[e * 4 + q] = ex1[keepOff + q]! ^ (t1 === 1 ? seedCW[cw + q]! : 0);
      }
      ctrl0[e] = (a === 0 ? tL0 : tR0) ^ (t0 & tKeepCW);
      ctrl1[e] = (a === 0 ? tL1 : tR1) ^ (t1 & tKeepCW);
    }
  }

  // Leaf: CW_{n+1} = (-1)^t1 [Convert(s1) - Convert(s0) - V_alpha].
  const c0 = expand(seeds0, n, vb, CONVERT_TWEAK, false);
  const c1 = expand(seeds1, n, vb, CONVERT_TWEAK, false);
  for (let e = 0; e < n; e++) {
    for (let k = 0; k < w; k++) {
      const o = (e * w + k) * 2;
      const co = e * vb * 4 + 2 * k;
      finalCWW[o] = c1[co]!;
      finalCWW[o + 1] = c1[co + 1]!;
      sub64(finalCWW, o, c0, co);
      sub64(finalCWW, o, vAlpha, o);
      if (ctrl1[e] === 1) neg64(finalCWW, o);
    }
  }
  return { bits, payloadWords: w, count: n, seedCW, controlCW, valueCW, finalCW };
}

/**
 * Party side: evaluates the keys at `x.length` points, point j with key j % count (so the points
 * of one key may be laid out as several count-sized planes). Returns x.length * payloadWords
 * ring words: this party's shares of f(x_j), in payloadWords planes (word k of point j at
 * k * x.length + j).
 */
export function dcfEval(keys: DcfKeys, x: BigInt64Array): BigInt64Array {
  const { corrections: cw, party, rootSeeds } = keys;
  checkShape(cw);
  const { bits, payloadWords: w, count: n } = cw;
  const m = x.length;
  if (n === 0 ? m !== 0 : m % n !== 0) throw new Error(`dcfEval: ${m} points for ${n} keys`);
  if (rootSeeds.length !== n * 4) throw new Error('dcfEval: root seeds do not match the key count');
  const xW = wordsOf(x);
  const cwV = wordsOf(cw.valueCW);
  const cwF = wordsOf(cw.finalCW);
  const vb = valueBlocks(w);
  const perSide = 1 + vb;
  const out = new BigInt64Array(m * w);
  const acc = wordsOf(out);

  const seeds = new Uint32Array(m * 4);
  for (let j = 0; j < m; j++) seeds.set(rootSeeds.subarray((j % n) * 4, (j % n) * 4 + 4), j * 4);
  const ctrl = new Uint8Array(m).fill(party);
  const blockWords = perSide * 4;
  const blocks = new Uint32Array(m * blockWords);
  const sides = new Uint8Array(m);
  const seedCW = cw.seedCW;
  const controlCW = cw.controlCW;

  // Both parties add the same kind of terms; party 1 negates its sum at the end ((-1)^b).
  for (let level = 0; level < bits; level++) {
    const bitPos = bits - 1 - level;
    const half = bitPos < 32 ? 0 : 1;
    const shift = bitPos & 31;
    for (let j = 0; j < m; j++) {
      const side = (xW[2 * j + half]! >>> shift) & 1;
      sides[j] = side;
      const base = j * blockWords;
      const tw = side * SIDE_TWEAK;
      const s0 = seeds[4 * j]!;
      const s1 = seeds[4 * j + 1]!;
      const s2 = seeds[4 * j + 2]!;
      const s3 = seeds[4 * j + 3]!;
      for (let k = 0; k < perSide; k++) {
        const o = base + 4 * k;
        blocks[o] = s0;
        blocks[o + 1] = s1;
        blocks[o + 2] = s2;
        blocks[o + 3] = s3 ^ (tw + k);
      }
    }
    hashBlocksInPlace(blocks);
    const levelOff = level * n;
    for (let j = 0, e = 0; j < m; j++, e = e + 1 === n ? 0 : e + 1) {
      const base = j * blockWords;
      const tOld = ctrl[j]!;
      const b0 = blocks[base]!;
      let tNew = b0 & 1;
      const cwi = levelOff + e;
      let q0 = b0 & ~1;
      let q1 = blocks[base + 1]!;
      let q2 = blocks[base + 2]!;
      let q3 = blocks[base + 3]!;
      const slot = j * 2;
      if (tOld === 1) {
        q0 ^= seedCW[cwi * 4]!;
        q1 ^= seedCW[cwi * 4 + 1]!;
        q2 ^= seedCW[cwi * 4 + 2]!;
        q3 ^= seedCW[cwi * 4 + 3]!;
        tNew ^= (controlCW[cwi]! >> sides[j]!) & 1;
        for (let k = 0; k < w; k++) add64(acc, slot + k * m * 2, cwV, (cwi * w + k) * 2);
      }
      seeds[4 * j] = q0;
      seeds[4 * j + 1] = q1;
      seeds[4 * j + 2] = q2;
      seeds[4 * j + 3] = q3;
      ctrl[j] = tNew;
      for (let k = 0; k < w; k++) add64(acc, slot + k * m * 2, blocks, base + 4 + 2 * k);
    }
  }

  const leaf = new Uint32Array(m * vb * 4);
  for (let j = 0; j < m; j++)
    for (let k = 0; k < vb; k++) prepareBlock(leaf, (j * vb + k) * 4, seeds, j * 4, CONVERT_TWEAK + k);
  hashBlocksInPlace(leaf);
  for (let j = 0; j < m; j++) {
    const e = j % n;
    for (let k = 0; k < w; k++) {
      add64(acc, (k * m + j) * 2, leaf, j * vb * 4 + 2 * k);
      if (ctrl[j] === 1) add64(acc, (k * m + j) * 2, cwF, (e * w + k) * 2);
    }
  }
  if (party === 1) for (let i = 0; i < acc.length; i += 2) neg64(acc, i);
  return out;
}
