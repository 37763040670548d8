/**
 * A generation session with both parties and the dealer in this process (real
 * protocols, in-process channel): `marillc simulate` of a generation plan, and
 * tests. `SimulatedGeneration.step(ids)` runs one step at both parties and
 * returns the logits the client learns; the caller picks the tokens.
 */
import type { ValueId } from '../../ir/graph.ts';
import { Prg } from '../crypto/prg.ts';
import { inProcessFeeds } from '../dealer/feeds.ts';
import type { WeightSource } from '../executor.ts';
import type { RunReport } from '../mpc/accounting.ts';
import { combineReports } from '../mpc/accounting.ts';
import type { Channel } from '../net/channel.ts';
import { channelPair } from '../net/channel.ts';
import { commonSeed, handshake, makeHello } from '../net/handshake.ts';
import type { PlaintextEngineName } from '../plaintext/engine.ts';
import type { Operand, Party } from '../protocol.ts';
import { otherParty } from '../protocol.ts';
import { generateTokens } from './loop.ts';
import type { GenerationPlan } from './plan.ts';
import type { SamplingOptions } from './sampling.ts';
import { checkSamplingOptions } from './sampling.ts';
import type { GenerationSetup, StepMeasure } from './session.ts';
import {
  GenerationParty,
  GenerationWeights,
  scheduleMessageBound,
  scheduleOf,
  scheduleOps,
} from './session.ts';

export interface SimulatedGenerationReport {
  readonly report: RunReport;
  /** Setup apart (once per session), and each step as the client measured it. */
  readonly setup: GenerationSetup;
  readonly steps: readonly StepMeasure[];
}

export class SimulatedGeneration {
  private constructor(
    private readonly server: GenerationParty,
    private readonly client: GenerationParty,
    private readonly close: () => void,
  ) {}

  /** Both parties of a session of `steps` steps from a prompt of `prompt` tokens. */
  static async open(
    g: GenerationPlan,
    weights: { server: WeightSource; client: WeightSource },
    announced: { prompt: number; steps: number },
    opts: {
      plaintextEngine?: PlaintextEngineName;
      /** Sees every message the client receives from the server (audits of what crosses the wire). */
      onClientReceives?: (message: Uint8Array) => void;
    } = {},
  ): Promise<SimulatedGeneration> {
    const schedule = scheduleOf(g, announced.prompt, announced.steps);
    const [toClient, plainToServer] = channelPair(['client', 'server']);
    const tap = opts.onClientReceives;
    const toServer: Channel = tap
      ? {
          get peer() {
            return plainToServer.peer;
          },
          get certifiedRole() {
            return plainToServer.certifiedRole;
          },
          setMessageLimit: (n) => plainToServer.setMessageLimit(n),
          send: (m) => plainToServer.send(m),
          recv: async () => {
            const m = await plainToServer.recv();
            tap(m);
            return m;
          },
          close: () => plainToServer.close(),
        }
      : plainToServer;
    const [serverFeed, clientFeed] = inProcessFeeds(scheduleOps(schedule), schedule.steps);
    const close = (): void => {
      toClient.close();
      toServer.close();
      serverFeed.close();
      clientFeed.close();
    };
    const bound = scheduleMessageBound(schedule);
    const open = async (party: Party): Promise<GenerationParty> => {
      const channel = party === 'server' ? toClient : toServer;
      const feed = party === 'server' ? serverFeed : clientFeed;
      const mine = makeHello(party, schedule.hash, schedule.weightsDigest, feed.tag);
      const peer = await handshake(channel, mine, otherParty(party), bound);
      return new GenerationParty({
        schedule,
        party,
        feed,
        weights: new GenerationWeights(g, party, weights[party]),
        session: {
          party,
          fracBits: schedule.fracBits,
          channel,
          common: new Prg(commonSeed(mine, peer)),
          onceCache: new Map(),
        },
        ...(opts.plaintextEngine ? { plaintextEngine: opts.plaintextEngine } : {}),
      });
    };
    try {
      const [server, client] = await Promise.all([open('server'), open('client')]);
      return new SimulatedGeneration(server, client, close);
    } catch (e) {
      close();
      throw e;
    }
  }

  /** The next step at both parties: the client's token ids in, the logits it learns out. */
  async step(ids: readonly number[]): Promise<Float32Array> {
    // A failure at one party closes the channel, so the other fails at once instead of waiting.
    const failFast = <T>(p: Promise<T>): Promise<T> =>
      p.catch((e: unknown) => {
        this.close();
        throw e;
      });
    const [, logits] = await Promise.all([failFast(this.server.step()), failFast(this.client.step(ids))]);
    return logits!;
  }

  /** What each party holds for the carried state now (by state input). */
  held(party: Party): ReadonlyMap<ValueId, Operand> {
    return (party === 'server' ? this.server : this.client).heldState();
  }

  report(): SimulatedGenerationReport {
    return {
      report: combineReports(this.server.stats(), this.client.stats()),
      setup: this.client.setup(),
      steps: this.client.steps(),
    };
  }

  async end(): Promise<void> {
    this.close();
    await Promise.all([this.server.release(), this.client.release()]);
  }
}

export interface GenerationResult {
  readonly prompt: readonly number[];
  /** The generated ids (an end-of-sequence id, when produced, is the last). */
  readonly tokens: readonly number[];
}

/**
 * Generates with both parties in this process (`marillc simulate` of a
 * generation plan): the prompt and the sampling options at the client, the
 * session's schedule from them, tokens picked by the shared loop.
 */
export async function simulateGeneration(
  g: GenerationPlan,
  weights: { server: WeightSource; client: WeightSource },
  run: { promptIds: readonly number[]; options: SamplingOptions },
  opts: { plaintextEngine?: PlaintextEngineName; onToken?: (id: number) => void } = {},
): Promise<GenerationResult & SimulatedGenerationReport> {
  checkSamplingOptions(run.options);
  const announced = { prompt: run.promptIds.length, steps: run.options.maxNewTokens };
  const sim = await SimulatedGeneration.open(g, weights, announced, opts);
  try {
    const tokens = await generateTokens((ids) => sim.step(ids), run.promptIds, run.options, opts.onToken);
    return { prompt: [...run.promptIds], tokens, ...sim.report() };
  } finally {
    await sim.end();
  }
}
