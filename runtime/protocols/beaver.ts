/**
 * Beaver multiplication of two shared values with dealer triples, in the ring
 * (no fixed-point rescaling: the product of two values with f fractional bits
 * has 2f; ./fixed-mul.ts adds the truncation).
 *
 * Elementwise: triple (a, b, c = a*b); the parties open e = x - a and
 * f = y - b in one exchange and set z_i = e*y_i + a_i*f + c_i, which sums to
 * e*y + a*(y - b) + a*b = x*y. Exact (ring identity), one round.
 * Square: pair (a, c = a^2); open e = x - a; z_i = [i=0] e^2 + 2e*a_i + c_i.
 * Matmul: triple (A, B, C = A B) of the product's shapes; Z_i = E Y_i + A_i F + C_i.
 *
 * Seed compression: a and b (A and B) come from the seeds; only c (C) is sent,
 * as a correction to the client.
 *
 * The online algebra is also exported in split form (`beaverMessage` / `beaverFinish`,
 * `beaverSquareMessage` / `beaverSquareFinish`) for protocols that merge several openings
 * into one round (./nonlinear/parts.ts).
 */
import { MarillError } from '../../ir/errors.ts';
import type { Correlation, Cost, DealerStream, MaterialStream, PartyContext, Protocol } from '../protocol.ts';
import { cost } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringAdd, ringMatmulBatched, ringMul, ringMulScalar, ringSub } from '../ring/kernels.ts';
import type { MatmulShape } from '../twopc/triples.ts';
import {
  beaverTriples,
  beaverTriplesCost,
  matrixTriple as otMatrixTriple,
  matrixTripleCost as otMatrixTripleCost,
  sharedSquare,
  sharedSquareCost,
} from '../twopc/triples.ts';

function checkLength(r: Ring, n: number, what: string): void {
  if (r.length !== n) throw new MarillError(`${what}: expected ${n} elements, got ${r.length}`);
}

function split2(r: Ring, n: number): [Ring, Ring] {
  return [r.subarray(0, n), r.subarray(n)];
}

function joined(a: Ring, b: Ring): Ring {
  const out = new BigInt64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// ---- elementwise product ------------------------------------------------------------------------

export interface ElementwiseParams {
  readonly n: number;
}

export interface TripleMaterial {
  readonly a: Ring;
  readonly b: Ring;
  readonly c: Ring;
}

/** This party's share of the values a Beaver product opens: (x - a, y - b), in one array. */
export function beaverMessage(m: TripleMaterial, x: Ring, y: Ring): Ring {
  return joined(ringSub(x, m.a), ringSub(y, m.b));
}

/**
 * This party's share of x * y from the opened (e, f) = (x - a, y - b) and its share of y:
 * e y_i + a_i f + c_i. `product` is the product the triple was made for (elementwise by default).
 */
export function beaverFinish(
  m: TripleMaterial,
  y: Ring,
  opened: Ring,
  product: (a: Ring, b: Ring) => Ring = ringMul,
): Ring {
  const [e, f] = split2(opened, m.a.length);
  const z = product(e, y);
  ringAdd(z, product(m.a, f), z);
  return ringAdd(z, m.c, z);
}

/** n elementwise triples: a, b uniform, c = a b. */
export const beaverTriple: Correlation<ElementwiseParams, TripleMaterial> = {
  name: 'triple',
  deal({ n }, d: DealerStream) {
    const a = d.sharedRandom(n);
    const b = d.sharedRandom(n);
    d.share(ringMul(a, b));
  },
  material({ n }, s: MaterialStream) {
    return { a: s.sharedRandom(n), b: s.sharedRandom(n), c: s.share(n) };
  },
  // Without a dealer: c by Gilboa products of both cross terms (../twopc/triples.ts).
  preprocess: ({ n }, pre) => beaverTriples(pre.ot, n, pre.rng),
  preprocessCost: ({ n }) => beaverTriplesCost(n),
};

export const beaverMul: Protocol<ElementwiseParams, TripleMaterial, readonly [Ring, Ring], Ring> = {
  name: 'beaver.mul',
  deal: (p, d) => d.correlation(beaverTriple, p),
  material: (p, s) => s.correlation(beaverTriple, p),
  async online(ctx: PartyContext, { n }, m, [x, y]) {
    checkLength(x, n, 'beaver.mul x');
    checkLength(y, n, 'beaver.mul y');
    const mine = beaverMessage(m, x, y);
    return beaverFinish(m, y, ringAdd(mine, await ctx.exchangeRing(mine)));
  },
  cost({ n }): Cost {
    return cost({ onlineBytes: [16 * n, 16 * n], rounds: 1, offlineBytes: [0, 8 * n] });
  },
};

export interface PairMaterial {
  readonly a: Ring;
  readonly c: Ring;
}

/** This party's share of the value a Beaver square opens: x - a. */
export function beaverSquareMessage(m: PairMaterial, x: Ring): Ring {
  return ringSub(x, m.a);
}

/** This party's share of x^2 from the opened e = x - a: [i = 0] e^2 + 2 e a_i + c_i. */
export function beaverSquareFinish(index: 0 | 1, m: PairMaterial, e: Ring): Ring {
  const z = ringMulScalar(ringMul(e, m.a), 2n);
  ringAdd(z, m.c, z);
  if (index === 0) ringAdd(z, ringMul(e, e), z);
  return z;
}

/** n square pairs: a uniform, c = a^2. */
export const beaverPair: Correlation<ElementwiseParams, PairMaterial> = {
  name: 'square-pair',
  deal({ n }, d) {
    const a = d.sharedRandom(n);
    d.share(ringMul(a, a));
  },
  material({ n }, s) {
    return { a: s.sharedRandom(n), c: s.share(n) };
  },
  // Without a dealer: c = a0^2 + a1^2 + 2 [a0 a1], one Gilboa product.
  async preprocess({ n }, pre) {
    const a = pre.rng.ring(n);
    return { a, c: await sharedSquare(pre.ot, a) };
  },
  preprocessCost: ({ n }) => sharedSquareCost(n),
};

export const beaverSquare: Protocol<ElementwiseParams, PairMaterial, Ring, Ring> = {
  name: 'beaver.square',
  deal: (p, d) => d.correlation(beaverPair, p),
  material: (p, s) => s.correlation(beaverPair, p),
  async online(ctx, { n }, m, x) {
    checkLength(x, n, 'beaver.square x');
    const mine = beaverSquareMessage(m, x);
    return beaverSquareFinish(ctx.index, m, ringAdd(mine, await ctx.exchangeRing(mine)));
  },
  cost({ n }) {
    return cost({ onlineBytes: [8 * n, 8 * n], rounds: 1, offlineBytes: [0, 8 * n] });
  },
};

// ---- matrix product -----------------------------------------------------------------------------

/** `batch` independent products (m x k) by (k x n), operands stored batch-major. */
export interface MatmulParams {
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

const sizes = ({ batch, m, k, n }: MatmulParams) => ({
  x: batch * m * k,
  y: batch * k * n,
  z: batch * m * n,
});

const gilboaShape = (p: MatmulParams): MatmulShape => ({ batch: p.batch, n: p.m, k: p.k, w: p.n });

function batched(p: MatmulParams, a: Ring, b: Ring): Ring {
  return ringMatmulBatched(a, b, p.batch, p.m, p.k, p.n);
}

/** A matrix triple of `batch` products: A, B uniform, C = A B per batch. */
export const matrixTriple: Correlation<MatmulParams, TripleMaterial> = {
  name: 'matrix-triple',
  deal(p, d) {
    const s = sizes(p);
    const a = d.sharedRandom(s.x);
    const b = d.sharedRandom(s.y);
    d.share(batched(p, a, b));
  },
  material(p, st) {
    const s = sizes(p);
    return { a: st.sharedRandom(s.x), b: st.sharedRandom(s.y), c: st.share(s.z) };
  },
  // Without a dealer: both cross products by Gilboa, every product of the batch in one batch of OTs.
  preprocess: (p, pre) => otMatrixTriple(pre.ot, gilboaShape(p), pre.rng),
  preprocessCost: (p) => otMatrixTripleCost(gilboaShape(p)),
};

export const beaverMatmul: Protocol<MatmulParams, TripleMaterial, readonly [Ring, Ring], Ring> = {
  name: 'beaver.matmul',
  deal: (p, d) => d.correlation(matrixTriple, p),
  material: (p, st) => st.correlation(matrixTriple, p),
  async online(ctx, p, m, [x, y]) {
    const s = sizes(p);
    checkLength(x, s.x, 'beaver.matmul x');
    checkLength(y, s.y, 'beaver.matmul y');
    const mine = beaverMessage(m, x, y);
    const opened = ringAdd(mine, await ctx.exchangeRing(mine));
    return beaverFinish(m, y, opened, (a, b) => batched(p, a, b));
  },
  cost(p) {
    const s = sizes(p);
    const sent = 8 * (s.x + s.y);
    return cost({ onlineBytes: [sent, sent], rounds: 1, offlineBytes: [0, 8 * s.z] });
  },
};
