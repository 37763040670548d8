/**
 * Online-phase performance of BERT-style encoders under two-party MPC,
 * written to bench/results/perf-layer.json:
 *
 *   - bert-base: one layer, S = 128, H = 768, 12 heads, FFN 3072;
 *   - bert-tiny2: two layers, S = 128, H = 128, 2 heads, FFN 512.
 *
 * Every weight is server-private, the input [1, S, H] belongs to the client,
 * protocols are those `selectProtocols` picks for the lan profile. The dealer
 * material is generated BEFORE the parties start (`writeDealerMaterial`, timed
 * as "dealing"), so the online time excludes dealing. Server and client run as
 * two OS processes (test/runtime/processes.ts) over loopback TCP. Each runs
 * 21 inferences: the first also opens the masked weights (session setup);
 * "online" is the median wall time of the other 20 (the steady-state online
 * phase), per-op figures and CPU seconds are the last one's. CPU seconds are
 * reported because wall time on a shared machine depends on its load. Every
 * inference's output is compared with the plaintext interpreter's
 * (`maxAbsError` over all 21, each with fresh dealer material).
 *
 * CrypTen beside it: with MARILL_CRYPTEN_RESULTS=DIR holding the A.json and B.json that
 * `../shared/anchors/crypten/bench.py --config A|B --json` wrote in the same session (config A is
 * bert-tiny2's model, B one bert-base layer), the result holds CrypTen's measured figures and the
 * ratios from this one run (`cryptenMeasured`); without it, the figures quoted by the brief.
 *
 *   npx tsx bench/perf-layer.ts [bert-base|bert-tiny2 ...] [--compare selected|dcf|both]
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NETWORKS } from '../compiler/backend/network.ts';
import { selectProtocols } from '../compiler/backend/select.ts';
import type { Graph } from '../ir/graph.ts';
import { interpret } from '../ir/interpret.ts';
import { maxAbsDiff } from '../ir/tensor.ts';
import { writeDealerMaterial } from '../runtime/dealer/files.ts';
import type { OpStats } from '../runtime/mpc/accounting.ts';
import { combineReports, roundMismatches } from '../runtime/mpc/accounting.ts';
import type { Plan } from '../runtime/plan.ts';
import { planCosts } from '../runtime/bound-plan.ts';
import { freshWeightKey, makePlan } from '../runtime/plan.ts';
import type { LayerOptions } from '../test/runtime/layers.ts';
import { bertEncoderLayer, layerInput } from '../test/runtime/layers.ts';
import type { InferenceFigures } from '../test/runtime/party-main.ts';
import { startChild } from '../test/runtime/processes.ts';

type ModelName = 'bert-base' | 'bert-tiny2';

const MODELS: Record<ModelName, LayerOptions & { layers: number }> = {
  'bert-base': { seq: 128, hidden: 768, heads: 12, ffn: 3072, layers: 1, seed: 7 },
  'bert-tiny2': { seq: 128, hidden: 128, heads: 2, ffn: 512, layers: 2, seed: 7 },
};

/** CrypTen's figures from the product brief (2 parties, online only, 2-core machine). */
const CRYPTEN = {
  'bert-base-12': { seconds: 30.4, rounds: 2280, bytes: 9.2e9 },
  'bert-tiny2': { seconds: 1.37, rounds: 380, bytes: 224e6 },
} as const;

/** Inferences per run: the first opens the masked weights (setup); the rest are steady state. */
const INFERENCES = 21;

/**
 * `--compare dcf`: after selection, every comparison-based op runs its DCF
 * variant (fewer rounds, more local work) instead of what lan selection picked.
 */
type CompareChoice = 'selected' | 'dcf';

/** One weight key for the run: the parent and both party processes must make the same plan (same hash). */
const WEIGHT_KEY = freshWeightKey();

function buildPlan(model: ModelName, compare: CompareChoice): { graph: Graph; plan: Plan } {
  const selected = selectProtocols(bertEncoderLayer(MODELS[model]), NETWORKS.lan, 16);
  const graph =
    compare === 'dcf'
      ? {
          ...selected,
          nodes: selected.nodes.map((n) =>
            n.protocol?.endsWith('.bool') ? { ...n, protocol: `${n.protocol.slice(0, -5)}.dcf` } : n,
          ),
        }
      : selected;
  return { graph, plan: makePlan(graph, { weightKey: WEIGHT_KEY }) };
}

// ---------------------------------------------------------------- parties

/** What a party reports: each inference's wall and CPU seconds and the accounting after it. */
type PartyReport = readonly InferenceFigures[];

/**
 * One party as an OS process (test/runtime/party-main.ts): it rebuilds the
 * layer, takes the selected protocols from `graph`, reads its dealer material
 * from `dir` and runs INFERENCES inferences.
 */
function startParty(
  model: ModelName,
  graph: Graph,
  role: 'server' | 'client',
  dir: string,
  port: number,
): { listening: Promise<number>; done: Promise<{ figures: PartyReport; outputs: number[][] }> } {
  const protocols: Record<string, string> = {};
  for (const n of graph.nodes) if (n.protocol !== undefined) protocols[n.outputs[0]!] = n.protocol;
  const input = [...(layerInput(MODELS[model], 11).data as Float32Array)];
  const child = startChild({
    role,
    layer: 'bert',
    layerOptions: MODELS[model],
    protocols,
    ...(role === 'server' ? { listen: '127.0.0.1:0' } : { connect: `127.0.0.1:${port}` }),
    weightKey: Buffer.from(WEIGHT_KEY).toString('hex'),
    dealerDir: join(dir, role),
    // Plain TCP on loopback: this benchmark measures the protocols, not TLS (its cost is the same for every op).
    insecurePlaintext: true,
    inputs: Array.from({ length: INFERENCES }, () => (role === 'client' ? input : [])),
    measure: true,
    profileName: `${model}-${role}`,
  });
  const done = child.done.then((m) => {
    if ('error' in m) throw new Error(`${role}: ${m.error}`);
    if (!('result' in m) || !m.result.inferences) throw new Error(`${role}: no figures reported`);
    return { figures: m.result.inferences, outputs: m.result.outputs };
  });
  return { listening: child.listening, done };
}

/** The last inference's stats: cumulative after it minus after the one before. */
function steadyStats(r: PartyReport): OpStats[] {
  const first = new Map(r[INFERENCES - 2]!.stats.map((s) => [s.id, s]));
  return r[INFERENCES - 1]!.stats.map((s) => {
    const f = first.get(s.id)!;
    return {
      ...s,
      bytesSent: s.bytesSent - f.bytesSent,
      rounds: s.rounds - f.rounds,
      setupBytesSent: 0,
      setupRounds: 0,
      offlineBytes: s.offlineBytes - f.offlineBytes,
      seconds: s.seconds - f.seconds,
      runs: 1,
    };
  });
}

interface OpProfile {
  protocol: string;
  op: string;
  count: number;
  seconds: number;
  bytes: number;
  rounds: number;
}

async function measure(model: ModelName, compare: CompareChoice): Promise<Record<string, unknown>> {
  const { graph, plan } = buildPlan(model, compare);
  const dir = mkdtempSync(join(tmpdir(), 'marill-perf-'));
  try {
    const t0 = performance.now();
    writeDealerMaterial(plan, dir, INFERENCES);
    const dealingSeconds = (performance.now() - t0) / 1000;
    const server = startParty(model, graph, 'server', dir, 0);
    const port = await server.listening;
    const client = startParty(model, graph, 'client', dir, port);
    const [serverDone, clientDone] = await Promise.all([server.done, client.done]);
    const [s, c] = [serverDone.figures, clientDone.figures];
    const reference = interpret(graph, new Map([['hidden_in', layerInput(MODELS[model], 11)]])).get(
      'hidden_out',
    )!.data as Float32Array;
    const errors = clientDone.outputs.map((out) => maxAbsDiff(Float32Array.from(out), reference));
    const steady = [steadyStats(s), steadyStats(c)] as const;
    const report = combineReports(steady[0], steady[1]);
    const costs = planCosts(plan).map((p) => p.cost);
    const predicted = {
      onlineBytes: costs.reduce((a, c) => a + c.onlineBytes[0] + c.onlineBytes[1], 0),
      rounds: costs.reduce((a, c) => a + c.rounds, 0),
    };
    const mismatched = roundMismatches(steady[0], steady[1]);
    // Per protocol: max over the parties of the summed op seconds.
    const byProtocol = new Map<string, OpProfile>();
    for (const op of report.ops) {
      const key = `${op.protocol}`;
      const p = byProtocol.get(key) ?? {
        protocol: op.protocol,
        op: op.op,
        count: 0,
        seconds: 0,
        bytes: 0,
        rounds: 0,
      };
      p.count++;
      p.seconds += Math.max(...op.seconds);
      p.bytes += op.onlineBytes[0] + op.onlineBytes[1];
      p.rounds += op.rounds;
      byProtocol.set(key, p);
    }
    const profile = [...byProtocol.values()].sort((a, b) => b.seconds - a.seconds);
    // Steady state: the median of the inferences after the first.
    const steadyWall = (k: number) => Math.max(s[k]!.seconds, c[k]!.seconds);
    const onlineRuns = Array.from({ length: INFERENCES - 1 }, (_, k) => steadyWall(k + 1));
    const online = median(onlineRuns);
    return {
      model,
      options: MODELS[model],
      comparisons: compare === 'dcf' ? 'dcf variants forced' : 'as selected for lan',
      transport: 'loopback TCP, two OS processes, dealer material from files generated ahead',
      dealingSeconds,
      firstInferenceSeconds: Math.max(s[0]!.seconds, c[0]!.seconds),
      onlineSeconds: online,
      onlineSecondsRuns: onlineRuns,
      maxAbsError: Math.max(...errors),
      errorRuns: errors.length,
      cpuSeconds: { server: s[INFERENCES - 1]!.cpuSeconds, client: c[INFERENCES - 1]!.cpuSeconds },
      loadAverage: loadavg()[0],
      accountedSeconds: profile.reduce((a, p) => a + p.seconds, 0),
      onlineBytes: report.totals.onlineBytes,
      rounds: report.totals.rounds,
      offlineBytes: report.totals.offlineBytes,
      predicted: { onlineBytes: predicted.onlineBytes, rounds: predicted.rounds },
      roundMismatches: mismatched,
      profile,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function printResult(r: Record<string, unknown>): void {
  const profile = r['profile'] as OpProfile[];
  const fmt = (x: number) => x.toFixed(3).padStart(8);
  console.log(`\n== ${String(r['model'])}, comparisons ${String(r['comparisons'])} ==`);
  console.log(
    `dealing ${fmt(r['dealingSeconds'] as number)} s   first inference ${fmt(r['firstInferenceSeconds'] as number)} s`,
  );
  console.log(
    `online  ${fmt(r['onlineSeconds'] as number)} s   accounted ${fmt(r['accountedSeconds'] as number)} s   ` +
      `${((r['onlineBytes'] as number) / 1e6).toFixed(1)} MB   ${String(r['rounds'])} rounds`,
  );
  const cpu = r['cpuSeconds'] as { server: number; client: number };
  console.log(
    `cpu     server ${fmt(cpu.server)} s   client ${fmt(cpu.client)} s   (load average ${(r['loadAverage'] as number).toFixed(1)})`,
  );
  for (const p of profile)
    console.log(
      `  ${p.protocol.padEnd(22)} x${String(p.count).padEnd(4)} ${fmt(p.seconds)} s ${(p.bytes / 1e6).toFixed(1).padStart(8)} MB ${String(p.rounds).padStart(4)} rounds`,
    );
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface CryptenRun {
  readonly mpc_forward_median_s: number;
  readonly mpc_forward_runs_s: readonly number[];
  readonly comm_party0: { rounds: number; bytes: number };
  readonly max_abs_err: number;
}

/**
 * CrypTen measured in this session (MARILL_CRYPTEN_RESULTS), side by side with the matching
 * result: config A = bert-tiny2, config B = bert-base (one layer); ratios are marillc / CrypTen.
 * CrypTen's bytes are its own counter's per party (on loopback the wire total per forward).
 */
function cryptenSideBySide(results: readonly Record<string, unknown>[]): Record<string, unknown> | undefined {
  const dir = process.env['MARILL_CRYPTEN_RESULTS'];
  if (dir === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const [config, model] of [
    ['A', 'bert-tiny2'],
    ['B', 'bert-base'],
  ] as const) {
    const file = join(dir, `${config}.json`);
    const ours = results.find((r) => r['model'] === model && r['comparisons'] === 'as selected for lan');
    if (!existsSync(file) || ours === undefined) continue;
    const c = JSON.parse(readFileSync(file, 'utf8')) as CryptenRun;
    out[config] = {
      model,
      crypten: {
        seconds: c.mpc_forward_median_s,
        runs: c.mpc_forward_runs_s,
        rounds: c.comm_party0.rounds,
        bytes: c.comm_party0.bytes,
        maxAbsError: c.max_abs_err,
      },
      marillc: { seconds: ours['onlineSeconds'], rounds: ours['rounds'], bytes: ours['onlineBytes'] },
      ratio: {
        time: (ours['onlineSeconds'] as number) / c.mpc_forward_median_s,
        rounds: (ours['rounds'] as number) / c.comm_party0.rounds,
        bytes: (ours['onlineBytes'] as number) / c.comm_party0.bytes,
      },
    };
  }
  return out;
}

/** The 12-layer BERT-base figures, estimated as 12 times one measured layer. */
function bertBase12(r: Record<string, unknown>): Record<string, unknown> {
  return {
    comparisons: r['comparisons'],
    layers: 12,
    onlineSeconds: 12 * (r['onlineSeconds'] as number),
    rounds: 12 * (r['rounds'] as number),
    onlineBytes: 12 * (r['onlineBytes'] as number),
  };
}

/** Measures the models with the given comparison choices; writes and returns bench/results/perf-layer.json. */
export async function runPerfLayer(
  models: readonly ModelName[] = Object.keys(MODELS) as ModelName[],
  choices: readonly CompareChoice[] = ['selected', 'dcf'],
): Promise<Record<string, unknown>> {
  const results: Record<string, unknown>[] = [];
  for (const m of models)
    for (const c of choices) {
      const r = await measure(m, c);
      printResult(r);
      results.push(r);
    }
  const estimates = results.filter((r) => r['model'] === 'bert-base').map(bertBase12);
  for (const e of estimates)
    console.log(
      `\nBERT-base 12 layers, ${String(e['comparisons'])} (12 x one layer): ${(e['onlineSeconds'] as number).toFixed(1)} s, ` +
        `${String(e['rounds'])} rounds, ${((e['onlineBytes'] as number) / 1e9).toFixed(2)} GB  (CrypTen: 30.4 s, 2280 rounds, 9.2 GB)`,
    );
  const out = join(fileURLToPath(new URL('.', import.meta.url)), 'results');
  mkdirSync(out, { recursive: true });
  const measured = cryptenSideBySide(results);
  const json = {
    date: new Date().toISOString(),
    results,
    bertBase12: estimates,
    crypten: CRYPTEN,
    ...(measured ? { cryptenMeasured: measured } : {}),
  };
  writeFileSync(join(out, 'perf-layer.json'), `${JSON.stringify(json, null, 2)}\n`);
  return json;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const wanted = args.filter((a) => a in MODELS) as ModelName[];
  const flag = args[args.indexOf('--compare') + 1];
  const choices: CompareChoice[] =
    !args.includes('--compare') || flag === 'both'
      ? ['selected', 'dcf']
      : [flag === 'dcf' ? 'dcf' : 'selected'];
  await runPerfLayer(wanted.length > 0 ? wanted : undefined, choices);
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  await main();
}
