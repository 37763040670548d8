/**
 * Comparison by boolean sharing (variant 'bool'): the dealer XOR-shares the m bits of R and
 * supplies mask products; the parties compute c = [y < alpha] for public y and shared alpha with
 * a comparison tree, then convert z = R_{m-1} xor c to arithmetic shares.
 *
 * Tree over the L = m - 1 bits of y and alpha, most significant first. A leaf is the pair
 *     lt_i = alpha_i and not y_i      eq_i = not (alpha_i xor y_i)          (local: y is public)
 * and a group of s adjacent nodes (0 most significant) combines as
 *     lt = lt_0 xor eq_0 lt_1 xor eq_0 eq_1 lt_2 xor ... ,   eq = eq_0 eq_1 ... eq_{s-1}
 * (the terms exclude each other, so xor is or). The first level is local: leaves are affine in
 * the dealer's alpha bits with public coefficients, so groups of up to MAX_FAN_IN leaves follow
 * from dealer shares of products of alpha's bits (LocalShape, per element, not per threshold).
 * Each further level is one round for all groups, elements and thresholds at once: every
 * variable is opened once, masked, and each product of up to s variables follows locally from
 * dealer shares of the masks' products (GroupShape). With groups of up to 6 nodes, L <= 36 (every
 * width used by the protocols here) takes one round; the root needs no eq.
 * Conversion: with a dealer bit rho shared both ways (XOR and arithmetic) and, with `select`,
 * shares of rho r, open e = z xor rho (1 bit each way); then z = e + (1 - 2e) rho and
 * z r = e r + (1 - 2e) rho r, all local.
 *
 * Bits are bit-sliced: a tree node of every lane (threshold x element) is one bit vector, so
 * each AND or XOR handles 32 lanes per machine word. On the wire and in dealer material a
 * vector of V lanes takes 4 ceil(V / 32) bytes.
 *
 * Cost per element and threshold (V_l opened variables and P_l mask products at interactive
 * level l; a group of s nodes has 2s - 1 variables, 2s - 2 at the root):
 *   online  1 + levels + 1 rounds (levels = ceil(log6 L) - 1); 8 bytes (opening, once per
 *           element) + sum V_l bits + 1 bit each way;
 *   offline client only: per element m bits of R and 2^s - s - 1 bits of alpha products per local
 *           group of s; per lane sum P_l bits of mask products, 8 bytes for rho (+ 8 with
 *           select). The masks come from the seeds: 0 bytes.
 */
import type { Cost, DealerStream, MaterialStream, PartyContext } from '../../protocol.ts';
import { cost } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import type { BitExpansion } from '../../ring/bit-expand.ts';
import { bitExpand } from '../../ring/bit-expand.ts';
import { ringSignCombine } from '../../ring/fused.ts';
import { ringMul } from '../../ring/kernels.ts';
import { bitPlanes, tilePlane } from './bit-slice.ts';
import type { CompareParams, CompareResult } from './compare.ts';
import { checkCompareParams, openedParts, tile } from './compare.ts';

export interface BoolCompareMaterial {
  readonly kind: 'bool';
  readonly r: Ring;
  /** XOR shares of R's bits: vector j (bit j, least significant first) over the n elements. */
  readonly rBits: Uint32Array[];
  /** XOR shares of the local level's alpha products (vectors over the n elements, group by group). */
  readonly alphaProducts: Uint32Array;
  /** Per interactive level: XOR shares of the masks of its opened variables (vectors, group by group). */
  readonly masks: Uint32Array[];
  /** Per tree level: XOR shares of the masks' products over each group's subsets (`groupShape`). */
  readonly products: Uint32Array[];
  /** rho per lane: XOR share (a vector), arithmetic share, and shares of rho r. */
  readonly rhoBits: Uint32Array;
  readonly rho: Ring;
  readonly rhoR: Ring | undefined;
}

/**
 * Most tree nodes one group combines (locally at the first level, in one round later). A group of
 * s nodes needs about 2^s products from the dealer and 3 2^s vector operations per party, so
 * the width trades material and local work for rounds: 6 resolves the 30 leaves of softmax's
 * maximum in one round (a binary tree of ANDs: 5).
 */
const MAX_FAN_IN = 6;

/** One level of the tree: its nodes, most significant first, combined by consecutive groups. */
export interface TreeLevel {
  readonly sizes: readonly number[];
  /** The root level needs no eq output. */
  readonly root: boolean;
}

/** c nodes in k consecutive groups of balanced sizes. */
function balanced(c: number, k: number): number[] {
  const base = Math.floor(c / k);
  return Array.from({ length: k }, (_, g) => base + (g < c % k ? 1 : 0));
}

/** Groups as small as possible such that at most `groups` of them cover c nodes. */
function groupsOf(c: number, groups: number): number[] {
  const size = Math.ceil(c / groups);
  return balanced(c, Math.ceil(c / size));
}

/**
 * The tree for L leaves. Leaves depend only on the public y and the dealer's alpha, so the
 * first level is local: the dealer shares products of alpha's bits (LocalShape) and each group
 * of up to MAX_FAN_IN leaves is combined without a round. Then as few interactive levels as
 * fan-in MAX_FAN_IN allows, each level's groups as small as that depth allows (material and
 * local work grow as 2^size), sizes balanced.
 */
export function treePlan(leaves: number): { local: number[]; levels: TreeLevel[] } {
  let depth = 0;
  while (MAX_FAN_IN ** (depth + 1) < leaves) depth++;
  const local = groupsOf(leaves, MAX_FAN_IN ** depth);
  const levels: TreeLevel[] = [];
  for (let c = local.length, left = depth; left > 0; left--) {
    const sizes = groupsOf(c, MAX_FAN_IN ** (left - 1));
    levels.push({ sizes, root: sizes.length === 1 });
    c = sizes.length;
  }
  return { local, levels };
}

/**
 * A local group of s leaves (0 most significant): with c_i = not y_i (public), eq_i = alpha_i
 * xor c_i and lt_i = c_i alpha_i, so
 *     lt = xor over S != {} of C^(U(S)) alpha^S,   U(S) = {j} + {i < j not in S}, j = max S
 *     eq = xor over S of C^([s] \ S) alpha^S
 * with C^U the product of the c_i in U and alpha^S a dealer product (|S| >= 2), alpha_i's share
 * (|S| = 1) or 1 (S empty: party 0's).
 */
export interface LocalShape {
  /** The dealer's products: leaf subsets of size >= 2, ascending. */
  readonly subsets: readonly number[];
  /** Terms: C subset and alpha source (ONE, leaf i < s, or s + k the k-th product). */
  readonly termC: Int32Array;
  readonly termA: Int32Array;
  /** Output 0 (lt) is terms [0, ends[0]), output 1 (eq, below the root) the rest. */
  readonly ends: Int32Array;
}

function makeLocalShape(s: number, root: boolean): LocalShape {
  const full = (1 << s) - 1;
  const subsets = submasks(full).filter((sub) => popcount(sub) >= 2);
  const index = new Map(subsets.map((sub, k) => [sub, s + k]));
  const aOf = (sub: number) =>
    sub === 0 ? ONE : popcount(sub) === 1 ? 31 - Math.clz32(sub) : index.get(sub)!;
  const termC: number[] = [];
  const termA: number[] = [];
  const ends: number[] = [];
  for (const sub of submasks(full)) {
    if (sub === 0) continue;
    const j = 31 - Math.clz32(sub);
    termC.push((((1 << j) - 1) & ~sub) | (1 << j));
    termA.push(aOf(sub));
  }
  ends.push(termC.length);
  if (!root) {
    for (const sub of submasks(full)) {
      termC.push(full & ~sub);
      termA.push(aOf(sub));
    }
    ends.push(termC.length);
  }
  return {
    subsets,
    termC: Int32Array.from(termC),
    termA: Int32Array.from(termA),
    ends: Int32Array.from(ends),
  };
}

/**
 * How one group of s >= 2 nodes (0 most significant) is combined. Its variables are
 * eq_0..eq_{s-1} (eq_{s-1} only below the root) and lt_1..lt_{s-1} (variable bits, eq_i = bit i,
 * lt_j = bit nEq + j - 1); its outputs are
 *     lt = lt_0 xor T_1 xor ... xor T_{s-1},   T_j = eq_0 ... eq_{j-1} lt_j
 *     eq = E = eq_0 ... eq_{s-1}
 * (the T_j exclude each other). Every variable v is opened masked, D_v = v xor a_v, and a
 * monomial is expanded as prod (D_v xor a_v) = xor over S of D^(T \ S) A_S with A_S the product
 * of the masks in S: 1 (S empty: party 0's share), a_v, or a dealer product (|S| >= 2).
 */
export interface GroupShape {
  readonly vars: number;
  readonly nEq: number;
  /** The dealer's products: variable subsets of size >= 2, ascending. */
  readonly subsets: readonly number[];
  /**
   * The D table: every nonzero variable subset some D^(...) of the expansion needs, ascending;
   * entry k is entry dParent[k] (-1: none, all ones) times variable dVar[k].
   */
  readonly dParent: Int32Array;
  readonly dVar: Int32Array;
  /** The terms of all outputs (T_1..T_{s-1}, then E below the root): D entry (-1: none), A source. */
  readonly termD: Int32Array;
  readonly termA: Int32Array;
  /** Output t's terms (0: lt's T_j, 1: E) are termD/termA[ends[t - 1] .. ends[t]). */
  readonly ends: Int32Array;
}

/** A term's A source: -1 the constant 1, v < vars a variable's mask, vars + k the k-th product. */
const ONE = -1;

function popcount(v: number): number {
  let c = 0;
  for (let x = v; x; x &= x - 1) c++;
  return c;
}

/** Every subset of the bit set t, ascending. */
function submasks(t: number): number[] {
  const out: number[] = [];
  for (let s = t; ; s = (s - 1) & t) {
    out.push(s);
    if (s === 0) break;
  }
  return out.reverse();
}

function makeGroupShape(s: number, root: boolean): GroupShape {
  const nEq = root ? s - 1 : s;
  const vars = nEq + s - 1;
  const monomials: number[] = [];
  for (let j = 1; j < s; j++) monomials.push(((1 << j) - 1) | (1 << (nEq + j - 1)));
  if (!root) monomials.push((1 << s) - 1);
  const subsetSet = new Set<number>();
  const dSet = new Set<number>();
  for (const t of monomials)
    for (const sub of submasks(t)) {
      if (popcount(sub) >= 2) subsetSet.add(sub);
      if (sub !== t) dSet.add(t & ~sub);
    }
  const subsets = [...subsetSet].sort((a, b) => a - b);
  const index = new Map(subsets.map((sub, k) => [sub, vars + k]));
  const aOf = (sub: number) =>
    sub === 0 ? ONE : popcount(sub) === 1 ? 31 - Math.clz32(sub) : index.get(sub)!;
  const dMasks = [...dSet].sort((a, b) => a - b);
  const dSlot = new Map(dMasks.map((dm, k) => [dm, k]));
  dSlot.set(0, -1);
  const termD: number[] = [];
  const termA: number[] = [];
  const ends: number[] = [];
  monomials.forEach((t, j) => {
    for (const sub of submasks(t)) {
      termD.push(dSlot.get(t & ~sub)!);
      termA.push(aOf(sub));
    }
    // Output 0 is lt (the T_j xored), output 1 is E.
    if (j >= s - 2) ends.push(termD.length);
  });
  return {
    vars,
    nEq,
    subsets,
    dParent: Int32Array.from(dMasks, (dm) => dSlot.get(dm & (dm - 1))!),
    dVar: Int32Array.from(dMasks, (dm) => 31 - Math.clz32(dm & -dm)),
    termD: Int32Array.from(termD),
    termA: Int32Array.from(termA),
    ends: Int32Array.from(ends),
  };
}

/** GROUP_SHAPES[root ? 1 : 0][s] for 2 <= s <= MAX_FAN_IN, built once. */
const GROUP_SHAPES: readonly (readonly GroupShape[])[] = [false, true].map((root) =>
  Array.from({ length: MAX_FAN_IN + 1 }, (_, s) => makeGroupShape(Math.max(s, 2), root)),
);

export function groupShape(s: number, root: boolean): GroupShape {
  return GROUP_SHAPES[root ? 1 : 0]![s]!;
}

/** LOCAL_SHAPES[root ? 1 : 0][s] for 1 <= s <= MAX_FAN_IN. */
const LOCAL_SHAPES: readonly (readonly LocalShape[])[] = [false, true].map((root) =>
  Array.from({ length: MAX_FAN_IN + 1 }, (_, s) => makeLocalShape(Math.max(s, 1), root)),
);

export function localShape(s: number, root: boolean): LocalShape {
  return LOCAL_SHAPES[root ? 1 : 0]![s]!;
}

/** Dealer products of the local level, all groups. */
export function localProducts(local: readonly number[]): number {
  return local.reduce((sum, s) => sum + localShape(s, local.length === 1).subsets.length, 0);
}

export const words = (lanes: number) => Math.ceil(lanes / 32);
export const vectorBytes = (lanes: number) => 4 * words(lanes);

/** Opened variables and dealer products of one level (groups of one node have neither). */
export function levelCounts(level: TreeLevel): { vars: number; products: number } {
  let vars = 0;
  let products = 0;
  for (const s of level.sizes) {
    if (s < 2) continue;
    const g = groupShape(s, level.root);
    vars += g.vars;
    products += g.subsets.length;
  }
  return { vars, products };
}

/** The bytes as words: a view when aligned (callers never write into it), else a copy. */
export function asWords(bytes: Uint8Array): Uint32Array {
  if (bytes.byteOffset % 4 === 0)
    return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const out = new Uint32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export function asBytes(v: Uint32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Lanes of a vector as ring 0/1 values. */
export function ringOfVector(v: Uint32Array, lanes: number): Ring {
  const out = new BigInt64Array(lanes);
  const w = new Int32Array(out.buffer);
  for (let i = 0; i < lanes; i++) w[2 * i] = (v[i >> 5]! >>> (i & 31)) & 1;
  return out;
}

/** The masks' products of every group of a level (what the dealer XOR-shares). */
export function maskProducts(level: TreeLevel, masks: Uint32Array, width: number): Uint32Array {
  const out = new Uint32Array(levelCounts(level).products * width);
  let v0 = 0;
  let k = 0;
  for (const s of level.sizes) {
    if (s < 2) continue;
    const g = groupShape(s, level.root);
    for (const sub of g.subsets) {
      const o = out.subarray(k * width, (k + 1) * width);
      o.fill(0xffffffff);
      for (let v = 0; v < g.vars; v++)
        if (sub & (1 << v)) {
          const a = masks.subarray((v0 + v) * width, (v0 + v + 1) * width);
          for (let i = 0; i < width; i++) o[i] = o[i]! & a[i]!;
        }
      k++;
    }
    v0 += g.vars;
  }
  return out;
}

/**
 * The local level's products of alpha's bits, group by group (R's bit planes from bit drop up;
 * leaf k, most significant first, is plane L - 1 - k).
 */
export function alphaProducts(
  local: readonly number[],
  planes: readonly Uint32Array[],
  width: number,
): Uint32Array {
  const L = planes.length - 1;
  const out = new Uint32Array(localProducts(local) * width);
  let leaf = 0;
  let k = 0;
  for (const s of local) {
    for (const sub of localShape(s, local.length === 1).subsets) {
      const o = out.subarray(k * width, (k + 1) * width);
      o.fill(0xffffffff);
      for (let i = 0; i < s; i++)
        if (sub & (1 << i)) {
          const a = planes[L - 1 - (leaf + i)]!;
          for (let w = 0; w < width; w++) o[w] = o[w]! & a[w]!;
        }
      k++;
    }
    leaf += s;
  }
  return out;
}

export function dealBoolCompare(p: CompareParams, d: DealerStream): void {
  checkCompareParams(p);
  const lanes = p.n * p.points;
  const width = words(lanes);
  const r = d.sharedRandom(p.n);
  const planes = bitPlanes(r, p.drop, p.bits);
  for (const plane of planes) d.shareBytes(asBytes(plane));
  const { local, levels } = treePlan(p.bits - 1);
  d.shareBytes(asBytes(alphaProducts(local, planes, words(p.n))));
  for (const level of levels) {
    const masks = asWords(d.sharedRandomBytes(levelCounts(level).vars * vectorBytes(lanes)));
    d.shareBytes(asBytes(maskProducts(level, masks, width)));
  }
  const rhoBits = asWords(d.sharedRandomBytes(vectorBytes(lanes)));
  const rho = ringOfVector(rhoBits, lanes);
  d.share(rho);
  if (p.select) d.share(ringMul(rho, tile(r, p.points)));
}

export function boolCompareMaterial(p: CompareParams, s: MaterialStream): BoolCompareMaterial {
  checkCompareParams(p);
  const lanes = p.n * p.points;
  const r = s.sharedRandom(p.n);
  const rBits = Array.from({ length: p.bits }, () => asWords(s.shareBytes(vectorBytes(p.n))));
  const { local, levels } = treePlan(p.bits - 1);
  const alpha = asWords(s.shareBytes(localProducts(local) * vectorBytes(p.n)));
  const masks: Uint32Array[] = [];
  const products: Uint32Array[] = [];
  for (const level of levels) {
    const counts = levelCounts(level);
    masks.push(asWords(s.sharedRandomBytes(counts.vars * vectorBytes(lanes))));
    products.push(asWords(s.shareBytes(counts.products * vectorBytes(lanes))));
  }
  const rhoBits = asWords(s.sharedRandomBytes(vectorBytes(lanes)));
  const rho = s.share(lanes);
  const rhoR = p.select ? s.share(lanes) : undefined;
  return { kind: 'bool', r, rBits, alphaProducts: alpha, masks, products, rhoBits, rho, rhoR };
}

/**
 * A group's outputs (shares) from the opened D values, the variables' mask shares and the
 * mask products: the D table, then each output's terms (a bit expansion, ../../ring/bit-expand.ts).
 */
function evaluateGroup(
  g: GroupShape,
  opened: Uint32Array,
  masks: Uint32Array,
  products: Uint32Array,
  v0: number,
  k0: number,
  width: number,
  lead: number,
  outs: readonly Uint32Array[],
): void {
  const { dParent, dVar, termD, termA, ends, vars } = g;
  const row = (v: Uint32Array, r: number) => v.subarray(r * width, (r + 1) * width);
  // Lane vectors: the group's opened variables, their masks, then its mask products.
  const lane = [
    ...Array.from({ length: vars }, (_, v) => row(opened, v0 + v)),
    ...Array.from({ length: vars }, (_, v) => row(masks, v0 + v)),
    ...g.subsets.map((_, k) => row(products, k0 + k)),
  ];
  const entries = Array.from(dParent, (parent, k) => ({ parent, source: { lane: dVar[k]! }, invert: false }));
  const terms: BitExpansion['terms'][number][] = [];
  let q = 0;
  for (let t = 0; t < ends.length; t++)
    for (const end = ends[t]!; q < end; q++) {
      const src = termA[q]!;
      // The constant 1 is party 0's: D^T alone.
      if (src === ONE && lead === 0) continue;
      terms.push({ entry: termD[q]!, source: src === ONE ? 'ones' : { lane: vars + src }, out: t });
    }
  bitExpand({ width, period: 0, lane, periodic: [], entries, terms }, outs);
}

/**
 * A local group's outputs (shares) from the public y_i (c_i = not y_i) and the alpha sources (leaf
 * bits, then products; word w of the lanes is word w mod `period` of a source): the table of C^U
 * over every U, then each output's terms (a bit expansion, ../../ring/bit-expand.ts).
 */
function evaluateLocal(
  g: LocalShape,
  y: readonly Uint32Array[],
  sources: readonly Uint32Array[],
  period: number,
  width: number,
  lead: number,
  outs: readonly Uint32Array[],
): void {
  const { termC, termA, ends } = g;
  const entries: BitExpansion['entries'][number][] = [{ parent: -1, source: 'ones', invert: false }];
  for (let u = 1; u < 1 << y.length; u++)
    entries.push({ parent: u & (u - 1), source: { lane: 31 - Math.clz32(u & -u) }, invert: true });
  const terms: BitExpansion['terms'][number][] = [];
  let q = 0;
  for (let t = 0; t < ends.length; t++)
    for (const end = ends[t]!; q < end; q++) {
      const src = termA[q]!;
      if (src === ONE && lead === 0) continue;
      terms.push({ entry: termC[q]!, source: src === ONE ? 'ones' : { periodic: src }, out: t });
    }
  bitExpand({ width, period, lane: y, periodic: sources, entries, terms }, outs);
}

/**
 * One level of the tree, one round: every group's variables opened masked at once, then each
 * group's lt (and eq) from the expansion in GroupShape, word by word.
 */
async function combineLevel(
  ctx: PartyContext,
  level: TreeLevel,
  masks: Uint32Array,
  products: Uint32Array,
  lt: readonly Uint32Array[],
  eq: readonly Uint32Array[],
  width: number,
): Promise<{ lt: Uint32Array[]; eq: Uint32Array[] }> {
  const lead = ctx.index === 0 ? 0xffffffff : 0;
  // This party's share of each variable, masked, group by group.
  const opened = new Uint32Array(masks.length);
  let v0 = 0;
  let node = 0;
  for (const s of level.sizes) {
    if (s >= 2) {
      const g = groupShape(s, level.root);
      for (let v = 0; v < g.vars; v++) {
        const src = v < g.nEq ? eq[node + v]! : lt[node + v - g.nEq + 1]!;
        const at = (v0 + v) * width;
        for (let i = 0; i < width; i++) opened[at + i] = src[i]! ^ masks[at + i]!;
      }
      v0 += g.vars;
    }
    node += s;
  }
  const theirs = asWords(await ctx.exchange(asBytes(opened)));
  for (let i = 0; i < opened.length; i++) opened[i] = opened[i]! ^ theirs[i]!;
  const nlt: Uint32Array[] = [];
  const neq: Uint32Array[] = [];
  v0 = 0;
  node = 0;
  let k0 = 0;
  for (const s of level.sizes) {
    if (s < 2) {
      nlt.push(lt[node]!);
      neq.push(eq[node]!);
      node += 1;
      continue;
    }
    const g = groupShape(s, level.root);
    // lt = lt_0 xor T_1 xor ... xor T_{s-1}; eq = E.
    const outs = [lt[node]!.slice(), ...(level.root ? [] : [new Uint32Array(width)])];
    evaluateGroup(g, opened, masks, products, v0, k0, width, lead, outs);
    nlt.push(outs[0]!);
    if (!level.root) neq.push(outs[1]!);
    v0 += g.vars;
    k0 += g.subsets.length;
    node += s;
  }
  return { lt: nlt, eq: neq };
}

/** XOR shares of [y < alpha] per lane (a vector), one round per tree level. */
async function lessThanTree(
  ctx: PartyContext,
  p: CompareParams,
  m: BoolCompareMaterial,
  y: Ring,
): Promise<Uint32Array> {
  const L = p.bits - 1;
  const width = words(y.length);
  const lead = ctx.index === 0 ? 0xffffffff : 0;
  const { local, levels } = treePlan(L);
  const root = local.length === 1;
  const wordsN = words(p.n);
  const yPlanes = bitPlanes(y, 0, L);
  // The local level, group by group; leaves most significant first.
  let lt: Uint32Array[] = [];
  let eq: Uint32Array[] = [];
  let leaf = 0;
  let k0 = 0;
  for (const s of local) {
    const shape = localShape(s, root);
    // The leaves' y bits; c_i = not y_i.
    const ys = Array.from({ length: s }, (_, i) => yPlanes[L - 1 - (leaf + i)]!);
    const perElement = [
      ...ys.map((_, i) => m.rBits[L - 1 - (leaf + i)]!),
      ...shape.subsets.map((_, k) => m.alphaProducts.subarray((k0 + k) * wordsN, (k0 + k + 1) * wordsN)),
    ];
    // Alpha is per element: whole words per threshold are read in place, else tiled.
    const inPlace = p.n % 32 === 0 && p.n > 0;
    const sources = inPlace ? perElement : perElement.map((v) => tilePlane(v, p.n, p.points));
    const outs = [new Uint32Array(width), ...(root ? [] : [new Uint32Array(width)])];
    evaluateLocal(shape, ys, sources, inPlace ? wordsN : Math.max(width, 1), width, lead, outs);
    lt.push(outs[0]!);
    if (!root) eq.push(outs[1]!);
    leaf += s;
    k0 += shape.subsets.length;
  }
  for (let l = 0; l < levels.length; l++)
    ({ lt, eq } = await combineLevel(ctx, levels[l]!, m.masks[l]!, m.products[l]!, lt, eq, width));
  return lt[0]!;
}

/** After the opening: the comparison tree and the conversion (see the header). */
export async function finishBoolCompare(
  ctx: PartyContext,
  p: CompareParams,
  m: BoolCompareMaterial,
  x: Ring,
  xhat: Ring,
  thresholds: readonly bigint[],
): Promise<CompareResult> {
  const { a, y } = openedParts(xhat, thresholds, p);
  const c = await lessThanTree(ctx, p, m, y);
  // e = z xor rho with z = R_{m-1} xor c, opened in one round.
  const top = tilePlane(m.rBits[p.bits - 1]!, p.n, thresholds.length);
  const mine = c.map((v, i) => v ^ top[i]! ^ m.rhoBits[i]!);
  const theirs = asWords(await ctx.exchange(asBytes(mine)));
  // lt, ltx from e, rho (rho r) and the public a, x^ in one fused kernel (../../ring/fused.ts):
  // z = (1 - 2e) rho + e, zr = (1 - 2e) rho r + e r, then compare.ts's combineSign.
  return ringSignCombine({
    n: p.n,
    planes: thresholds.length,
    e: mine.map((v, i) => v ^ theirs[i]!),
    rho: m.rho,
    a,
    first: ctx.index === 0,
    select: m.rhoR ? { rhoR: m.rhoR, r: m.r, x, xhat } : undefined,
  });
}

export function boolCompareCost(p: CompareParams): Cost {
  const lanes = p.n * p.points;
  const { local, levels: tree } = treePlan(p.bits - 1);
  const levels = tree.map(levelCounts);
  const online = 8 * p.n + levels.reduce((s, l) => s + l.vars * vectorBytes(lanes), 0) + vectorBytes(lanes);
  const offline =
    p.bits * vectorBytes(p.n) +
    localProducts(local) * vectorBytes(p.n) +
    levels.reduce((s, l) => s + l.products * vectorBytes(lanes), 0) +
    8 * lanes * (p.select ? 2 : 1);
  return cost({ onlineBytes: [online, online], rounds: levels.length + 2, offlineBytes: [0, offline] });
}
