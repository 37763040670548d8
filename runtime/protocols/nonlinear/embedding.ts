/**
 * Embedding lookup with a client-private index into a server-private table (gather on axis 0):
 * the client builds the one-hot matrix X [T, V] of its T indices (0/1 integers, no fractional
 * bits), and X W is the server-weight product of ../weight-matmul.ts: W's masked form is sent
 * once per session, then the client sends X - A (8 T V bytes) and both hold shares of X W,
 * already at f fractional bits (X has none): no truncation, exact.
 *
 * Cost: setup 8 V D bytes (server -> client, once per session), online 1 round with 8 T V bytes
 * from the client, offline 8 T D bytes to the client. Error: exact (the table's encoding only).
 */
import { MarillError } from '../../../ir/errors.ts';
import type { Cost, DealerStream, MaterialStream, PartyContext, Protocol } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import type { WeightMatmulMaterial, WeightMatmulParams } from '../weight-matmul.ts';
import { weightMatmul } from '../weight-matmul.ts';

export interface EmbeddingParams {
  /** Indices looked up. */
  readonly tokens: number;
  /** Rows of the table. */
  readonly vocab: number;
  /** Elements per row. */
  readonly dim: number;
}

export interface EmbeddingInputs {
  /** The client's indices (negative ones count from the end), undefined at the server. */
  readonly indices: BigInt64Array | undefined;
  /** The server's table, encoded, undefined at the client. */
  readonly table: Ring | undefined;
}

function product(p: EmbeddingParams): WeightMatmulParams {
  return { side: 'right', batch: 1, m: p.tokens, k: p.vocab, n: p.dim };
}

/** The one-hot matrix [tokens, vocab] of the indices. */
export function oneHot(p: EmbeddingParams, indices: BigInt64Array): Ring {
  if (indices.length !== p.tokens)
    throw new MarillError(`embedding: ${indices.length} indices, expected ${p.tokens}`);
  const x = new BigInt64Array(p.tokens * p.vocab);
  indices.forEach((raw, t) => {
    const i = raw < 0n ? raw + BigInt(p.vocab) : raw;
    if (i < 0n || i >= BigInt(p.vocab))
      throw new MarillError(`embedding index ${raw} is outside a table of ${p.vocab} rows`);
    x[t * p.vocab + Number(i)] = 1n;
  });
  return x;
}

export const embeddingProtocol: Protocol<EmbeddingParams, WeightMatmulMaterial, EmbeddingInputs, Ring> = {
  name: 'embedding.onehot',
  deal: (p, d: DealerStream) => weightMatmul.deal(product(p), d),
  material: (p, s: MaterialStream) => weightMatmul.material(product(p), s),
  async online(ctx: PartyContext, p, m, { indices, table }) {
    // The server's share of X is 0; the client's is X itself (masked by A before it is sent).
    const x =
      ctx.party === 'client'
        ? oneHot(p, indices ?? fail('the client holds no indices'))
        : new BigInt64Array(p.tokens * p.vocab);
    return weightMatmul.online(ctx, product(p), m, { x, w: table });
  },
  cost: (p): Cost => weightMatmul.cost(product(p)),
};

function fail(message: string): never {
  throw new MarillError(`embedding: ${message}`);
}
