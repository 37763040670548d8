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
 * Keys are generated and evaluated for many elements at once, level by level of the tree: each
 * level of a batch is one AES call plus one pass of WebAssembly kernels (./dcf-wasm.ts), with
 * batches sized so a level's working set stays in cache. A key holds the party's root seed (16 bytes) and
 * the correction words shared by both keys: per level a 128-bit seed correction, two control-bit
 * corrections and a w-word value correction, and a final w-word correction. A key can be
 * evaluated at any number of points; every evaluation yields fresh shares of f at that point.
 */
import { CONVERT_TWEAK, SIDE_TWEAK, dcfWasm } from './dcf-wasm.ts';
import { aesEcb } from './prg.ts';
import { ringNeg } from '../ring/kernels.ts';

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

/** 128-bit blocks holding one side's value words. */
function valueBlocks(payloadWords: number): number {
  return Math.ceil(payloadWords / 2);
}

function checkShape(shape: DcfShape): void {
  const { bits, payloadWords, count } = shape;
  if (!Number.isInteger(bits) || bits < 1 || bits > 64)
    throw new Error(`DCF input bits must be 1..64, got ${bits}`);
  if (!Number.isInteger(payloadWords) || payloadWords < 1 || payloadWords >= 2 * (SIDE_TWEAK - 1))
    throw new Error(`DCF payload words must be 1..${2 * (SIDE_TWEAK - 1) - 1}, got ${payloadWords}`);
  if (!Number.isInteger(count) || count < 0)
    throw new Error(`DCF key count must be a natural number, got ${count}`);
}

/** Bytes of the correction words of a batch (what the dealer sends to each party). */
export function dcfCorrectionBytes(shape: DcfShape): number {
  const { bits, payloadWords: w, count: n } = shape;
  return bits * n * 16 + Math.ceil((bits * n * 2) / 8) + bits * n * w * 8 + n * w * 8;
}

/** Keys generated per WebAssembly batch: small enough that a level's working set stays in cache. */
const BATCH_KEYS = 1 << 12;

/**
 * Dealer side: correction words for `count` keys. alpha[e] is compared on its low `bits` bits;
 * beta holds payloadWords planes of count words (word k of key e's beta at k * count + e).
 * rootSeeds0/1 are the parties' root seeds (count * 4 words each, uniformly random or derived
 * from the parties' PRG keys). Each level is one pass of the WebAssembly `gen` kernel
 * (./dcf-wasm.ts) over a batch of keys, after one AES call over both parties' expansions.
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
  if (
    alpha.length !== n ||
    beta.length !== n * w ||
    rootSeeds0.length !== n * 4 ||
    rootSeeds1.length !== n * 4
  )
    throw new Error('dcfGen: array lengths do not match the key shape');
  const out: DcfCorrections = {
    bits,
    payloadWords: w,
    count: n,
    seedCW: new Uint32Array(bits * n * 4),
    controlCW: new Uint8Array(bits * n),
    valueCW: new BigInt64Array(bits * n * w),
    finalCW: new BigInt64Array(n * w),
  };
  for (let e0 = 0; e0 < n; e0 += BATCH_KEYS)
    genBatch(shape, alpha, beta, rootSeeds0, rootSeeds1, e0, Math.min(BATCH_KEYS, n - e0), out);
  return out;
}

/** Keys [e0, e0 + kc): fills their correction words in `out`. */
function genBatch(
  shape: DcfShape,
  alpha: BigInt64Array,
  beta: BigInt64Array,
  rootSeeds0: Uint32Array,
  rootSeeds1: Uint32Array,
  e0: number,
  kc: number,
  out: DcfCorrections,
): void {
  const { bits, payloadWords: w, count: n } = shape;
  const wasm = dcfWasm();
  const k = wasm.k;
  const vb = valueBlocks(w);
  const perSide = 1 + vb;
  wasm.reset();
  const alphaP = wasm.alloc(8 * kc);
  const betaP = wasm.alloc(8 * w * kc);
  const seeds = [wasm.alloc(16 * kc), wasm.alloc(16 * kc)] as const;
  const ctrl = [wasm.alloc(kc), wasm.alloc(kc)] as const;
  const vAlpha = wasm.alloc(8 * w * kc);
  const sides = wasm.alloc(kc);
  const blockBytes = 16 * perSide * kc;
  // Expansion inputs and AES outputs: party 0 left, party 0 right, party 1 left, party 1 right.
  const blocks = wasm.alloc(4 * blockBytes);
  const enc = wasm.alloc(4 * blockBytes);
  const scw = wasm.alloc(16 * kc);
  const ccw = wasm.alloc(kc);
  const vcw = wasm.alloc(8 * w * kc);
  wasm.words(alphaP, kc).set(alpha.subarray(e0, e0 + kc));
  for (let word = 0; word < w; word++)
    wasm.words(betaP + 8 * word * kc, kc).set(beta.subarray(word * n + e0, word * n + e0 + kc));
  wasm
    .bytes(seeds[0], 16 * kc)
    .set(new Uint8Array(rootSeeds0.buffer, rootSeeds0.byteOffset + 16 * e0, 16 * kc));
  wasm
    .bytes(seeds[1], 16 * kc)
    .set(new Uint8Array(rootSeeds1.buffer, rootSeeds1.byteOffset + 16 * e0, 16 * kc));
  wasm.bytes(ctrl[1], kc).fill(1);
  const expand = (
    count: number,
    base: (party: 0 | 1, side: 0 | 1) => number,
    sidesPerParty: 1 | 2,
    per: number,
  ) => {
    for (const party of [0, 1] as const)
      for (let side = 0; side < sidesPerParty; side++) {
        const at = blocks + (2 * party + side) * blockBytes;
        k.prep(0, seeds[party], at, sides, kc, 0n, per, base(party, side as 0 | 1), 0);
      }
    for (let part = 0; part < 4; part++) {
      if (sidesPerParty === 1 && part % 2 === 1) continue;
      const input = wasm.bytes(blocks + part * blockBytes, 16 * per * kc);
      wasm.bytes(enc + part * blockBytes, 16 * per * kc).set(aesEcb(input));
    }
  };
  for (let level = 0; level < bits; level++) {
    expand(kc, (_party, side) => side * SIDE_TWEAK, 2, perSide);
    const at = (part: number) => enc + part * blockBytes;
    k.gen(
      at(0),
      at(1),
      at(2),
      at(3),
      seeds[0],
      seeds[1],
      ctrl[0],
      ctrl[1],
      alphaP,
      BigInt(bits - 1 - level),
      betaP,
      vAlpha,
      scw,
      ccw,
      vcw,
      kc,
      w,
      perSide,
    );
    const row = level * n + e0;
    new Uint8Array(out.seedCW.buffer, out.seedCW.byteOffset + 16 * row, 16 * kc).set(
      wasm.bytes(scw, 16 * kc),
    );
    out.controlCW.set(wasm.bytes(ccw, kc), row);
    out.valueCW.set(wasm.words(vcw, w * kc), row * w);
  }
  expand(kc, () => CONVERT_TWEAK, 1, vb);
  k.genLeaf(enc, enc + 2 * blockBytes, seeds[0], seeds[1], ctrl[1], vAlpha, vcw, kc, w, vb);
  out.finalCW.set(wasm.words(vcw, w * kc), e0 * w);
}

/** Points evaluated per WebAssembly batch: small enough that a level's working set stays in cache. */
const BATCH_POINTS = 1 << 15;

/**
 * Party side: evaluates the keys at `x.length` points, point j with key j % count (so the points
 * of one key may be laid out as several count-sized planes). Returns x.length * payloadWords
 * ring words: this party's shares of f(x_j), in payloadWords planes (word k of point j at
 * k * x.length + j).
 *
 * Work is done in batches of keys (all their points at once), each level being one pass of the
 * WebAssembly kernels of ./dcf-wasm.ts around one AES call.
 */
export function dcfEval(keys: DcfKeys, x: BigInt64Array): BigInt64Array {
  const { corrections: cw, party, rootSeeds } = keys;
  checkShape(cw);
  const { payloadWords: w, count: n } = cw;
  const total = x.length;
  if (n === 0 ? total !== 0 : total % n !== 0) throw new Error(`dcfEval: ${total} points for ${n} keys`);
  if (rootSeeds.length !== n * 4) throw new Error('dcfEval: root seeds do not match the key count');
  const out = new BigInt64Array(total * w);
  if (total === 0) return out;
  const planes = total / n;
  const batchKeys = Math.max(1, Math.floor(BATCH_POINTS / planes));
  for (let e0 = 0; e0 < n; e0 += batchKeys) evalBatch(keys, x, e0, Math.min(batchKeys, n - e0), planes, out);
  if (party === 1) ringNeg(out, out);
  return out;
}

/** Keys [e0, e0 + kc) at all their points; adds the outputs into `out`. */
function evalBatch(
  keys: DcfKeys,
  x: BigInt64Array,
  e0: number,
  kc: number,
  planes: number,
  out: BigInt64Array,
): void {
  const { corrections: cw, party, rootSeeds } = keys;
  const { bits, payloadWords: w, count: n } = cw;
  const wasm = dcfWasm();
  const k = wasm.k;
  const m = kc * planes;
  const vb = valueBlocks(w);
  const perSide = 1 + vb;
  wasm.reset();
  const xp = wasm.alloc(8 * m);
  const seeds = wasm.alloc(16 * m);
  const ctrl = wasm.alloc(m);
  const sides = wasm.alloc(m);
  const acc = wasm.alloc(8 * w * m);
  const blocks = wasm.alloc(16 * perSide * m);
  const enc = wasm.alloc(16 * perSide * m);
  const scw = wasm.alloc(16 * kc);
  const ccw = wasm.alloc(kc);
  const vcw = wasm.alloc(8 * w * kc);
  // Points of the batch, plane-major; each plane's seeds are the keys' root seeds.
  const xs = wasm.words(xp, m);
  const seedBytes = wasm.bytes(seeds, 16 * m);
  const roots = new Uint8Array(rootSeeds.buffer, rootSeeds.byteOffset + 16 * e0, 16 * kc);
  for (let p = 0; p < planes; p++) {
    xs.set(x.subarray(p * n + e0, p * n + e0 + kc), p * kc);
    seedBytes.set(roots, 16 * p * kc);
  }
  wasm.bytes(ctrl, m).fill(party);
  const aes = (count: number) => wasm.bytes(enc, 16 * count).set(aesEcb(wasm.bytes(blocks, 16 * count)));
  const loadLevel = (level: number) => {
    const row = level * n + e0;
    wasm.bytes(scw, 16 * kc).set(new Uint8Array(cw.seedCW.buffer, cw.seedCW.byteOffset + 16 * row, 16 * kc));
    wasm.bytes(ccw, kc).set(cw.controlCW.subarray(row, row + kc));
    wasm.words(vcw, w * kc).set(cw.valueCW.subarray(row * w, (row + kc) * w));
  };
  const fused = w === 1 ? k.levelFused1 : w === 2 ? k.levelFused2 : undefined;
  k.prep(xp, seeds, blocks, sides, m, BigInt(bits - 1), perSide, 0, 1);
  for (let level = 0; level < bits; level++) {
    aes(perSide * m);
    loadLevel(level);
    if (fused) {
      // Also writes the next level's blocks (or the leaf's after the last level).
      const last = level === bits - 1;
      fused(
        enc,
        seeds,
        ctrl,
        sides,
        acc,
        scw,
        ccw,
        vcw,
        m,
        kc,
        xp,
        blocks,
        BigInt(last ? 0 : bits - 2 - level),
        last ? CONVERT_TWEAK : 0,
        last ? 0 : 1,
        last ? vb : perSide,
      );
    } else {
      k.level(enc, seeds, ctrl, sides, acc, scw, ccw, vcw, m, kc, w, perSide);
      if (level < bits - 1) k.prep(xp, seeds, blocks, sides, m, BigInt(bits - 2 - level), perSide, 0, 1);
      else k.prep(xp, seeds, blocks, sides, m, 0n, vb, CONVERT_TWEAK, 0);
    }
  }
  aes(vb * m);
  const fcw = vcw; // the level slices are no longer needed
  wasm.words(fcw, w * kc).set(cw.finalCW.subarray(e0 * w, (e0 + kc) * w));
  k.leaf(enc, seeds, ctrl, acc, fcw, m, kc, w, vb);
  const result = wasm.words(acc, w * m);
  for (let word = 0; word < w; word++)
    for (let p = 0; p < planes; p++)
      out.set(result.subarray(word * m + p * kc, word * m + (p + 1) * kc), word * x.length + p * n + e0);
}
