/**
 * `npm run demo`: the main job on a bundled example, each step a real
 * `marillc` command whose line is printed before its output:
 *   1. the standard plan of a LoRA fine-tuned GPT-2-style model (every weight private);
 *   2. the Marill plan against its public base (-o writes plan.ts and weight bundles);
 *   3. certificates for the three parties (`marillc certs`), then the plan run as three
 *      processes over mutual TLS on loopback: dealer, server, client;
 *   4. the client's result next to the plaintext interpreter's;
 *   5. text generation: the KV-cache export of the same fine-tune compiled to a generation plan, run as
 *      three processes with a tokenizer (the text streams as it is produced), its tokens next to the
 *      plaintext interpreter's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');
const OUT = join('out', 'demo');
const MODEL = 'examples/gpt2/lora-merged.onnx';
const BASE = 'examples/gpt2/base.onnx';
const INPUT = 'examples/gpt2/input.json';
const PLAN = join(OUT, 'plan.ts');
const CERTS = join(OUT, 'certs');
const CLI = join(REPO, 'bin/marillc.js');
const DEALER_PORT = 17_301;
const SERVER_PORT = 17_300;

function show(args: readonly string[]): void {
  const quoted = args.map((a) => (/\s/.test(a) ? `"${a}"` : a));
  process.stdout.write(`$ marillc ${quoted.join(' ')}\n`);
}

function step(title: string, args: readonly string[]): void {
  process.stdout.write(`\n== ${title}\n`);
  show(args);
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** Starts a party in the background; resolves with its exit code. */
function party(args: readonly string[]): Promise<number> {
  show(args);
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return new Promise((done) => child.on('exit', (code) => done(code ?? 1)));
}

function firstValues(file: string): number[] {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  return ([json['logits']] as unknown[]).flat(4).slice(0, 6) as number[];
}

mkdirSync(join(REPO, OUT), { recursive: true });
step('standard fine-tuning: every weight private, everything under MPC', [MODEL, '--no-marill']);
step('Marill: base weights found by content are public, LoRA split, work hoisted out of MPC', [
  MODEL,
  '--base',
  BASE,
  '-o',
  PLAN,
]);

// `certs` never overwrites keys: a new run of the demo makes a new session's certificates.
rmSync(join(REPO, CERTS), { recursive: true, force: true });
step('a CA and a key + certificate per party (each names its role)', ['certs', '--out', CERTS]);

process.stdout.write(
  '\n== the plan as three processes over mutual TLS on loopback: dealer, server (weights), client (prompt)\n',
);
const dealer = `127.0.0.1:${DEALER_PORT}`;
const server = `127.0.0.1:${SERVER_PORT}`;
const codes = await Promise.all([
  party(['run', PLAN, '--party', 'dealer', '--listen', dealer, '--certs', CERTS]),
  party([
    'run',
    PLAN,
    '--party',
    'server',
    '--model',
    join(OUT, 'plan.server.onnx'),
    '--listen',
    server,
    '--dealer',
    dealer,
    '--certs',
    CERTS,
  ]),
  new Promise<void>((r) => setTimeout(r, 1500)).then(() =>
    party([
      'run',
      PLAN,
      '--party',
      'client',
      '--model',
      BASE,
      '--connect',
      server,
      '--dealer',
      dealer,
      '--certs',
      CERTS,
      '--input',
      INPUT,
      '--out',
      join(OUT, 'mpc.json'),
    ]),
  ),
]);
if (codes.some((c) => c !== 0)) process.exit(1);

step('plaintext reference', ['eval', MODEL, '--input', INPUT, '--out', join(OUT, 'plain.json')]);
const mpc = firstValues(join(REPO, OUT, 'mpc.json'));
const plain = firstValues(join(REPO, OUT, 'plain.json'));
process.stdout.write('\n== result: first logits, two-party run vs plaintext\n');
mpc.forEach((v, i) =>
  process.stdout.write(`  ${v.toFixed(5).padStart(10)}  ${plain[i]!.toFixed(5).padStart(10)}\n`),
);

// 5. Text generation: a GPT-2-style decoder exported with a KV cache, fine-tuned with LoRA. The plan holds
//    one step plan per length; the layers under MPC keep their cache secret-shared between the parties
//    across steps, and each step reveals only the last position's logits to the client, which picks the token.
const GEN_MODEL = 'examples/gpt2/cache-lora-merged.onnx';
const GEN_BASE = 'examples/gpt2/cache-base.onnx';
const GEN_PLAN = join(OUT, 'gen.ts');
const TOKENIZER = 'examples/tokenizer/tokenizer.json';
const PROMPT = 'the wind had turned';
const NEW_TOKENS = '12';
step('generation: a decoder with a KV cache, one step plan per length up to --max-context', [
  GEN_MODEL,
  '--base',
  GEN_BASE,
  '-o',
  GEN_PLAN,
  '--max-context',
  '24',
]);
process.stdout.write(
  `\n== generation as three processes over mutual TLS; the client streams the text (the tiny random model's)\n`,
);
const genDealer = `127.0.0.1:${DEALER_PORT + 2}`;
const genServer = `127.0.0.1:${SERVER_PORT + 2}`;
const genCodes = await Promise.all([
  party(['run', GEN_PLAN, '--party', 'dealer', '--listen', genDealer, '--certs', CERTS]),
  party([
    'run',
    GEN_PLAN,
    '--party',
    'server',
    '--model',
    join(OUT, 'gen.server.onnx'),
    '--listen',
    genServer,
    '--dealer',
    genDealer,
    '--certs',
    CERTS,
  ]),
  new Promise<void>((r) => setTimeout(r, 1500)).then(() =>
    party([
      'run',
      GEN_PLAN,
      '--party',
      'client',
      '--model',
      join(OUT, 'gen.client.onnx'),
      '--connect',
      genServer,
      '--dealer',
      genDealer,
      '--certs',
      CERTS,
      '--tokenizer',
      TOKENIZER,
      '--prompt',
      PROMPT,
      '--max-new-tokens',
      NEW_TOKENS,
      '--out',
      join(OUT, 'gen-mpc.json'),
    ]),
  ),
]);
if (genCodes.some((c) => c !== 0)) process.exit(1);
step('plaintext reference generation', [
  'eval',
  GEN_MODEL,
  '--tokenizer',
  TOKENIZER,
  '--prompt',
  PROMPT,
  '--max-new-tokens',
  NEW_TOKENS,
  '--out',
  join(OUT, 'gen-plain.json'),
]);
const tokens = (file: string): number[] =>
  (JSON.parse(readFileSync(join(REPO, file), 'utf8')) as { tokens: number[] }).tokens;
const same = tokens(join(OUT, 'gen-mpc.json')).join(',') === tokens(join(OUT, 'gen-plain.json')).join(',');
process.stdout.write(
  `\n== result: generated ids, two-party run vs plaintext: ${tokens(join(OUT, 'gen-mpc.json')).join(' ')} ${same ? '(equal)' : 'vs ' + tokens(join(OUT, 'gen-plain.json')).join(' ') + ' (DIFFER)'}\n`,
);
if (!same) process.exit(1);
