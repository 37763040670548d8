/**
 * Which correlations an op reads, found by dealing it once against a stream
 * that records instead of computing (`correlationsOf`), and what making them
 * without a dealer costs (`preprocessingCost`).
 *
 * Without a dealer (setting '2pc') every op's material is its correlations,
 * made by the two parties (`Correlation.preprocess`), plus values each party
 * draws alone (`sharedRandom`, `ownedRandom`, ...). An op whose deal shares,
 * XOR-shares or sends anything outside a correlation, or reads a correlation
 * that has no `preprocess`, needs a dealer: `needsDealer` says what.
 */
import type { BoundOp, Correlation, DealerStream } from '../protocol.ts';
import type { PairCost } from './link.ts';
import { NO_COST, sequence } from './link.ts';

/** One correlation an op reads, with its parameters (type-erased: `preprocess` takes them back). */
export interface CorrelationUse {
  readonly correlation: Correlation<unknown, unknown>;
  readonly params: unknown;
}

export interface OpCorrelations {
  /** In the order the op's material reads them. */
  readonly uses: readonly CorrelationUse[];
  /** Why the op needs a dealer (the first call found), or undefined. */
  readonly needsDealer: string | undefined;
}

/** Records the correlations of one deal; the dealer's own random values are zeros here (never used). */
export function correlationsOf(op: Pick<BoundOp, 'deal'>): OpCorrelations {
  const uses: CorrelationUse[] = [];
  let needsDealer: string | undefined;
  const mark = (why: string) => {
    needsDealer ??= why;
  };
  const recorder: DealerStream = {
    sharedRandom: (n) => new BigInt64Array(n),
    share: () => mark('shares a value the dealer computes'),
    ownedRandom: (_owner, n) => new BigInt64Array(n),
    sessionOwnedRandom: (_owner, _key, n) => new BigInt64Array(n),
    sharedRandomBytes: (n) => new Uint8Array(n),
    shareBytes: () => mark('XOR-shares bits the dealer computes'),
    send: () => mark('sends dealer keys'),
    correlation(c, params) {
      if (!c.preprocess || !c.preprocessCost) mark(`reads '${c.name}', which only a dealer makes`);
      uses.push({ correlation: c as Correlation<unknown, unknown>, params });
    },
  };
  op.deal(recorder);
  return { uses, needsDealer };
}

/** The exact traffic of making `uses` one after the other (what the runtime measures). */
export function preprocessingCost(uses: readonly CorrelationUse[]): PairCost {
  return sequence(NO_COST, ...uses.map((u) => u.correlation.preprocessCost!(u.params)));
}
