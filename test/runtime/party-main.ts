/**
 * Child-process entry for two-process tests and benchmarks: runs one role
 * (server, client or dealer) of a test layer (./layers.ts) over TCP. Started
 * with child_process.fork (tsx loader); talks to its parent over the IPC
 * channel: it receives `{ config }`, reports `{ listening: port }` once
 * listening and finally `{ result }` or `{ error }`.
 *
 * The layer is rebuilt from its options and seed in every process, and the
 * plan made with the weight key the parent chose, so all three agree on the
 * plan (and its hash) without passing it around.
 */
import { MarillError } from '../../ir/errors.ts';
import { makeTensor } from '../../ir/tensor.ts';
import { runDealer } from '../../runtime/dealer/live.ts';
import type { TlsFiles } from '../../runtime/net/tcp.ts';
import { parseEndpoint } from '../../runtime/net/tcp.ts';
import { runParty } from '../../runtime/party.ts';
import { makePlan } from '../../runtime/plan.ts';
import type { LayerKind, LayerOptions } from './layers.ts';
import { LAYERS, layerWeights } from './layers.ts';

export interface ChildConfig {
  readonly role: 'server' | 'client' | 'dealer';
  readonly layer: LayerKind;
  readonly layerOptions: LayerOptions;
  /** The plan's weight key (hex), the same in every process (runtime/plan.ts makePlan). */
  readonly weightKey: string;
  readonly listen?: string;
  readonly connect?: string;
  readonly dealer?: string;
  readonly dealerDir?: string;
  readonly tls?: TlsFiles;
  /** Client input values (row-major [1, seq, hidden]), one array per inference. */
  readonly inputs?: number[][];
  readonly timeoutMs?: number;
  readonly fracBits?: number;
}

export type ChildMessage =
  | { readonly listening: number }
  | { readonly result: { outputs: number[][]; stats: unknown; seconds: number } }
  | { readonly error: string };

function report(m: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send) process.send(m, () => resolve());
    else {
      process.stdout.write(`${JSON.stringify(m)}\n`);
      resolve();
    }
  });
}

async function main(config: ChildConfig): Promise<void> {
  const graph = LAYERS[config.layer](config.layerOptions);
  const plan = makePlan(graph, {
    weightKey: new Uint8Array(Buffer.from(config.weightKey, 'hex')),
    ...(config.fracBits !== undefined ? { fracBits: config.fracBits } : {}),
  });
  const onListening = (port: number) => void report({ listening: port });
  if (config.role === 'dealer') {
    const summary = await runDealer({
      plan,
      listen: parseEndpoint(config.listen ?? '127.0.0.1:0'),
      tls: config.tls,
      timeoutMs: config.timeoutMs,
      onListening,
    });
    await report({ result: { outputs: [], stats: summary, seconds: 0 } });
    return;
  }
  const { seq, hidden } = config.layerOptions;
  const inputs =
    config.role === 'client'
      ? (config.inputs ?? []).map(
          (v) => new Map([['hidden_in', makeTensor('f32', [1, seq, hidden], Float32Array.from(v))]]),
        )
      : (config.inputs ?? [[]]).map(() => new Map());
  const result = await runParty({
    plan,
    party: config.role,
    weights: layerWeights(graph, config.role),
    inputs,
    listen: config.listen,
    connect: config.connect,
    dealer: config.dealer,
    dealerDir: config.dealerDir,
    tls: config.tls,
    timeoutMs: config.timeoutMs,
    onListening,
  });
  await report({
    result: {
      outputs: result.outputs.map((o) => [
        ...((o.get('hidden_out')?.data as Float32Array | undefined) ?? []),
      ]),
      stats: result.stats,
      seconds: result.seconds,
    },
  });
}

process.once('message', (m: { config: ChildConfig }) => {
  main(m.config)
    .catch(async (e: unknown) => {
      await report({
        error:
          e instanceof MarillError ? e.format() : e instanceof Error ? (e.stack ?? e.message) : String(e),
      });
      process.exitCode = 1;
    })
    .finally(() => process.disconnect?.());
});
