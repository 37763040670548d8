/**
 * Runtime benchmark (issue: two-party runtime, item 8), written to
 * bench/results/runtime.json:
 *   - ring_matmul: a 128x768 by 768x768 product in Z_2^64 (WebAssembly i64
 *     kernels), with the helper thread and on one thread; float32_matmul: the
 *     same shape in plain JavaScript float32, same run;
 *   - protocols[]: each protocol's time and bytes per element against its
 *     theoretical communication (./runtime-protocols.ts);
 *   - frac_bits_sweep: max abs error of one encoder layer against the
 *     plaintext interpreter for several fixed-point precisions (how the
 *     default was chosen);
 *   - layers[]: BERT-style and GPT-style layers run end to end in three OS
 *     processes (server, client, live dealer) over TCP on loopback.
 * `npm run bench -- runtime` runs it through bench/run.ts; running this file
 * directly does the same.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { interpret } from '../ir/interpret.ts';
import { Prg } from '../runtime/crypto/prg.ts';
import { combineReports } from '../runtime/mpc/accounting.ts';
import type { OpStats } from '../runtime/mpc/accounting.ts';
import { freshWeightKey, makePlan } from '../runtime/plan.ts';
import { protocolsFor } from '../runtime/protocols/registry.ts';
import { GEMM_TILE, ringMatmul } from '../runtime/ring/kernels.ts';
import { threadCount } from '../runtime/ring/parallel.ts';
import { simulatePlan } from '../runtime/session.ts';
import type { LayerKind, LayerOptions } from '../test/runtime/layers.ts';
import { LAYERS, layerInput, layerWeights } from '../test/runtime/layers.ts';
import { startChild } from '../test/runtime/processes.ts';
import type { ProtocolResult } from './runtime-protocols.ts';
import { protocolBenchmarks } from './runtime-protocols.ts';

interface MatmulResult {
  m: number;
  k: number;
  n: number;
  gmacs_per_s: number;
}

function bestSeconds(run: () => void, repeats: number): number {
  // Warm up: tier-up of the kernels (and the helper thread's start) happen in the first runs.
  for (let i = 0; i < 3; i++) run();
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

function ringMatmulBench(m: number, k: number, n: number, threads: 1 | 2): MatmulResult {
  const a = Prg.fresh().ring(m * k);
  const b = Prg.fresh().ring(k * n);
  const saved = process.env['MARILL_THREADS'];
  process.env['MARILL_THREADS'] = String(threads);
  try {
    const s = bestSeconds(() => ringMatmul(a, b, m, k, n), 7);
    return { m, k, n, gmacs_per_s: (m * k * n) / s / 1e9 };
  } finally {
    if (saved === undefined) delete process.env['MARILL_THREADS'];
    else process.env['MARILL_THREADS'] = saved;
  }
}

/** Row-major float32 product, i-k-j loop order (streams rows of B): the plain-JS baseline. */
function float32Matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let t = 0; t < k; t++) {
      const av = a[i * k + t]!;
      const bRow = t * n;
      for (let j = 0; j < n; j++) c[row + j] = c[row + j]! + av * b[bRow + j]!;
    }
  }
  return c;
}

function float32MatmulBench(m: number, k: number, n: number): MatmulResult {
  const a = Float32Array.from({ length: m * k }, () => Math.random());
  const b = Float32Array.from({ length: k * n }, () => Math.random());
  const s = bestSeconds(() => float32Matmul(a, b, m, k, n), 3);
  return { m, k, n, gmacs_per_s: (m * k * n) / s / 1e9 };
}

const nonlinearReady = () =>
  (['softmax', 'layernorm', 'gelu'] as const).every((op) => protocolsFor(op).length > 0);

/** Max abs error of a layer (in process) against the interpreter, per fractional-bit setting. */
async function fracBitsSweep(opts: LayerOptions): Promise<SweepPoint[]> {
  const graph = LAYERS.bert(opts);
  const x = layerInput(opts, 3);
  const ref = interpret(graph, new Map([['hidden_in', x]])).get('hidden_out')!.data as Float32Array;
  const out: SweepPoint[] = [];
  for (const fracBits of [8, 10, 12, 14, 16, 18, 20]) {
    try {
      const r = await simulatePlan(
        makePlan(graph, { fracBits }),
        { server: layerWeights(graph, 'server'), client: layerWeights(graph, 'client') },
        { client: new Map([['hidden_in', x]]) },
      );
      const y = r.outputs.get('hidden_out')!.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i]! - ref[i]!));
      out.push({ frac_bits: fracBits, max_abs_error: worst });
    } catch (e) {
      // a protocol may not support this precision at all: record why
      out.push({
        frac_bits: fracBits,
        max_abs_error: null,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }
  return out;
}

interface SweepPoint {
  frac_bits: number;
  max_abs_error: number | null;
  error?: string;
}

interface LayerResult {
  layer: LayerKind;
  nonlinear: boolean;
  seq: number;
  hidden: number;
  heads: number;
  ffn: number;
  processes: 3;
  wall_seconds: number;
  max_abs_error: number;
  online_bytes: number;
  offline_bytes: number;
  setup_bytes: number;
  rounds: number;
  setup_rounds: number;
  by_protocol: Record<
    string,
    { online_bytes: number; offline_bytes: number; rounds: number; seconds: number }
  >;
}

/** One layer in three processes over loopback TCP with a live dealer. */
async function layerTwoProcess(layer: LayerKind, opts: LayerOptions): Promise<LayerResult> {
  const graph = LAYERS[layer](opts);
  const x = layerInput(opts, 9);
  const ref = interpret(graph, new Map([['hidden_in', x]])).get('hidden_out')!.data as Float32Array;
  // Each process rebuilds the plan: with one weight key, so their plan hashes agree.
  const weightKey = Buffer.from(freshWeightKey()).toString('hex');
  const base = { layer, layerOptions: opts, weightKey, timeoutMs: 300_000 };
  const dealer = startChild({ ...base, role: 'dealer', listen: '127.0.0.1:0' });
  const dealerAt = `127.0.0.1:${await dealer.listening}`;
  const server = startChild({
    ...base,
    role: 'server',
    listen: '127.0.0.1:0',
    dealer: dealerAt,
    inputs: [[]],
  });
  const connectTo = `127.0.0.1:${await server.listening}`;
  const client = startChild({
    ...base,
    role: 'client',
    connect: connectTo,
    dealer: dealerAt,
    inputs: [[...(x.data as Float32Array)]],
  });
  const [s, c] = await Promise.all([server.done, client.done, dealer.done]);
  if ('error' in s) throw new Error(`server: ${s.error}`);
  if ('error' in c) throw new Error(`client: ${c.error}`);
  if (!('result' in s) || !('result' in c)) throw new Error('a party did not report');
  const y = c.result.outputs[0]!;
  let worst = 0;
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i]! - ref[i]!));
  const report = combineReports(s.result.stats as OpStats[], c.result.stats as OpStats[]);
  const byProtocol: LayerResult['by_protocol'] = {};
  for (const op of report.ops) {
    const e = (byProtocol[op.protocol] ??= { online_bytes: 0, offline_bytes: 0, rounds: 0, seconds: 0 });
    e.online_bytes += op.onlineBytes[0] + op.onlineBytes[1];
    e.offline_bytes += op.offlineBytes[0] + op.offlineBytes[1];
    e.rounds += op.rounds;
    e.seconds += Math.max(op.seconds[0], op.seconds[1]);
  }
  return {
    layer,
    nonlinear: opts.nonlinear ?? true,
    seq: opts.seq,
    hidden: opts.hidden,
    heads: opts.heads,
    ffn: opts.ffn,
    processes: 3,
    wall_seconds: Math.max(s.result.seconds, c.result.seconds),
    max_abs_error: worst,
    online_bytes: report.totals.onlineBytes,
    offline_bytes: report.totals.offlineBytes,
    setup_bytes: report.totals.setupBytes,
    rounds: report.totals.rounds,
    setup_rounds: report.totals.setupRounds,
    by_protocol: byProtocol,
  };
}

export interface RuntimeBenchResult {
  machine: { threads: number; node: string };
  ring_matmul: MatmulResult & { threads: number; tile: typeof GEMM_TILE };
  ring_matmul_one_thread: MatmulResult;
  float32_matmul: MatmulResult & { implementation: string };
  protocols: ProtocolResult[];
  frac_bits_sweep: {
    layer: string;
    nonlinear: boolean;
    points: SweepPoint[];
  };
  layers: LayerResult[];
}

export async function runRuntimeBench(): Promise<RuntimeBenchResult> {
  const [m, k, n] = [128, 768, 768];
  const threads = threadCount();
  const ring = ringMatmulBench(m, k, n, threads > 1 ? 2 : 1);
  const ringOne = ringMatmulBench(m, k, n, 1);
  const float32 = float32MatmulBench(m, k, n);
  const protocols = await protocolBenchmarks({ elements: 1 << 16, rows: 128, cols: 128 });
  const nonlinear = nonlinearReady();
  const sweepLayer: LayerOptions = { seq: 16, hidden: 64, heads: 4, ffn: 256, seed: 1, nonlinear };
  const sweep = await fracBitsSweep(sweepLayer);
  const layerOpts: LayerOptions = { seq: 32, hidden: 256, heads: 4, ffn: 1024, seed: 2, nonlinear };
  const baseSize: LayerOptions = { seq: 128, hidden: 768, heads: 12, ffn: 3072, seed: 4, nonlinear };
  const layers = [
    await layerTwoProcess('bert', layerOpts),
    await layerTwoProcess('gpt', { ...layerOpts, seed: 3 }),
    await layerTwoProcess('bert', baseSize),
  ];
  return {
    machine: { threads, node: process.version },
    ring_matmul: { ...ring, threads: threads > 1 ? 2 : 1, tile: GEMM_TILE },
    ring_matmul_one_thread: ringOne,
    float32_matmul: { ...float32, implementation: 'JavaScript Float32Array, i-k-j loop, one thread' },
    protocols,
    frac_bits_sweep: { layer: 'bert seq 16 hidden 64', nonlinear, points: sweep },
    layers,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await runRuntimeBench();
  const dir = join('bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'runtime.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
