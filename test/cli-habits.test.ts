/**
 * The CLI as a new user tries it (issue 10, item 6): usage errors exit 2 with
 * the usage line, --version, an example in every --help, options that match
 * nothing say so, the server given the wrong model file is told which to use,
 * simulate's stdout is only its results, eval fixes dynamic shapes from its
 * input, outputs create their folder, npx prints no npm warning, and a placed
 * text IR compiles again or says which form does. Each runs the real
 * `marillc` in a child process; onnxruntime-node is the oracle for outputs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff } from '../ir/tensor.ts';
import { REPO, marillc, scratchDir } from './cli-harness.ts';
import type { TestCertificates } from './runtime/certs.ts';
import { testCertificates } from './runtime/certs.ts';

const GPT2 = 'examples/gpt2/base.onnx';
const GPT2_LORA = 'examples/gpt2/lora-merged.onnx';
const GPT2_INPUT = 'examples/gpt2/input.json';

function expectOneLineError(r: { code: number; stderr: string }, ...fragments: string[]): string {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^marillc: error: /);
  expect(lines[0]).not.toContain('internal error');
  for (const f of fragments) expect(lines[0]).toContain(f);
  return lines[0]!;
}

/** Warnings on stderr, one per line, with the prefix. */
function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('marillc: warning: '));
}

/** Runs MODEL in onnxruntime-node on the integer inputs of an input JSON file. */
async function ortRun(model: string, inputFile: string): Promise<Float32Array> {
  const json = JSON.parse(readFileSync(inputFile, 'utf8')) as Record<string, number[][]>;
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, rows] of Object.entries(json))
    feeds[name] = new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [
      rows.length,
      rows[0]!.length,
    ]);
  const session = await ort.InferenceSession.create(readFileSync(join(REPO, model)));
  const result = await session.run(feeds);
  return result[session.outputNames[0]!]!.data as Float32Array;
}

describe('usage errors: exit 2, the marillc prefix, the usage line; nothing is read first', () => {
  const MISSING_PLAN = 'no/such/plan.ts';
  const CASES: { name: string; args: string[]; command: string; says: string }[] = [
    {
      name: '--network fast',
      args: [GPT2, '--network', 'fast'],
      command: 'compile',
      says: 'lan, wan or BW,LAT',
    },
    { name: '--frac-bits abc', args: [GPT2, '--frac-bits', 'abc'], command: 'compile', says: 'from 1 to 24' },
    {
      name: '--frac-bits 25 (above the range)',
      args: [GPT2, '--frac-bits', '25'],
      command: 'compile',
      says: 'from 1 to 24',
    },
    {
      name: '--frac-bits 0',
      args: ['advise', GPT2, '--frac-bits', '0'],
      command: 'advise',
      says: 'from 1 to 24',
    },
    {
      name: '--lora-max-rank 1.5',
      args: [GPT2, '--lora-max-rank', '1.5'],
      command: 'compile',
      says: 'an integer',
    },
    {
      name: 'simulate --timeout x',
      args: ['simulate', MISSING_PLAN, '--timeout', 'x'],
      command: 'simulate',
      says: '--timeout',
    },
    {
      name: 'run with both --dealer and --dealer-dir',
      args: [
        'run',
        MISSING_PLAN,
        '--party',
        'client',
        '--connect',
        '127.0.0.1:1',
        '--dealer',
        '127.0.0.1:2',
        '--dealer-dir',
        'd',
      ],
      command: 'run',
      says: 'takes one of --dealer HOST:PORT (a live dealer) or --dealer-dir DIR (material made ahead), not both',
    },
    {
      name: 'run without --listen or --connect',
      args: ['run', MISSING_PLAN, '--party', 'client', '--dealer', '127.0.0.1:2'],
      command: 'run',
      says: 'exactly one of --listen HOST:PORT or --connect HOST:PORT',
    },
    {
      name: 'the dealer without --listen or --dealer-dir',
      args: ['run', MISSING_PLAN, '--party', 'dealer'],
      command: 'run',
      says: 'the dealer needs --listen',
    },
    {
      name: 'the server with --input',
      args: [
        'run',
        MISSING_PLAN,
        '--party',
        'server',
        '--listen',
        '127.0.0.1:0',
        '--dealer',
        '127.0.0.1:2',
        '--input',
        'x.json',
      ],
      command: 'run',
      says: '--input is the client',
    },
    {
      name: 'serve: the server with both --dealer and --dealer-dir',
      args: [
        'serve',
        MISSING_PLAN,
        '--party',
        'server',
        '--listen',
        '127.0.0.1:0',
        '--dealer',
        '127.0.0.1:2',
        '--dealer-dir',
        'd',
      ],
      command: 'serve',
      says: 'the server takes one of --dealer HOST:PORT',
    },
    {
      name: 'serve: the live dealer given --dealer-dir',
      args: ['serve', MISSING_PLAN, '--party', 'dealer', '--listen', ':0', '--dealer-dir', 'd'],
      command: 'serve',
      says: 'the live dealer takes no --model, --dealer or --dealer-dir',
    },
    {
      name: 'serve --max-sessions 0',
      args: ['serve', MISSING_PLAN, '--party', 'dealer', '--listen', ':0', '--max-sessions', '0'],
      command: 'serve',
      says: '--max-sessions',
    },
    {
      name: 'an unknown --party',
      args: ['run', MISSING_PLAN, '--party', 'observer'],
      command: 'run',
      says: "'observer' is invalid",
    },
  ];

  it.each(CASES)('$name', ({ args, command, says }) => {
    const r = marillc(args);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^marillc: error: /);
    expect(lines[0]).toContain(says);
    expect(r.stderr).toContain(`usage: marillc ${command} [options]`);
    // Checked before any file is read: the missing plan is never mentioned.
    expect(r.stderr).not.toContain('cannot read file');
    expect(r.stdout).toBe('');
  });

  it('serve, like run, needs certificates or --insecure-plaintext (exit 2, before the plan is read)', () => {
    const r = marillc(['serve', MISSING_PLAN, '--party', 'dealer', '--listen', '127.0.0.1:0']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^marillc: error: the links need TLS certificates: make certificates/);
    expect(r.stderr).not.toContain('cannot read file');
  });

  it('a bare marillc prints the help with its commands on stderr, exit 2', () => {
    const r = marillc([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: marillc');
    for (const command of ['compile', 'eval', 'advise', 'run', 'simulate'])
      expect(r.stderr).toContain(command);
  });

  it('an unknown top-level option has the prefix too', () => {
    const r = marillc(['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^marillc: error: unknown option '--frobnicate'/);
  });
});

describe('--version and --help', () => {
  it('--version prints the version in package.json', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = marillc([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    }
  });

  it.each(['compile', 'eval', 'advise', 'run', 'serve', 'simulate'])(
    'marillc %s --help ends with an example',
    (command) => {
      const r = marillc([command, '--help']);
      expect(r.code).toBe(0);
      const example = r.stdout.slice(r.stdout.search(/\nExamples?( \(.*\))?:\n/));
      expect(example.length).toBeGreaterThan(0);
      // compile is the default command: its example leaves the word out.
      const invocation =
        command === 'compile' ? /\$ marillc examples\// : new RegExp(`\\$ marillc ${command} `);
      expect(example).toMatch(invocation);
    },
  );
});

describe('a reader that stops early', () => {
  it('`marillc --help | head -0`: the pipe closed before the output, it ends quietly (exit 0, no stack trace)', async () => {
    const child = spawn(process.execPath, [join(REPO, 'bin/marillc.js'), 'compile', '--help'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The reader is gone before marillc writes a byte, as with `| head -0` or a reader that quit.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 60_000);
});

describe('options that match nothing', () => {
  const dir = scratchDir();

  it('a --private glob that matches no weight is an error, and nothing is written', () => {
    const plan = join(dir, 'private.ts');
    expectOneLineError(
      marillc([GPT2, '--private', 'encoder.*', '-o', plan]),
      "--private 'encoder.*' matches no weight",
    );
    expect(existsSync(plan)).toBe(false);
  });

  it('a --public glob that matches no weight is a warning; the compile goes on', () => {
    const r = marillc([GPT2, '--public', 'encoder.*']);
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r.stderr)).toEqual([expect.stringContaining("--public 'encoder.*' matches no weight")]);
  });

  it('--client-post with no IR op of that name is an error; an op the model lacks a warning', () => {
    expectOneLineError(
      marillc([GPT2, '--client-post', 'Softmax']),
      "'Softmax' is not an op of the IR",
      "did you mean 'softmax'",
    );
    const r = marillc([GPT2, '--client-post', 'argmax']);
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r.stderr)).toEqual([expect.stringContaining("the model has no 'argmax' op")]);
  });

  it('a --base of another model family is an error naming the base file', () => {
    expectOneLineError(
      marillc([GPT2_LORA, '--base', 'examples/bert/base.onnx']),
      'examples/bert/base.onnx',
      'shares no weight with the model',
    );
  });

  it('a --base of the same family that the model shares no bytes with (a full fine-tune) is a warning', () => {
    const r = marillc(['examples/gpt2/full.onnx', '--base', GPT2]);
    expect(r.code, r.stderr).toBe(0);
    expect(warnings(r.stderr)).toEqual([
      expect.stringContaining('no weight of the model equals one of the base'),
    ]);
  });
});

describe('a plan with derived LoRA factors', () => {
  const dir = scratchDir();
  const plan = join(dir, 'plan.ts');
  const serverBundle = join(dir, 'plan.server.onnx');
  let certs: TestCertificates;

  beforeAll(async () => {
    const r = marillc([GPT2_LORA, '--base', GPT2, '-o', plan]);
    expect(r.code, r.stderr).toBe(0);
    certs = await testCertificates();
  });
  afterAll(() => certs.remove());

  it('the server given the fine-tuned model is told so, and the server bundle to pass', () => {
    const run = marillc([
      'run',
      plan,
      '--party',
      'server',
      '--model',
      GPT2_LORA,
      '--listen',
      '127.0.0.1:0',
      '--dealer',
      '127.0.0.1:1',
      '--certs',
      certs.dir,
    ]);
    const line = expectOneLineError(
      run,
      GPT2_LORA,
      'this is the fine-tuned model',
      'LoRA factors',
      `pass ${serverBundle} instead`,
    );
    expect(line).not.toContain('pass the fine-tuned model');
    const sim = marillc([
      'simulate',
      plan,
      '--server-model',
      GPT2_LORA,
      '--client-model',
      GPT2,
      '--input',
      GPT2_INPUT,
    ]);
    expectOneLineError(sim, 'this is the fine-tuned model', `pass ${serverBundle} instead`);
  });

  it('simulate writes only its results to stdout (so > out.json is JSON), its statistics to stderr', async () => {
    const r = marillc(
      ['simulate', plan, '--server-model', serverBundle, '--client-model', GPT2, '--input', GPT2_INPUT],
      { timeoutMs: 120_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { logits: number[][][] };
    expect(Object.keys(out)).toEqual(['logits']);
    expect(r.stderr).toContain('max abs error against the plaintext interpreter');
    // The fine-tuned model in onnxruntime-node: the plan's output within the fixed-point error.
    expect(maxAbsDiff(out.logits.flat(2), await ortRun(GPT2_LORA, GPT2_INPUT))).toBeLessThan(0.05);
  });
});

describe('eval and dynamic shapes', () => {
  const dir = scratchDir();

  it('takes a dynamic dimension from the input JSON (bert: sequence), equal to onnxruntime-node', async () => {
    const r = marillc(['eval', 'examples/bert/base.onnx', '--input', 'examples/bert/input.json']);
    expect(r.code, r.stderr).toBe(0);
    const ours = (JSON.parse(r.stdout) as { logits: number[][] }).logits.flat();
    expect(
      maxAbsDiff(ours, await ortRun('examples/bert/base.onnx', 'examples/bert/input.json')),
    ).toBeLessThanOrEqual(1e-4);
  });

  it('a --shape by dimension name that disagrees with the input names the input', () => {
    expectOneLineError(
      marillc([
        'eval',
        'examples/bert/base.onnx',
        '--input',
        'examples/bert/input.json',
        '--shape',
        'sequence=4',
      ]),
      'input_ids',
      '[1,4]',
    );
  });

  it('compile: every input left dynamic in one error; --shape sequence=16 fixes them all', () => {
    const line = expectOneLineError(marillc(['examples/bert/base.onnx']), '2 inputs have dynamic dimensions');
    expect(line).toContain("'input_ids' [1,<sequence>]");
    expect(line).toContain("'attention_mask' [1,<sequence>]");
    expect(line).toContain('--shape sequence=<size>');
    const fixed = marillc(['examples/bert/base.onnx', '--shape', 'sequence=16', '--emit', 'ir']);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout).toContain('%input_ids: client i64[1,16]');
    expect(fixed.stdout).toContain('%attention_mask: client i64[1,16]');
  });

  it('--out into a missing folder creates it', () => {
    const out = join(dir, 'new', 'deeper', 'out.json');
    const r = marillc(['eval', GPT2, '--input', GPT2_INPUT, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(out, 'utf8')) as object)).toEqual(['logits']);
  });
});

describe('a placed text IR (--emit ir) compiled again', () => {
  const dir = scratchDir();
  const placed = join(dir, 'placed.mir');

  beforeAll(() => {
    const r = marillc([GPT2_LORA, '--base', GPT2, '--emit', 'ir']);
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(placed, r.stdout);
  });

  it('compiles with the options that placed it', () => {
    const r = marillc([placed, '--base', GPT2]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('predicted');
  });

  it('with other decisions (no --base) is a clear error saying which forms compile', () => {
    expectOneLineError(marillc([placed]), 'already placed', 'the same --base', '--dump-after approximate');
  });
});

describe('npx marillc', () => {
  it('prints no npm warning (no unknown key in .npmrc)', () => {
    const r = spawnSync('npx', ['--no-install', 'marillc', '--version'], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/npm warn/i);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
