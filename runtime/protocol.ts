/**
 * The protocol interface: how an MPC protocol is written once and used by the
 * dealer, by both parties, by the accounting and by the cost model.
 *
 * Parties: 'server' is party 0 (weight owner), 'client' is party 1 (prompt
 * owner). A secret value is additively shared: x = x0 + x1 mod 2^64, each party
 * holding one `Share` (a flat BigInt64Array plus its shape). Reals are fixed
 * point with `fracBits` fractional bits (runtime/ring/fixed.ts); i64/bool
 * values are shared as plain integers (scale 0).
 *
 * A protocol has four parts, all driven by the same static parameters `P`:
 *
 *  - `deal(params, dealer)`: at the dealer, writes this op's correlated
 *    randomness for one inference through a `DealerStream`. Seed compression is
 *    built into the stream: everything either party can derive from the PRG
 *    seed it shares with the dealer costs nothing; only corrections are sent.
 *  - `material(params, stream)`: at a party, reads its side of that same
 *    randomness through a `MaterialStream`, making the SAME calls in the SAME
 *    order as `deal` (the stream methods have the same names on both sides).
 *  - `online(ctx, params, material, inputs)`: the online phase at one party,
 *    talking to the peer only through `ctx` (which counts bytes and rounds).
 *  - `cost(params)`: the exact communication the other three produce; tests
 *    hold every protocol to it and the cost model uses it.
 *
 * Protocols compose: a composite's deal/material/online call its parts' in
 * order, and its cost is `sumCosts` of theirs (rounds add up; sequential).
 *
 * Definitions used by the accounting (and promised to the cost model):
 *  - bytes: payload bytes a party hands to the channel (framing headers are
 *    not counted). Online bytes are per sending party; offline bytes are per
 *    receiving party (dealer -> party). Totals are the sums (no double counting).
 *  - round: one communication step. Every `exchange`, `send` or `recv` call is
 *    one round for the calling party; a `send` at one party always pairs with a
 *    `recv` at the other, so both parties count the same rounds per op.
 *  - setup: work done once per session (e.g. opening a masked server weight)
 *    through `ctx.once`, accounted apart from the per-inference online phase.
 */
import type { Attrs } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import type { Tensor } from '../ir/tensor.ts';
import type { Shape, TensorType, Visibility } from '../ir/types.ts';
import type { Prg } from './crypto/prg.ts';
import type { Ring } from './ring/kernels.ts';
import type { PairCost } from './twopc/link.ts';
import type { OtSession } from './twopc/triples.ts';

export type Party = 'server' | 'client';
export const PARTIES: readonly Party[] = ['server', 'client'];

/** Party index: server 0, client 1. */
export function partyIndex(p: Party): 0 | 1 {
  return p === 'server' ? 0 : 1;
}

export function otherParty(p: Party): Party {
  return p === 'server' ? 'client' : 'server';
}

/** One party's additive share of a secret tensor (row-major). */
export interface Share {
  readonly shape: Shape;
  readonly data: Ring;
}

/**
 * An op input as one party sees it: its share of a secret, a plaintext it
 * knows (public, or private to itself), or nothing (private to the peer).
 */
export type Operand =
  | { readonly kind: 'share'; readonly share: Share }
  | { readonly kind: 'plain'; readonly tensor: Tensor }
  | { readonly kind: 'hidden'; readonly type: TensorType };

/** Communication of one protocol run. Pairs are [server, client]. */
export interface Cost {
  /** Online bytes sent by each party, per inference. */
  readonly onlineBytes: readonly [number, number];
  /** Online rounds per inference (the same at both parties). */
  readonly rounds: number;
  /** Preprocessing bytes the dealer sends to each party, per inference. */
  readonly offlineBytes: readonly [number, number];
  /** Bytes sent by each party once per session (`ctx.once`), and their rounds. */
  readonly setupBytes: readonly [number, number];
  readonly setupRounds: number;
  /**
   * Without a dealer (setting '2pc'): bytes each party sends, per inference,
   * making the op's correlations before the input is known, and their flights
   * (./twopc/correlations.ts). Zero in the dealer setting.
   */
  readonly preprocessBytes: readonly [number, number];
  readonly preprocessRounds: number;
}

export const ZERO_COST: Cost = {
  onlineBytes: [0, 0],
  rounds: 0,
  offlineBytes: [0, 0],
  setupBytes: [0, 0],
  setupRounds: 0,
  preprocessBytes: [0, 0],
  preprocessRounds: 0,
};

/** Cost of protocol parts run one after another. */
export function sumCosts(...costs: readonly Cost[]): Cost {
  const pair = (f: (c: Cost) => readonly [number, number]): [number, number] => [
    costs.reduce((s, c) => s + f(c)[0], 0),
    costs.reduce((s, c) => s + f(c)[1], 0),
  ];
  return {
    onlineBytes: pair((c) => c.onlineBytes),
    rounds: costs.reduce((s, c) => s + c.rounds, 0),
    offlineBytes: pair((c) => c.offlineBytes),
    setupBytes: pair((c) => c.setupBytes),
    setupRounds: costs.reduce((s, c) => s + c.setupRounds, 0),
    preprocessBytes: pair((c) => c.preprocessBytes),
    preprocessRounds: costs.reduce((s, c) => s + c.preprocessRounds, 0),
  };
}

/** A cost with only some fields set (the rest zero). */
export function cost(parts: Partial<Cost>): Cost {
  return { ...ZERO_COST, ...parts };
}

/**
 * What a party's online code can do. One context is scoped to one op: its
 * traffic and time are accounted to that op.
 */
export interface PartyContext {
  readonly party: Party;
  /** 0 for the server, 1 for the client. */
  readonly index: 0 | 1;
  /** Fixed-point fractional bits of this session. */
  readonly fracBits: number;
  /**
   * Randomness common to both parties (seeded at the handshake, unknown to the
   * dealer). Both parties must draw from it in the same order.
   */
  readonly common: Prg;
  /** Sends `data` and receives the peer's message of the same round: one round. */
  exchange(data: Uint8Array): Promise<Uint8Array>;
  /** `exchange` of ring arrays; the peer's array has the same length. */
  exchangeRing(data: Ring): Promise<Ring>;
  /** One round in which only this party sends (the peer calls `recv`). */
  send(data: Uint8Array): Promise<void>;
  sendRing(data: Ring): Promise<void>;
  /** One round in which only the peer sends. */
  recv(): Promise<Uint8Array>;
  recvRing(): Promise<Ring>;
  /**
   * Session-scoped work: runs `compute` on the first call with this key in
   * this op (its traffic accounted as setup) and returns the cached result on
   * every later inference of the session. Both parties must call it alike.
   */
  once<T>(key: string, compute: () => Promise<T>): Promise<T>;
}

/**
 * The dealer's side of one op's correlated randomness. Pairs of shares come
 * from the PRG streams the dealer shares with each party, so the only bytes
 * sent are corrections (always to the client, party 1).
 */
export interface DealerStream {
  /** Uniform r with both shares drawn from the seeds (0 bytes). Returns r. */
  sharedRandom(n: number): Ring;
  /** Shares a value the dealer computed: server share from its seed, client gets value - share (8n bytes). */
  share(value: Ring): void;
  /** Uniform values known to `owner` only, from its seed (0 bytes). Returns them. */
  ownedRandom(owner: Party, n: number): Ring;
  /** Like `ownedRandom` but fixed for the whole session (same values every inference), per `key`. */
  sessionOwnedRandom(owner: Party, key: string, n: number): Ring;
  /** XOR-shared uniform bytes, both shares from the seeds (0 bytes). Returns b0 ^ b1. */
  sharedRandomBytes(n: number): Uint8Array;
  /** XOR-shares bytes: server share from its seed, client gets value ^ share (n bytes). */
  shareBytes(value: Uint8Array): void;
  /** Raw material for one party (e.g. function-secret-sharing keys): n bytes to it. */
  send(to: Party, data: Uint8Array): void;
  /** Deals one named correlation (`c.deal` on this stream). */
  correlation<P, M>(c: Correlation<P, M>, params: P): void;
}

/** A party's side of one op's correlated randomness; same calls, same order as the dealer's. */
export interface MaterialStream {
  readonly party: Party;
  /** This party's share of a `sharedRandom`. */
  sharedRandom(n: number): Ring;
  /** This party's share of a dealer `share`. */
  share(n: number): Ring;
  /** The values if this party is `owner`, else undefined (nothing is drawn). */
  ownedRandom(owner: Party, n: number): Ring | undefined;
  sessionOwnedRandom(owner: Party, key: string, n: number): Ring | undefined;
  sharedRandomBytes(n: number): Uint8Array;
  shareBytes(n: number): Uint8Array;
  /** The n bytes the dealer sent to `to` if this party is `to`, else undefined. */
  receive(to: Party, n: number): Uint8Array | undefined;
  /**
   * This party's side of one named correlation: `c.material` on this stream
   * with a dealer; in the dealer-free setting, what `c.preprocess` made.
   */
  correlation<P, M>(c: Correlation<P, M>, params: P): M;
}

/**
 * The two-party side of preprocessing (setting '2pc', no dealer): one party's
 * OT extension with the peer (both directions, ./twopc/triples.ts) and its own
 * randomness. Nothing here depends on an input, so it can run ahead.
 */
export interface Preprocessor {
  readonly party: Party;
  readonly ot: OtSession;
  /** This party's private randomness for this inference. */
  readonly rng: Prg;
  /**
   * This party's values fixed for the session under `key` (the same every
   * inference): the dealer-free form of `sessionOwnedRandom` for the owner.
   */
  sessionRandom(key: string, n: number): Ring;
}

/**
 * A named piece of correlated randomness that a protocol reads whole: a Beaver
 * triple, a truncation mask, a comparison's bit masks. Every `share`,
 * `shareBytes` and `send` of a protocol offered without a dealer sits inside
 * one, because without a dealer no party knows the value a dealer would
 * share: the two parties make the whole correlation together instead.
 *
 *  - `deal` / `material`: as a protocol's, with a dealer (same calls, same order).
 *  - `preprocess`: without a dealer, both parties run it against each other and
 *    each gets the same kind of material `material` returns, with the same
 *    joint distribution. Absent: the correlation needs a dealer (e.g. DCF keys).
 *  - `preprocessCost`: the exact traffic of `preprocess` (bytes per sending
 *    party, flights), which tests hold it to and the cost model uses.
 */
export interface Correlation<P, M> {
  readonly name: string;
  deal(params: P, dealer: DealerStream): void;
  material(params: P, stream: MaterialStream): M;
  readonly preprocess?: (params: P, pre: Preprocessor) => Promise<M>;
  readonly preprocessCost?: (params: P) => PairCost;
}

/**
 * A protocol: parameters P (static: shapes, bits), material M (this party's
 * correlated randomness for one run), inputs I and outputs O of the online phase.
 */
export interface Protocol<P, M, I = readonly Share[], O = Share[]> {
  readonly name: string;
  deal(params: P, dealer: DealerStream): void;
  material(params: P, stream: MaterialStream): M;
  online(ctx: PartyContext, params: P, material: M, inputs: I): Promise<O>;
  cost(params: P): Cost;
}

/** Static description of one placed node, from which an op protocol derives its parameters. */
export interface NodeSpec {
  /** A stable id unique in the plan (the node's first output id). */
  readonly id: string;
  readonly op: OpName;
  readonly attrs: Attrs;
  readonly inputs: readonly { readonly type: TensorType; readonly visibility: Visibility }[];
  readonly outputs: readonly TensorType[];
}

/** Settings of a session that op protocols need when they bind to a node. */
export interface RingSettings {
  readonly fracBits: number;
}

/** An op protocol bound to one node: parameters fixed, material opaque. */
export interface BoundOp {
  readonly cost: Cost;
  deal(dealer: DealerStream): void;
  /** Reads this party's material and returns the online run it enables (results as this party sees them). */
  prepare(stream: MaterialStream): (ctx: PartyContext, inputs: readonly Operand[]) => Promise<Operand[]>;
}
