/**
 * Running one party of a plan over TCP: what `marillc run PLAN --party
 * client|server` calls. Connects to the peer (listen or connect), to the
 * dealer (live, or a material directory), handshakes, runs the inferences
 * and returns the outputs this party learns with its accounting.
 *
 *   const result = await runParty({ plan, party: 'client', weights, inputs: [inputs],
 *                                   connect: '127.0.0.1:7000', dealer: '127.0.0.1:7001' });
 */
import { MarillError } from '../ir/errors.ts';
import type { Node } from '../ir/graph.ts';
import type { Tensor } from '../ir/tensor.ts';
import type { MaterialFeed } from './dealer/feeds.ts';
import { fileFeed } from './dealer/files.ts';
import { liveDealerFeed } from './dealer/live.ts';
import type { WeightSource } from './executor.ts';
import type { OpStats } from './mpc/accounting.ts';
import type { Channel } from './net/channel.ts';
import type { LinkOptions } from './net/tcp.ts';
import { Listener, connect, parseEndpoint } from './net/tcp.ts';
import type { Plan } from './plan.ts';
import type { PlaintextEngineName } from './plaintext/engine.ts';
import type { Party } from './protocol.ts';
import { otherParty } from './protocol.ts';
import { PartySession } from './session.ts';

export interface RunPartyOptions extends LinkOptions {
  readonly plan: Plan;
  readonly party: Party;
  /** The weights this party holds (server: its model; client: public weights). */
  readonly weights: WeightSource;
  /** One map of this party's graph inputs per inference (the server usually has none: pass [new Map()]). */
  readonly inputs: readonly ReadonlyMap<string, Tensor>[];
  /** Exactly one of listen / connect: where to meet the other party ("HOST:PORT"). */
  readonly listen?: string;
  readonly connect?: string;
  /** Exactly one of dealer / dealerDir: a live dealer ("HOST:PORT") or a material directory. */
  readonly dealer?: string;
  readonly dealerDir?: string;
  /** Receive timeout, and how long to wait for the peer to connect. */
  readonly timeoutMs?: number;
  /** Called when listening, with the bound port (useful with port 0). */
  readonly onListening?: (port: number) => void;
  /** Told about each connection refused before its hello (this party keeps waiting for its peer). */
  readonly onRefused?: (peer: string, why: string) => void;
  /** Called after each node of an inference (progress display). */
  readonly onProgress?: (done: number, total: number, node: Node) => void;
  /** What runs this party's plaintext nodes (default: onnxruntime segments). */
  readonly plaintextEngine?: PlaintextEngineName;
  /** Awaited around each inference (measurements, profiling). */
  readonly around?: InferenceHooks;
}

export interface InferenceHooks {
  readonly before?: (index: number) => void | Promise<void>;
  /** `stats`: the accounting so far, all inferences up to this one included. */
  readonly after?: (index: number, stats: readonly OpStats[]) => void | Promise<void>;
}

export interface PartyResult {
  /** Outputs this party learned, one map per inference. */
  readonly outputs: Map<string, Tensor>[];
  /** Its per-op accounting (combine both parties' with mpc/accounting.ts combineReports). */
  readonly stats: OpStats[];
  /** Wall seconds of the inferences, from the end of the handshake (waiting for the peer is not counted). */
  readonly seconds: number;
}

async function peerChannel(opts: RunPartyOptions): Promise<Channel> {
  const peer = otherParty(opts.party);
  if ((opts.listen === undefined) === (opts.connect === undefined))
    throw new MarillError('give exactly one of --listen or --connect for the other party');
  if (opts.listen !== undefined) {
    const listener = await Listener.open(parseEndpoint(opts.listen, '--listen'), {
      tls: opts.tls,
      insecurePlaintext: opts.insecurePlaintext,
      peerRoles: [peer],
      recvTimeoutMs: opts.timeoutMs,
      onRefused: opts.onRefused,
    });
    opts.onListening?.(listener.port);
    try {
      return await listener.accept(opts.timeoutMs);
    } finally {
      listener.close();
    }
  }
  return connect(parseEndpoint(opts.connect!, '--connect'), peer, {
    tls: opts.tls,
    insecurePlaintext: opts.insecurePlaintext,
    recvTimeoutMs: opts.timeoutMs,
    connectTimeoutMs: opts.timeoutMs,
  });
}

async function materialFeed(opts: RunPartyOptions): Promise<MaterialFeed> {
  if ((opts.dealer === undefined) === (opts.dealerDir === undefined))
    throw new MarillError('give exactly one of --dealer or --dealer-dir for the dealer material');
  if (opts.dealerDir !== undefined) return fileFeed(opts.plan, opts.party, opts.dealerDir);
  return liveDealerFeed(opts.plan, opts.party, parseEndpoint(opts.dealer!, '--dealer'), {
    tls: opts.tls,
    insecurePlaintext: opts.insecurePlaintext,
    recvTimeoutMs: opts.timeoutMs,
    connectTimeoutMs: opts.timeoutMs,
  });
}

export async function runParty(opts: RunPartyOptions): Promise<PartyResult> {
  const feed = await materialFeed(opts);
  let channel: Channel | undefined;
  let session: PartySession | undefined;
  try {
    channel = await peerChannel(opts);
    session = await PartySession.open({
      plan: opts.plan,
      party: opts.party,
      channel,
      feed,
      weights: opts.weights,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.plaintextEngine ? { plaintextEngine: opts.plaintextEngine } : {}),
    });
    const t0 = performance.now();
    const outputs: Map<string, Tensor>[] = [];
    for (const [index, inputs] of opts.inputs.entries()) {
      await opts.around?.before?.(index);
      outputs.push(await session.infer(inputs));
      await opts.around?.after?.(index, session.stats());
    }
    return { outputs, stats: session.stats(), seconds: (performance.now() - t0) / 1000 };
  } finally {
    if (session) session.close();
    else {
      channel?.close();
      feed.close();
    }
  }
}
