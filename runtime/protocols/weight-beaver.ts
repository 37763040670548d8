/**
 * Beaver product of a shared activation X by a SERVER-PRIVATE weight W (plaintext at the
 * server), with the weight's masked form opened once per session: the algebra that
 * ./weight-matmul.ts (matrix products) and ./weight-mul.ts (broadcast elementwise products)
 * share; each supplies its sizes and its product `X (x) W`, bilinear in (X, W).
 *
 * Dealer: B, uniform and fixed for the session, known to the server (from its session seed);
 * per inference A, uniform, known to the client (from its stream seed), and shares of
 * C = A (x) B; only C's correction is sent (to the client).
 *
 * Session setup (one round, server -> client, 8 bytes per weight element): F = W - B. B is
 * uniform and unknown to the client, so F reveals nothing. Per inference (one round,
 * client -> server, 8 bytes per X element): E = X1 - A, uniform to the server since A is
 * unknown to it. Then
 *     X (x) W = (X0 + E) (x) W + A (x) F + A (x) B,
 * so the server sets Z0 = (X0 + E) (x) W + C0 and the client Z1 = A (x) F + C1. Exact in the
 * ring; the result has 2f fractional bits (./fixed-mul.ts truncates).
 */
import { MarillError } from '../../ir/errors.ts';
import type { Correlation, Cost, Protocol } from '../protocol.ts';
import { cost } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringAdd, ringSub } from '../ring/kernels.ts';
import type { PairCost } from '../twopc/link.ts';
import type { MatmulShape, OtSession } from '../twopc/triples.ts';
import { gilboaProduct, gilboaProductCost, weightTriple, weightTripleCost } from '../twopc/triples.ts';

export interface WeightBeaverMaterial {
  /** A, at the client only. */
  readonly a: Ring | undefined;
  /**
   * B, at the server only, drawn on demand: the server needs it once per
   * session (to open W - B), so it is not regenerated every inference.
   */
  readonly b: (() => Ring) | undefined;
  readonly c: Ring;
}

export interface WeightBeaverInputs {
  /** This party's share of X. */
  readonly x: Ring;
  /** W, encoded; at the server only. */
  readonly w: Ring | undefined;
}

/** Elements of the activation X, of the weight W and of the result. */
export interface WeightSizes {
  readonly x: number;
  readonly w: number;
  readonly z: number;
}

/**
 * The product as two Gilboa products see it (dealer-free setting, ../twopc/triples.ts): the
 * server's weight is the OT correlation, the client's activation gives the choice bits.
 *  - 'elementwise': activation * spread(weight), the server spreading W onto the result's
 *    layout first (one OT per bit of each activation element);
 *  - 'matmul': result(X' W') with X' = activation(A) [n, k] (per product when batched) and
 *    W' = weight(B) [k, w]: rearrangements (e.g. transposes for W X) that make the product
 *    one Gilboa matrix product (one OT per bit of each X' element, W' rows as correlations).
 * It must equal `product` (the tests hold every kind to it).
 */
export type WeightOtForm<P> =
  | { readonly kind: 'elementwise'; readonly spread: (p: P, weight: Ring) => Ring }
  | {
      readonly kind: 'matmul';
      readonly shape: (p: P) => MatmulShape;
      readonly activation: (p: P, a: Ring) => Ring;
      readonly weight: (p: P, b: Ring) => Ring;
      readonly result: (p: P, c: Ring) => Ring;
    };

/** What one kind of server-weight product is. */
export interface WeightProductSpec<P> {
  readonly name: string;
  /** Prefix of error messages. */
  readonly label: string;
  readonly sizes: (p: P) => WeightSizes;
  /** activation (x) weight: `z` elements from `x` and `w` elements. */
  readonly product: (p: P, activation: Ring, weight: Ring) => Ring;
  /** The same product in the form the dealer-free triple needs. */
  readonly ot: WeightOtForm<P>;
}

/** This party's share of A (x) B by OT: the server passes B, the client A. */
function otProduct<P>(form: WeightOtForm<P>, p: P, ot: OtSession, mine: Ring): Promise<Ring> {
  const server = ot.link.index === 0;
  if (form.kind === 'elementwise') return gilboaProduct(ot, 0, server ? form.spread(p, mine) : mine);
  const operand = server ? form.weight(p, mine) : form.activation(p, mine);
  return weightTriple(ot, form.shape(p), operand).then((c) => form.result(p, c));
}

function otProductCost<P>(form: WeightOtForm<P>, p: P, sizes: WeightSizes): PairCost {
  return form.kind === 'elementwise' ? gilboaProductCost(sizes.z, 0) : weightTripleCost(form.shape(p));
}

/**
 * The correlation of one kind of server-weight product: B fixed for the session at the
 * server, A fresh at the client, shares of C = A (x) B. Without a dealer the server draws B
 * from its session randomness (the same B every inference, as the dealer's
 * `sessionOwnedRandom`), the client A from its own, and C's shares come from one Gilboa
 * product (`spec.ot`).
 */
export function weightTripleCorrelation<P>(spec: WeightProductSpec<P>): Correlation<P, WeightBeaverMaterial> {
  const { sizes, product, ot } = spec;
  return {
    name: `${spec.name}.triple`,
    deal(p, d) {
      const s = sizes(p);
      const b = d.sessionOwnedRandom('server', 'B', s.w);
      const a = d.ownedRandom('client', s.x);
      d.share(product(p, a, b));
    },
    material(p, st) {
      const s = sizes(p);
      const b = st.party === 'server' ? () => st.sessionOwnedRandom('server', 'B', s.w)! : undefined;
      const a = st.ownedRandom('client', s.x);
      return { a, b, c: st.share(s.z) };
    },
    async preprocess(p, pre) {
      const s = sizes(p);
      if (pre.party === 'server') {
        const b = pre.sessionRandom('B', s.w);
        return { a: undefined, b: () => b, c: await otProduct(ot, p, pre.ot, b) };
      }
      const a = pre.rng.ring(s.x);
      return { a, b: undefined, c: await otProduct(ot, p, pre.ot, a) };
    },
    preprocessCost: (p) => otProductCost(ot, p, sizes(p)),
  };
}

/** The protocol of a server-weight product. */
export function weightBeaverProtocol<P>(
  spec: WeightProductSpec<P>,
): Protocol<P, WeightBeaverMaterial, WeightBeaverInputs, Ring> {
  const { label, sizes, product } = spec;
  const triple = weightTripleCorrelation(spec);
  return {
    name: spec.name,
    deal: (p, d) => d.correlation(triple, p),
    material: (p, st) => st.correlation(triple, p),

    async online(ctx, p, mat, { x, w }) {
      const s = sizes(p);
      if (x.length !== s.x)
        throw new MarillError(`${label}: activation share has ${x.length} elements, expected ${s.x}`);
      if (ctx.party === 'server') {
        if (!w || w.length !== s.w)
          throw new MarillError(`${label}: the server has no ${s.w}-element weight`);
        const weight = w;
        await ctx.once('masked-weight', async () => {
          await ctx.sendRing(ringSub(weight, mat.b!()));
          return true;
        });
        const e = await ctx.recvRing();
        if (e.length !== s.x)
          throw new MarillError(`${label}: client sent ${e.length} elements, expected ${s.x}`);
        return ringAdd(product(p, ringAdd(x, e), weight), mat.c);
      }
      const f = await ctx.once('masked-weight', () => ctx.recvRing());
      if (f.length !== s.w)
        throw new MarillError(`${label}: server sent ${f.length} weight elements, expected ${s.w}`);
      await ctx.sendRing(ringSub(x, mat.a!));
      return ringAdd(product(p, mat.a!, f), mat.c);
    },

    cost(p): Cost {
      const s = sizes(p);
      return cost({
        onlineBytes: [0, 8 * s.x],
        rounds: 1,
        offlineBytes: [0, 8 * s.z],
        setupBytes: [8 * s.w, 0],
        setupRounds: 1,
      });
    },
  };
}
