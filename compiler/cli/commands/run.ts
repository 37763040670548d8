/**
 * `marillc run PLAN.ts --party server|client|dealer ...` (one party per
 * process) and `marillc simulate PLAN.ts ...` (all parties from one command,
 * over real sockets on loopback).
 */
import { MarillError } from '../../../ir/errors.ts';
import type { Tensor } from '../../../ir/tensor.ts';
import { tensorToJson } from '../../../ir/tensor-json.ts';
import { combineReports } from '../../../runtime/mpc/accounting.ts';
import { parseEndpoint } from '../../../runtime/net/tcp.ts';
import type { Party } from '../../../runtime/protocol.ts';
import { costPlan } from '../../backend/cost.ts';
import {
  costMismatches,
  formatCostLine,
  formatMeasuredLine,
  measuredSection,
} from '../../emit/cost-report.ts';
import { parseNetwork } from '../../backend/network.ts';
import { loadPlanModule } from '../../party/plan-module.ts';
import { runDealerCommand, runPartyCommand, simulate } from '../../party/run-party.ts';
import type { TlsFlags } from './common.ts';
import { emit, numberFlag, tlsFrom, writeJson } from './common.ts';

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
  timeout: string;
  inferences: string;
}

export interface SimulateFlags {
  serverModel?: string;
  clientModel?: string;
  input?: string;
  out?: string;
  report?: string;
  network: string;
  timeout: string;
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
  const plan = await loadPlanModule(planFile);
  const timeoutMs = numberFlag('--timeout', flags.timeout, 0.001) * 1000;
  const tls = tlsFrom(flags);
  const conn = {
    ...(flags.listen !== undefined ? { listen: flags.listen } : {}),
    ...(flags.connect !== undefined ? { connect: flags.connect } : {}),
    ...(flags.dealer !== undefined ? { dealer: flags.dealer } : {}),
    ...(flags.dealerDir !== undefined ? { dealerDir: flags.dealerDir } : {}),
    ...(tls ? { tls } : {}),
    timeoutMs,
    // The bound address, so a peer (or a script) can find a party started with --listen HOST:0.
    onListening: (port: number) => {
      const host = parseEndpoint(flags.listen ?? '', '--listen').host;
      process.stderr.write(`${flags.party}: listening on ${host}:${port}\n`);
    },
    // The server's number for the session: its log line for this client names it.
    onSession: (session: number) =>
      process.stderr.write(`${flags.party}: session ${session} on the server at ${flags.connect}\n`),
  };
  if (flags.party === 'dealer') {
    const inferences = numberFlag('--inferences', flags.inferences, 1, true);
    process.stderr.write(`${await runDealerCommand(plan, conn, inferences)}\n`);
    return;
  }
  if (flags.party === 'server' && flags.input !== undefined)
    throw new MarillError('--input is the client’s: the server has no inputs in a plan');
  const result = await runPartyCommand(plan, flags.party, conn, flags.model, flags.input ?? []);
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
  const plan = await loadPlanModule(planFile);
  const network = parseNetwork(flags.network);
  const timeoutMs = numberFlag('--timeout', flags.timeout, 0.001) * 1000;
  const outcome = await simulate(plan, flags.serverModel, flags.clientModel, flags.input, timeoutMs);
  const cost = costPlan(plan.graph, { network, fracBits: plan.fracBits });
  const measured = measuredSection(outcome.report, outcome.seconds);
  const mismatches = costMismatches(cost, measured);
  if (flags.report)
    writeJson(flags.report, {
      cost,
      measured,
      error: { max_abs: outcome.maxAbsError },
      cost_matches_measured: mismatches.length === 0,
    });
  if (flags.out !== undefined) emit(outputsJson(outcome.outputs), flags.out);
  const lines = [
    formatCostLine(cost),
    formatMeasuredLine(measured),
    mismatches.length === 0
      ? 'cost model: predicted bytes and rounds equal the measured ones, op by op'
      : `cost model: ${mismatches.length} op(s) differ: ${mismatches.slice(0, 3).join('; ')}`,
    `max abs error against the plaintext interpreter: ${outcome.maxAbsError.toExponential(3)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (flags.out === undefined) process.stdout.write(outputsJson(outcome.outputs));
}
