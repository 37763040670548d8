/**
 * Child-process entry for two-process tests and benchmarks: runs one role
 * (server, client or dealer) of a test layer (./layers.ts) over TCP. Started
 * with child_process.fork (tsx loader); talks to its parent over the IPC
 * channel: it receives `{ config }`, reports `{ listening: port }` once
 * listening and finally `{ result }` or `{ error }`.
 *
 * The layer is rebuilt from its options and seed in every process, so all
 * three agree on the plan without passing it around; protocols chosen by the
 * parent (the compiler's selection, say) come with the config.
 *
 * With `measure`, the result also holds each inference's wall and CPU seconds
 * and the accounting after it (the benchmark's figures); MARILL_PROFILE=DIR
 * then writes a V8 CPU profile of the last inference to DIR/<name>.cpuprofile.
 *
 * The plan is made with the weight key the parent chose, so all three agree on
 * the plan (and its hash) without passing it around.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as inspector from 'node:inspector/promises';
import { join } from 'node:path';
import type { Graph } from '../../ir/graph.ts';
import { MarillError } from '../../ir/errors.ts';
import { makeTensor } from '../../ir/tensor.ts';
import { runDealer } from '../../runtime/dealer/live.ts';
import type { OpStats } from '../../runtime/mpc/accounting.ts';
import type { TlsFiles } from '../../runtime/net/tcp.ts';
import { parseEndpoint } from '../../runtime/net/tcp.ts';
import type { InferenceHooks } from '../../runtime/party.ts';
import { runParty } from '../../runtime/party.ts';
import { makePlan } from '../../runtime/plan.ts';
import type { LayerKind, LayerOptions } from './layers.ts';
import { LAYERS, layerWeights } from './layers.ts';

export interface ChildConfig {
  readonly role: 'server' | 'client' | 'dealer';
  readonly layer: LayerKind;
  readonly layerOptions: LayerOptions & { readonly layers?: number };
  /** Protocols chosen by the parent, by each node's first result (absent: the registry's default). */
  readonly protocols?: Readonly<Record<string, string>>;
  /** The plan's weight key (hex), the same in every process (runtime/plan.ts makePlan). */
  readonly weightKey: string;
  readonly listen?: string;
  readonly connect?: string;
  readonly dealer?: string;
  readonly dealerDir?: string;
  /** Exactly one: the session's TLS files for this role, or plain TCP asked for. */
  readonly tls?: TlsFiles;
  readonly insecurePlaintext?: boolean;
  /** Client input values (row-major [1, seq, hidden]), one array per inference. */
  readonly inputs?: number[][];
  readonly timeoutMs?: number;
  readonly fracBits?: number;
  /** Report per-inference figures (`inferences` in the result); MARILL_PROFILE=DIR profiles the last. */
  readonly measure?: boolean;
  /** File name of the profile (default: the role). */
  readonly profileName?: string;
}

/** One inference at one party. */
export interface InferenceFigures {
  readonly seconds: number;
  /** CPU seconds of every thread of the process: steadier than wall time on a busy machine. */
  readonly cpuSeconds: number;
  /** The accounting after this inference (cumulative over the session). */
  readonly stats: OpStats[];
}

export type ChildMessage =
  | { readonly listening: number }
  | {
      readonly result: {
        outputs: number[][];
        stats: unknown;
        seconds: number;
        inferences?: InferenceFigures[];
      };
    }
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

function withProtocols(g: Graph, protocols: Readonly<Record<string, string>> | undefined): Graph {
  if (!protocols) return g;
  return {
    ...g,
    nodes: g.nodes.map((n) => {
      const protocol = protocols[n.outputs[0]!];
      return protocol === undefined ? n : { ...n, protocol };
    }),
  };
}

/** A V8 CPU profile from now until the returned function writes it to DIR/<name>.cpuprofile. */
async function startProfile(dir: string, name: string): Promise<() => Promise<void>> {
  const session = new inspector.Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}

/** Hooks recording each inference's figures into `out`, and profiling the last when asked. */
function measuring(config: ChildConfig, inferences: number, out: InferenceFigures[]): InferenceHooks {
  const profileDir = process.env['MARILL_PROFILE'];
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  let stopProfile: (() => Promise<void>) | undefined;
  return {
    before: async (i) => {
      if (profileDir && i === inferences - 1)
        stopProfile = await startProfile(profileDir, config.profileName ?? config.role);
      t0 = performance.now();
      cpu0 = process.cpuUsage();
    },
    after: async (_i, stats) => {
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      await stopProfile?.();
      stopProfile = undefined;
      out.push({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, stats: stats.map((s) => ({ ...s })) });
    },
  };
}

async function main(config: ChildConfig): Promise<void> {
  const graph = withProtocols(LAYERS[config.layer](config.layerOptions), config.protocols);
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
      insecurePlaintext: config.insecurePlaintext,
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
  const inferences: InferenceFigures[] = [];
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
    insecurePlaintext: config.insecurePlaintext,
    timeoutMs: config.timeoutMs,
    onListening,
    ...(config.measure ? { around: measuring(config, inputs.length, inferences) } : {}),
  });
  await report({
    result: {
      outputs: result.outputs.map((o) => [
        ...((o.get('hidden_out')?.data as Float32Array | undefined) ?? []),
      ]),
      stats: result.stats,
      seconds: result.seconds,
      ...(config.measure ? { inferences } : {}),
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
