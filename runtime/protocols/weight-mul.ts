/**
 * Elementwise product of a shared X by a SERVER-PRIVATE W broadcast onto it
 * (e.g. a fine-tuned norm scale), the elementwise twin of ./weight-matmul.ts:
 * W's masked form F = W - B is opened once per session (server -> client),
 * then one round per inference (client -> server) sends E = X1 - A, and
 *     X * W = (X0 + E) * W + A * F + A * B
 * so the server sets Z0 = (X0 + E) * W + C0 and the client Z1 = A * F + C1,
 * with C = A * B shared by the dealer (A: client-known, fresh per inference;
 * B: server-known, fixed per session). W, B and F have W's own size and are
 * broadcast (index map `wMap`) onto X's. Exact in the ring; the product has
 * 2f fractional bits (the op protocol truncates).
 */
import { MarillError } from '../../ir/errors.ts';
import { applyMap } from '../mpc/layout.ts';
import type { Cost, Protocol } from '../protocol.ts';
import { cost } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringAdd, ringMul, ringSub } from '../ring/kernels.ts';

export interface WeightMulParams {
  /** Elements of X and of the result. */
  readonly n: number;
  /** Elements of W. */
  readonly w: number;
  /** W's index for each result element (undefined: same shape, no broadcast). */
  readonly wMap: Int32Array | undefined;
}

export interface WeightMulMaterial {
  readonly a: Ring | undefined;
  /**
   * B, at the server only, drawn on demand: the server needs it once per
   * session (to open W - B), so it is not regenerated every inference.
   */
  readonly b: (() => Ring) | undefined;
  readonly c: Ring;
}

const spread = (p: WeightMulParams, w: Ring): Ring => (p.wMap ? applyMap(w, p.wMap) : w);

export const weightMul: Protocol<WeightMulParams, WeightMulMaterial, { x: Ring; w: Ring | undefined }, Ring> =
  {
    name: 'beaver.weight-mul',

    deal(p, d) {
      const b = d.sessionOwnedRandom('server', 'B', p.w);
      const a = d.ownedRandom('client', p.n);
      d.share(ringMul(a, spread(p, b)));
    },

    material(p, s) {
      const b = s.party === 'server' ? () => s.sessionOwnedRandom('server', 'B', p.w)! : undefined;
      const a = s.ownedRandom('client', p.n);
      return { a, b, c: s.share(p.n) };
    },

    async online(ctx, p, mat, { x, w }) {
      if (x.length !== p.n)
        throw new MarillError(`weight mul: activation share has ${x.length} elements, expected ${p.n}`);
      if (ctx.party === 'server') {
        if (!w || w.length !== p.w)
          throw new MarillError(`weight mul: the server has no ${p.w}-element operand`);
        const weight = w;
        await ctx.once('masked-weight', async () => {
          await ctx.sendRing(ringSub(weight, mat.b!()));
          return true;
        });
        const e = await ctx.recvRing();
        if (e.length !== p.n)
          throw new MarillError(`weight mul: client sent ${e.length} elements, expected ${p.n}`);
        return ringAdd(ringMul(ringAdd(x, e), spread(p, weight)), mat.c);
      }
      const f = await ctx.once('masked-weight', () => ctx.recvRing());
      if (f.length !== p.w)
        throw new MarillError(`weight mul: server sent ${f.length} elements, expected ${p.w}`);
      await ctx.sendRing(ringSub(x, mat.a!));
      return ringAdd(ringMul(mat.a!, spread(p, f)), mat.c);
    },

    cost(p): Cost {
      return cost({
        onlineBytes: [0, 8 * p.n],
        rounds: 1,
        offlineBytes: [0, 8 * p.n],
        setupBytes: [8 * p.w, 0],
        setupRounds: 1,
      });
    },
  };
