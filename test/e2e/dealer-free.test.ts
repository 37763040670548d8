/**
 * Without a dealer, as a user runs it: plans compiled with `--setting 2pc`, run
 * as two `marillc run` processes over mutual TLS (no dealer process), held to
 * the plaintext oracles (`marillc eval`, onnxruntime) and to the prediction op
 * by op, preprocessing included. A client running the same model's dealer-setting
 * plan is refused at the handshake.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExampleFamily, ExampleVariant } from '../../examples/manifest.ts';
import { examplePath, findVariant, loadExamplesManifest } from '../../examples/manifest.ts';
import { killAllSpawned, scratchDir, spawnMarillc } from '../cli-harness.ts';
import { concurrencyLimit } from './limit.ts';
import { marillcEval, maxAbsDifference, onnxruntimeOutputs, parseOutputsJson } from './oracle.ts';
import type { CompiledPlan, PartyRunResult } from './pipeline.ts';
import {
  PROCESS_TIMEOUT_MS,
  compilePlan,
  dealerArgs,
  dealerFlags,
  listeningPort,
  runThreeParties,
} from './pipeline.ts';
import type { CompileReport, PartyMeasured } from './reports.ts';
import { costDisagreements, readCompileReport, readPartyReport } from './reports.ts';

const TOLERANCE = 1e-2;
const TEST_TIMEOUT_MS = 240_000;

interface Case {
  readonly key: string;
  readonly family: ExampleFamily;
  readonly variant: ExampleVariant;
  readonly standard: boolean;
}

function cases(): Case[] {
  const families = new Map(loadExamplesManifest().families.map((f) => [f.name, f]));
  const gpt2 = families.get('gpt2')!;
  const llama = families.get('llama')!;
  return [
    // A Marill plan (LoRA against the public base), and a standard plan (every weight private).
    { key: 'gpt2/lora-merged', family: gpt2, variant: findVariant(gpt2, 'lora-merged'), standard: false },
    { key: 'llama/standard', family: llama, variant: findVariant(llama, 'full'), standard: true },
  ];
}

interface Outcome {
  readonly compiled: CompiledPlan;
  readonly predicted: CompileReport;
  readonly run: PartyRunResult;
  readonly server: PartyMeasured;
  readonly client: PartyMeasured;
  readonly errorVsEval: number;
  readonly errorVsOrt: number;
}

async function runCase(c: Case, root: string): Promise<Outcome> {
  const dir = join(root, c.key.replace('/', '-'));
  mkdirSync(dir, { recursive: true });
  const compiled = await compilePlan({
    family: c.family,
    variant: c.variant,
    standard: c.standard,
    dir,
    extraFlags: ['--setting', '2pc'],
  });
  const run = await runThreeParties({
    plan: compiled,
    dealer: 'none',
    serverModel: compiled.serverBundle,
    clientModel: c.standard ? undefined : compiled.clientBundle,
    input: examplePath(c.family.inputFile),
  });
  const outputs = parseOutputsJson(readFileSync(run.clientOut, 'utf8'));
  return {
    compiled,
    predicted: readCompileReport(compiled.report),
    run,
    server: readPartyReport(run.serverReport),
    client: readPartyReport(run.clientReport),
    errorVsEval: maxAbsDifference(outputs, marillcEval(c.family, c.variant, dir)),
    errorVsOrt: maxAbsDifference(outputs, await onnxruntimeOutputs(c.family, c.variant)),
  };
}

const CASES = cases();
const outcomes = new Map<string, Promise<Outcome>>();
let root = '';

beforeAll(() => {
  root = scratchDir('marillc-2pc-');
  const limit = concurrencyLimit(2);
  for (const c of CASES) {
    const o = limit(() => runCase(c, root));
    o.catch(() => {}); // reported by the case's own test
    outcomes.set(c.key, o);
  }
});

afterAll(() => {
  killAllSpawned();
  rmSync(root, { recursive: true, force: true });
});

describe.each(CASES.map((c) => [c.key, c] as const))('%s, --setting 2pc', (key) => {
  it(
    'runs as two processes with no dealer and matches the plaintext oracles',
    async () => {
      const o = await outcomes.get(key)!;
      expect(o.run.dealer).toBeUndefined();
      expect(o.errorVsEval).toBeLessThanOrEqual(TOLERANCE);
      expect(o.errorVsOrt).toBeLessThanOrEqual(TOLERANCE);
      expect(o.run.client.stderr).toMatch(/^client: measured: online .* preprocessing by the parties /m);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'measures exactly the predicted bytes and rounds, preprocessing included, op by op and in total',
    async () => {
      const o = await outcomes.get(key)!;
      expect(o.predicted.cost.setting).toBe('2pc');
      expect(o.predicted.cost.total.offline_bytes).toBe(0);
      expect(o.predicted.cost.total.preprocess_bytes).toBeGreaterThan(0);
      expect(o.server.total.preprocess_bytes).toBeGreaterThan(0);
      expect(o.client.total.preprocess_bytes).toBeGreaterThan(0);
      expect(costDisagreements(o.predicted.cost, o.server, o.client)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('settings that differ', () => {
  it(
    "a client on the dealer setting's plan of the same model is refused at the handshake",
    async () => {
      const c = CASES[0]!;
      const o = await outcomes.get(c.key)!;
      const dealerPlan = await compilePlan(
        { family: c.family, variant: c.variant, standard: false, dir: join(root, 'dealer-setting') },
        'plan',
      );
      // The dealer plan's material written ahead, so the client gets as far as the handshake.
      const dealer = await spawnMarillc(dealerArgs(dealerPlan, 'dir'), { timeoutMs: PROCESS_TIMEOUT_MS })
        .done;
      expect(dealer.code, dealer.stderr).toBe(0);
      const common = ['--timeout', '20', '--certs', o.compiled.certs];
      const server = spawnMarillc(
        [
          'run',
          o.compiled.plan,
          '--party',
          'server',
          ...common,
          '--model',
          o.compiled.serverBundle,
          '--listen',
          '127.0.0.1:0',
        ],
        { timeoutMs: PROCESS_TIMEOUT_MS },
      );
      const port = await listeningPort(server);
      const client = await spawnMarillc(
        [
          'run',
          dealerPlan.plan,
          '--party',
          'client',
          ...common,
          '--model',
          dealerPlan.clientBundle,
          '--connect',
          `127.0.0.1:${port}`,
          ...dealerFlags(dealerPlan, 'dir', 0, 'client'),
          '--input',
          examplePath(c.family.inputFile),
        ],
        { timeoutMs: PROCESS_TIMEOUT_MS },
      ).done;
      server.kill();
      expect(client.code).toBe(1);
      expect(client.stderr.trim().split('\n')).toHaveLength(1);
      expect(client.stderr).toMatch(/^marillc: error: .*plan/);
    },
    TEST_TIMEOUT_MS,
  );
});
