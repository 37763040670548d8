/**
 * `marillc run` and `marillc simulate` of a generation plan: the client
 * generates from a prompt (token ids, or text through a tokenizer), token by
 * token in one session; the server and the dealer serve that session. Simulate
 * runs the dealer, the server and the client over TLS on loopback and checks
 * every step against the plaintext interpreter running the same step plans
 * (state fed back), and the measured bytes and rounds of every step against
 * the cost model's prediction for that step's plan.
 */
import { MarillError } from '../../ir/errors.ts';
import { interpret } from '../../ir/interpret.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { makeTensor, maxAbsDiff } from '../../ir/tensor.ts';
import type { GenerationPlan } from '../../runtime/generate/plan.ts';
import { stepPlan } from '../../runtime/generate/plan.ts';
import type { SamplingOptions } from '../../runtime/generate/sampling.ts';
import { stepShape } from '../../runtime/generate/schedule.ts';
import type { StepMeasure } from '../../runtime/generate/session.ts';
import type { RunReport } from '../../runtime/mpc/accounting.ts';
import { combineReports } from '../../runtime/mpc/accounting.ts';
import type { TlsFiles } from '../../runtime/net/tcp.ts';
import type { PartyResult } from '../../runtime/party.ts';
import { runParty } from '../../runtime/party.ts';
import type { Plan } from '../../runtime/plan.ts';
import type { PlaintextEngineName } from '../../runtime/plaintext/engine.ts';
import type { Party } from '../../runtime/protocol.ts';
import type { NetworkProfile } from '../backend/network.ts';
import { costPlan } from '../backend/cost.ts';
import { loadPartyWeights } from './party-weights.ts';
import type { Connection } from './run-party.ts';
import { connectionOptions, localDealer, withWeightTensors } from './run-party.ts';

/** Any step plan: every step of a generation plan reads the same weights. */
export function anyStep(g: GenerationPlan): Plan {
  const first = g.steps.values().next().value;
  if (!first) throw new MarillError(`generation plan '${g.name}' has no steps`);
  return first;
}

/** A party's weights of a generation plan (the same for every step). */
export function loadGenerationWeights(
  g: GenerationPlan,
  party: Party,
  modelPath: string | undefined,
  planFile?: string,
): Map<string, Tensor> {
  return loadPartyWeights(anyStep(g), party, modelPath, planFile);
}

export interface ClientPrompt {
  readonly promptIds: readonly number[];
  readonly options: SamplingOptions;
  readonly onToken?: (id: number) => void;
}

/** The server or the client of a generation plan against its peer. */
export async function runGenerationParty(
  g: GenerationPlan,
  party: Party,
  conn: Connection,
  modelPath: string | undefined,
  prompt: ClientPrompt | undefined,
  planFile?: string,
): Promise<PartyResult> {
  const weights = loadGenerationWeights(g, party, modelPath, planFile);
  return runParty({
    plan: g,
    party,
    weights,
    ...connectionOptions(conn),
    ...(prompt ? { generate: prompt } : {}),
  });
}

/** One step's predicted communication (compiler/backend/cost.ts) beside what was measured. */
export interface StepReport extends StepMeasure {
  readonly predicted: {
    readonly online_bytes: number;
    readonly rounds: number;
    readonly preprocess_bytes: number;
    readonly preprocess_rounds: number;
    readonly est_seconds: number;
  };
  /** Largest difference of the step's logits from the plaintext interpreter's (simulate). */
  readonly max_abs_error?: number;
}

/** Each measured step beside the cost model's prediction for its step plan. */
export function stepReports(
  g: GenerationPlan,
  prompt: number,
  steps: readonly StepMeasure[],
  network: NetworkProfile,
  plaintextEngine?: PlaintextEngineName,
): StepReport[] {
  return steps.map((m, k) => {
    const plan = stepPlan(g, stepShape(prompt, k));
    const c = costPlan(plan.graph, {
      network,
      fracBits: plan.fracBits,
      setting: plan.setting,
      ...(plaintextEngine ? { plaintextEngine } : {}),
    }).total;
    return {
      ...m,
      predicted: {
        online_bytes: c.online_bytes,
        rounds: c.rounds,
        preprocess_bytes: c.preprocess_bytes,
        preprocess_rounds: c.preprocess_rounds,
        est_seconds: c.est_seconds,
      },
    };
  });
}

/** Steps whose measured bytes or rounds (online, and preprocessing without a dealer) differ from the prediction. */
export function stepMismatches(steps: readonly StepReport[]): string[] {
  const keys = ['online_bytes', 'rounds', 'preprocess_bytes', 'preprocess_rounds'] as const;
  return steps
    .filter((s) => keys.some((k) => s[k] !== s.predicted[k]))
    .map(
      (s) =>
        `position ${s.position}: measured ${s.online_bytes} B / ${s.rounds} rounds` +
        ` (preprocessing ${s.preprocess_bytes} B / ${s.preprocess_rounds}), predicted ${s.predicted.online_bytes} B /` +
        ` ${s.predicted.rounds} (preprocessing ${s.predicted.preprocess_bytes} B / ${s.predicted.preprocess_rounds})`,
    );
}

/**
 * The plaintext interpreter on the same step plans, fed the tokens the
 * two-party run picked (so both see the same steps): each step's logits.
 */
export function plaintextStepLogits(
  g: GenerationPlan,
  prompt: readonly number[],
  tokens: readonly number[],
  weights: readonly ReadonlyMap<string, Tensor>[],
): Float32Array[] {
  let state = new Map<string, Tensor>();
  const out: Float32Array[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const ids = k === 0 ? prompt : [tokens[k - 1]!];
    const graph = withWeightTensors(stepPlan(g, stepShape(prompt.length, k)).graph, ...weights);
    const inputs = new Map<string, Tensor>([
      [
        g.tokens,
        makeTensor(
          'i64',
          [1, ids.length],
          BigInt64Array.from(ids, (t) => BigInt(t)),
        ),
      ],
    ]);
    for (const o of graph.outputs)
      if (o.state !== undefined)
        inputs.set(o.state, state.get(o.state) ?? makeTensor('f32', graph.values.get(o.state)!.type.shape));
    const results = interpret(graph, inputs);
    state = new Map(
      graph.outputs.filter((o) => o.state !== undefined).map((o) => [o.state!, results.get(o.name)!]),
    );
    out.push(results.get(g.logits)!.data as Float32Array);
  }
  return out;
}

export interface GenerationSimulateOutcome {
  readonly prompt: readonly number[];
  readonly tokens: readonly number[];
  readonly steps: readonly StepMeasure[];
  /** Per step: largest difference of the revealed logits from the plaintext interpreter's. */
  readonly maxAbsErrors: readonly number[];
  readonly setup: { seconds: number; bytes: number; rounds: number };
  readonly report: RunReport;
  readonly seconds: number;
}

/**
 * Dealer (for a plan of the dealer setting), server and client of a generation
 * plan in this process over TLS on loopback (ports from the OS), throwaway certificates.
 */
export async function simulateGenerationOverTls(
  g: GenerationPlan,
  serverModel: string | undefined,
  clientModel: string | undefined,
  prompt: ClientPrompt,
  timeoutMs: number,
  planFile?: string,
  plaintextEngine?: PlaintextEngineName,
): Promise<GenerationSimulateOutcome> {
  const serverWeights = loadGenerationWeights(g, 'server', serverModel, planFile);
  const clientWeights = loadGenerationWeights(g, 'client', clientModel, planFile);
  const { temporaryCertificates } = await import('./certs.ts');
  const certs = await temporaryCertificates();
  try {
    const files = certs.files;
    const t0 = performance.now();
    const [s, c] = await runAll(g, serverWeights, clientWeights, prompt, timeoutMs, files, plaintextEngine);
    const seconds = (performance.now() - t0) / 1000;
    const gen = c.generation!;
    const reference = plaintextStepLogits(g, gen.prompt, gen.tokens, [serverWeights, clientWeights]);
    return {
      prompt: gen.prompt,
      tokens: gen.tokens,
      steps: gen.steps,
      maxAbsErrors: c.stepLogits.map((l, k) => maxAbsDiff(l, reference[k]!)),
      setup: c.setup!,
      report: combineReports(s.stats, c.stats),
      seconds,
    };
  } finally {
    certs.remove();
  }
}

async function runAll(
  g: GenerationPlan,
  serverWeights: Map<string, Tensor>,
  clientWeights: Map<string, Tensor>,
  prompt: ClientPrompt,
  timeoutMs: number,
  certificates: (role: 'server' | 'client' | 'dealer') => TlsFiles,
  plaintextEngine: PlaintextEngineName | undefined,
): Promise<[PartyResult, PartyResult & { stepLogits: Float32Array[] }]> {
  const engine = plaintextEngine ? { plaintextEngine } : {};
  const { dealer, material } = await localDealer(g, certificates('dealer'), timeoutMs);
  let serverPort!: (port: number) => void;
  const serverListening = new Promise<number>((r) => (serverPort = r));
  const server = runParty({
    plan: g,
    party: 'server',
    weights: serverWeights,
    listen: '127.0.0.1:0',
    ...material,
    tls: certificates('server'),
    timeoutMs,
    onListening: serverPort,
    ...engine,
  });
  const sport = await Promise.race([serverListening, server.then(() => -1)]);
  const stepLogits: Float32Array[] = [];
  const client = runParty({
    plan: g,
    party: 'client',
    weights: clientWeights,
    connect: `127.0.0.1:${sport}`,
    ...material,
    tls: certificates('client'),
    timeoutMs,
    ...engine,
    generate: { ...prompt, onLogits: (l: Float32Array) => stepLogits.push(Float32Array.from(l)) },
  });
  const [s, c] = await Promise.all([server, client, dealer]);
  return [s, { ...c, stepLogits }];
}
