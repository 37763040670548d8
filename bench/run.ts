/**
 * `npm run bench`: runs the benchmarks and writes JSON under bench/results/.
 * Benchmarks are measurements, never pass/fail tests. Select with arguments:
 *   npm run bench                 all
 *   npm run bench -- compile      only the compile-speed benchmark
 *   npm run bench -- perf-layer   BERT-base layer online time, two processes (bench/perf-layer.ts)
 *   npm run bench -- perf         issue 12's table in one run: configs A and B as selected for lan (perf-layer,
 *                                 with CrypTen beside it when MARILL_CRYPTEN_RESULTS names its JSON) and the
 *                                 plaintext engine against the interpreter on a BERT-base frozen prefix
 *   npm run bench -- evaluation   the Marill evaluation (bench/evaluation.ts), then the same in both
 *                                 settings, with and without a dealer (bench/evaluation-setting.ts,
 *                                 bench/results/evaluation-2pc.json)
 *   npm run bench -- evaluation-2pc  only the evaluation in both settings (bench/evaluation-setting.ts)
 *   npm run bench -- plaintext    a BERT-base frozen prefix on onnxruntime vs the interpreter (bench/plaintext.ts)
 *   npm run bench -- evaluation-scale  BERT-base / GPT-2-small rows from the cost model (bench/evaluation-scale.ts)
 *   npm run bench -- scale-measured  BERT-base standard vs Marill plan, measured in processes (bench/scale-measured.ts)
 *   npm run bench -- generate     32-token prompt + 32 new tokens, standard vs Marill plans, per token (bench/generate.ts)
 *   npm run bench -- serve        marillc serve: throughput and latency at 1, 4, 16 clients (bench/serve-bench.ts)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCompileBench } from './compile-bench.ts';
import { runEvaluation } from './evaluation.ts';
import { runEvaluationScale } from './evaluation-scale.ts';
import { runSettingEvaluation } from './evaluation-setting.ts';
import { runGenerateBench } from './generate.ts';
import { runPerfLayer } from './perf-layer.ts';
import { runPlaintextBench } from './plaintext.ts';
import { runRuntimeBench } from './runtime-bench.ts';
import { runScaleMeasured } from './scale-measured.ts';
import { runServeBench } from './serve-bench.ts';

const RESULTS = join('bench', 'results');

/** `byNameOnly`: skipped by a plain `npm run bench` (another bench already runs it). */
type Bench = { name: string; run: () => unknown | Promise<unknown>; byNameOnly?: boolean };

function writeResult(name: string, result: unknown): string {
  const path = join(RESULTS, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}

const BENCHES: Bench[] = [
  { name: 'compile', run: runCompileBench },
  { name: 'runtime', run: runRuntimeBench },
  { name: 'perf-layer', run: () => runPerfLayer() },
  {
    name: 'perf',
    run: async () => ({
      layers: await runPerfLayer(undefined, ['selected']),
      plaintext: await runPlaintextBench(),
    }),
  },
  {
    name: 'evaluation',
    run: async () => {
      const result = await runEvaluation();
      process.stdout.write(`${writeResult('evaluation-2pc', await runSettingEvaluation())}\n`);
      return result;
    },
  },
  { name: 'evaluation-2pc', run: () => runSettingEvaluation(), byNameOnly: true },
  { name: 'plaintext', run: runPlaintextBench },
  { name: 'evaluation-scale', run: runEvaluationScale },
  { name: 'scale-measured', run: runScaleMeasured },
  { name: 'serve', run: runServeBench },
  { name: 'generate', run: runGenerateBench },
];

const wanted = process.argv.slice(2);
mkdirSync(RESULTS, { recursive: true });
for (const bench of BENCHES) {
  if (wanted.length > 0 ? !wanted.includes(bench.name) : bench.byNameOnly === true) continue;
  process.stderr.write(`bench: ${bench.name} ...\n`);
  const result = await bench.run();
  const path = writeResult(bench.name, result);
  process.stdout.write(`${path}\n${JSON.stringify(result, null, 2)}\n`);
}
