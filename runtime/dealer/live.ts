/**
 * The live dealer (`marillc serve PLAN --party dealer`, and `marillc run PLAN
 * --party dealer --listen H:P` for one session) and the parties' side of it.
 *
 * The dealer serves many server-client sessions at once. Both parties of a
 * session meet at the dealer under the session id they derived from their
 * handshake (runtime/net/handshake.ts dealerSessionId): each session has its
 * own dealer state (fresh seeds, its own streams and queues), created when
 * the first of its two parties arrives; each role of a session is served
 * once, so material for a session goes only to that session's two parties.
 * A hello without a session id is a probe (a server checking at start that
 * the dealer runs its plan): it is answered by the handshake alone.
 *
 * Wire protocol, per party connection (after the handshake, which checks the plan hash):
 *   dealer -> party   1, then 16-byte stream seed, 16-byte session seed, the dealer session id
 *                     (or 0 and a one-line reason: the dealer refuses the connection)
 *   party  -> dealer  1 byte: 1 = "material for my next inference", 0 = "done"
 *   (a generation plan: party -> dealer, once, the schedule it was announced,
 *    {"schedule":{"prompt":P,"steps":N}}; dealer -> party 1 (accepted) or 0 and a
 *    one-line reason (the two parties' schedules differ, or do not fit the plan);
 *    the dealer deals step k with step k's plan)
 *   dealer -> party   one frame per bound op of the plan (runtime/bound-plan.ts order)
 * The dealer deals each inference once for both parties and keeps a party's
 * frames until it asks, so the parties may run at different speeds. It deals
 * ahead: the first inference while the parties connect, the next one as soon
 * as both hold the current one, as long as all sessions together hold less
 * than `aheadBytes` dealt ahead. It never sees inputs, weights or outputs.
 */
import { MarillError } from '../../ir/errors.ts';
import { bindPlan, planMessageBound } from '../bound-plan.ts';
import type { Announced } from '../generate/announce.ts';
import { decodeAnnounced, encodeAnnounced, formatAnnounced, sameAnnounced } from '../generate/announce.ts';
import type { GenerationPlan } from '../generate/plan.ts';
import { isGenerationPlan } from '../generate/plan.ts';
import { scheduleMessageBound, scheduleOf, scheduleOps } from '../generate/session.ts';
import { HELLO_MAX_BYTES } from '../net/handshake.ts';
import { SEED_BYTES } from '../crypto/prg.ts';
import type { Channel } from '../net/channel.ts';
import { handshake, makeHello } from '../net/handshake.ts';
import type { ConnectOptions, Endpoint, LinkOptions } from '../net/tcp.ts';
import { Listener, connect } from '../net/tcp.ts';
import type { Plan } from '../plan.ts';
import type { Party } from '../protocol.ts';
import { otherParty, partyIndex } from '../protocol.ts';
import type { MaterialFeed, OpsAt } from './feeds.ts';
import { PlanDealer, QueuedFeed } from './feeds.ts';

const NEXT = 1;
const DONE = 0;
const SEEDS = 1;
const REFUSED = 0;
const ACCEPTED = 1;

/** Hellos and one-byte requests: all a party ever sends the dealer. */
const DEALER_MAX_FRAME_BYTES = 64 * 1024;

export interface DealerOptions extends LinkOptions {
  /** A plan, or a generation plan (each session deals the steps its parties announce). */
  readonly plan: Plan | GenerationPlan;
  readonly listen: Endpoint;
  /** How long to wait for a party's hello, for the second party of a session, and between requests. */
  readonly timeoutMs?: number;
  /** Called once listening (with the bound port). */
  readonly onListening?: (port: number) => void;
  /** Told about each connection refused before or at its hello (the dealer keeps serving). */
  readonly onRefused?: (peer: string, why: string) => void;
  /** Stop after this many sessions have ended (`run --party dealer`: 1); default: until stop(). */
  readonly sessions?: number;
  /** Sessions served at once; a party of one more is refused with a message (default 64). */
  readonly maxSessions?: number;
  /** Bound on material dealt ahead and not yet handed out, all sessions together (default 512 MiB). */
  readonly aheadBytes?: number;
  /** Called as each session ends (one log line per session). */
  readonly onSessionEnd?: (s: DealerSessionSummary) => void;
}

export interface DealerSummary {
  /** Sessions that ended, and the inferences handed out over all of them. */
  readonly sessions: number;
  readonly inferences: number;
  /** Bytes of material sent to [server, client] (seeds excluded). */
  readonly bytesSent: [number, number];
}

export interface DealerSessionSummary {
  readonly id: string;
  /** Inferences handed out (the larger of the two parties' counts). */
  readonly inferences: number;
  readonly bytesSent: [number, number];
  readonly seconds: number;
  /** Why the session ended early, when it did. */
  readonly ended?: string;
}

interface DealerSession {
  readonly id: string;
  readonly dealer: PlanDealer;
  readonly channels: Map<Party, Channel>;
  readonly sent: [number, number];
  readonly served: [number, number];
  readonly t0: number;
  /** A generation session's schedule, once the first party announced it, and its steps' ops. */
  announced?: Announced;
  opsAt?: OpsAt;
  /** Parties whose connection has ended. */
  readonly gone: Set<Party>;
  ended?: string;
  pairing?: ReturnType<typeof setTimeout>;
}

function encodeSeeds(dealer: PlanDealer, party: Party): Uint8Array {
  const seeds = dealer.seeds[partyIndex(party)];
  const id = new TextEncoder().encode(dealer.id);
  const out = new Uint8Array(1 + 2 * SEED_BYTES + id.length);
  out[0] = SEEDS;
  out.set(seeds.stream, 1);
  out.set(seeds.session, 1 + SEED_BYTES);
  out.set(id, 1 + 2 * SEED_BYTES);
  return out;
}

function refuse(channel: Channel, reason: string): void {
  const text = new TextEncoder().encode(reason);
  const out = new Uint8Array(1 + text.length);
  out[0] = REFUSED;
  out.set(text, 1);
  channel.send(out);
  channel.close();
}

/** A dealer serving sessions until stopped (or until `sessions` have ended). */
export class DealerService {
  private readonly sessions = new Map<string, DealerSession>();
  private readonly totals = { sessions: 0, inferences: 0, sent: [0, 0] as [number, number] };
  private stopping = false;
  private finish: () => void = () => {};
  /** Resolves once stopped and every session has ended. */
  readonly done: Promise<DealerSummary>;

  private constructor(
    private readonly opts: DealerOptions,
    private readonly listener: Listener,
  ) {
    this.done = new Promise<void>((resolve) => (this.finish = resolve)).then(() => ({
      sessions: this.totals.sessions,
      inferences: this.totals.inferences,
      bytesSent: this.totals.sent,
    }));
  }

  static async start(opts: DealerOptions): Promise<DealerService> {
    const listener = await Listener.open(opts.listen, {
      tls: opts.tls,
      insecurePlaintext: opts.insecurePlaintext,
      peerRoles: ['server', 'client'],
      recvTimeoutMs: opts.timeoutMs,
      onRefused: opts.onRefused,
    });
    const service = new DealerService(opts, listener);
    opts.onListening?.(listener.port);
    void service.acceptLoop();
    return service;
  }

  get port(): number {
    return this.listener.port;
  }

  /** Stops accepting; sessions running end when their parties are done. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.listener.close();
    this.settle();
  }

  /** Ends every session now (their parties see the dealer close). */
  abort(reason: string): void {
    this.stop();
    for (const s of this.sessions.values()) {
      s.ended ??= reason;
      for (const ch of s.channels.values()) ch.close();
    }
  }

  private settle(): void {
    if (this.stopping && this.sessions.size === 0) this.finish();
  }

  private async acceptLoop(): Promise<void> {
    while (!this.stopping) {
      let channel: Channel;
      try {
        channel = await this.listener.accept(24 * 3600_000);
      } catch {
        // The listening socket failed: no party can come any more; the running sessions finish.
        if (this.listener.failed && !this.stopping) this.stop();
        continue; // stopped listening (the loop ends), or a day without a party
      }
      void this.admit(channel).catch((e: unknown) => {
        // Refused at the handshake (another plan, a hello claiming another role than its
        // certificate): no session was opened for it, nothing was dealt to it.
        channel.close();
        this.opts.onRefused?.(channel.peer, e instanceof Error ? e.message : String(e));
      });
    }
  }

  /** Handshakes one party connection and joins it to its session. */
  private async admit(channel: Channel): Promise<void> {
    const { plan } = this.opts;
    const mine = makeHello('dealer', plan.hash, plan.weightsDigest);
    const peer = await handshake(channel, mine, ['server', 'client'], DEALER_MAX_FRAME_BYTES);
    // Under TLS the role is the certificate's (the handshake refused a hello claiming another):
    // a party's seeds and material go to that role's key only.
    const party = (channel.certifiedRole ?? peer.role) as Party;
    const id = peer.session;
    if (id === undefined) {
      channel.close(); // a probe: the plan matched, nothing more to say
      return;
    }
    if (typeof id !== 'string' || !/^[0-9a-f]{8,64}$/.test(id)) {
      refuse(channel, 'the session id is not a hex string');
      return;
    }
    let session = this.sessions.get(id);
    if (!session) {
      if (this.stopping) return refuse(channel, 'the dealer is shutting down');
      const max = this.opts.maxSessions ?? 64;
      if (this.sessions.size >= max)
        return refuse(channel, `the dealer is serving its maximum of ${max} sessions; try again later`);
      session = this.open(id);
    }
    if (session.channels.has(party) || session.gone.has(party))
      return refuse(channel, `the ${party} of this dealer session has already connected`);
    session.channels.set(party, channel);
    if (session.channels.size === 2) clearTimeout(session.pairing);
    channel.send(encodeSeeds(session.dealer, party));
    const s = session;
    await this.announced(s, party, channel)
      .then(() => this.serveParty(s, party, channel))
      .catch((e: unknown) => {
        s.ended ??= e instanceof Error ? e.message : String(e);
        // A party that misbehaves ends its session: the other party's material would not match anyway.
        for (const ch of s.channels.values()) ch.close();
      })
      .finally(() => {
        channel.close();
        s.gone.add(party);
        if (s.gone.size === 2 || (s.gone.size === 1 && !s.channels.has(otherParty(party)))) this.close(s);
      });
  }

  /**
   * A generation session: reads the party's schedule; the first fixes the
   * session's (and what the dealer deals), the second must announce the same.
   */
  private async announced(s: DealerSession, party: Party, channel: Channel): Promise<void> {
    const { plan } = this.opts;
    if (!isGenerationPlan(plan)) return;
    const a = decodeAnnounced(await channel.recv(), party);
    if (s.announced === undefined) {
      let ops: OpsAt;
      try {
        ops = scheduleOps(scheduleOf(plan, a.prompt, a.steps));
      } catch (e) {
        refuse(channel, (e as Error).message);
        throw e;
      }
      s.announced = a;
      s.opsAt = ops;
      s.dealer.limit = a.steps;
      channel.send(Uint8Array.of(ACCEPTED));
      s.dealer.dealAhead(() => this.aheadAllowed());
      return;
    }
    if (!sameAnnounced(s.announced, a)) {
      const why = `the ${party} announced ${formatAnnounced(a)}, the ${otherParty(party)} ${formatAnnounced(s.announced)}`;
      refuse(channel, `the parties announced different schedules: ${why}`);
      throw new MarillError(`the parties announced different schedules: ${why}`);
    }
    channel.send(Uint8Array.of(ACCEPTED));
  }

  private open(id: string): DealerSession {
    const { plan } = this.opts;
    // A generation session deals nothing before its schedule is announced (limit 0).
    const dealer = isGenerationPlan(plan)
      ? new PlanDealer((k) => session.opsAt!(k), undefined, 0)
      : new PlanDealer(plan);
    const session: DealerSession = {
      id,
      dealer,
      channels: new Map(),
      sent: [0, 0],
      served: [0, 0],
      t0: performance.now(),
      gone: new Set(),
    };
    // The second party must come soon: a session with one party holds the dealer's memory for nothing.
    const wait = this.opts.timeoutMs ?? 60_000;
    session.pairing = setTimeout(() => {
      if (session.channels.size >= 2) return;
      const [only] = [...session.channels.keys()];
      session.ended ??= `the ${otherParty(only ?? 'server')} never connected (${wait / 1000} s)`;
      for (const ch of session.channels.values()) ch.close();
      if (session.channels.size === 0) this.close(session);
    }, wait);
    this.sessions.set(id, session);
    // The first inference is dealt while the other party connects.
    session.dealer.dealAhead(() => this.aheadAllowed());
    return session;
  }

  private aheadAllowed(): boolean {
    let held = 0;
    for (const s of this.sessions.values()) held += s.dealer.queuedBytes;
    return held < (this.opts.aheadBytes ?? 512 * 1024 * 1024);
  }

  private close(s: DealerSession): void {
    if (!this.sessions.delete(s.id)) return;
    clearTimeout(s.pairing);
    s.dealer.stop();
    const inferences = Math.max(...s.served);
    this.totals.sessions++;
    this.totals.inferences += inferences;
    this.totals.sent[0] += s.sent[0];
    this.totals.sent[1] += s.sent[1];
    this.opts.onSessionEnd?.({
      id: s.id,
      inferences,
      bytesSent: [s.sent[0], s.sent[1]],
      seconds: (performance.now() - s.t0) / 1000,
      ...(s.ended !== undefined ? { ended: s.ended } : {}),
    });
    if (this.opts.sessions !== undefined && this.totals.sessions >= this.opts.sessions) this.stop();
    this.settle();
  }

  private async serveParty(s: DealerSession, party: Party, channel: Channel): Promise<void> {
    const i = partyIndex(party);
    for (;;) {
      let request: Uint8Array;
      try {
        request = await channel.recv();
      } catch {
        return; // the party went away: nothing more to deal for it
      }
      if (request.byteLength !== 1 || request[0] === DONE) {
        if (request.byteLength === 1) return;
        throw new MarillError(`the ${party} sent a ${request.byteLength}-byte dealer request`);
      }
      if (request[0] !== NEXT)
        throw new MarillError(`the ${party} sent an unknown dealer request ${request[0]}`);
      for (const frame of await s.dealer.nextFramesFor(party)) {
        channel.send(frame);
        s.sent[i] += frame.byteLength;
      }
      s.served[i]++;
      s.dealer.dealAhead(() => this.aheadAllowed());
    }
  }
}

/** Runs a dealer for one session (`marillc run PLAN --party dealer`): serves it and returns. */
export async function runDealer(opts: DealerOptions): Promise<DealerSummary> {
  const service = await DealerService.start({ ...opts, sessions: opts.sessions ?? 1 });
  return service.done;
}

/**
 * Checks at start that a live dealer is reachable and runs this plan (a
 * handshake without a session id), so a party with a wrong or missing dealer
 * fails before any client comes.
 */
export async function probeDealer(
  plan: Plan | GenerationPlan,
  party: Party,
  at: Endpoint,
  opts: ConnectOptions,
): Promise<void> {
  const channel = await connect(at, 'dealer', opts);
  try {
    const mine = makeHello(party, plan.hash, plan.weightsDigest);
    // A probe reads nothing after the handshake.
    await handshake(channel, mine, 'dealer', HELLO_MAX_BYTES);
  } finally {
    channel.close();
  }
}

/**
 * A party's feed from a live dealer for session `session`: connects, handshakes, receives its
 * seeds; of a generation plan, tells the dealer the `announced` schedule.
 */
export async function liveDealerFeed(
  plan: Plan | GenerationPlan,
  party: Party,
  at: Endpoint,
  session: string,
  opts: ConnectOptions,
  announced?: Announced,
): Promise<MaterialFeed> {
  let opsAt: OpsAt;
  let bound: number;
  if (isGenerationPlan(plan)) {
    if (!announced)
      throw new MarillError('a generation session needs its schedule before its dealer material');
    const schedule = scheduleOf(plan, announced.prompt, announced.steps);
    opsAt = scheduleOps(schedule);
    bound = scheduleMessageBound(schedule);
  } else {
    const ops = bindPlan(plan);
    opsAt = () => ops;
    bound = planMessageBound(plan);
  }
  const channel = await connect(at, 'dealer', opts);
  try {
    const mine = makeHello(party, plan.hash, plan.weightsDigest, undefined, session);
    await handshake(channel, mine, 'dealer', bound);
    const hello = await channel.recv();
    if (hello[0] === REFUSED)
      throw new MarillError(`the dealer refused the session: ${new TextDecoder().decode(hello.subarray(1))}`);
    if (hello[0] !== SEEDS || hello.byteLength <= 1 + 2 * SEED_BYTES)
      throw new MarillError('the dealer sent no seeds');
    const seeds = {
      stream: Uint8Array.from(hello.subarray(1, 1 + SEED_BYTES)),
      session: Uint8Array.from(hello.subarray(1 + SEED_BYTES, 1 + 2 * SEED_BYTES)),
    };
    const id = new TextDecoder().decode(hello.subarray(1 + 2 * SEED_BYTES));
    if (announced && isGenerationPlan(plan)) {
      channel.send(encodeAnnounced(announced));
      const ack = await channel.recv();
      if (ack[0] !== ACCEPTED)
        throw new MarillError(`the dealer refused the session: ${new TextDecoder().decode(ack.subarray(1))}`);
    }
    return new QueuedFeed(
      seeds,
      `live:${id}`,
      async (index) => {
        const opCount = opsAt(index).length;
        channel.send(Uint8Array.of(NEXT));
        const frames: Uint8Array[] = [];
        for (let i = 0; i < opCount; i++) frames.push(await channel.recv());
        return frames;
      },
      () => {
        try {
          channel.send(Uint8Array.of(DONE));
        } catch {
          // the dealer is already gone
        }
        channel.close();
      },
    );
  } catch (e) {
    channel.close();
    throw e;
  }
}
