/**
 * A served session at each end: the server's side (`serveSession`: handshake,
 * welcome, then one inference per announcement until the client ends the
 * session) and the client's (`ClientSession`: announces each inference, uses
 * the material index the server answers, ends the session on close). Each
 * session has its own executor, material feed, common seed and setup cache;
 * a server's sessions share only its checked weights, read-only.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Node } from '../../ir/graph.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { Prg } from '../crypto/prg.ts';
import type { MaterialFeed } from '../dealer/feeds.ts';
import type { MaterialProvider } from '../dealer/provider.ts';
import type { CheckedWeights, ExecutorOptions } from '../executor.ts';
import { PartyExecutor } from '../executor.ts';
import type { OpStats } from '../mpc/accounting.ts';
import { statsTotals } from '../mpc/accounting.ts';
import type { Channel } from '../net/channel.ts';
import type { Hello } from '../net/handshake.ts';
import { commonSeed, dealerSessionId, handshake, makeHello } from '../net/handshake.ts';
import { planMessageBound } from '../bound-plan.ts';
import type { Plan } from '../plan.ts';
import type { PlaintextEngineName } from '../plaintext/engine.ts';
import type { Party } from '../protocol.ts';
import { otherParty } from '../protocol.ts';
import { recvControl, sendControl } from './control.ts';

type Progress = (done: number, total: number, node: Node) => void;

/** Awaited around each inference of a session (measurements, profiling); `index` counts from 0. */
export interface InferenceHooks {
  readonly before?: (index: number) => void | Promise<void>;
  /** `stats`: the accounting so far, all inferences up to this one included. */
  readonly after?: (index: number, stats: readonly OpStats[]) => void | Promise<void>;
}

/** Fails with `error()` (after `onTimeout`) if `p` has not settled within `ms`. */
export async function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => MarillError): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The handshake of a served session, bounded in time (a silent peer must not
 * hold a session open); then messages up to `maxMessageBytes` are admitted.
 */
export async function sessionHandshake(
  plan: Pick<Plan, 'hash' | 'weightsDigest'>,
  party: Party,
  channel: Channel,
  material: MaterialProvider,
  timeoutMs: number,
  maxMessageBytes: number,
): Promise<{ mine: Hello; peer: Hello }> {
  const mine = makeHello(party, plan.hash, plan.weightsDigest, material.tag);
  const shaking = handshake(channel, mine, otherParty(party), maxMessageBytes);
  shaking.catch(() => {});
  const peer = await withDeadline(shaking, timeoutMs, () => {
    channel.close();
    return new MarillError(`no hello from the ${channel.peer} within ${timeoutMs / 1000} s`, {
      what: 'handshake',
    });
  });
  return { mine, peer };
}

function sessionExecutor(
  plan: Plan,
  party: Party,
  channel: Channel,
  feed: MaterialFeed,
  weights: CheckedWeights,
  hellos: { mine: Hello; peer: Hello },
  onProgress: Progress | undefined,
  engine: ExecutorOptions,
): PartyExecutor {
  const executor = new PartyExecutor(plan, party, feed, weights, engine);
  executor.onProgress = onProgress;
  executor.attach({
    party,
    fracBits: plan.fracBits,
    channel,
    common: new Prg(commonSeed(hellos.mine, hellos.peer)),
    onceCache: new Map(),
  });
  return executor;
}

/** What serving one client's session needs, whatever kind of plan it runs. */
export interface SessionServing {
  /** Connected to the client (the caller closes it). */
  readonly channel: Channel;
  readonly material: MaterialProvider;
  /** The session's number (sent to the client in the welcome; used in logs). */
  readonly number: number;
  /** Bound on the handshake (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /** True once the server shuts down: the next announced inference is refused. */
  readonly stopping?: () => boolean;
  /** Whether the session now waits for the client ('idle') or runs an inference. */
  readonly onState?: (state: 'idle' | 'inference') => void;
  /** Called after each completed inference. */
  readonly onInference?: () => void;
  readonly onProgress?: Progress;
  /** What runs the server's plaintext nodes (default: onnxruntime segments). */
  readonly plaintextEngine?: PlaintextEngineName;
}

export interface ServeSessionOptions extends SessionServing {
  readonly plan: Plan;
  readonly weights: CheckedWeights;
  readonly around?: InferenceHooks;
}

export interface ServedSession {
  readonly inferences: number;
  readonly stats: OpStats[];
  /** Wall seconds from the end of the handshake. */
  readonly seconds: number;
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** The server's side of one session; resolves when the client ends it, fails when it fails. */
export async function serveSession(o: ServeSessionOptions): Promise<ServedSession> {
  const { plan, channel } = o;
  const hellos = await sessionHandshake(
    plan,
    'server',
    channel,
    o.material,
    o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    planMessageBound(plan),
  );
  const t0 = performance.now();
  sendControl(channel, { control: 'welcome', session: o.number });
  const feed = await o.material.open(dealerSessionId(hellos.mine, hellos.peer));
  let inferences = 0;
  let executor: PartyExecutor | undefined;
  try {
    executor = sessionExecutor(plan, 'server', channel, feed, o.weights, hellos, o.onProgress, engineOf(o));
    for (;;) {
      o.onState?.('idle');
      const c = await recvControl(channel, ['infer', 'end']);
      if (c.control === 'end') break;
      if (o.stopping?.()) {
        sendControl(channel, { control: 'refused', reason: 'the server is shutting down' });
        break;
      }
      let index: number;
      try {
        index = feed.reserve();
      } catch (e) {
        // No material left (a folder used up): the client hears why, the session ends.
        sendControl(channel, { control: 'refused', reason: (e as Error).message });
        throw e;
      }
      sendControl(channel, { control: 'go', material: index });
      o.onState?.('inference');
      await o.around?.before?.(inferences);
      await executor.infer(new Map(), index);
      await o.around?.after?.(inferences, executor.accounting.list());
      inferences++;
      o.onInference?.();
    }
    return { inferences, stats: executor.accounting.list(), seconds: (performance.now() - t0) / 1000 };
  } finally {
    feed.close();
    await executor?.release();
  }
}

function engineOf(o: { readonly plaintextEngine?: PlaintextEngineName }): ExecutorOptions {
  return o.plaintextEngine ? { plaintextEngine: o.plaintextEngine } : {};
}

/** One inference as the client measured it: online bytes in both directions. */
export interface InferenceMeasure {
  readonly seconds: number;
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
}

/** The once-per-session setup (masked server weights): bytes in both directions. */
export interface SetupMeasure {
  readonly seconds: number;
  readonly bytes: number;
  readonly rounds: number;
}

export interface ClientSessionOptions {
  readonly plan: Plan;
  readonly weights: CheckedWeights;
  /** Connected to the server (closed by `close`). */
  readonly channel: Channel;
  readonly material: MaterialProvider;
  readonly handshakeTimeoutMs?: number;
  readonly onProgress?: Progress;
  /** What runs the client's plaintext nodes (default: onnxruntime segments). */
  readonly plaintextEngine?: PlaintextEngineName;
}

/** The client's side of a session: any number of inferences, then `close`. */
export class ClientSession {
  private readonly measures: InferenceMeasure[] = [];
  private closed = false;

  private constructor(
    private readonly channel: Channel,
    private readonly feed: MaterialFeed,
    private readonly executor: PartyExecutor,
    /** The server's number for this session (its log lines name it). */
    readonly number: number,
  ) {}

  static async open(o: ClientSessionOptions): Promise<ClientSession> {
    const { plan, channel } = o;
    const hellos = await sessionHandshake(
      plan,
      'client',
      channel,
      o.material,
      o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      planMessageBound(plan),
    );
    const welcome = await recvControl(channel, ['welcome', 'refused']);
    if (welcome.control === 'refused')
      throw new MarillError(`the ${channel.peer} refused the session: ${welcome.reason}`);
    const feed = await o.material.open(dealerSessionId(hellos.mine, hellos.peer));
    try {
      const executor = sessionExecutor(
        plan,
        'client',
        channel,
        feed,
        o.weights,
        hellos,
        o.onProgress,
        engineOf(o),
      );
      return new ClientSession(channel, feed, executor, welcome.session);
    } catch (e) {
      feed.close();
      throw e;
    }
  }

  /** Announces an inference, runs it on the material the server names, returns what the client learns. */
  async infer(inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> {
    try {
      sendControl(this.channel, { control: 'infer' });
    } catch {
      // The server may have closed after a refusal it already sent: read it below.
    }
    const answer = await recvControl(this.channel, ['go', 'refused']);
    if (answer.control === 'refused')
      throw new MarillError(`the ${this.channel.peer} refused the inference: ${answer.reason}`);
    const index = this.feed.reserve(answer.material);
    const before = statsTotals(this.executor.accounting.list());
    const t0 = performance.now();
    const outputs = await this.executor.infer(inputs, index);
    const after = statsTotals(this.executor.accounting.list());
    const setupSeconds = after.setupSeconds - before.setupSeconds;
    this.measures.push({
      seconds: (performance.now() - t0) / 1000 - setupSeconds,
      online_bytes: after.online - before.online,
      offline_bytes: after.offline - before.offline,
      rounds: after.rounds - before.rounds,
    });
    return outputs;
  }

  stats(): OpStats[] {
    return this.executor.accounting.list();
  }

  /** Each inference's measures, in order. */
  inferences(): readonly InferenceMeasure[] {
    return this.measures;
  }

  /** The once-per-session work (done during the first inference). */
  setup(): SetupMeasure {
    const t = statsTotals(this.stats());
    return { seconds: t.setupSeconds, bytes: t.setupBytes, rounds: t.setupRounds };
  }

  /** Ends the session (the server's loop ends) and closes the connections. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      sendControl(this.channel, { control: 'end' });
    } catch {
      // the server is already gone
    }
    this.channel.close();
    this.feed.close();
    // The plaintext engine's sessions; nothing waits on their release.
    this.executor.release().catch(() => {});
  }
}
