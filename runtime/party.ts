/**
 * Running one party of a plan over TCP: what `marillc run PLAN --party
 * client|server` calls. The client connects to the server and runs one
 * session (./serve/sessions.ts) of as many inferences as it has inputs; the
 * server listens, serves that one session and returns. Both get their dealer
 * material from a live dealer (paired by session id) or a material folder.
 *
 *   const result = await runParty({ plan, party: 'client', weights, inputs: [inputs],
 *                                   connect: '127.0.0.1:7000', dealer: '127.0.0.1:7001' });
 */
import { MarillError } from '../ir/errors.ts';
import type { Node } from '../ir/graph.ts';
import type { Tensor } from '../ir/tensor.ts';
import { checkMaterial, materialProvider } from './dealer/provider.ts';
import type { WeightSource } from './executor.ts';
import { CheckedWeights } from './executor.ts';
import type { OpStats } from './mpc/accounting.ts';
import type { ConnectOptions, LinkOptions } from './net/tcp.ts';
import { Listener, connect, parseEndpoint } from './net/tcp.ts';
import type { Plan } from './plan.ts';
import type { GenerationPlan } from './generate/plan.ts';
import { isGenerationPlan } from './generate/plan.ts';
import type { SamplingOptions } from './generate/sampling.ts';
import { checkSamplingOptions } from './generate/sampling.ts';
import { ClientGeneration, generateOver, serveGeneration } from './generate/served.ts';
import type { StepMeasure } from './generate/session.ts';
import { GenerationWeights } from './generate/session.ts';
import type { PlaintextEngineName } from './plaintext/engine.ts';
import type { Party } from './protocol.ts';
import type { InferenceHooks, InferenceMeasure, SetupMeasure } from './serve/sessions.ts';
import { ClientSession, serveSession } from './serve/sessions.ts';

export type { InferenceHooks } from './serve/sessions.ts';

export interface RunPartyOptions extends LinkOptions {
  /** A plan, or a generation plan (one generation session: the client gives `generate`). */
  readonly plan: Plan | GenerationPlan;
  readonly party: Party;
  /** The weights this party holds (server: its model; client: public weights). */
  readonly weights: WeightSource;
  /**
   * Client: one map of its graph inputs per inference, all in one session.
   * The server runs as many inferences as the client announces (it needs none).
   */
  readonly inputs?: readonly ReadonlyMap<string, Tensor>[];
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
  /** Client: called once the server welcomed the session, with the server's number for it. */
  readonly onSession?: (session: number) => void;
  /** Client of a generation plan: the prompt's ids, the sampling options, and each token as it comes. */
  readonly generate?: {
    readonly promptIds: readonly number[];
    readonly options: SamplingOptions;
    readonly onToken?: (id: number) => void;
    /** Each step's revealed logits (the last position's), in order. */
    readonly onLogits?: (logits: Float32Array) => void;
  };
}

export interface PartyResult {
  /** Outputs this party learned, one map per inference (empty maps at the server). */
  readonly outputs: Map<string, Tensor>[];
  /** Its per-op accounting (combine both parties' with mpc/accounting.ts combineReports). */
  readonly stats: OpStats[];
  /** Wall seconds of the session, from the end of the handshake (waiting for the peer is not counted). */
  readonly seconds: number;
  /** The client's measures: the once-per-session setup, and each inference. */
  readonly setup?: SetupMeasure;
  readonly inferences?: readonly InferenceMeasure[];
  /** The client's generation: prompt and generated ids, and each step's measures. */
  readonly generation?: {
    readonly prompt: readonly number[];
    readonly tokens: readonly number[];
    readonly steps: readonly StepMeasure[];
  };
}

/** How this party connects to its peer and to a live dealer. */
function linkOf(opts: RunPartyOptions): ConnectOptions {
  return {
    tls: opts.tls,
    insecurePlaintext: opts.insecurePlaintext,
    recvTimeoutMs: opts.timeoutMs,
    connectTimeoutMs: opts.timeoutMs,
  };
}

type PartyWeights = CheckedWeights | GenerationWeights;

async function runServer(opts: RunPartyOptions, weights: PartyWeights): Promise<PartyResult> {
  if (opts.listen === undefined || opts.connect !== undefined)
    throw new MarillError('the server takes --listen (the client connects to it)');
  const connectOpts = linkOf(opts);
  const material = materialProvider(weights.plan, 'server', opts, connectOpts);
  await checkMaterial(opts.plan, 'server', opts, connectOpts);
  const listener = await Listener.open(parseEndpoint(opts.listen, '--listen'), {
    tls: opts.tls,
    insecurePlaintext: opts.insecurePlaintext,
    peerRoles: ['client'],
    recvTimeoutMs: opts.timeoutMs,
    onRefused: opts.onRefused,
  });
  opts.onListening?.(listener.port);
  let channel;
  try {
    channel = await listener.accept(opts.timeoutMs);
  } finally {
    listener.close();
  }
  try {
    const common = {
      channel,
      material,
      number: 1,
      ...(opts.timeoutMs !== undefined ? { handshakeTimeoutMs: opts.timeoutMs } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.plaintextEngine ? { plaintextEngine: opts.plaintextEngine } : {}),
    };
    const served =
      weights instanceof GenerationWeights
        ? await serveGeneration({ ...common, plan: weights.plan, weights })
        : await serveSession({
            ...common,
            plan: weights.plan,
            weights,
            ...(opts.around ? { around: opts.around } : {}),
          });
    return {
      outputs: Array.from({ length: served.inferences }, () => new Map<string, Tensor>()),
      stats: served.stats,
      seconds: served.seconds,
    };
  } finally {
    channel.close();
  }
}

async function runClient(opts: RunPartyOptions, weights: PartyWeights): Promise<PartyResult> {
  if (opts.connect === undefined || opts.listen !== undefined)
    throw new MarillError('the client takes --connect (the server listens)');
  if (weights instanceof GenerationWeights) return runGenerationClient(opts, weights);
  const inputs = opts.inputs ?? [];
  if (inputs.length === 0) throw new MarillError('the client has no inputs to run');
  const connectOpts = linkOf(opts);
  const material = materialProvider(weights.plan, 'client', opts, connectOpts);
  const channel = await connect(parseEndpoint(opts.connect, '--connect'), 'server', connectOpts);
  let session: ClientSession | undefined;
  try {
    session = await ClientSession.open({
      plan: weights.plan,
      weights,
      channel,
      material,
      ...(opts.timeoutMs !== undefined ? { handshakeTimeoutMs: opts.timeoutMs } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.plaintextEngine ? { plaintextEngine: opts.plaintextEngine } : {}),
    });
    opts.onSession?.(session.number);
    const t0 = performance.now();
    const outputs: Map<string, Tensor>[] = [];
    for (const [index, x] of inputs.entries()) {
      await opts.around?.before?.(index);
      outputs.push(await session.infer(x));
      await opts.around?.after?.(index, session.stats());
    }
    return {
      outputs,
      stats: session.stats(),
      seconds: (performance.now() - t0) / 1000,
      setup: session.setup(),
      inferences: session.inferences(),
    };
  } finally {
    if (session) session.close();
    else channel.close();
  }
}

/** The client of a generation session: announces the schedule, then steps until done or end-of-sequence. */
async function runGenerationClient(opts: RunPartyOptions, weights: GenerationWeights): Promise<PartyResult> {
  const gen = opts.generate;
  if (!gen)
    throw new MarillError('the client of a generation plan needs a prompt (--prompt-ids or --prompt)');
  checkSamplingOptions(gen.options);
  const connectOpts = linkOf(opts);
  const material = materialProvider(weights.plan, 'client', opts, connectOpts);
  const channel = await connect(parseEndpoint(opts.connect!, '--connect'), 'server', connectOpts);
  let session: ClientGeneration | undefined;
  try {
    session = await ClientGeneration.open({
      plan: weights.plan,
      weights,
      channel,
      material,
      announced: { prompt: gen.promptIds.length, steps: gen.options.maxNewTokens },
      ...(opts.timeoutMs !== undefined ? { handshakeTimeoutMs: opts.timeoutMs } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.plaintextEngine ? { plaintextEngine: opts.plaintextEngine } : {}),
    });
    opts.onSession?.(session.number);
    const r = await generateOver(session, gen.promptIds, gen.options, gen.onToken, gen.onLogits);
    return {
      outputs: [],
      stats: r.stats,
      seconds: r.seconds,
      setup: r.setup,
      generation: { prompt: r.prompt, tokens: r.tokens, steps: r.steps },
    };
  } finally {
    if (session) session.close();
    else channel.close();
  }
}

export async function runParty(opts: RunPartyOptions): Promise<PartyResult> {
  // Weights are checked before any connection, so a wrong model fails locally, with a clear message.
  const weights = isGenerationPlan(opts.plan)
    ? new GenerationWeights(opts.plan, opts.party, opts.weights)
    : CheckedWeights.check(opts.plan, opts.party, opts.weights);
  return opts.party === 'server' ? runServer(opts, weights) : runClient(opts, weights);
}
