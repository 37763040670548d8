/**
 * Where a party's dealer material comes from, one frame per bound op per
 * inference (runtime/bound-plan.ts order), behind one interface:
 *
 *  - in process (`inProcessFeeds`): a dealer in the same process (simulate, tests);
 *  - a live dealer process over TCP (./live.ts);
 *  - files generated ahead (./files.ts).
 *
 * `PlanDealer` is the dealer's side for a whole plan: it deals one inference
 * at a time for both parties and queues each party's frames until it asks.
 */
import { MarillError } from '../../ir/errors.ts';
import type { BoundPlanOp } from '../bound-plan.ts';
import { bindPlan } from '../bound-plan.ts';
import type { Plan } from '../plan.ts';
import { Prg } from '../crypto/prg.ts';
import type { Party } from '../protocol.ts';
import { partyIndex } from '../protocol.ts';
import type { PartyAccounting } from '../mpc/accounting.ts';
import type { SessionState } from '../mpc/context.ts';
import type { PartySeeds } from './streams.ts';
import { Dealer, freshSeeds } from './streams.ts';

export interface MaterialFeed {
  /** The seeds this party shares with the dealer. */
  readonly seeds: PartySeeds;
  /** Which dealer material this is; both parties' tags must be equal (checked at the handshake). */
  readonly tag: string;
  /**
   * Reserves the material of one inference and returns its index: the one the
   * peer chose (`index`), or else the next this feed hands out. Material is
   * recorded as used before the index is returned, so it never serves two
   * inferences; an index this feed cannot give (already used, out of order
   * for a live dealer, past the end of a folder) is refused.
   */
  reserve(index?: number): number;
  /**
   * Starts inference `index` (reserved before): a live dealer is asked for its
   * material; without a dealer, the parties make it now over `peer`.
   */
  begin(index: number, peer?: PreprocessPeer): Promise<void>;
  /** The frame of the next bound op. */
  next(): Promise<Uint8Array>;
  /**
   * Without a dealer: the next bound op's correlations as `preprocess` made
   * them, in the order its material reads them (`next` then gives an empty frame).
   */
  preprocessed?(): readonly unknown[];
  close(): void;
}

/** What making material without a dealer needs from the party's session. */
export interface PreprocessPeer {
  readonly session: SessionState;
  readonly accounting: PartyAccounting;
}

/**
 * The bound ops of inference `index` of a session: the same plan's for every
 * inference, or, in a generation, the plan of step `index` (runtime/generate/).
 */
export type OpsAt = (index: number) => readonly BoundPlanOp[];

/**
 * The dealer for a plan: deals whole inferences, holds frames until each party
 * takes them. One dealer (one pair of seeds, one set of session-fixed values)
 * serves a whole session, so a generation's steps share the session-fixed
 * values of the ops they share (runtime/bound-plan.ts `sessionKey`).
 */
export class PlanDealer {
  readonly seeds: readonly [PartySeeds, PartySeeds];
  /** A random id of this dealer session. */
  readonly id = Buffer.from(Prg.freshSeed()).toString('hex').slice(0, 16);
  private readonly dealer: Dealer;
  private readonly opsAt: OpsAt;
  private readonly queues: [Uint8Array[][], Uint8Array[][]] = [[], []];
  /** Inferences dealt so far. */
  dealt = 0;

  /**
   * `limit`: the inferences of the session (a generation's steps, known once
   * announced: a live dealer raises it then); unbounded by default.
   */
  constructor(
    plan: Plan | OpsAt,
    seeds: readonly [PartySeeds, PartySeeds] = [freshSeeds(), freshSeeds()],
    public limit = Infinity,
  ) {
    this.seeds = seeds;
    this.dealer = new Dealer(seeds);
    if (typeof plan === 'function') this.opsAt = plan;
    else {
      const ops = bindPlan(plan);
      this.opsAt = () => ops;
    }
  }

  /** Bound ops of the first inference (every inference's, for one plan). */
  get opCount(): number {
    return this.opsAt(0).length;
  }

  /** Bytes dealt and not yet handed to their party (what run-ahead holds in memory). */
  get queuedBytes(): number {
    let n = 0;
    for (const q of this.queues) for (const frames of q) for (const f of frames) n += f.byteLength;
    return n;
  }

  /** Deals the next inference for both parties; returns [server frames, client frames]. */
  dealInference(): [Uint8Array[], Uint8Array[]] {
    if (this.dealt >= this.limit)
      throw new MarillError(`the session announced ${this.limit} step(s); no material is dealt past them`);
    const frames: [Uint8Array[], Uint8Array[]] = [[], []];
    this.dealer.startInference(this.dealt);
    for (const op of this.opsAt(this.dealt)) {
      this.dealOp(op, frames);
    }
    this.dealt++;
    return frames;
  }

  /** The next inference's frames for `party`, dealing a new inference if it is ahead of the other. */
  framesFor(party: Party): Uint8Array[] {
    const i = partyIndex(party);
    if (this.queues[i].length === 0) this.enqueue(this.dealInference());
    return this.queues[i].shift()!;
  }

  private enqueue([f0, f1]: [Uint8Array[], Uint8Array[]]): void {
    this.queues[0].push(f0);
    this.queues[1].push(f1);
  }

  /** The inference being dealt ahead, if any. */
  private ahead: Promise<void> | undefined;

  /**
   * Run-ahead: once both parties hold every inference dealt so far, deal the
   * next one in the background (yielding to the event loop between ops, so
   * the dealer keeps sending frames meanwhile). A party's next request then
   * finds its material ready instead of waiting for the dealing. `allowed`
   * says whether memory is left for it (a dealer serving many sessions bounds
   * what all of them hold ahead).
   */
  dealAhead(allowed: () => boolean = () => true): void {
    if (this.stopped || this.ahead || this.queues[0].length > 0 || this.queues[1].length > 0) return;
    if (this.dealt >= this.limit) return;
    if (!allowed()) return;
    const ahead = this.dealInferenceYielding().then((frames) => this.enqueue(frames));
    // A stopped run-ahead is nobody's error; a failing deal surfaces at the next request.
    ahead.catch(() => {});
    this.ahead = ahead.finally(() => {
      this.ahead = undefined;
    });
    this.ahead.catch(() => {});
  }

  /** Like framesFor, but first waits for an inference being dealt ahead. */
  async nextFramesFor(party: Party): Promise<Uint8Array[]> {
    if (this.ahead) await this.ahead;
    return this.framesFor(party);
  }

  private stopped = false;

  /** Stops dealing ahead (the session is over): an inference being dealt is abandoned. */
  stop(): void {
    this.stopped = true;
  }

  /** Deals one op of an inference, appending its frames to [server frames, client frames]. */
  private dealOp(op: BoundPlanOp, frames: [Uint8Array[], Uint8Array[]]): void {
    op.bound.deal(this.dealer.forOp(op.spec.id, op.sessionKey));
    const [f0, f1] = this.dealer.takeFrames();
    frames[0].push(f0);
    frames[1].push(f1);
  }

  private async dealInferenceYielding(): Promise<[Uint8Array[], Uint8Array[]]> {
    const frames: [Uint8Array[], Uint8Array[]] = [[], []];
    this.dealer.startInference(this.dealt);
    for (const op of this.opsAt(this.dealt)) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.stopped) throw new MarillError('the dealer stopped');
      this.dealOp(op, frames);
    }
    this.dealt++;
    return frames;
  }
}

/**
 * A feed over a list of frames per inference, dealt in order (shared by
 * in-process and live feeds): inference k's material is the k-th the dealer
 * hands out, so a reserved index must be the next one.
 */
export class QueuedFeed implements MaterialFeed {
  private frames: Uint8Array[] = [];
  private reserved = 0;
  private begun = 0;

  constructor(
    readonly seeds: PartySeeds,
    readonly tag: string,
    /** The frames of inference `index`. */
    private readonly fetch: (index: number) => Promise<Uint8Array[]>,
    private readonly onClose: () => void = () => {},
  ) {}

  reserve(index?: number): number {
    if (index !== undefined && index !== this.reserved)
      throw new MarillError(
        `the peer asked for dealer inference ${index}, but this dealer deals in order and the next is ${this.reserved}`,
      );
    return this.reserved++;
  }

  async begin(index: number): Promise<void> {
    if (this.frames.length > 0)
      throw new MarillError(`${this.frames.length} dealer frames of the previous inference were not used`);
    if (index !== this.begun || index >= this.reserved)
      throw new MarillError(`dealer inference ${index} was not reserved in order (next is ${this.begun})`);
    this.begun++;
    this.frames = await this.fetch(index);
  }

  async next(): Promise<Uint8Array> {
    const f = this.frames.shift();
    if (!f) throw new MarillError('the dealer sent fewer material frames than the plan has protocol ops');
    return f;
  }

  close(): void {
    this.onClose();
  }
}

/** Both parties' feeds from one dealer in this process (of one plan, or of a generation's steps). */
export function inProcessFeeds(plan: Plan | OpsAt, limit?: number): [MaterialFeed, MaterialFeed] {
  const dealer = new PlanDealer(plan, undefined, limit);
  return [
    new QueuedFeed(dealer.seeds[0], dealer.id, async () => dealer.framesFor('server')),
    new QueuedFeed(dealer.seeds[1], dealer.id, async () => dealer.framesFor('client')),
  ];
}
