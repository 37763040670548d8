/**
 * Maximum and argmax over one axis by a tournament tree: each level compares adjacent pairs
 * (left, right) of every row at once and keeps max = left - [left - right < 0] (left - right),
 * so ties keep the left (lower index) element, as the plaintext argmax (first on ties). An odd
 * element out is carried to the next level. Exact for |x| < 2^13.
 *
 * argmax also carries each survivor's index: idx = il - [left < right] (il - ir). On the first
 * level il - ir = -1 is public (local); later ones need a Beaver product, whose opening travels
 * with the next level's comparison opening, so the indices cost one extra round in all.
 *
 * Cost, with ceil(log2 len) levels and n_l = rows * pairs at level l:
 *   rounds  levels * (comparison rounds) (+1 for argmax when levels >= 2);
 *   online  the levels' comparisons, + 16 n_l bytes per party per level >= 2 for argmax;
 *   offline the levels' comparisons, + 8 n_l bytes (triples) per level >= 2 for argmax.
 * Layout: x is [outer, len, inner] row-major; results are [outer, inner].
 */
import type { Cost, DealerStream, MaterialStream, PartyContext, Protocol } from '../../protocol.ts';
import { cost, sumCosts } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringSub } from '../../ring/kernels.ts';
import type { TripleMaterial } from '../beaver.ts';
import type { CompareParams } from './compare.ts';
import type { CompareMaterial } from './comparator.ts';
import { compareCost, compareMaterial, dealCompare, finishCompare, maskedInput } from './comparator.ts';
import { materialCost, openingCost } from './cost-util.ts';
import { openTogether } from './open.ts';
import { mulPart } from './parts.ts';

export interface TreeParams {
  readonly outer: number;
  readonly len: number;
  readonly inner: number;
  /** Width and variant of the comparisons (n and points are set per level). */
  readonly compare: CompareParams;
  readonly withIndex: boolean;
}

interface Level {
  /** Elements along the axis before this level, and the pairs compared. */
  readonly count: number;
  readonly pairs: number;
  /** Comparisons at this level: outer * pairs * inner. */
  readonly n: number;
  readonly compare: CompareParams;
}

function levels(p: TreeParams): Level[] {
  const out: Level[] = [];
  for (let c = p.len; c > 1; c = (c >> 1) + (c & 1)) {
    const n = p.outer * (c >> 1) * p.inner;
    out.push({ count: c, pairs: c >> 1, n, compare: { ...p.compare, n, points: 1, select: true } });
  }
  return out;
}

export interface TreeMaterial {
  readonly compares: CompareMaterial[];
  /** Index-product triples, for levels >= 2 (argmax). */
  readonly triples: (TripleMaterial | undefined)[];
}

/** Splits rows of `count` elements into the pairs' left and right elements (and the odd one out). */
function splitPairs(
  v: Ring,
  p: TreeParams,
  count: number,
): { left: Ring; right: Ring; odd: Ring | undefined } {
  const pairs = count >> 1;
  const left = new BigInt64Array(p.outer * pairs * p.inner);
  const right = new BigInt64Array(left.length);
  const odd = count & 1 ? new BigInt64Array(p.outer * p.inner) : undefined;
  if (p.inner === 1) {
    // One element per position (the last axis): element copies, not a subarray per element.
    for (let o = 0; o < p.outer; o++) {
      const src = o * count;
      const dst = o * pairs;
      for (let q = 0; q < pairs; q++) {
        left[dst + q] = v[src + 2 * q]!;
        right[dst + q] = v[src + 2 * q + 1]!;
      }
      if (odd) odd[o] = v[src + count - 1]!;
    }
    return { left, right, odd };
  }
  for (let o = 0; o < p.outer; o++) {
    const src = o * count * p.inner;
    const dst = o * pairs * p.inner;
    for (let q = 0; q < pairs; q++) {
      left.set(v.subarray(src + 2 * q * p.inner, src + (2 * q + 1) * p.inner), dst + q * p.inner);
      right.set(v.subarray(src + (2 * q + 1) * p.inner, src + (2 * q + 2) * p.inner), dst + q * p.inner);
    }
    if (odd) odd.set(v.subarray(src + (count - 1) * p.inner, src + count * p.inner), o * p.inner);
  }
  return { left, right, odd };
}

/** Rows of the winners (pairs) followed by the carried odd element. */
function joinRows(winners: Ring, odd: Ring | undefined, p: TreeParams, pairs: number): Ring {
  if (!odd) return winners;
  const next = pairs + 1;
  const out = new BigInt64Array(p.outer * next * p.inner);
  for (let o = 0; o < p.outer; o++) {
    out.set(winners.subarray(o * pairs * p.inner, (o + 1) * pairs * p.inner), o * next * p.inner);
    out.set(odd.subarray(o * p.inner, (o + 1) * p.inner), (o * next + pairs) * p.inner);
  }
  return out;
}

/** Public index positions of a row of `count` elements, as this party's share (party 0 holds them). */
function positions(ctx: Pick<PartyContext, 'index'>, p: TreeParams, count: number): Ring {
  const out = new BigInt64Array(p.outer * count * p.inner);
  if (ctx.index === 0)
    for (let o = 0; o < p.outer; o++)
      for (let k = 0; k < count; k++)
        out.fill(BigInt(k), (o * count + k) * p.inner, (o * count + k + 1) * p.inner);
  return out;
}

export function dealTree(p: TreeParams, d: DealerStream): void {
  levels(p).forEach((l, i) => {
    dealCompare(l.compare, d);
    if (p.withIndex && i > 0) mulPart.deal(l.n, d);
  });
}

export function treeMaterial(p: TreeParams, s: MaterialStream): TreeMaterial {
  const compares: CompareMaterial[] = [];
  const triples: (TripleMaterial | undefined)[] = [];
  levels(p).forEach((l, i) => {
    compares.push(compareMaterial(l.compare, s));
    triples.push(p.withIndex && i > 0 ? mulPart.material(l.n, s) : undefined);
  });
  return { compares, triples };
}

/** The maximum of each row and, with `withIndex`, its (first) position. */
export async function runTree(
  ctx: PartyContext,
  p: TreeParams,
  m: TreeMaterial,
  x: Ring,
): Promise<{ max: Ring; index: Ring | undefined }> {
  let values = x;
  let index = p.withIndex ? positions(ctx, p, p.len) : undefined;
  // The previous level's index product, waiting to be opened with this level's comparison.
  let pending:
    | { triple: TripleMaterial; lt: Ring; diff: Ring; left: Ring; odd: Ring | undefined; pairs: number }
    | undefined;
  const finishPending = (opened: Ring): void => {
    const q = pending!;
    const winners = ringSub(q.left, mulPart.finish(q.triple, q.diff, opened));
    index = joinRows(winners, q.odd, p, q.pairs);
    pending = undefined;
  };
  const all = levels(p);
  for (let i = 0; i < all.length; i++) {
    const l = all[i]!;
    const v = splitPairs(values, p, l.count);
    const d = ringSub(v.left, v.right);
    const messages = [maskedInput(m.compares[i]!, d)];
    if (pending) messages.push(mulPart.message(pending.triple, pending.lt, pending.diff));
    const opened = await openTogether(ctx, messages);
    if (pending) finishPending(opened[1]!);
    const { lt, ltx } = await finishCompare(ctx, l.compare, m.compares[i]!, d, opened[0]!, [0n]);
    values = joinRows(ringSub(v.left, ltx!), v.odd, p, l.pairs);
    if (index) {
      const iv = splitPairs(index, p, l.count);
      if (i === 0) {
        // il - ir = -1 on the first level: idx = il + lt.
        index = joinRows(ringAdd(iv.left, lt), iv.odd, p, l.pairs);
      } else {
        pending = {
          triple: m.triples[i]!,
          lt,
          diff: ringSub(iv.left, iv.right),
          left: iv.left,
          odd: iv.odd,
          pairs: l.pairs,
        };
      }
    }
  }
  if (pending)
    finishPending((await openTogether(ctx, [mulPart.message(pending.triple, pending.lt, pending.diff)]))[0]!);
  return { max: values, index };
}

export function treeCost(p: TreeParams): Cost {
  const parts: Cost[] = [];
  const all = levels(p);
  all.forEach((l, i) => {
    parts.push(compareCost(l.compare));
    if (p.withIndex && i > 0) {
      const merged = openingCost(mulPart.opened(l.n));
      parts.push({ ...merged, rounds: 0 }, materialCost(mulPart.offline(l.n)));
    }
  });
  // The last level's index product is opened alone.
  if (p.withIndex && all.length > 1) parts.push(cost({ rounds: 1 }));
  return sumCosts(...parts);
}

export const maxTreeProtocol: Protocol<
  TreeParams,
  TreeMaterial,
  Ring,
  { max: Ring; index: Ring | undefined }
> = {
  name: 'max.tree',
  deal: dealTree,
  material: treeMaterial,
  online: runTree,
  cost: treeCost,
};
