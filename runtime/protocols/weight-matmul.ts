/**
 * Product of a shared activation X by a SERVER-PRIVATE weight W (plaintext at
 * the server), with the weight's masked form opened once per session.
 *
 * Dealer: B, uniform and fixed for the session, known to the server (from its
 * session seed); per inference A, uniform, known to the client (from its
 * stream seed), and shares of C = A B (right product X W) or C = B A (left
 * product W X); only C's correction is sent (to the client).
 *
 * Session setup (one round, server -> client, 8 bytes per weight element):
 * F = W - B. B is uniform and unknown to the client, so F reveals nothing.
 * Per inference (one round, client -> server, 8 bytes per X element):
 * E = X1 - A, uniform to the server since A is unknown to it. Then, for X W,
 *     X W = X0 W + (E + A) W = (X0 + E) W + A F + A B,
 * so the server sets Z0 = (X0 + E) W + C0 and the client Z1 = A F + C1
 * (symmetrically W X: Z0 = W (X0 + E) + C0, Z1 = F A + C1). Exact in the ring;
 * one matrix product per party. The result has 2f fractional bits (see
 * ./fixed-mul.ts for the truncating version).
 *
 * X may carry batch dimensions (batch products against the same W).
 */
import { MarillError } from '../../ir/errors.ts';
import type { Cost, Protocol } from '../protocol.ts';
import { cost } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringAdd, ringMatmulBatched, ringSub } from '../ring/kernels.ts';

export interface WeightMatmulParams {
  /** 'right': X (batch, m, k) times W (k, n); 'left': W (m, k) times X (batch, k, n). */
  readonly side: 'right' | 'left';
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

export interface WeightMatmulMaterial {
  /** A, at the client only. */
  readonly a: Ring | undefined;
  /** B, at the server only. */
  /**
   * B, at the server only, drawn on demand: the server needs it once per
   * session (to open W - B), so it is not regenerated every inference.
   */
  readonly b: (() => Ring) | undefined;
  readonly c: Ring;
}

export interface WeightMatmulInputs {
  /** This party's share of X. */
  readonly x: Ring;
  /** W, encoded; at the server only. */
  readonly w: Ring | undefined;
}

function sizes(p: WeightMatmulParams): { x: number; w: number; z: number } {
  return p.side === 'right'
    ? { x: p.batch * p.m * p.k, w: p.k * p.n, z: p.batch * p.m * p.n }
    : { x: p.batch * p.k * p.n, w: p.m * p.k, z: p.batch * p.m * p.n };
}

/** The batch of products activation x weight (in the side's order); the weight is shared by the batch. */
function product(p: WeightMatmulParams, activation: Ring, weight: Ring): Ring {
  const { batch, m, k, n } = p;
  return p.side === 'right'
    ? ringMatmulBatched(activation, weight, batch, m, k, n, { a: m * k, b: 0 })
    : ringMatmulBatched(weight, activation, batch, m, k, n, { a: 0, b: k * n });
}

export const weightMatmul: Protocol<WeightMatmulParams, WeightMatmulMaterial, WeightMatmulInputs, Ring> = {
  name: 'beaver.weight',

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

  async online(ctx, p, mat, { x, w }) {
    const s = sizes(p);
    if (x.length !== s.x)
      throw new MarillError(`beaver.weight: activation share has ${x.length} elements, expected ${s.x}`);
    if (ctx.party === 'server') {
      if (!w || w.length !== s.w)
        throw new MarillError(`beaver.weight: the server has no ${s.w}-element weight`);
      const weight = w;
      await ctx.once('masked-weight', async () => {
        await ctx.sendRing(ringSub(weight, mat.b!()));
        return true;
      });
      const e = await ctx.recvRing();
      if (e.length !== s.x)
        throw new MarillError(`beaver.weight: client sent ${e.length} elements, expected ${s.x}`);
      return ringAdd(product(p, ringAdd(x, e), weight), mat.c);
    }
    const f = await ctx.once('masked-weight', () => ctx.recvRing());
    if (f.length !== s.w)
      throw new MarillError(`beaver.weight: server sent ${f.length} weight elements, expected ${s.w}`);
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
