// End to end: transformer layers run by the plan executor in separate OS processes (server,
// client, dealer) over TCP on loopback, against the plaintext interpreter, with the measured
// bytes and rounds of both parties against the plan's predicted costs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { interpret } from '../ir/interpret.ts';
import { expectPlanCosts } from '../test/runtime/expect-cost.ts';
import { writeDealerMaterial } from './dealer/files.ts';
import type { OpStats } from './mpc/accounting.ts';
import { combineReports, roundMismatches } from './mpc/accounting.ts';
import { freshWeightKey, makePlan } from './plan.ts';
import { protocolsFor } from './protocols/registry.ts';
import type { LayerKind, LayerOptions } from '../test/runtime/layers.ts';
import { LAYERS, SMALL_LAYER, layerInput } from '../test/runtime/layers.ts';
import type { ChildMessage } from '../test/runtime/party-main.ts';
import { startChild } from '../test/runtime/processes.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Outcome {
  outputs: number[][];
  stats: [OpStats[], OpStats[]];
}

function resultOf(m: ChildMessage, role: string): { outputs: number[][]; stats: unknown } {
  if ('error' in m) throw new Error(`${role}: ${m.error}`);
  if (!('result' in m)) throw new Error(`${role}: no result`);
  return m.result;
}

const fixture = (name: string) => fileURLToPath(new URL(`./net/testdata/${name}`, import.meta.url));
const tlsFor = (who: string) => ({
  cert: fixture(`${who}.pem`),
  key: fixture(`${who}.key`),
  ca: fixture('ca.pem'),
});

/** Runs server, client (and a live dealer unless `dealerDir`) as three processes, optionally over mutual TLS. */
async function runProcesses(
  layer: LayerKind,
  layerOptions: LayerOptions,
  weightKey: Uint8Array,
  inputs: number[][],
  opts: { dealerDir?: string; tls?: boolean },
): Promise<Outcome> {
  const base = { layer, layerOptions, weightKey: Buffer.from(weightKey).toString('hex'), timeoutMs: 60_000 };
  const tls = (who: string) => (opts.tls ? { tls: tlsFor(who) } : {});
  const dealer = opts.dealerDir
    ? undefined
    : startChild({ ...base, role: 'dealer', listen: '127.0.0.1:0', ...tls('dealer') });
  const dealerAt = dealer
    ? { dealer: `127.0.0.1:${await dealer.listening}` }
    : { dealerDir: opts.dealerDir! };
  const server = startChild({
    ...base,
    role: 'server',
    listen: '127.0.0.1:0',
    inputs: inputs.map(() => []),
    ...dealerAt,
    ...tls('server'),
  });
  const client = startChild({
    ...base,
    role: 'client',
    connect: `127.0.0.1:${await server.listening}`,
    inputs,
    ...dealerAt,
    ...tls('client'),
  });
  const [s, c] = await Promise.all([server.done, client.done]);
  if (dealer) resultOf(await dealer.done, 'dealer');
  const sr = resultOf(s, 'server');
  const cr = resultOf(c, 'client');
  return { outputs: cr.outputs, stats: [sr.stats as OpStats[], cr.stats as OpStats[]] };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Runs a layer in three processes and checks output and communication. */
async function checkLayer(
  layer: LayerKind,
  layerOptions: LayerOptions,
  opts: { dealerDir?: string; tls?: boolean } = {},
): Promise<void> {
  const graph = LAYERS[layer](layerOptions);
  const weightKey = freshWeightKey();
  const plan = makePlan(graph, { weightKey });
  const x = layerInput(layerOptions, 11);
  const x2 = layerInput(layerOptions, 12);
  const inputs = [[...(x.data as Float32Array)], [...(x2.data as Float32Array)]];
  if (opts.dealerDir) writeDealerMaterial(plan, opts.dealerDir, 2);
  const { outputs, stats } = await runProcesses(layer, layerOptions, weightKey, inputs, opts);
  [x, x2].forEach((input, i) => {
    const ref = interpret(graph, new Map([['hidden_in', input]])).get('hidden_out')!;
    expect(maxAbsDiff(outputs[i]!, ref.data as Float32Array)).toBeLessThanOrEqual(1e-2);
  });
  expect(roundMismatches(stats[0], stats[1])).toEqual([]);
  const report = combineReports(stats[0], stats[1]);
  expectPlanCosts(report, plan, 2);
}

const nonlinearReady = (['softmax', 'layernorm', 'gelu'] as const).every((op) => protocolsFor(op).length > 0);

describe('two processes over TCP', () => {
  it('linear plumbing of an encoder layer, live dealer process, mutual TLS', async () => {
    await checkLayer('bert', { ...SMALL_LAYER, seed: 5, nonlinear: false }, { tls: true });
  });

  it('linear plumbing of a decoder layer, dealer material from files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'marill-dealer-'));
    dirs.push(dir);
    await checkLayer('gpt', { ...SMALL_LAYER, seed: 6, nonlinear: false }, { dealerDir: dir });
  });

  it.skipIf(!nonlinearReady)(
    'BERT-style encoder layer (softmax, layernorm, erf GeLU) matches the interpreter',
    async () => {
      await checkLayer('bert', { ...SMALL_LAYER, seed: 7 });
    },
  );

  it.skipIf(!nonlinearReady)(
    'GPT-style decoder layer (causal softmax, layernorm, tanh GeLU) matches the interpreter',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'marill-dealer-'));
      dirs.push(dir);
      await checkLayer('gpt', { ...SMALL_LAYER, seed: 8 });
    },
  );
});
