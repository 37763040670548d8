/**
 * `marillc run PLAN.ts --party server|client|dealer ...` (one party per
 * process) and `marillc simulate PLAN.ts ...` (all parties from one command,
 * over real sockets on loopback).
 */
import type { Tensor } from '../../../ir/tensor.ts';
import { tensorToJson } from '../../../ir/tensor-json.ts';
import { combineReports } from '../../../runtime/mpc/accounting.ts';
import { parseEndpoint } from '../../../runtime/net/tcp.ts';
import type { PlaintextEngineName } from '../../../runtime/plaintext/engine.ts';
import type { Party } from '../../../runtime/protocol.ts';
import { costPlan } from '../../backend/cost.ts';
import {
  costMismatches,
  formatCostLine,
  formatMeasuredLine,
  measuredSection,
} from '../../emit/cost-report.ts';
import type { NetworkProfile } from '../../backend/network.ts';
import { loadAnyPlanModule } from '../../party/plan-module.ts';
import type { GenerationPlan } from '../../../runtime/generate/plan.ts';
import type { Connection } from '../../party/run-party.ts';
import type { GenerateFlags } from './eval.ts';
import { GENERATION_FLAGS, flagName, promptFrom, samplingFrom } from './eval.ts';
import type { SamplingOptions } from '../../../runtime/generate/sampling.ts';
import type { TextTokenizer } from '../../generate/tokenizer.ts';
import { loadTokenizer } from '../../generate/tokenizer.ts';
import {
  runGenerationParty,
  simulateGenerationOverTls,
  stepMismatches,
  stepReports,
} from '../../party/run-generation.ts';
import { runDealerCommand, runPartyCommand, simulate } from '../../party/run-party.ts';
import { serverGenerationPlan, serverPlan } from '../../party/weight-key.ts';
import type { TlsFlags } from './common.ts';
import { UsageError, checkDealerFlags, emit, linkFrom, writeJson } from './common.ts';

export interface RunFlags extends TlsFlags, GenerateFlags {
  party: Party | 'dealer';
  model?: string;
  listen?: string;
  connect?: string;
  dealer?: string;
  dealerDir?: string;
  input?: string[];
  out?: string;
  report?: string;
  timeout: number;
  inferences: number;
  weightKey?: string;
  plaintextEngine: PlaintextEngineName;
}

export interface SimulateFlags extends GenerateFlags {
  serverModel?: string;
  clientModel?: string;
  input?: string;
  out?: string;
  report?: string;
  network: NetworkProfile;
  timeout: number;
  weightKey?: string;
  plaintextEngine: PlaintextEngineName;
}

function outputsObject(outputs: ReadonlyMap<string, Tensor>): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const [name, t] of outputs) json[name] = tensorToJson(t);
  return json;
}

function outputsJson(outputs: ReadonlyMap<string, Tensor>): string {
  return `${JSON.stringify(outputsObject(outputs))}\n`;
}

export async function runCommand(planFile: string, flags: RunFlags): Promise<void> {
  // Writing dealer material to files opens no link; every other party does.
  const writesFiles = flags.party === 'dealer' && flags.dealerDir !== undefined;
  const link = writesFiles ? {} : linkFrom(flags, flags.party);
  const loaded = loadAnyPlanModule(planFile);
  checkDealerFlags(loaded.plan, planFile, flags.party, flags);
  const timeoutMs = flags.timeout * 1000;
  const conn = {
    ...(flags.listen !== undefined ? { listen: flags.listen } : {}),
    ...(flags.connect !== undefined ? { connect: flags.connect } : {}),
    ...(flags.dealer !== undefined ? { dealer: flags.dealer } : {}),
    ...(flags.dealerDir !== undefined ? { dealerDir: flags.dealerDir } : {}),
    ...link,
    timeoutMs,
    plaintextEngine: flags.plaintextEngine,
    // The bound address, so a peer (or a script) can find a party started with --listen HOST:0.
    onListening: (port: number) => {
      const host = parseEndpoint(flags.listen ?? '', '--listen').host;
      process.stderr.write(`${flags.party}: listening on ${host}:${port}\n`);
    },
    // A connection that is not the expected peer is refused; this party keeps waiting.
    onRefused: (peer: string, why: string) => {
      process.stderr.write(`${flags.party}: refused a connection from the ${peer}: ${why}\n`);
    },
    // The server's number for the session: its log line for this client names it.
    onSession: (session: number) =>
      process.stderr.write(`${flags.party}: session ${session} on the server at ${flags.connect}\n`),
  };
  if (flags.party === 'dealer') {
    process.stderr.write(`${await runDealerCommand(loaded.plan, conn, flags.inferences)}\n`);
    return;
  }
  if (loaded.kind === 'generation') {
    await runGenerationCommand(loaded.plan, planFile, flags, conn);
    return;
  }
  const plan = loaded.plan;
  const stray = generationFlagsGiven(flags);
  if (stray.length > 0)
    throw new UsageError(`${stray.join(', ')}: generation options, and ${planFile} is a single-pass plan`);
  const partyPlan = flags.party === 'server' ? serverPlan(plan, planFile, flags.weightKey) : plan;
  const result = await runPartyCommand(
    partyPlan,
    flags.party,
    conn,
    flags.model,
    flags.input ?? [],
    planFile,
  );
  const report = combineReports(
    flags.party === 'server' ? result.stats : [],
    flags.party === 'client' ? result.stats : [],
  );
  const measured = measuredSection(report, result.seconds);
  process.stderr.write(`${flags.party}: ${formatMeasuredLine(measured)} (bytes sent by this party)\n`);
  if (flags.report)
    writeJson(flags.report, {
      party: flags.party,
      measured,
      ...(result.setup ? { setup: result.setup } : {}),
      ...(result.inferences ? { inferences: result.inferences } : {}),
    });
  if (flags.party !== 'client') return;
  // One input: one output object; several: an array of them, in input order.
  const outs = result.outputs.map(outputsObject);
  emit(`${JSON.stringify(outs.length === 1 ? outs[0] : outs)}\n`, flags.out);
}

export async function simulateCommand(planFile: string, flags: SimulateFlags): Promise<void> {
  const loaded = loadAnyPlanModule(planFile);
  if (loaded.kind === 'generation') {
    await simulateGenerationCommand(loaded.plan, planFile, flags);
    return;
  }
  const plan = loaded.plan;
  const stray = generationFlagsGiven(flags);
  if (stray.length > 0)
    throw new UsageError(`${stray.join(', ')}: generation options, and ${planFile} is a single-pass plan`);
  const { network } = flags;
  const timeoutMs = flags.timeout * 1000;
  const outcome = await simulate(
    serverPlan(plan, planFile, flags.weightKey),
    flags.serverModel,
    flags.clientModel,
    flags.input,
    timeoutMs,
    planFile,
    flags.plaintextEngine,
  );
  const cost = costPlan(plan.graph, {
    network,
    fracBits: plan.fracBits,
    setting: plan.setting,
    plaintextEngine: flags.plaintextEngine,
  });
  const measured = measuredSection(outcome.report, outcome.seconds);
  const mismatches = costMismatches(cost, measured);
  if (flags.report)
    writeJson(flags.report, {
      cost,
      measured,
      error: { max_abs: outcome.maxAbsError },
      cost_matches_measured: mismatches.length === 0,
    });
  const lines = [
    formatCostLine(cost),
    formatMeasuredLine(measured),
    mismatches.length === 0
      ? 'cost model: predicted bytes and rounds equal the measured ones, op by op'
      : `cost model: ${mismatches.length} op(s) differ: ${mismatches.slice(0, 3).join('; ')}`,
    `max abs error against the plaintext interpreter: ${outcome.maxAbsError.toExponential(3)}`,
  ];
  // The results alone go to --out or stdout (so `> out.json` is JSON, as with
  // `run --party client`); the statistics are for the person watching, on stderr.
  emit(outputsJson(outcome.outputs), flags.out);
  process.stderr.write(`${lines.join('\n')}\n`);
}

/** The generation flags given (as --flag names). */
function generationFlagsGiven(flags: GenerateFlags): string[] {
  return GENERATION_FLAGS.filter((k) => flags[k] !== undefined).map(flagName);
}

/** The client's prompt and sampling options, and a streaming decoder when it gave a tokenizer. */
function clientPrompt(flags: GenerateFlags): {
  promptIds: number[];
  options: SamplingOptions;
  tokenizer: TextTokenizer | undefined;
} {
  if (flags.promptIds === undefined && flags.prompt === undefined)
    throw new UsageError(
      'a generation plan needs a prompt: --prompt-ids 1,2,3 or --tokenizer T.json --prompt TEXT',
    );
  if (flags.prompt !== undefined && flags.tokenizer === undefined && flags.promptIds === undefined)
    throw new UsageError('--prompt (text) needs --tokenizer tokenizer.json');
  const tokenizer = flags.tokenizer !== undefined ? loadTokenizer(flags.tokenizer) : undefined;
  return { promptIds: promptFrom(flags, tokenizer), options: samplingFrom(flags, tokenizer), tokenizer };
}

/** Streams the generated text to stdout as each token comes (with a tokenizer); else nothing. */
function textStream(tokenizer: TextTokenizer | undefined): {
  onToken?: (id: number) => void;
  end: () => void;
} {
  const stream = tokenizer?.incrementalDecoder();
  if (!stream) return { end: () => {} };
  return {
    onToken: (id) => void process.stdout.write(stream.push(id)),
    end: () => void process.stdout.write('\n'),
  };
}

/** {prompt, tokens} to --out, or to stdout when no text was streamed there. */
function emitTokens(
  prompt: readonly number[],
  tokens: readonly number[],
  streamed: boolean,
  out: string | undefined,
) {
  const json = `${JSON.stringify({ prompt, tokens })}\n`;
  if (!streamed || out !== undefined) emit(json, out);
}

async function runGenerationCommand(
  g: GenerationPlan,
  planFile: string,
  flags: RunFlags,
  conn: Connection,
): Promise<void> {
  if (flags.input !== undefined)
    throw new UsageError(
      `${planFile} is a generation plan: the client gives a prompt (--prompt-ids or --prompt), not --input`,
    );
  if (flags.party === 'server') {
    const stray = generationFlagsGiven(flags);
    if (stray.length > 0)
      throw new UsageError(
        `${stray.join(', ')}: the client's options (the server learns the prompt length only)`,
      );
    const result = await runGenerationParty(
      serverGenerationPlan(g, planFile, flags.weightKey),
      'server',
      conn,
      flags.model,
      undefined,
      planFile,
    );
    const measured = measuredSection(combineReports(result.stats, []), result.seconds);
    process.stderr.write(`server: ${formatMeasuredLine(measured)} (bytes sent by this party)\n`);
    if (flags.report) writeJson(flags.report, { party: 'server', measured });
    return;
  }
  const { promptIds, options, tokenizer } = clientPrompt(flags);
  const text = textStream(tokenizer);
  const result = await runGenerationParty(
    g,
    'client',
    conn,
    flags.model,
    { promptIds, options, ...(text.onToken ? { onToken: text.onToken } : {}) },
    planFile,
  );
  text.end();
  const gen = result.generation!;
  const measured = measuredSection(combineReports([], result.stats), result.seconds);
  process.stderr.write(`client: ${formatMeasuredLine(measured)} (bytes sent by this party)\n`);
  if (flags.report)
    writeJson(flags.report, {
      party: 'client',
      measured,
      setup: result.setup,
      steps: gen.steps.map((s) => ({
        position: s.position,
        online_bytes: s.online_bytes,
        offline_bytes: s.offline_bytes,
        rounds: s.rounds,
        preprocess_bytes: s.preprocess_bytes,
        preprocess_rounds: s.preprocess_rounds,
        seconds: s.seconds,
      })),
    });
  emitTokens(gen.prompt, gen.tokens, tokenizer !== undefined, flags.out);
}

async function simulateGenerationCommand(
  g: GenerationPlan,
  planFile: string,
  flags: SimulateFlags,
): Promise<void> {
  if (flags.input !== undefined)
    throw new UsageError(
      `${planFile} is a generation plan: give a prompt (--prompt-ids or --prompt), not --input`,
    );
  const { promptIds, options, tokenizer } = clientPrompt(flags);
  const text = textStream(tokenizer);
  const outcome = await simulateGenerationOverTls(
    serverGenerationPlan(g, planFile, flags.weightKey),
    flags.serverModel,
    flags.clientModel,
    { promptIds, options, ...(text.onToken ? { onToken: text.onToken } : {}) },
    flags.timeout * 1000,
    planFile,
    flags.plaintextEngine,
  );
  text.end();
  const steps = stepReports(g, promptIds.length, outcome.steps, flags.network, flags.plaintextEngine).map(
    (s, k) => ({ ...s, max_abs_error: outcome.maxAbsErrors[k]! }),
  );
  const mismatches = stepMismatches(steps);
  const worst = Math.max(...outcome.maxAbsErrors);
  if (flags.report)
    writeJson(flags.report, {
      prompt: outcome.prompt,
      tokens: outcome.tokens,
      setup: outcome.setup,
      steps,
      error: { max_abs: worst },
      cost_matches_measured: mismatches.length === 0,
    });
  const online = outcome.steps.reduce((t, s) => t + s.online_bytes, 0);
  const lines = [
    `generation: prompt ${promptIds.length} token(s), ${outcome.tokens.length} new token(s) in ${outcome.seconds.toFixed(2)} s; online ${online} B over ${outcome.steps.length} step(s), setup ${outcome.setup.bytes} B`,
    mismatches.length === 0
      ? 'cost model: predicted bytes and rounds equal the measured ones, step by step'
      : `cost model: ${mismatches.length} step(s) differ: ${mismatches.slice(0, 3).join('; ')}`,
    `max abs error of the logits against the plaintext interpreter: ${worst.toExponential(3)}`,
  ];
  emitTokens(outcome.prompt, outcome.tokens, tokenizer !== undefined, flags.out);
  process.stderr.write(`${lines.join('\n')}\n`);
}
