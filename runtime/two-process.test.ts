// End to end: transformer layers run by the plan executor in separate OS processes (server,
// client, dealer) over TCP on loopback, against the plaintext interpreter, with the measured
// bytes and rounds of both parties against the plan's predicted costs. Every link is mutual TLS
// with certificates made once for this file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import type { TestCertificates } from '../test/runtime/certs.ts';
import { testCertificates } from '../test/runtime/certs.ts';
import { maxAbsDiff } from '../ir/tensor.ts';

const dirs: string[] = [];
let certs: TestCertificates;
beforeAll(async () => {
  certs = await testCertificates();
});
afterAll(() => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  certs.remove();
});

interface Outcome {
  outputs: number[][];
  stats: [OpStats[], OpStats[]];
}

function resultOf(m: ChildMessage, role: string): { outputs: number[][]; stats: unknown } {
  if ('error' in m) throw new Error(`${role}: ${m.error}`);
  if (!('result' in m)) throw new Error(`${role}: no result`);
  return m.result;
}

/** Runs server, client (and a live dealer unless `dealerDir`) as three processes, over mutual TLS. */
async function runProcesses(
  layer: LayerKind,
  layerOptions: LayerOptions,
  weightKey: Uint8Array,
  inputs: number[][],
  opts: { dealerDir?: string },
): Promise<Outcome> {
  const base = { layer, layerOptions, weightKey: Buffer.from(weightKey).toString('hex'), timeoutMs: 60_000 };
  const tls = (who: 'server' | 'client' | 'dealer') => ({ tls: certs.files(who) });
  const dealer = opts.dealerDir
    ? undefined
    : startChild({ ...base, role: 'dealer', listen: '127.0.0.1:0', ...tls('dealer') });
  // Material made ahead: each party is given its own folder only.
  const dealerAt = (who: 'server' | 'client') =>
    dealer ? { dealer: `127.0.0.1:${port}` } : { dealerDir: join(opts.dealerDir!, who) };
  const port = dealer ? await dealer.listening : 0;
  const server = startChild({
    ...base,
    role: 'server',
    listen: '127.0.0.1:0',
    inputs: inputs.map(() => []),
    ...dealerAt('server'),
    ...tls('server'),
  });
  const client = startChild({
    ...base,
    role: 'client',
    connect: `127.0.0.1:${await server.listening}`,
    inputs,
    ...dealerAt('client'),
    ...tls('client'),
  });
  const [s, c] = await Promise.all([server.done, client.done]);
  if (dealer) resultOf(await dealer.done, 'dealer');
  const sr = resultOf(s, 'server');
  const cr = resultOf(c, 'client');
  return { outputs: cr.outputs, stats: [sr.stats as OpStats[], cr.stats as OpStats[]] };
}

/** Runs a layer in three processes and checks output and communication. */
async function checkLayer(
  layer: LayerKind,
  layerOptions: LayerOptions,
  opts: { dealerDir?: string } = {},
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
  it('linear plumbing of an encoder layer, live dealer process', async () => {
    await checkLayer('bert', { ...SMALL_LAYER, seed: 5, nonlinear: false });
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
