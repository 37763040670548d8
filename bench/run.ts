/**
 * `npm run bench`: runs the benchmarks and writes JSON under bench/results/.
 * Benchmarks are measurements, never pass/fail tests. Select with arguments:
 *   npm run bench                 all
 *   npm run bench -- compile      only the compile-speed benchmark
 *   npm run bench -- perf-layer   BERT-base layer online time, two processes (bench/perf-layer.ts)
 *   npm run bench -- evaluation   the Marill evaluation (bench/evaluation.ts)
 *   npm run bench -- serve        marillc serve: throughput and latency at 1, 4, 16 clients (bench/serve-bench.ts)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCompileBench } from './compile-bench.ts';
import { runEvaluation } from './evaluation.ts';
import { runPerfLayer } from './perf-layer.ts';
import { runRuntimeBench } from './runtime-bench.ts';
import { runServeBench } from './serve-bench.ts';

const RESULTS = join('bench', 'results');

type Bench = { name: string; run: () => unknown | Promise<unknown> };

const BENCHES: Bench[] = [
  { name: 'compile', run: runCompileBench },
  { name: 'runtime', run: runRuntimeBench },
  { name: 'perf-layer', run: () => runPerfLayer() },
  { name: 'evaluation', run: () => runEvaluation() },
  { name: 'serve', run: runServeBench },
];

const wanted = process.argv.slice(2);
mkdirSync(RESULTS, { recursive: true });
for (const bench of BENCHES) {
  if (wanted.length > 0 && !wanted.includes(bench.name)) continue;
  process.stderr.write(`bench: ${bench.name} ...\n`);
  const result = await bench.run();
  const path = join(RESULTS, `${bench.name}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${path}\n${JSON.stringify(result, null, 2)}\n`);
}
