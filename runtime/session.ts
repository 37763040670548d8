/**
 * A party's session: the handshake with the peer (plan hash, weights digest,
 * common seed), then any number of inferences through the executor. The same
 * code runs over TCP (./party.ts) and in one process (`simulatePlan`).
 */
import type { Node } from '../ir/graph.ts';
import type { Tensor } from '../ir/tensor.ts';
import { Prg } from './crypto/prg.ts';
import type { MaterialFeed } from './dealer/feeds.ts';
import { inProcessFeeds } from './dealer/feeds.ts';
import type { WeightSource } from './executor.ts';
import { PartyExecutor } from './executor.ts';
import type { PlaintextEngineName } from './plaintext/engine.ts';
import type { OpStats, RunReport } from './mpc/accounting.ts';
import { combineReports } from './mpc/accounting.ts';
import type { Channel } from './net/channel.ts';
import { channelPair } from './net/channel.ts';
import { commonSeed, handshake, makeHello } from './net/handshake.ts';
import { planMessageBound } from './bound-plan.ts';
import { dealerFreeFeeds } from './twopc/feed.ts';
import type { Plan } from './plan.ts';
import type { Party } from './protocol.ts';
import { otherParty } from './protocol.ts';

export interface PartySessionOptions {
  readonly plan: Plan;
  readonly party: Party;
  /** Connected to the other party. */
  readonly channel: Channel;
  readonly feed: MaterialFeed;
  readonly weights: WeightSource;
  /** Called after each node of an inference. */
  readonly onProgress?: (done: number, total: number, node: Node) => void;
  /** What runs this party's plaintext nodes (default: onnxruntime segments). */
  readonly plaintextEngine?: PlaintextEngineName;
}

export class PartySession {
  private constructor(
    private readonly executor: PartyExecutor,
    private readonly channel: Channel,
    private readonly feed: MaterialFeed,
  ) {}

  /**
   * Checks this party's weights against the plan, then handshakes with the
   * peer: refuses a peer with another plan or other weights.
   */
  static async open(opts: PartySessionOptions): Promise<PartySession> {
    const { plan, party, channel } = opts;
    const mine = makeHello(party, plan.hash, plan.weightsDigest, opts.feed.tag);
    // Weights are checked before the handshake so a wrong model fails locally, with a clear message.
    const executor = new PartyExecutor(plan, party, opts.feed, opts.weights, {
      ...(opts.plaintextEngine ? { plaintextEngine: opts.plaintextEngine } : {}),
    });
    executor.onProgress = opts.onProgress;
    // The plaintext engine's sessions are created while the handshake waits for the peer.
    const [peer] = await Promise.all([
      handshake(channel, mine, otherParty(party), planMessageBound(plan)),
      executor.prepare(),
    ]);
    executor.attach({
      party,
      fracBits: plan.fracBits,
      channel,
      common: new Prg(commonSeed(mine, peer)),
      onceCache: new Map(),
    });
    return new PartySession(executor, channel, opts.feed);
  }

  /** One inference: this party's inputs in, the outputs it learns out. */
  infer(inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> {
    return this.executor.infer(inputs);
  }

  stats(): OpStats[] {
    return this.executor.accounting.list();
  }

  close(): void {
    this.channel.close();
    this.feed.close();
    void this.executor.release();
  }
}

export interface SimulateResult {
  /** Outputs the client learns, by output name. */
  readonly outputs: Map<string, Tensor>;
  readonly report: RunReport;
}

/**
 * Runs a plan with both parties and the dealer in this process (real
 * protocols, in-process channel): `marillc simulate`, and tests.
 */
export async function simulatePlan(
  plan: Plan,
  weights: { server: WeightSource; client: WeightSource },
  inputs: { server?: ReadonlyMap<string, Tensor>; client: ReadonlyMap<string, Tensor> },
  opts: { inferences?: number; plaintextEngine?: PlaintextEngineName } = {},
): Promise<SimulateResult> {
  const engine = opts.plaintextEngine ? { plaintextEngine: opts.plaintextEngine } : {};
  const [toClient, toServer] = channelPair(['client', 'server']);
  const [serverFeed, clientFeed] = plan.setting === '2pc' ? dealerFreeFeeds(plan) : inProcessFeeds(plan);
  // A failure at one party closes the channel, so the other fails at once instead of waiting.
  const failFast = <T>(p: Promise<T>): Promise<T> =>
    p.catch((e: unknown) => {
      toClient.close();
      toServer.close();
      throw e;
    });
  const [server, client] = await Promise.all([
    failFast(
      PartySession.open({
        plan,
        party: 'server',
        channel: toClient,
        feed: serverFeed,
        weights: weights.server,
        ...engine,
      }),
    ),
    failFast(
      PartySession.open({
        plan,
        party: 'client',
        channel: toServer,
        feed: clientFeed,
        weights: weights.client,
        ...engine,
      }),
    ),
  ]);
  let outputs = new Map<string, Tensor>();
  try {
    for (let i = 0; i < (opts.inferences ?? 1); i++) {
      const [, got] = await Promise.all([
        failFast(server.infer(inputs.server ?? new Map())),
        failFast(client.infer(inputs.client)),
      ]);
      outputs = got;
    }
  } finally {
    server.close();
    client.close();
  }
  return { outputs, report: combineReports(server.stats(), client.stats()) };
}
