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
import { loadPlanModule } from '../../party/plan-module.ts';
import { runDealerCommand, runPartyCommand, simulate } from '../../party/run-party.ts';
import { serverPlan } from '../../party/weight-key.ts';
import type { TlsFlags } from './common.ts';
import { emit, linkFrom, writeJson } from './common.ts';

export interface RunFlags extends TlsFlags {
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

export interface SimulateFlags {
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
  const plan = loadPlanModule(planFile);
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
    process.stderr.write(`${await runDealerCommand(plan, conn, flags.inferences)}\n`);
    return;
  }
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
  const plan = loadPlanModule(planFile);
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
