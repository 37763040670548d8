/**
 * Bad input to `marillc run`, with real processes: each failure is a one-line
 * `marillc: error: ...` and a non-zero exit on the side that detects it, the
 * other side ends with an error too, and nothing hangs (every process has a
 * hard timeout; the parties' own --timeout is short where a side must give up
 * waiting). The scenarios are independent and mostly wait, so they run
 * concurrently.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExampleFamily } from '../../examples/manifest.ts';
import { examplePath, findVariant, loadExamplesManifest } from '../../examples/manifest.ts';
import type { SpawnedResult } from '../cli-harness.ts';
import { killAllSpawned, scratchDir, spawnMarillc } from '../cli-harness.ts';
import type { CompiledPlan } from './pipeline.ts';
import { PROCESS_TIMEOUT_MS, compilePlan, dealerArgs, listeningPort } from './pipeline.ts';
import { startCuttingProxy } from './proxy.ts';
import { writeWithOneWeightChanged } from './weights.ts';

const TEST_TIMEOUT_MS = 120_000;
/** Hard limit on each party here: well under the test's, so a hang fails as a hang, with stderr. */
const PARTY_TIMEOUT_MS = 60_000;
/** How long a party waits for a peer that will never come, in these tests. */
const GIVE_UP_S = '4';

const manifest = loadExamplesManifest();
const gpt2 = manifest.families.find((f) => f.name === 'gpt2')!;
const llama = manifest.families.find((f) => f.name === 'llama')!;
const base = (f: ExampleFamily) => examplePath(findVariant(f, 'base').file);
const gpt2Model = (variant: string) => examplePath(findVariant(gpt2, variant).file);
const input = examplePath(gpt2.inputFile);

let root = '';
/** gpt2 frozen: the fine-tuned ONNX serves it. gpt2 lora-merged: needs the server bundle. */
let frozen: CompiledPlan;
let lora: CompiledPlan;

beforeAll(async () => {
  root = scratchDir('marillc-e2e-fail-');
  [frozen, lora] = await Promise.all(
    (['frozen', 'lora-merged'] as const).map((style) =>
      compilePlan({
        family: gpt2,
        variant: findVariant(gpt2, style),
        standard: false,
        dir: join(root, style),
      }),
    ),
  );
  // Dealer material ahead to files, one inference each: the scenarios below fail before using it.
  const dealers = [frozen, lora].map((p) =>
    spawnMarillc(dealerArgs(p, 'dir'), { timeoutMs: PROCESS_TIMEOUT_MS }),
  );
  for (const d of await Promise.all(dealers.map((x) => x.done)))
    if (d.code !== 0) throw new Error(`the dealer failed:\n${d.stderr}`);
}, TEST_TIMEOUT_MS);

afterAll(() => {
  killAllSpawned();
  rmSync(root, { recursive: true, force: true });
});

/** The folder the dealer wrote (DIR/server and DIR/client below it). */
const materialOf = (p: CompiledPlan) => join(p.dir, 'dealer');

/**
 * `marillc run PLAN --party P` with a hard timeout, over TLS with the
 * session's certificates unless the flags choose the link themselves.
 */
function party(
  plan: string,
  who: 'server' | 'client' | 'dealer',
  flags: readonly string[],
  opts: { noLink?: boolean } = {},
) {
  const chosen = flags.some((f) => f === '--insecure-plaintext' || f.startsWith('--tls-') || f === '--certs');
  const link = chosen || opts.noLink ? [] : ['--certs', frozen.certs];
  return spawnMarillc(['run', plan, '--party', who, ...link, ...flags], { timeoutMs: PARTY_TIMEOUT_MS });
}

/** A server's flags: its model, where it listens, and its own dealer material (DIR/server). */
function serverFlags(model: string, listen: string, dealerDir: string): string[] {
  return ['--model', model, '--listen', listen, '--dealer-dir', join(dealerDir, 'server')];
}

/** A client's flags: its model, the server's address, its own dealer material (DIR/client), the sample input. */
function clientFlags(model: string, connect: string, dealerDir: string): string[] {
  return [
    '--model',
    model,
    '--connect',
    connect,
    '--dealer-dir',
    join(dealerDir, 'client'),
    '--input',
    input,
  ];
}

/**
 * The process ended by itself with exit code 1 and exactly one error line,
 * `marillc: error: ...` matching `pattern`, and no stack trace.
 */
function expectOneLineError(r: SpawnedResult, pattern: RegExp, code = 1): void {
  expect(r.timedOut, `killed by the test's hard timeout; stderr:\n${r.stderr}`).toBe(false);
  expect(r.signal).toBeNull();
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('marillc: error: '));
  expect(errors, r.stderr).toHaveLength(1);
  expect(errors[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.code, r.stderr).toBe(code);
}

/** A loopback port nobody listens on (bound by the OS, then released). */
async function unusedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe.concurrent('a model that does not match the plan', () => {
  it(
    'a server given another variant’s model refuses it by weight hash; the client, with no server, errs too',
    async () => {
      const port = await unusedPort();
      const server = party(
        frozen.plan,
        'server',
        serverFlags(gpt2Model('full'), `127.0.0.1:${port}`, materialOf(frozen)),
      );
      const client = party(frozen.plan, 'client', [
        ...clientFlags(base(gpt2), `127.0.0.1:${port}`, materialOf(frozen)),
        '--timeout',
        GIVE_UP_S,
      ]);
      const [s, c] = await Promise.all([server.done, client.done]);
      expectOneLineError(
        s,
        /weight '[^']+' \((sha256|keyed hash) [0-9a-f]{12}…\) has other content under that name/,
      );
      expect(s.stderr).toContain('full.onnx');
      expectOneLineError(c, /cannot connect to the server at 127\.0\.0\.1:\d+/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a client given another family’s base model refuses it; the server gives up waiting for it',
    async () => {
      const server = party(frozen.plan, 'server', [
        ...serverFlags(gpt2Model('frozen'), '127.0.0.1:0', materialOf(frozen)),
        '--timeout',
        GIVE_UP_S,
      ]);
      const port = await listeningPort(server);
      const client = party(
        frozen.plan,
        'client',
        clientFlags(base(llama), `127.0.0.1:${port}`, materialOf(frozen)),
      );
      const [s, c] = await Promise.all([server.done, client.done]);
      expectOneLineError(c, /weight '[^']+' \(sha256 [0-9a-f]{12}…\) is not in it: pass the base model/);
      expectOneLineError(s, new RegExp(`no client connected to port ${port} within ${GIVE_UP_S} s`));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a client whose base model has one public weight changed refuses it by hash',
    async () => {
      const modified = join(root, 'base-modified.onnx');
      writeWithOneWeightChanged(base(gpt2), 'transformer.wte.weight', modified);
      const client = party(
        frozen.plan,
        'client',
        clientFlags(modified, `127.0.0.1:${await unusedPort()}`, materialOf(frozen)),
      );
      expectOneLineError(
        await client.done,
        /base-modified\.onnx: weight 'transformer\.wte\.weight' \(sha256 [0-9a-f]{12}…\) has other content under that name/,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a server given the fine-tuned model of a plan with derived (LoRA) weights asks for the server bundle',
    async () => {
      const server = party(
        lora.plan,
        'server',
        serverFlags(gpt2Model('lora-merged'), '127.0.0.1:0', materialOf(lora)),
      );
      expectOneLineError(
        await server.done,
        /lora-merged\.onnx: this is the fine-tuned model, but the plan runs '[^']+' as its base weight plus LoRA factors the compiler derived \('[^']+\.lora_[AB][^']*'\), which only the server bundle holds: pass \S+\.server\.onnx instead$/,
      );
    },
    TEST_TIMEOUT_MS,
  );
});

describe.concurrent('parties that do not belong to one session', () => {
  it(
    'two parties running different plans refuse each other at the handshake',
    async () => {
      const server = party(
        frozen.plan,
        'server',
        serverFlags(gpt2Model('frozen'), '127.0.0.1:0', materialOf(frozen)),
      );
      const port = await listeningPort(server);
      const client = party(
        lora.plan,
        'client',
        clientFlags(base(gpt2), `127.0.0.1:${port}`, materialOf(lora)),
      );
      const [s, c] = await Promise.all([server.done, client.done]);
      expectOneLineError(
        s,
        /handshake: refusing the client at [^:]+:\d+: plan differs \(this side [0-9a-f]{12}…, client [0-9a-f]{12}…\)/,
      );
      expectOneLineError(
        c,
        /handshake: refusing the server at [^:]+:\d+: plan differs \(this side [0-9a-f]{12}…, server [0-9a-f]{12}…\)/,
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a party given dealer material of another plan refuses it',
    async () => {
      const client = party(
        frozen.plan,
        'client',
        clientFlags(base(gpt2), `127.0.0.1:${await unusedPort()}`, materialOf(lora)),
      );
      expectOneLineError(await client.done, /was generated for another plan/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'an edited plan.ts (one number changed in a node) is refused by both parties',
    async () => {
      const source = readFileSync(frozen.plan, 'utf8');
      const edited = source.replace(
        /"epsilon": ([0-9.e-]+)/,
        (_m, eps: string) => `"epsilon": ${Number(eps) * 2}`,
      );
      expect(edited).not.toBe(source);
      const planFile = join(frozen.dir, 'plan-edited.ts');
      writeFileSync(planFile, edited);
      const port = await unusedPort();
      const server = party(
        planFile,
        'server',
        serverFlags(gpt2Model('frozen'), `127.0.0.1:${port}`, materialOf(frozen)),
      );
      const client = party(
        planFile,
        'client',
        clientFlags(base(gpt2), `127.0.0.1:${port}`, materialOf(frozen)),
      );
      const hashError =
        /plan-edited\.ts: plan '[^']*' states hash [0-9a-f]{12}… but its content hashes to [0-9a-f]{12}…/;
      const [s, c] = await Promise.all([server.done, client.done]);
      expectOneLineError(s, hashError);
      expectOneLineError(c, hashError);
    },
    TEST_TIMEOUT_MS,
  );
});

describe.concurrent('links: TLS against plain TCP, certificates of the wrong role', () => {
  // The server keeps waiting for its real peer after a refusal: the test stops it once it has said so.
  it(
    'a plain client against a TLS server fails at once, told that TLS is required; the server notes it',
    async () => {
      const server = party(
        frozen.plan,
        'server',
        serverFlags(gpt2Model('frozen'), '127.0.0.1:0', materialOf(frozen)),
      );
      try {
        const port = await listeningPort(server);
        const client = party(frozen.plan, 'client', [
          ...clientFlags(base(gpt2), `127.0.0.1:${port}`, materialOf(frozen)),
          '--insecure-plaintext',
        ]);
        const c = await client.done;
        expectOneLineError(c, /the server at \S+ refused this connection: this party requires TLS/);
        expect(c.stderr).toMatch(/^marillc: warning: --insecure-plaintext/m);
        await server.waitForStderr(
          /^server: refused a connection from the client at \S+: the peer does not speak TLS \(started with --insecure-plaintext\?\)$/m,
          PROCESS_TIMEOUT_MS,
        );
      } finally {
        server.kill();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a TLS client against a plain server fails at once: the peer does not speak TLS',
    async () => {
      const server = party(frozen.plan, 'server', [
        ...serverFlags(gpt2Model('frozen'), '127.0.0.1:0', materialOf(frozen)),
        '--insecure-plaintext',
      ]);
      try {
        const port = await listeningPort(server);
        const client = party(
          frozen.plan,
          'client',
          clientFlags(base(gpt2), `127.0.0.1:${port}`, materialOf(frozen)),
        );
        expectOneLineError(
          await client.done,
          /cannot connect to the server at \S+: the peer does not speak TLS \(started with --insecure-plaintext\?\)/,
        );
        await server.waitForStderr(
          /^server: refused a connection from the client at \S+: the peer speaks TLS/m,
          PROCESS_TIMEOUT_MS,
        );
        expect(server.stderr()).toMatch(/^marillc: warning: --insecure-plaintext: the server's links/m);
      } finally {
        server.kill();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a client that reaches the dealer instead of the server refuses its certificate',
    async () => {
      const dealer = spawnMarillc(dealerArgs(frozen, 'live'), { timeoutMs: PARTY_TIMEOUT_MS });
      try {
        const port = await listeningPort(dealer);
        const client = party(
          frozen.plan,
          'client',
          clientFlags(base(gpt2), `127.0.0.1:${port}`, materialOf(frozen)),
        );
        expectOneLineError(
          await client.done,
          /cannot connect to the server at \S+: TLS: its certificate names the dealer's, not the server's/,
        );
      } finally {
        dealer.kill();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe.concurrent('a peer that fails mid-run', () => {
  /** Live dealer, server, and a client reaching the server through a relay that cuts at 64 KiB. */
  async function cutRun(afterCut: 'close' | 'silence', clientTimeoutS: string) {
    const dealer = spawnMarillc(dealerArgs(lora, 'live'), { timeoutMs: PARTY_TIMEOUT_MS });
    const dport = await listeningPort(dealer);
    const server = party(lora.plan, 'server', [
      '--model',
      lora.serverBundle,
      '--listen',
      '127.0.0.1:0',
      '--dealer',
      `127.0.0.1:${dport}`,
    ]);
    const proxy = await startCuttingProxy(await listeningPort(server), 64 * 1024, afterCut);
    try {
      const client = party(lora.plan, 'client', [
        '--model',
        base(gpt2),
        '--connect',
        `127.0.0.1:${proxy.port}`,
        '--dealer',
        `127.0.0.1:${dport}`,
        '--input',
        input,
        '--timeout',
        clientTimeoutS,
      ]);
      // The cut comes mid-run (the server sends hundreds of KiB in all), or the run ended early.
      const first = await Promise.race([proxy.cut.then(() => 'cut'), client.done.then(() => 'client ended')]);
      expect(first, client.stderr()).toBe('cut');
      server.kill();
      const [d, s, c] = await Promise.all([dealer.done, server.done, client.done]);
      return { dealer: d, server: s, client: c };
    } finally {
      proxy.close();
    }
  }

  it(
    'a server killed mid-run: the client ends with an error naming the server, the dealer ends too',
    async () => {
      const r = await cutRun('close', '60');
      expect(r.server.signal).toBe('SIGKILL');
      expectOneLineError(
        r.client,
        /(%\d+ = \w+: )?(the server at \S+ closed the connection|connection to the server at \S+ (was closed|failed))/,
      );
      expect(r.dealer.timedOut).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a server gone silent mid-run (connection left open): the client gives up after --timeout',
    async () => {
      const r = await cutRun('silence', GIVE_UP_S);
      expectOneLineError(r.client, new RegExp(`no message from the server at \\S+ within ${GIVE_UP_S} s`));
      expect(r.dealer.timedOut).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );
});

describe.concurrent('a port in use', () => {
  it(
    'the dealer and the server say so; a client that reached the port’s owner gives up',
    async () => {
      const squatter = net.createServer(() => {}); // accepts and never answers
      await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
      const port = (squatter.address() as net.AddressInfo).port;
      try {
        const dealer = party(frozen.plan, 'dealer', ['--listen', `127.0.0.1:${port}`]);
        const server = party(
          frozen.plan,
          'server',
          serverFlags(gpt2Model('frozen'), `127.0.0.1:${port}`, materialOf(frozen)),
        );
        const client = party(frozen.plan, 'client', [
          ...clientFlags(base(gpt2), `127.0.0.1:${port}`, materialOf(frozen)),
          '--timeout',
          GIVE_UP_S,
        ]);
        const [d, s, c] = await Promise.all([dealer.done, server.done, client.done]);
        const inUse = new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`);
        expectOneLineError(d, inUse);
        expectOneLineError(s, inUse);
        // The squatter never answers the TLS handshake.
        expectOneLineError(
          c,
          new RegExp(`cannot connect to the server at \\S+: no TLS handshake within ${GIVE_UP_S} s`),
        );
      } finally {
        squatter.close();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe.concurrent('missing or incomplete flags', () => {
  const flagCases: readonly {
    what: string;
    plan: () => string;
    who: 'server' | 'client';
    flags: () => string[];
    error: RegExp;
    /** Exit code: 1 for bad input, 2 for bad usage. */
    code?: number;
    /** Pass no link flags at all. */
    noLink?: boolean;
  }[] = [
    {
      what: 'a client without --input',
      plan: () => frozen.plan,
      who: 'client',
      flags: () => [
        '--model',
        base(gpt2),
        '--connect',
        '127.0.0.1:9',
        '--dealer-dir',
        join(materialOf(frozen), 'client'),
      ],
      error: /the plan needs client inputs \(.+\): --input is missing/,
    },
    {
      what: 'a server without --model',
      plan: () => frozen.plan,
      who: 'server',
      flags: () => ['--listen', '127.0.0.1:0', '--dealer-dir', join(materialOf(frozen), 'server')],
      error: /the server needs \d+ weight\(s\) of this plan: --model is missing/,
    },
    {
      what: 'a client without --model for a plan with public weights',
      plan: () => frozen.plan,
      who: 'client',
      flags: () => [
        '--connect',
        '127.0.0.1:9',
        '--dealer-dir',
        join(materialOf(frozen), 'client'),
        '--input',
        input,
      ],
      error: /the client needs \d+ weight\(s\) of this plan: --model is missing \(pass the base model/,
    },
    {
      what: '--tls-cert without --tls-key and --tls-ca',
      plan: () => frozen.plan,
      who: 'client',
      flags: () => [
        ...clientFlags(base(gpt2), '127.0.0.1:9', materialOf(frozen)),
        '--tls-cert',
        join(root, 'cert.pem'),
      ],
      error: /TLS needs all of --tls-cert, --tls-key and --tls-ca/,
      code: 2,
    },
    {
      what: 'neither certificates nor --insecure-plaintext (plain TCP is never the silent default)',
      plan: () => frozen.plan,
      who: 'server',
      flags: () => serverFlags(gpt2Model('frozen'), '127.0.0.1:0', materialOf(frozen)),
      noLink: true,
      error:
        /the links need TLS certificates: make certificates with `marillc certs --out DIR` and pass --certs DIR/,
      code: 2,
    },
    {
      what: "a server given the client's certificate",
      plan: () => frozen.plan,
      who: 'server',
      flags: () => [
        ...serverFlags(gpt2Model('frozen'), '127.0.0.1:0', materialOf(frozen)),
        '--tls-cert',
        join(frozen.certs, 'client.pem'),
        '--tls-key',
        join(frozen.certs, 'client-key.pem'),
        '--tls-ca',
        join(frozen.certs, 'ca.pem'),
      ],
      error: /client\.pem: is the client's certificate, but this party is the server/,
    },
    {
      what: "a client given the server's dealer material folder",
      plan: () => frozen.plan,
      who: 'client',
      flags: () => [
        '--model',
        base(gpt2),
        '--connect',
        '127.0.0.1:9',
        '--dealer-dir',
        join(materialOf(frozen), 'server'),
        '--input',
        input,
      ],
      error:
        /dealer[/\\]server: is the server's dealer material: the client must be given only its own folder/,
    },
    {
      what: 'a client given the folder that holds both parties’ dealer material',
      plan: () => frozen.plan,
      who: 'client',
      flags: () => [
        '--model',
        base(gpt2),
        '--connect',
        '127.0.0.1:9',
        '--dealer-dir',
        materialOf(frozen),
        '--input',
        input,
      ],
      error: /dealer: holds both parties' dealer material: give the client only its own folder/,
    },
  ];

  it.each(flagCases)(
    '$what: a one-line error',
    async ({ plan, who, flags, error, code, noLink }) => {
      expectOneLineError(await party(plan(), who, flags(), { noLink }).done, error, code);
    },
    TEST_TIMEOUT_MS,
  );
});
