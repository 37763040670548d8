/**
 * `marillc run` (one party of a plan: server, client or dealer) and
 * `marillc simulate` (every party from one command, still over real TCP
 * sockets on loopback: a plan compiled for setting '2pc' has no dealer), with
 * the measured communication and, for simulate, the error against the
 * plaintext interpreter.
 */
import { readFileSync } from 'node:fs';
import { MarillError } from '../../ir/errors.ts';
import type { Graph, Node } from '../../ir/graph.ts';
import { interpret } from '../../ir/interpret.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { tensorMaxAbsDiff } from '../../ir/tensor.ts';
import { readInputs } from '../../ir/tensor-json.ts';
import { writeDealerMaterial } from '../../runtime/dealer/files.ts';
import type { DealerOptions, DealerSummary } from '../../runtime/dealer/live.ts';
import { runDealer } from '../../runtime/dealer/live.ts';
import type { RunReport } from '../../runtime/mpc/accounting.ts';
import { combineReports } from '../../runtime/mpc/accounting.ts';
import type { LinkOptions, TlsFiles } from '../../runtime/net/tcp.ts';
import { parseEndpoint } from '../../runtime/net/tcp.ts';
import type { PartyResult } from '../../runtime/party.ts';
import { runParty } from '../../runtime/party.ts';
import type { GenerationPlan } from '../../runtime/generate/plan.ts';
import { isGenerationPlan } from '../../runtime/generate/plan.ts';
import type { Plan } from '../../runtime/plan.ts';
import type { PlaintextEngineName } from '../../runtime/plaintext/engine.ts';
import type { Party } from '../../runtime/protocol.ts';
import { readJsonOrFail } from '../fs-util.ts';
import { loadPartyWeights } from './party-weights.ts';
import { terminalProgress } from './progress.ts';

export interface Connection extends LinkOptions {
  readonly listen?: string;
  readonly connect?: string;
  readonly dealer?: string;
  readonly dealerDir?: string;
  readonly timeoutMs: number;
  /** What runs the party's plaintext nodes (default: onnxruntime segments). */
  readonly plaintextEngine?: PlaintextEngineName;
  /** Called once this party listens, with the bound port (what `--listen HOST:0` got from the OS). */
  readonly onListening?: (port: number) => void;
  /** Told about each connection refused before its hello. */
  readonly onRefused?: (peer: string, why: string) => void;
  /** Client: called once the server welcomed the session (with the server's session number). */
  readonly onSession?: (session: number) => void;
}

/** The options of `runParty` that say where and how a party meets its peers (one party's command line). */
export function connectionOptions(conn: Connection) {
  return {
    ...(conn.listen !== undefined ? { listen: conn.listen } : {}),
    ...(conn.connect !== undefined ? { connect: conn.connect } : {}),
    ...(conn.dealer !== undefined ? { dealer: conn.dealer } : {}),
    ...(conn.dealerDir !== undefined ? { dealerDir: conn.dealerDir } : {}),
    tls: conn.tls,
    insecurePlaintext: conn.insecurePlaintext,
    timeoutMs: conn.timeoutMs,
    ...(conn.plaintextEngine ? { plaintextEngine: conn.plaintextEngine } : {}),
    ...(conn.onListening ? { onListening: conn.onListening } : {}),
    onRefused: conn.onRefused,
    ...(conn.onSession ? { onSession: conn.onSession } : {}),
  };
}

/**
 * The dealer of one simulated session: for a plan of the dealer setting, a
 * one-session dealer on a loopback port the OS picks, and the flag that sends
 * the parties to it; for a '2pc' plan none (the parties make their
 * correlations themselves), so no dealer is started.
 */
export async function localDealer(
  plan: DealerOptions['plan'],
  tls: TlsFiles,
  timeoutMs: number,
): Promise<{ dealer: Promise<DealerSummary | undefined>; material: { dealer?: string } }> {
  if (plan.setting === '2pc') return { dealer: Promise.resolve(undefined), material: {} };
  let listening!: (port: number) => void;
  const port = new Promise<number>((r) => (listening = r));
  const dealer = runDealer({
    plan,
    listen: { host: '127.0.0.1', port: 0 },
    tls,
    timeoutMs,
    onListening: listening,
  });
  return { dealer, material: { dealer: `127.0.0.1:${await port}` } };
}

export function readPlanInputs(plan: Plan, inputFile: string | undefined): Map<string, Tensor> {
  if (plan.graph.inputs.length === 0) return new Map();
  if (inputFile === undefined)
    throw new MarillError(
      `the plan needs client inputs (${plan.graph.inputs.join(', ')}): --input is missing`,
    );
  if (inputFile === '-') return readInputs(plan.graph, readStdinJson(), '<stdin>');
  return readInputs(plan.graph, readJsonOrFail(inputFile), inputFile);
}

/** Standard input as JSON (`--input -`). */
function readStdinJson(): unknown {
  const text = readFileSync(0, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new MarillError(`not valid JSON (${(e as Error).message})`, { file: '<stdin>' });
  }
}

/**
 * The client's inputs, one map per inference, in the order given (`--input`
 * repeated; `-` is standard input, at most once). A plan without inputs runs
 * one inference.
 */
export function readPlanInputList(plan: Plan, inputFiles: readonly string[]): Map<string, Tensor>[] {
  if (inputFiles.filter((f) => f === '-').length > 1)
    throw new MarillError('--input - (standard input) can be given once');
  if (inputFiles.length === 0) return [readPlanInputs(plan, undefined)];
  return inputFiles.map((f) => readPlanInputs(plan, f));
}

/** Runs the server or the client of a plan against its peer; returns what it learned and its accounting. */
export async function runPartyCommand(
  plan: Plan,
  party: Party,
  conn: Connection,
  modelPath: string | undefined,
  inputFiles: readonly string[],
  planFile?: string,
): Promise<PartyResult> {
  const weights = loadPartyWeights(plan, party, modelPath, planFile);
  const inputs = party === 'client' ? readPlanInputList(plan, inputFiles) : [];
  return runParty({
    plan,
    party,
    weights,
    inputs,
    ...connectionOptions(conn),
    ...progressOption(party),
  });
}

function progressOption(label: string): { onProgress?: (done: number, total: number, node: Node) => void } {
  const onProgress = terminalProgress(label);
  return onProgress ? { onProgress } : {};
}

/** The dealer: live (`--listen`) or material generated ahead into a directory (`--dealer-dir`). */
export async function runDealerCommand(
  plan: Plan | GenerationPlan,
  conn: Connection,
  inferences: number,
): Promise<string> {
  if (conn.dealerDir !== undefined) {
    if (isGenerationPlan(plan))
      throw new MarillError(
        'material folders (--dealer-dir) hold one plan; a generation plan needs a live dealer (--listen HOST:PORT)',
      );
    const manifests = writeDealerMaterial(plan, conn.dealerDir, inferences);
    const bytes = manifests.reduce((s, m) => s + m.bytesPerInference * inferences, 0);
    return `dealer: wrote ${inferences} inference(s) of material to ${conn.dealerDir} (${bytes} bytes)`;
  }
  if (conn.listen === undefined)
    throw new MarillError('the dealer needs --listen HOST:PORT or --dealer-dir DIR');
  const summary = await runDealer({
    plan,
    listen: parseEndpoint(conn.listen, '--listen'),
    tls: conn.tls,
    insecurePlaintext: conn.insecurePlaintext,
    timeoutMs: conn.timeoutMs,
    ...(conn.onListening ? { onListening: conn.onListening } : {}),
    onRefused: conn.onRefused,
  });
  const what = isGenerationPlan(plan) ? 'step(s)' : 'inference(s)';
  return `dealer: served ${summary.inferences} ${what}: ${summary.bytesSent[0]} bytes to the server, ${summary.bytesSent[1]} to the client`;
}

/** The plan's graph with every weight's tensor attached (for the plaintext reference). */
export function withWeightTensors(g: Graph, ...sources: ReadonlyMap<string, Tensor>[]): Graph {
  const nodes = g.nodes.map((n): Node => {
    if (n.op !== 'weight') return n;
    const name = String(n.attrs['name']);
    const tensor = sources.map((s) => s.get(name)).find((t) => t !== undefined);
    if (!tensor) throw new MarillError(`weight '${name}' is in no model given to simulate`);
    return { ...n, tensor };
  });
  return { ...g, nodes };
}

/** The largest difference over every output (an output missing from the reference is an error). */
function outputsMaxAbsDiff(a: ReadonlyMap<string, Tensor>, b: ReadonlyMap<string, Tensor>): number {
  let worst = 0;
  for (const [name, t] of a) {
    const u = b.get(name);
    if (!u) throw new MarillError(`output '${name}' is missing from the reference`);
    worst = Math.max(worst, tensorMaxAbsDiff(t, u, name));
  }
  return worst;
}

export interface SimulateOutcome {
  readonly outputs: Map<string, Tensor>;
  readonly reference: Map<string, Tensor>;
  readonly maxAbsError: number;
  readonly report: RunReport;
  readonly seconds: number;
}

/**
 * Dealer (for a plan of the dealer setting), server and client in this
 * process, over TCP on loopback (ports chosen by the OS), each link mutual TLS
 * with throwaway certificates.
 */
export async function simulate(
  plan: Plan,
  serverModel: string | undefined,
  clientModel: string | undefined,
  inputFile: string | undefined,
  timeoutMs: number,
  planFile?: string,
  plaintextEngine?: PlaintextEngineName,
): Promise<SimulateOutcome> {
  const engine = plaintextEngine ? { plaintextEngine } : {};
  const serverWeights = loadPartyWeights(plan, 'server', serverModel, planFile);
  const clientWeights = loadPartyWeights(plan, 'client', clientModel, planFile);
  const inputs = readPlanInputs(plan, inputFile);
  // Loaded here only: the certificate library is not needed by `marillc run`.
  const { temporaryCertificates } = await import('./certs.ts');
  const certs = await temporaryCertificates();
  try {
    return await simulateOverTls(plan, serverWeights, clientWeights, inputs, timeoutMs, certs.files, engine);
  } finally {
    certs.remove();
  }
}

async function simulateOverTls(
  plan: Plan,
  serverWeights: ReturnType<typeof loadPartyWeights>,
  clientWeights: ReturnType<typeof loadPartyWeights>,
  inputs: Map<string, Tensor>,
  timeoutMs: number,
  certificates: (role: 'server' | 'client' | 'dealer') => TlsFiles,
  engine: { plaintextEngine?: PlaintextEngineName },
): Promise<SimulateOutcome> {
  const t0 = performance.now();
  const { dealer, material } = await localDealer(plan, certificates('dealer'), timeoutMs);
  let serverPort!: (port: number) => void;
  const serverListening = new Promise<number>((r) => (serverPort = r));
  const server = runParty({
    plan,
    party: 'server',
    weights: serverWeights,
    inputs: [new Map()],
    listen: '127.0.0.1:0',
    ...material,
    tls: certificates('server'),
    timeoutMs,
    onListening: serverPort,
    ...engine,
  });
  const sport = await Promise.race([serverListening, server.then(() => -1)]);
  const client = runParty({
    plan,
    party: 'client',
    weights: clientWeights,
    inputs: [inputs],
    connect: `127.0.0.1:${sport}`,
    ...material,
    tls: certificates('client'),
    timeoutMs,
    ...engine,
    ...progressOption('simulate'),
  });
  const [s, c] = await Promise.all([server, client, dealer]);
  const seconds = (performance.now() - t0) / 1000;
  const outputs = c.outputs[0]!;
  const reference = interpret(withWeightTensors(plan.graph, serverWeights, clientWeights), inputs);
  return {
    outputs,
    reference,
    maxAbsError: outputsMaxAbsDiff(outputs, reference),
    report: combineReports(s.stats, c.stats),
    seconds,
  };
}
