/**
 * End to end, as a user runs it: for every example variant, compile a plan,
 * run the dealer, the server and the client as three OS processes over TCP on
 * loopback, and hold the result to the plaintext oracles (`marillc eval` and
 * onnxruntime, within 1e-2) and the compile-time prediction to the parties'
 * measurements (bytes and rounds, op by op, exactly). One plan also goes
 * through `marillc simulate --report`.
 *
 * The pipelines run two at a time, started in beforeAll in the order the
 * tests await them, so each test waits for about one pipeline at most.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePath, findVariant } from '../../examples/manifest.ts';
import { killAllSpawned, scratchDir, spawnMarillc } from '../cli-harness.ts';
import type { E2eCase } from './cases.ts';
import { e2eCases } from './cases.ts';
import { concurrencyLimit } from './limit.ts';
import type { Outputs } from './oracle.ts';
import { marillcEval, maxAbsDifference, onnxruntimeOutputs, parseOutputsJson } from './oracle.ts';
import type { CompiledPlan, PartyRunResult } from './pipeline.ts';
import { PROCESS_TIMEOUT_MS, compilePlan, runThreeParties } from './pipeline.ts';
import type { CompileReport, PartyMeasured } from './reports.ts';
import { costDisagreements, readCompileReport, readPartyReport } from './reports.ts';

const TOLERANCE = 1e-2;
const TEST_TIMEOUT_MS = 240_000;
const CASES = e2eCases();
/** The case whose plan `marillc simulate` also runs. */
const SIMULATED = 'gpt2/lora-explicit';

interface Outcome {
  readonly compiled: CompiledPlan;
  readonly predicted: CompileReport;
  readonly run: PartyRunResult;
  readonly server: PartyMeasured;
  readonly client: PartyMeasured;
  readonly outputs: Outputs;
  readonly errorVsEval: number;
  readonly errorVsOrt: number;
}

function modelPaths(c: E2eCase, compiled: CompiledPlan): { server: string; client: string | undefined } {
  const server = c.serverModel === 'bundle' ? compiled.serverBundle : examplePath(c.variant.file);
  const client =
    c.clientModel === 'none'
      ? undefined
      : c.clientModel === 'bundle'
        ? compiled.clientBundle
        : examplePath(findVariant(c.family, 'base').file);
  return { server, client };
}

async function runCase(c: E2eCase, root: string): Promise<Outcome> {
  const dir = join(root, c.key.replace('/', '-'));
  mkdirSync(dir, { recursive: true });
  const compiled = await compilePlan({ family: c.family, variant: c.variant, standard: c.standard, dir });
  const models = modelPaths(c, compiled);
  const run = await runThreeParties({
    plan: compiled,
    dealer: c.dealer,
    serverModel: models.server,
    clientModel: models.client,
    input: examplePath(c.family.inputFile),
  });
  const outputs = parseOutputsJson(readFileSync(run.clientOut, 'utf8'));
  return {
    compiled,
    predicted: readCompileReport(compiled.report),
    run,
    server: readPartyReport(run.serverReport),
    client: readPartyReport(run.clientReport),
    outputs,
    errorVsEval: maxAbsDifference(outputs, marillcEval(c.family, c.variant, dir)),
    errorVsOrt: maxAbsDifference(outputs, await onnxruntimeOutputs(c.family, c.variant)),
  };
}

let root = '';
const outcomes = new Map<string, Promise<Outcome>>();
const limit = concurrencyLimit(2);

function outcome(c: E2eCase): Promise<Outcome> {
  const o = outcomes.get(c.key);
  if (!o) throw new Error(`no run was started for ${c.key}`);
  return o;
}

beforeAll(() => {
  root = scratchDir('marillc-e2e-');
  for (const c of CASES) {
    const o = limit(() => runCase(c, root));
    o.catch(() => {}); // reported by the case's own test
    outcomes.set(c.key, o);
  }
});

afterAll(async () => {
  killAllSpawned();
  const settled = await Promise.allSettled(CASES.map(outcome));
  console.log(summaryTable(settled));
  rmSync(root, { recursive: true, force: true });
});

describe.each(CASES.map((c) => [c.key, c] as const))('%s', (_key, c) => {
  const how = `${c.dealer} dealer, server --model ${c.serverModel}, client --model ${c.clientModel}`;

  it(
    `runs as three processes (${how}) and matches the plaintext oracles within ${TOLERANCE}`,
    async () => {
      const o = await outcome(c);
      expect(Object.keys(o.outputs).sort()).toEqual(c.family.outputs.map((t) => t.name).sort());
      expect(o.errorVsEval).toBeLessThanOrEqual(TOLERANCE);
      expect(o.errorVsOrt).toBeLessThanOrEqual(TOLERANCE);
      // The client printed its outputs to --out, not stdout; each party printed its measured line.
      expect(o.run.client.stdout).toBe('');
      expect(o.run.server.stderr).toMatch(/^server: measured: online /m);
      expect(o.run.client.stderr).toMatch(/^client: measured: online /m);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'measures exactly the predicted bytes and rounds, op by op and in total',
    async () => {
      const o = await outcome(c);
      expect(o.server.party).toBe('server');
      expect(o.client.party).toBe('client');
      expect(o.predicted.cost.ops.length).toBeGreaterThan(0);
      expect(o.predicted.cost.total.rounds).toBeGreaterThan(0);
      expect(costDisagreements(o.predicted.cost, o.server, o.client)).toEqual([]);
      // The dealer's own count of what it sent is the predicted preprocessing.
      const dealt = dealerBytes(o.run.dealer?.stderr ?? '');
      expect(dealt).toBe(o.predicted.cost.total.offline_bytes);
    },
    TEST_TIMEOUT_MS,
  );
});

/** The total a dealer reports: live "X bytes to the server, Y to the client", or files "(N bytes)". */
function dealerBytes(stderr: string): number {
  const live = /served \d+ inference\(s\): (\d+) bytes to the server, (\d+) to the client/.exec(stderr);
  if (live) return Number(live[1]) + Number(live[2]);
  const files = /wrote \d+ inference\(s\) of material to .* \((\d+) bytes\)/.exec(stderr);
  if (files) return Number(files[1]);
  throw new Error(`the dealer printed no byte count:\n${stderr}`);
}

describe(`marillc simulate --report (${SIMULATED})`, () => {
  it(
    'says the cost model matches the measurement and the error is within tolerance',
    async () => {
      const c = CASES.find((x) => x.key === SIMULATED)!;
      const o = await outcome(c);
      const report = join(o.compiled.dir, 'simulate.json');
      const models = modelPaths(c, o.compiled);
      const res = await limit(
        () =>
          spawnMarillc(
            [
              'simulate',
              o.compiled.plan,
              '--server-model',
              models.server,
              ...(models.client !== undefined ? ['--client-model', models.client] : []),
              '--input',
              examplePath(c.family.inputFile),
              '--out',
              join(o.compiled.dir, 'simulate.out.json'),
              '--report',
              report,
            ],
            { timeoutMs: PROCESS_TIMEOUT_MS },
          ).done,
      );
      expect(res.code, res.stderr).toBe(0);
      // With --out the results go there only; the statistics are on stderr.
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain('max abs error against the plaintext interpreter');
      const json = JSON.parse(readFileSync(report, 'utf8')) as {
        cost_matches_measured: unknown;
        error: { max_abs: unknown };
        cost: { total: Record<string, unknown>; ops: { id: string }[] };
        measured: { total: Record<string, unknown>; ops: { id: string }[] };
      };
      expect(json.cost_matches_measured).toBe(true);
      expect(typeof json.error.max_abs).toBe('number');
      expect(json.error.max_abs as number).toBeLessThanOrEqual(TOLERANCE);
      // The same ops and totals as the separate-process run measured (bytes are deterministic).
      expect(json.measured.ops.map((op) => op.id)).toEqual(json.cost.ops.map((op) => op.id));
      const separate = {
        online_bytes: o.server.total.online_bytes + o.client.total.online_bytes,
        offline_bytes: o.server.total.offline_bytes + o.client.total.offline_bytes,
        rounds: o.client.total.rounds,
      };
      for (const key of ['online_bytes', 'offline_bytes', 'rounds'] as const) {
        expect(json.measured.total[key]).toBe(separate[key]);
        expect(json.cost.total[key]).toBe(o.predicted.cost.total[key]);
      }
      expect(typeof json.measured.total['seconds']).toBe('number');
      // Its outputs agree with the three-process run's within the fixed-point tolerance.
      const simulated = parseOutputsJson(readFileSync(join(o.compiled.dir, 'simulate.out.json'), 'utf8'));
      expect(maxAbsDifference(simulated, o.outputs)).toBeLessThanOrEqual(TOLERANCE);
    },
    TEST_TIMEOUT_MS,
  );
});

function formatBytes(n: number): string {
  return n.toLocaleString('en-US');
}

/** The per-variant figures the lead's closing note needs (printed after the run). */
function summaryTable(settled: PromiseSettledResult<Outcome>[]): string {
  const head =
    '| variant | dealer | online bytes pred/meas | offline bytes pred/meas | rounds pred/meas | 3-process wall s | client online s | est. lan s | max abs err (eval / ort) |';
  const rule = `|${'---|'.repeat(9)}`;
  const rows = settled.map((s, i) => {
    const c = CASES[i]!;
    if (s.status === 'rejected')
      return `| ${c.key} | ${c.dealer} | failed: ${String(s.reason).split('\n')[0]} ||||||||`;
    const o = s.value;
    const t = o.predicted.cost.total;
    const online = o.server.total.online_bytes + o.client.total.online_bytes;
    const offline = o.server.total.offline_bytes + o.client.total.offline_bytes;
    return (
      `| ${c.key} | ${c.dealer} | ${formatBytes(t.online_bytes)} / ${formatBytes(online)} | ` +
      `${formatBytes(t.offline_bytes)} / ${formatBytes(offline)} | ${t.rounds} / ${o.client.total.rounds} | ` +
      `${o.run.wallSeconds.toFixed(1)} | ${o.client.total.seconds.toFixed(3)} | ${t.est_seconds.toFixed(3)} | ` +
      `${o.errorVsEval.toExponential(2)} / ${o.errorVsOrt.toExponential(2)} |`
    );
  });
  return ['end-to-end (three processes on loopback):', head, rule, ...rows].join('\n');
}
