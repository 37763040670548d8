/**
 * `npm run bench -- serve`: one `marillc serve` server and one live dealer
 * (`marillc serve --party dealer`) as processes, and 1, 4 and 16 client
 * processes at once, each running a few inferences in one session. For the
 * gpt2 lora-merged example and the larger GPT-2-style evaluation model
 * (bench/models, lora-merged variant): throughput (inferences per minute,
 * over the span in which sessions ran), latency per inference (median, p95:
 * the clients' own per-inference seconds, setup excluded) and the server's
 * peak RSS (VmHWM). Writes bench/results/serve.json (via bench/run.ts).
 *
 * Client processes start together; the span runs from the first session's
 * welcome to the last client's exit, so process start-up is not counted as
 * serving time. On a machine with few cores, the clients compete with the
 * server and the dealer for CPU: the figures are this machine's, all parties on it.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningMarillc } from '../test/cli-harness.ts';
import { peakRssMib, spawnMarillc } from '../test/cli-harness.ts';
import { testCertificates } from '../test/runtime/certs.ts';
import { generateFamily } from './models/generate.ts';
import { GPT2 } from './models/gpt2.ts';
import { SIZES } from './models/spec.ts';
import { VARIANTS } from './models/variants.ts';

const CONCURRENCY = [1, 4, 16] as const;
const TIMEOUT_MS = 900_000;

interface ServeModel {
  readonly name: string;
  readonly model: string;
  readonly base: string;
  readonly input: string;
  readonly inferencesPerClient: number;
}

export interface ServeRow {
  readonly model: string;
  readonly clients: number;
  readonly inferences: number;
  readonly span_seconds: number;
  readonly inferences_per_minute: number;
  readonly latency_median_seconds: number;
  readonly latency_p95_seconds: number;
}

export interface ServeResult {
  /** The 1-minute load average when the benchmark started (other work on the machine). */
  readonly machine: { readonly cpus: number; readonly node: string; readonly load_average: number };
  readonly note: string;
  readonly rows: readonly ServeRow[];
  /** Peak resident memory of the server process over all runs of the model (MiB). */
  readonly server_peak_rss_mib: Readonly<Record<string, number>>;
}

function log(text: string): void {
  process.stderr.write(`bench serve: ${text}\n`);
}

function models(cache: string): ServeModel[] {
  const lora = VARIANTS.find((v) => v.id === 'lora-merged');
  if (!lora) throw new Error('no lora-merged variant in bench/models/variants.ts');
  const larger = generateFamily(GPT2, SIZES.larger, [lora], cache);
  return [
    {
      name: 'gpt2/lora-merged (example)',
      model: 'examples/gpt2/lora-merged.onnx',
      base: 'examples/gpt2/base.onnx',
      input: 'examples/gpt2/input.json',
      inferencesPerClient: 2,
    },
    {
      name: 'gpt2-larger/lora-merged',
      model: larger.variants.get('lora-merged')!,
      base: larger.base,
      input: larger.input,
      inferencesPerClient: 1,
    },
  ];
}

async function mustSucceed(p: RunningMarillc, what: string): Promise<void> {
  const r = await p.done;
  if (r.code !== 0) throw new Error(`${what} failed (${r.signal ?? r.code}):\n${r.stderr}`);
}

async function portOf(p: RunningMarillc): Promise<number> {
  return Number((await p.waitForStderr(/listening on [^\s]*:(\d+)/, TIMEOUT_MS))[1]);
}

function percentile(sorted: readonly number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

async function benchModel(m: ServeModel, dir: string): Promise<{ rows: ServeRow[]; rss: number }> {
  mkdirSync(dir, { recursive: true });
  const plan = join(dir, 'plan.ts');
  log(`${m.name}: compiling`);
  await mustSucceed(
    spawnMarillc([m.model, '--base', m.base, '-o', plan], { timeoutMs: TIMEOUT_MS }),
    'compile',
  );
  // Every link is mutual TLS, as by default: the figures include its cost.
  const certs = await testCertificates();
  const link = ['--certs', certs.dir];
  const dealer = spawnMarillc(['serve', plan, '--party', 'dealer', '--listen', '127.0.0.1:0', ...link], {
    timeoutMs: TIMEOUT_MS,
  });
  const dport = await portOf(dealer);
  const server = spawnMarillc(
    [
      'serve',
      plan,
      '--party',
      'server',
      '--model',
      join(dir, 'plan.server.onnx'),
      '--listen',
      '127.0.0.1:0',
      '--dealer',
      `127.0.0.1:${dport}`,
      '--max-sessions',
      String(Math.max(...CONCURRENCY)),
      '--timeout',
      '600',
      ...link,
    ],
    { timeoutMs: TIMEOUT_MS },
  );
  const sport = await portOf(server);
  const rows: ServeRow[] = [];
  try {
    for (const clients of CONCURRENCY) {
      log(`${m.name}: ${clients} client(s) x ${m.inferencesPerClient} inferences`);
      const procs = Array.from({ length: clients }, (_, i) =>
        spawnMarillc(
          [
            'run',
            plan,
            '--party',
            'client',
            '--model',
            join(dir, 'plan.client.onnx'),
            '--connect',
            `127.0.0.1:${sport}`,
            '--dealer',
            `127.0.0.1:${dport}`,
            ...Array.from({ length: m.inferencesPerClient }, () => ['--input', m.input]).flat(),
            '--out',
            join(dir, `out-${clients}-${i}.json`),
            '--report',
            join(dir, `report-${clients}-${i}.json`),
            '--timeout',
            '600',
            ...link,
          ],
          { timeoutMs: TIMEOUT_MS },
        ),
      );
      const started = await Promise.all(
        procs.map((p) =>
          p.waitForStderr(/session \d+ on the server/, TIMEOUT_MS).then(() => performance.now()),
        ),
      );
      await Promise.all(procs.map((p, i) => mustSucceed(p, `client ${i}`)));
      const span = (performance.now() - Math.min(...started)) / 1000;
      const latencies = procs
        .flatMap((_, i) => {
          const r = JSON.parse(readFileSync(join(dir, `report-${clients}-${i}.json`), 'utf8')) as {
            inferences: { seconds: number }[];
          };
          return r.inferences.map((x) => x.seconds);
        })
        .sort((a, b) => a - b);
      rows.push({
        model: m.name,
        clients,
        inferences: latencies.length,
        span_seconds: span,
        inferences_per_minute: (60 * latencies.length) / span,
        latency_median_seconds: percentile(latencies, 0.5),
        latency_p95_seconds: percentile(latencies, 0.95),
      });
      log(JSON.stringify(rows[rows.length - 1]));
    }
    const rss = peakRssMib(server.child.pid!);
    server.child.kill('SIGTERM');
    dealer.child.kill('SIGTERM');
    await mustSucceed(server, 'the server');
    await mustSucceed(dealer, 'the dealer');
    return { rows, rss };
  } finally {
    server.kill();
    dealer.kill();
    certs.remove();
  }
}

export async function runServeBench(): Promise<ServeResult> {
  const cache = process.env['MARILL_EVAL_CACHE'] ?? join(tmpdir(), 'marillc-eval');
  const work = join(tmpdir(), `marillc-serve-bench-${process.pid}`);
  const load = Math.round(loadavg()[0]! * 10) / 10;
  const rows: ServeRow[] = [];
  const rss: Record<string, number> = {};
  for (const m of models(cache)) {
    const r = await benchModel(m, join(work, m.name.replace(/[^a-z0-9]+/gi, '-')));
    rows.push(...r.rows);
    rss[m.name] = Math.round(r.rss * 10) / 10;
  }
  return {
    machine: { cpus: cpus().length, node: process.version, load_average: load },
    note: 'server, live dealer and all client processes on this one machine, loopback TCP, mutual TLS 1.3 on every link',
    rows,
    server_peak_rss_mib: rss,
  };
}
