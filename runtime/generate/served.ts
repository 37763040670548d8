/**
 * A served generation session at each end, over TCP (docs/serving.md): the
 * server's side (`serveGeneration`) and the client's (`ClientGeneration`).
 *
 *   handshake (generation plan hash, weights digest, material kind)
 *   server -> client  welcome
 *   client -> server  {"control":"generate","prompt":P,"steps":N}   the schedule
 *   server -> client  go (accepted) | refused (beyond the plan's maxContext, shutting down)
 *   both parties tell the live dealer the schedule (it refuses the session if they differ)
 *   per step:  client -> server infer;  server -> client go {material: k};  the step's protocols
 *   client -> server  end   (after the last step, or earlier: an end-of-sequence token)
 *
 * The server learns P and the steps the client runs (it must know each
 * step's shape); nothing else about the tokens (docs/security.md).
 */
import { MarillError } from '../../ir/errors.ts';
import type { Node } from '../../ir/graph.ts';
import { Prg } from '../crypto/prg.ts';
import type { MaterialFeed } from '../dealer/feeds.ts';
import type { MaterialProvider } from '../dealer/provider.ts';
import type { OpStats } from '../mpc/accounting.ts';
import type { SessionState } from '../mpc/context.ts';
import type { Channel } from '../net/channel.ts';
import type { Hello } from '../net/handshake.ts';
import { HELLO_MAX_BYTES, commonSeed, dealerSessionId } from '../net/handshake.ts';
import type { PlaintextEngineName } from '../plaintext/engine.ts';
import type { Party } from '../protocol.ts';
import { recvControl, sendControl } from '../serve/control.ts';
import type { ServedSession, SessionServing } from '../serve/sessions.ts';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, sessionHandshake } from '../serve/sessions.ts';
import type { Announced } from './announce.ts';
import { generateTokens } from './loop.ts';
import type { GenerationPlan } from './plan.ts';
import type { SamplingOptions } from './sampling.ts';
import { checkSamplingOptions } from './sampling.ts';
import type { GenerationSetup, GenerationWeights, StepMeasure, StepSchedule } from './session.ts';
import { GenerationParty, scheduleMessageBound, scheduleOf } from './session.ts';

type Progress = (done: number, total: number, node: Node) => void;

function sessionState(
  party: Party,
  g: GenerationPlan,
  channel: Channel,
  hellos: { mine: Hello; peer: Hello },
): SessionState {
  return {
    party,
    fracBits: g.fracBits,
    channel,
    common: new Prg(commonSeed(hellos.mine, hellos.peer)),
    onceCache: new Map(),
  };
}

/** A generation session at the server: one step per inference, the steps the client announces. */
export interface ServeGenerationOptions extends SessionServing {
  readonly plan: GenerationPlan;
  readonly weights: GenerationWeights;
}

/** The server's side of one generation session; `inferences` counts its steps. */
export async function serveGeneration(o: ServeGenerationOptions): Promise<ServedSession> {
  const { plan: g, channel } = o;
  const hellos = await sessionHandshake(
    g,
    'server',
    channel,
    o.material,
    o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    HELLO_MAX_BYTES,
  );
  const t0 = performance.now();
  sendControl(channel, { control: 'welcome', session: o.number });
  o.onState?.('idle');
  const asked = await recvControl(channel, ['generate', 'end']);
  if (asked.control === 'end') return { inferences: 0, stats: [], seconds: (performance.now() - t0) / 1000 };
  let schedule: StepSchedule;
  try {
    if (o.stopping?.()) throw new MarillError('the server is shutting down');
    schedule = scheduleOf(g, asked.prompt, asked.steps);
  } catch (e) {
    sendControl(channel, { control: 'refused', reason: (e as Error).message });
    throw e;
  }
  channel.setMessageLimit(scheduleMessageBound(schedule));
  sendControl(channel, { control: 'go', material: 0 });
  const announced: Announced = { prompt: asked.prompt, steps: asked.steps };
  const feed = await o.material.open(dealerSessionId(hellos.mine, hellos.peer), announced);
  const party = new GenerationParty({
    schedule,
    party: 'server',
    feed,
    weights: o.weights,
    session: sessionState('server', g, channel, hellos),
    ...(o.plaintextEngine ? { plaintextEngine: o.plaintextEngine } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  try {
    for (;;) {
      o.onState?.('idle');
      const c = await recvControl(channel, ['infer', 'end']);
      if (c.control === 'end') break;
      let index: number;
      try {
        if (o.stopping?.()) throw new MarillError('the server is shutting down');
        if (party.done >= schedule.steps)
          throw new MarillError(`the announced ${schedule.steps} step(s) are done`);
        index = feed.reserve();
      } catch (e) {
        sendControl(channel, { control: 'refused', reason: (e as Error).message });
        throw e;
      }
      sendControl(channel, { control: 'go', material: index });
      o.onState?.('inference');
      await party.step(undefined, index);
      o.onInference?.();
    }
    return { inferences: party.done, stats: party.stats(), seconds: (performance.now() - t0) / 1000 };
  } finally {
    feed.close();
    await party.release();
  }
}

export interface ClientGenerationOptions {
  readonly plan: GenerationPlan;
  readonly weights: GenerationWeights;
  /** Connected to the server (closed by `close`). */
  readonly channel: Channel;
  readonly material: MaterialProvider;
  /** Prompt tokens and steps (the most new tokens). */
  readonly announced: Announced;
  readonly handshakeTimeoutMs?: number;
  readonly onProgress?: Progress;
  readonly plaintextEngine?: PlaintextEngineName;
}

/** The client's side of a generation session: `step` per step, then `close`. */
export class ClientGeneration {
  private closed = false;

  private constructor(
    private readonly channel: Channel,
    private readonly feed: MaterialFeed,
    private readonly party: GenerationParty,
    /** The server's number for this session. */
    readonly number: number,
  ) {}

  static async open(o: ClientGenerationOptions): Promise<ClientGeneration> {
    const { plan: g, channel, announced } = o;
    // Refused here, before the server hears of it, when the plan cannot hold the context.
    const schedule = scheduleOf(g, announced.prompt, announced.steps);
    const hellos = await sessionHandshake(
      g,
      'client',
      channel,
      o.material,
      o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      HELLO_MAX_BYTES,
    );
    const welcome = await recvControl(channel, ['welcome', 'refused']);
    if (welcome.control === 'refused')
      throw new MarillError(`the ${channel.peer} refused the session: ${welcome.reason}`);
    sendControl(channel, { control: 'generate', prompt: announced.prompt, steps: announced.steps });
    const answer = await recvControl(channel, ['go', 'refused']);
    if (answer.control === 'refused')
      throw new MarillError(`the ${channel.peer} refused the generation: ${answer.reason}`);
    channel.setMessageLimit(scheduleMessageBound(schedule));
    const feed = await o.material.open(dealerSessionId(hellos.mine, hellos.peer), announced);
    const party = new GenerationParty({
      schedule,
      party: 'client',
      feed,
      weights: o.weights,
      session: sessionState('client', g, channel, hellos),
      ...(o.plaintextEngine ? { plaintextEngine: o.plaintextEngine } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    return new ClientGeneration(channel, feed, party, welcome.session);
  }

  /** Announces the next step, runs it on the material the server names, returns the logits. */
  async step(ids: readonly number[]): Promise<Float32Array> {
    try {
      sendControl(this.channel, { control: 'infer' });
    } catch {
      // The server may have closed after a refusal it already sent: read it below.
    }
    const answer = await recvControl(this.channel, ['go', 'refused']);
    if (answer.control === 'refused')
      throw new MarillError(`the ${this.channel.peer} refused the step: ${answer.reason}`);
    const index = this.feed.reserve(answer.material);
    return (await this.party.step(ids, index))!;
  }

  stats(): OpStats[] {
    return this.party.stats();
  }

  steps(): readonly StepMeasure[] {
    return this.party.steps();
  }

  setup(): GenerationSetup {
    return this.party.setup();
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
    this.party.release().catch(() => {});
  }
}

/** What a client's generation gives back. */
export interface ClientGenerationResult {
  readonly prompt: readonly number[];
  readonly tokens: readonly number[];
  readonly stats: OpStats[];
  readonly setup: GenerationSetup;
  readonly steps: readonly StepMeasure[];
  /** Wall seconds from the end of the handshake. */
  readonly seconds: number;
}

/**
 * Generates over an open session with the shared loop; `onToken` sees each
 * token as it is picked, `onLogits` each step's revealed logits.
 */
export async function generateOver(
  session: ClientGeneration,
  promptIds: readonly number[],
  options: SamplingOptions,
  onToken?: (id: number) => void,
  onLogits?: (logits: Float32Array) => void,
): Promise<ClientGenerationResult> {
  checkSamplingOptions(options);
  const t0 = performance.now();
  const step = async (ids: readonly number[]): Promise<Float32Array> => {
    const logits = await session.step(ids);
    onLogits?.(logits);
    return logits;
  };
  const tokens = await generateTokens(step, promptIds, options, onToken);
  return {
    prompt: [...promptIds],
    tokens,
    stats: session.stats(),
    setup: session.setup(),
    steps: session.steps(),
    seconds: (performance.now() - t0) / 1000,
  };
}
