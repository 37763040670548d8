/**
 * Material without a dealer (setting '2pc'): a `MaterialFeed` whose `begin`
 * makes the correlations of every bound op of the inference with the peer
 * (each op's `correlations`, runtime/bound-plan.ts, by `Correlation.preprocess`),
 * before any input is used, and hands them to the ops in order.
 *
 * The first `begin` of a session sets up the OT extension (base OTs both
 * ways): accounted once per session under the pseudo-op `ot-setup`. Each op's
 * preprocessing is accounted to the op (bytes sent, flights as this party saw
 * them, wall time), so the report sets it apart from the online phase.
 */
import { MarillError } from '../../ir/errors.ts';
import type { BoundPlanOp } from '../bound-plan.ts';
import { bindPlan, nodeLabel } from '../bound-plan.ts';
import type { Plan } from '../plan.ts';
import { Prg } from '../crypto/prg.ts';
import type { MaterialFeed, OpsAt, PreprocessPeer } from '../dealer/feeds.ts';
import type { PartySeeds } from '../dealer/streams.ts';
import { freshSeeds } from '../dealer/streams.ts';
import type { OpStats } from '../mpc/accounting.ts';
import type { Party } from '../protocol.ts';
import { partyIndex } from '../protocol.ts';
import { Link, PartyMeter } from './link.ts';
import { partyPreprocessor } from './preprocessor.ts';
import type { OtSession } from './triples.ts';
import { otSessionSetup } from './triples.ts';

/** The tag both parties announce at the handshake: a dealer's material and none do not mix. */
export const DEALER_FREE_TAG = '2pc';

/** The pseudo-op the session's base OTs are accounted to. */
export const OT_SETUP_ID = 'ot-setup';

export class DealerFreeFeed implements MaterialFeed {
  readonly seeds: PartySeeds = freshSeeds();
  readonly tag = DEALER_FREE_TAG;
  private reserved = 0;
  private ot: Promise<OtSession> | undefined;
  private made: (readonly unknown[])[] = [];

  constructor(
    private readonly party: Party,
    private readonly opsAt: OpsAt,
  ) {}

  reserve(index?: number): number {
    if (index !== undefined && index !== this.reserved)
      throw new MarillError(
        `the peer asked for inference ${index}, but preprocessing runs in order and the next is ${this.reserved}`,
      );
    return this.reserved++;
  }

  async begin(index: number, peer?: PreprocessPeer): Promise<void> {
    if (!peer) throw new MarillError('preprocessing without a dealer needs the session with the peer');
    if (this.made.length > 0)
      throw new MarillError(
        `the correlations of ${this.made.length} ops of the previous inference were not used`,
      );
    const made: (readonly unknown[])[] = [];
    let at = 'the OT setup';
    try {
      const ot = await this.otSession(peer);
      for (const op of this.opsAt(index)) {
        at = `the correlations of ${nodeLabel(op.node)}`;
        made.push(await this.preprocessOp(op, index, ot, peer));
      }
    } catch (e) {
      // Say where: a peer that leaves during preprocessing fails the run before any input is used.
      const why = e instanceof Error ? e.message : String(e);
      throw new MarillError(`preprocessing without a dealer, in ${at}: ${why}`);
    }
    this.made = made;
  }

  /** The OT extension of this session, set up on first use. */
  private otSession(peer: PreprocessPeer): Promise<OtSession> {
    this.ot ??= (async () => {
      const link = new Link(peer.session.channel, partyIndex(this.party));
      const stats = peer.accounting.op(OT_SETUP_ID, OT_SETUP_ID, 'base-ot');
      const meter = new PartyMeter();
      link.meter = meter;
      const t0 = performance.now();
      const ot = await otSessionSetup(link, new Prg(this.seeds.session).derive('ot-setup'));
      stats.setupBytesSent += meter.bytesSent;
      stats.setupRounds += meter.flights;
      stats.setupSeconds += (performance.now() - t0) / 1000;
      return ot;
    })();
    return this.ot;
  }

  /** Makes one op's correlations, in order, accounted to the op. */
  private async preprocessOp(
    op: BoundPlanOp,
    index: number,
    ot: OtSession,
    peer: PreprocessPeer,
  ): Promise<unknown[]> {
    const stats: OpStats = peer.accounting.op(op.spec.id, op.node.op, op.protocol);
    const meter = new PartyMeter();
    ot.link.meter = meter;
    const rng = new Prg(this.seeds.stream).derive(`inference/${index}/${op.spec.id}`);
    const pre = partyPreprocessor(this.party, ot, rng, this.seeds.session, op.sessionKey);
    const t0 = performance.now();
    const out: unknown[] = [];
    for (const use of op.correlations) out.push(await use.correlation.preprocess!(use.params, pre));
    stats.preprocessBytesSent += meter.bytesSent;
    stats.preprocessBytesReceived += meter.bytesReceived;
    stats.preprocessRounds += meter.flights;
    stats.preprocessSeconds += (performance.now() - t0) / 1000;
    return out;
  }

  async next(): Promise<Uint8Array> {
    return new Uint8Array(0);
  }

  preprocessed(): readonly unknown[] {
    const m = this.made.shift();
    if (!m) throw new MarillError('the plan has more protocol ops than correlations were made for');
    return m;
  }

  close(): void {
    this.made = [];
  }
}

/** Both parties' feeds of one plan in this process (simulate, tests). */
export function dealerFreeFeeds(plan: Plan): [MaterialFeed, MaterialFeed] {
  const ops = bindPlan(plan);
  return [new DealerFreeFeed('server', () => ops), new DealerFreeFeed('client', () => ops)];
}
