/**
 * `--setting` on the command line (docs/cli.md): an unknown setting is bad
 * usage naming the allowed ones; a '2pc' compile states the setting in the
 * plan and reports the parties' preprocessing apart from the online figures;
 * `run` and `serve` of a '2pc' plan refuse a dealer, and a plan of the dealer
 * setting still needs one. The model here has only ops that read no dealer
 * randomness (a server bias added to the client's input), so it compiles in
 * '2pc' whatever correlations can be made without a dealer.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeOnnx, makeModel } from '../compiler/onnx/write.ts';
import { otSessionSetupCost } from '../runtime/twopc/triples.ts';
import { marillc, scratchDir } from './cli-harness.ts';

const dir = scratchDir('marillc-setting-');
const MODEL = join(dir, 'bias.onnx');
const PLAN_2PC = join(dir, 'plan-2pc.ts');
const PLAN_DEALER = join(dir, 'plan-dealer.ts');

function expectUsage(r: { code: number; stderr: string; stdout: string }, says: string): void {
  expect(r.code, r.stderr).toBe(2);
  // After the warning --insecure-plaintext gives, if any.
  const first = r.stderr
    .trimEnd()
    .split('\n')
    .filter((l) => !l.startsWith('marillc: warning: '))[0]!;
  expect(first).toMatch(/^marillc: error: /);
  expect(first).toContain(says);
  expect(r.stdout).toBe('');
}

beforeAll(() => {
  writeFileSync(
    MODEL,
    encodeOnnx(
      makeModel({
        opset: 17,
        inputs: [{ name: 'x', type: 'float', shape: [1, 8] }],
        outputs: [{ name: 'y', type: 'float' }],
        initializers: [
          { name: 'bias', type: 'float', dims: [8], values: Array.from({ length: 8 }, (_, i) => i / 8) },
        ],
        nodes: [{ op: 'Add', name: 'add', inputs: ['x', 'bias'], outputs: ['y'] }],
      }),
    ),
  );
  for (const [plan, setting] of [
    [PLAN_2PC, '2pc'],
    [PLAN_DEALER, '2pc-dealer'],
  ] as const) {
    const r = marillc([MODEL, '--setting', setting, '-o', plan]);
    expect(r.code, r.stderr).toBe(0);
  }
});

describe('marillc MODEL --setting', () => {
  it('an unknown setting is bad usage naming the allowed ones', () => {
    const r = marillc([MODEL, '--setting', 'bogus']);
    expectUsage(r, "argument 'bogus' is invalid. Allowed choices are 2pc-dealer, 2pc");
  });

  it('a 2pc plan states its setting; the dealer setting states none (its hash as before)', () => {
    expect(readFileSync(PLAN_2PC, 'utf8')).toMatch(/"setting": "2pc",/);
    expect(readFileSync(PLAN_DEALER, 'utf8')).not.toContain('"setting"');
  });

  it('--report and the summary show the setting and the preprocessing apart from online', () => {
    const report = join(dir, 'report.json');
    const r = marillc([MODEL, '--setting', '2pc', '--report', report]);
    expect(r.code, r.stderr).toBe(0);
    const cost = (JSON.parse(readFileSync(report, 'utf8')) as { cost: Record<string, unknown> }).cost;
    expect(cost['setting']).toBe('2pc');
    const total = cost['total'] as Record<string, number>;
    const setup = otSessionSetupCost();
    expect(total['offline_bytes']).toBe(0);
    expect(total['preprocess_bytes']).toBe(0); // an addition reads no correlation
    expect(total['preprocess_setup_bytes']).toBe(setup.bytes[0] + setup.bytes[1]);
    expect(total['preprocess_setup_rounds']).toBe(setup.flights);
    for (const key of [
      'preprocess_rounds',
      'preprocess_seconds',
      'total_seconds',
      'preprocess_setup_seconds',
    ])
      expect(typeof total[key], key).toBe('number');
    for (const op of cost['ops'] as Record<string, unknown>[])
      for (const key of ['preprocess_bytes', 'preprocess_rounds', 'preprocess_seconds'])
        expect(typeof op[key], key).toBe('number');
    expect(r.stdout).toMatch(
      /predicted \(2pc, lan\): online .* preprocessing by the parties 0 B in 0 rounds/,
    );
    expect(r.stdout).toContain('base OTs once per session 8.06 KiB in 3 rounds');

    const table = marillc([MODEL, '--setting', '2pc', '--emit', 'cost']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/online +rounds +est\. ms +preproc\. +p\. rounds +p\. ms/);
    const dealer = marillc([MODEL, '--emit', 'cost']);
    expect(dealer.stdout.split('\n')[0]).toMatch(/online +offline +rounds +est\. ms$/);
    expect(dealer.stdout).toContain('predicted (2pc-dealer, lan)');
  });
});

describe('marillc inspect', () => {
  it('says a 2pc plan has no dealer; a plan of the dealer setting keeps its dealer line', () => {
    const r = marillc(['inspect', PLAN_2PC]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/fractional bits, setting 2pc \(no dealer\)$/);
    expect(r.stdout).toContain(
      'No dealer (setting 2pc): the server and the client make the correlated randomness',
    );
    expect(r.stdout).toMatch(
      /the client sends .* per inference; 0 B more making the correlations before each inference/,
    );
    expect(r.stdout).not.toContain('The dealer learns');
    const d = marillc(['inspect', PLAN_DEALER]);
    expect(d.stdout).toContain('The dealer learns no input');
    expect(d.stdout).not.toContain('setting 2pc');
  });
});

describe('running a 2pc plan: no dealer', () => {
  const tls = ['--insecure-plaintext'];
  const refusal = `plan ${PLAN_2PC} is compiled for setting 2pc: it runs without a dealer`;

  it('run --dealer and --dealer-dir are refused', () => {
    const server = ['run', PLAN_2PC, '--party', 'server', '--listen', '127.0.0.1:0', ...tls];
    expectUsage(marillc([...server, '--dealer', '127.0.0.1:1']), `${refusal} (drop --dealer)`);
    const client = ['run', PLAN_2PC, '--party', 'client', '--connect', '127.0.0.1:1', ...tls];
    expectUsage(marillc([...client, '--dealer-dir', dir]), `${refusal} (drop --dealer-dir)`);
  });

  it('run --party dealer is refused, live or writing material', () => {
    expectUsage(
      marillc(['run', PLAN_2PC, '--party', 'dealer', '--listen', '127.0.0.1:0', ...tls]),
      `${refusal} (drop --party dealer)`,
    );
    expectUsage(
      marillc(['run', PLAN_2PC, '--party', 'dealer', '--dealer-dir', join(dir, 'material')]),
      `${refusal} (drop --party dealer, --dealer-dir)`,
    );
  });

  it('serve --party dealer and serve --dealer are refused', () => {
    expectUsage(
      marillc(['serve', PLAN_2PC, '--party', 'dealer', '--listen', '127.0.0.1:0', ...tls]),
      `${refusal} (drop --party dealer)`,
    );
    expectUsage(
      marillc([
        'serve',
        PLAN_2PC,
        '--party',
        'server',
        '--listen',
        '127.0.0.1:0',
        '--dealer',
        '127.0.0.1:1',
        ...tls,
      ]),
      `${refusal} (drop --dealer)`,
    );
  });

  it('a plan of the dealer setting still needs one (checked once the plan is read)', () => {
    const r = marillc(['run', PLAN_DEALER, '--party', 'server', '--listen', '127.0.0.1:0', ...tls]);
    expectUsage(r, 'the server needs exactly one of --dealer HOST:PORT');
    const s = marillc(['serve', PLAN_DEALER, '--party', 'server', '--listen', '127.0.0.1:0', ...tls]);
    expectUsage(s, 'the server needs exactly one of --dealer HOST:PORT');
  });
});
