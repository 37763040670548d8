/**
 * `npm run bench -- scale-measured`: the standard plan and the Marill plan (all techniques) of a
 * BERT-base-size model (12 layers, hidden 768, 12 heads, FFN 3072, sequence 128) run as a user
 * runs them, each step a `marillc` process: compile against the base (`--report` gives the
 * prediction), certificates, dealer material written ahead for two inferences, then server and
 * client over mutual TLS on loopback, the client's `--report` giving what was measured. The first
 * inference of the session also opens the masked server weights (session setup, reported apart);
 * the second is the steady state. Measured bytes and rounds are compared with the prediction.
 *
 * The vocabulary is 1000 tokens instead of 30522 (the embedding lookup's cost does not depend on it,
 * the generated files are ~4x smaller). Models are generated into $TMPDIR/marillc-eval
 * (MARILL_EVAL_CACHE overrides), never committed; plans and material under $TMPDIR/marillc-scale.
 * MARILL_SCALE_SIZE=larger runs the evaluation's 4-layer, hidden-128 size instead (a quick check).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BERT } from './models/bert.ts';
import { BERT_BASE_SIZE } from './plaintext.ts';
import { generateFamily } from './models/generate.ts';
import { SIZES } from './models/spec.ts';
import { VARIANTS } from './models/variants.ts';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'bin/marillc.js');

interface Measured {
  readonly seconds: number;
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
}

export interface ScaleMeasuredRow {
  readonly model: string;
  readonly variant: string;
  readonly compile_seconds: number;
  readonly dealing_seconds: number;
  readonly predicted: { online_bytes: number; rounds: number; est_lan_seconds: number };
  readonly setup: { seconds: number; bytes: number; rounds: number };
  /** Inference 1 (with the session setup) and inference 2 (steady state). */
  readonly inferences: readonly Measured[];
  readonly online_seconds: number;
  readonly bytes_match: boolean;
  readonly rounds_match: boolean;
  readonly max_abs_error_vs_plaintext: number;
  readonly load_average: number;
}

function log(text: string): void {
  process.stderr.write(`scale-measured: ${text}\n`);
}

function marillc(args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`marillc ${args.join(' ')} exited ${r.status}`);
  return (performance.now() - t0) / 1000;
}

function party(args: readonly string[]): Promise<void> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return new Promise((done, fail) =>
    child.on('exit', (code) =>
      code === 0 ? done() : fail(new Error(`marillc ${args.slice(0, 4).join(' ')} exited ${code}`)),
    ),
  );
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

function flat(v: unknown): number[] {
  return Array.isArray(v) ? v.flatMap(flat) : typeof v === 'number' ? [v] : [];
}

async function measure(
  label: string,
  variantModel: string,
  base: string,
  input: string,
  noMarill: boolean,
  dir: string,
  port: number,
): Promise<Omit<ScaleMeasuredRow, 'model' | 'variant'>> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const plan = join(dir, 'plan.ts');
  const compile_seconds = marillc([
    variantModel,
    '--base',
    base,
    ...(noMarill ? ['--no-marill'] : []),
    '-o',
    plan,
    '--report',
    join(dir, 'compile.json'),
  ]);
  log(`${label}: compiled in ${compile_seconds.toFixed(1)} s`);
  const predictedCost = readJson<{
    cost: { total: { online_bytes: number; rounds: number; est_seconds: number } };
  }>(join(dir, 'compile.json')).cost.total;
  marillc(['certs', '--out', join(dir, 'certs')]);
  const material = join(dir, 'material');
  const dealing_seconds = marillc([
    'run',
    plan,
    '--party',
    'dealer',
    '--dealer-dir',
    material,
    '--inferences',
    '2',
    '--certs',
    join(dir, 'certs'),
  ]);
  log(`${label}: material for 2 inferences in ${dealing_seconds.toFixed(1)} s`);
  const clientBundle = join(dir, 'plan.client.onnx');
  const report = join(dir, 'client-report.json');
  const out = join(dir, 'out.json');
  const endpoint = `127.0.0.1:${port}`;
  const certs = ['--certs', join(dir, 'certs')];
  const load = loadavg()[0]!;
  await Promise.all([
    party([
      'run',
      plan,
      '--party',
      'server',
      '--model',
      join(dir, 'plan.server.onnx'),
      '--listen',
      endpoint,
      '--dealer-dir',
      join(material, 'server'),
      ...certs,
    ]),
    party([
      'run',
      plan,
      '--party',
      'client',
      ...(existsSync(clientBundle) ? ['--model', clientBundle] : []),
      '--connect',
      endpoint,
      '--dealer-dir',
      join(material, 'client'),
      '--input',
      input,
      '--input',
      input,
      '--out',
      out,
      '--report',
      report,
      ...certs,
    ]),
  ]);
  const measured = readJson<{ setup: ScaleMeasuredRow['setup']; inferences: Measured[] }>(report);
  // The plaintext reference: the interpreter on the same model and input.
  const reference = join(dir, 'reference.json');
  marillc(['eval', variantModel, '--input', input, '--out', reference]);
  const want = flat(Object.values(readJson<Record<string, unknown>>(reference)));
  const got = flat(Object.values(readJson<Record<string, unknown>[]>(out)[1] ?? {}));
  const error = want.length === got.length ? Math.max(...want.map((w, i) => Math.abs(w - got[i]!))) : NaN;
  rmSync(material, { recursive: true, force: true });
  const steady = measured.inferences[measured.inferences.length - 1]!;
  return {
    compile_seconds,
    dealing_seconds,
    predicted: {
      online_bytes: predictedCost.online_bytes,
      rounds: predictedCost.rounds,
      est_lan_seconds: predictedCost.est_seconds,
    },
    setup: measured.setup,
    inferences: measured.inferences,
    online_seconds: steady.seconds,
    bytes_match: measured.inferences.every((i) => i.online_bytes === predictedCost.online_bytes),
    rounds_match: measured.inferences.every((i) => i.rounds === predictedCost.rounds),
    max_abs_error_vs_plaintext: error,
    load_average: load,
  };
}

export async function runScaleMeasured(): Promise<{
  rows: ScaleMeasuredRow[];
  time_gain: number;
  comm_gain: number;
}> {
  const size = process.env['MARILL_SCALE_SIZE'] === 'larger' ? SIZES.larger : BERT_BASE_SIZE;
  const cache = process.env['MARILL_EVAL_CACHE'] ?? join(tmpdir(), 'marillc-eval');
  const work = join(tmpdir(), 'marillc-scale');
  const variants = VARIANTS.filter((v) => v.id === 'standard' || v.id === 'marill');
  const set = generateFamily(BERT, size, variants, cache);
  const rows: ScaleMeasuredRow[] = [];
  for (const [k, v] of variants.entries()) {
    const label = `${size.name}/${v.id}`;
    const row = await measure(
      label,
      set.variants.get(v.id)!,
      set.base,
      set.input,
      v.noMarill,
      join(work, v.id),
      17_400 + k,
    );
    log(`${label}: online ${row.online_seconds.toFixed(2)} s, ${row.inferences[1]?.rounds} rounds`);
    rows.push({ model: size.name, variant: v.id, ...row });
  }
  const [standard, marill] = rows as [ScaleMeasuredRow, ScaleMeasuredRow];
  return {
    rows,
    time_gain: standard.online_seconds / marill.online_seconds,
    comm_gain: standard.predicted.online_bytes / marill.predicted.online_bytes,
  };
}
