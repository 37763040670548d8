/**
 * `marillc serve`, with real processes: one live dealer and one server
 * (`serve`), eight clients at once each running three inferences with
 * different inputs in one session, while a client killed mid-inference, a
 * client sending garbage, one announcing a 4 GiB frame, a silent one, a
 * plain-TCP client and a TLS client without a certificate come and go (every
 * link is mutual TLS with the certificates of `marillc certs`). Every output equals the
 * plaintext interpreter's (`marillc eval` of the fine-tuned model) within the
 * fixed-point tolerance; each misbehaving connection ends only its own
 * session, with its own log line; the server then serves one more client and
 * exits 0 on SIGTERM, as does the dealer.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFilesIn } from '../../runtime/net/identity.ts';
import { evalCommand } from '../../compiler/cli/commands/eval.ts';
import { examplePath, findVariant, loadExamplesManifest, shapeFlags } from '../../examples/manifest.ts';
import type { RunningMarillc, SpawnedResult } from '../cli-harness.ts';
import { killAllSpawned, peakRssMib, scratchDir, spawnMarillc } from '../cli-harness.ts';
import type { Outputs } from './oracle.ts';
import { maxAbsDifference, parseOutputsJson } from './oracle.ts';
import type { CompiledPlan } from './pipeline.ts';
import { PROCESS_TIMEOUT_MS, compilePlan, listeningPort } from './pipeline.ts';

const TOLERANCE = 1e-2;
const TEST_TIMEOUT_MS = 300_000;
const CLIENTS = 8;
const INFERENCES = 3;
/** The server's bound on a silent connection's hello, here. */
const HANDSHAKE_S = 3;

const gpt2 = loadExamplesManifest().families.find((f) => f.name === 'gpt2')!;
const variant = findVariant(gpt2, 'lora-merged');
const baseModel = examplePath(findVariant(gpt2, 'base').file);

/**
 * The flags of every party link (dealer, server and client alike). One place,
 * so the link security (certificates or an explicit plain-text flag) changes here.
 */
function linkFlags(): string[] {
  return ['--certs', compiled.certs];
}
let root = '';
let compiled: CompiledPlan;
/** Input files and the plaintext interpreter's outputs for each. */
const inputs: string[] = [];
const expected: Outputs[] = [];
let dealer: RunningMarillc;
let server: RunningMarillc;
let dealerPort = 0;
let serverPort = 0;

/** A gpt2 input: 8 token ids below the vocabulary size, from a seed. */
function tokenInput(seed: number): string {
  const ids = Array.from({ length: 8 }, (_, i) => (seed * 37 + i * 11 + seed * i * 7) % 100);
  return JSON.stringify({ input_ids: [ids] });
}

beforeAll(async () => {
  root = scratchDir('marillc-e2e-serve-');
  // The plan in a folder of its own: the session's certificates go beside it, inside root.
  compiled = await compilePlan({ family: gpt2, variant, standard: false, dir: join(root, 'gpt2') });
  for (let k = 0; k < 4; k++) {
    const file = join(root, `input-${k}.json`);
    writeFileSync(file, tokenInput(k + 1));
    inputs.push(file);
    const out = join(root, `eval-${k}.json`);
    evalCommand(examplePath(variant.file), { input: file, out, shape: shapeFlags(gpt2) });
    expected.push(parseOutputsJson(readFileSync(out, 'utf8')));
  }
  dealer = spawnMarillc(
    ['serve', compiled.plan, '--party', 'dealer', '--listen', '127.0.0.1:0', ...linkFlags()],
    { timeoutMs: TEST_TIMEOUT_MS },
  );
  dealerPort = await listeningPort(dealer);
  server = spawnMarillc(
    [
      'serve',
      compiled.plan,
      '--party',
      'server',
      '--model',
      compiled.serverBundle,
      '--listen',
      '127.0.0.1:0',
      '--dealer',
      `127.0.0.1:${dealerPort}`,
      '--handshake-timeout',
      String(HANDSHAKE_S),
      '--max-sessions',
      '16',
      ...linkFlags(),
    ],
    { timeoutMs: TEST_TIMEOUT_MS },
  );
  serverPort = await listeningPort(server);
}, TEST_TIMEOUT_MS);

afterAll(() => {
  killAllSpawned();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** A client process running one session with these inputs (`-`: `stdin` on standard input). */
function client(inputFiles: readonly string[], out: string, stdin?: string): RunningMarillc {
  return spawnMarillc(
    [
      'run',
      compiled.plan,
      '--party',
      'client',
      '--model',
      baseModel,
      '--connect',
      `127.0.0.1:${serverPort}`,
      '--dealer',
      `127.0.0.1:${dealerPort}`,
      ...inputFiles.flatMap((f) => ['--input', f]),
      '--out',
      out,
      '--timeout',
      '60',
      ...linkFlags(),
    ],
    { timeoutMs: PROCESS_TIMEOUT_MS, ...(stdin !== undefined ? { stdin } : {}) },
  );
}

const SESSION = /session (\d+) on the server/;

async function sessionOf(c: RunningMarillc): Promise<number> {
  return Number((await c.waitForStderr(SESSION, PROCESS_TIMEOUT_MS))[1]);
}

function succeeded(r: SpawnedResult, what: string): void {
  expect(r.timedOut, `${what} hung; stderr:\n${r.stderr}`).toBe(false);
  expect(r.code, `${what} failed; stderr:\n${r.stderr}`).toBe(0);
}

/** Resolves when the server has closed a raw connection (or after `ms`, with 'open'). */
function closedBy(socket: net.Socket, ms: number): Promise<'closed' | 'open'> {
  return new Promise((resolve) => {
    // Refused at its first bytes, it may have closed already, before this was asked.
    if (socket.destroyed) return resolve('closed');
    const timer = setTimeout(() => resolve('open'), ms);
    socket.on('error', () => {});
    socket.resume(); // read (and drop) what the server sends, so its closing is seen
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
}

function rawConnection(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(serverPort, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** A TLS connection holding the client's certificate, that then sends what the test writes. */
function clientTlsConnection(): Promise<tls.TLSSocket> {
  const files = certificateFilesIn(compiled.certs, 'client');
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      {
        host: '127.0.0.1',
        port: serverPort,
        cert: readFileSync(files.cert),
        key: readFileSync(files.key),
        ca: readFileSync(files.ca),
        checkServerIdentity: () => undefined,
      },
      () => resolve(s),
    );
    s.once('error', reject);
  });
}

/** The server's log line for session `n` (it ends the line). */
function serverLine(n: number): Promise<string> {
  return server
    .waitForStderr(new RegExp(`^session ${n} from 127\\.0\\.0\\.1:\\d+: .*$`, 'm'), PROCESS_TIMEOUT_MS)
    .then((m) => m[0]);
}

describe('marillc serve', () => {
  it(
    'serves 8 concurrent clients correctly while misbehaving clients come and go, then one more, then stops on SIGTERM',
    async () => {
      const plans = Array.from({ length: CLIENTS }, (_, i) =>
        Array.from({ length: INFERENCES }, (_, k) => (i + k) % inputs.length),
      );
      const clients = plans.map((p, i) =>
        client(
          p.map((k) => inputs[k]!),
          join(root, `out-${i}.json`),
        ),
      );

      // A client killed mid-session: many inferences queued, killed once it has run a while.
      const doomed = client(Array(30).fill(inputs[0]!), join(root, 'doomed.json'));
      const doomedSession = await sessionOf(doomed);
      await new Promise((r) => setTimeout(r, 2000));
      doomed.kill();

      // With the client's certificate: garbage where the hello is due, a 4 GiB frame announced,
      // silence. Without one: plain TCP on the TLS server, and TLS with no certificate.
      const garbage = await clientTlsConnection();
      garbage.write(Buffer.concat([Buffer.from([0, 0, 0, 200]), randomBytes(200)]));
      const huge = await clientTlsConnection();
      huge.write(Buffer.from([0xff, 0xff, 0xff, 0xf0]));
      huge.write(randomBytes(64 * 1024));
      const silent = await clientTlsConnection();
      const plain = await rawConnection();
      plain.write(Buffer.concat([Buffer.from([0, 0, 0, 200]), randomBytes(200)]));
      const noCertificate = tls.connect({ host: '127.0.0.1', port: serverPort, rejectUnauthorized: false });
      const misbehaving = [garbage, huge, silent, plain, noCertificate];
      const closed = await Promise.all(misbehaving.map((s) => closedBy(s, 60_000)));
      expect(closed, server.stderr()).toEqual(misbehaving.map(() => 'closed'));
      // The 4 GiB frame was refused from its header: the server never held anything near it.
      expect(peakRssMib(server.child.pid!)).toBeLessThan(1024);

      const results = await Promise.all(clients.map((c) => c.done));
      results.forEach((r, i) => succeeded(r, `client ${i}`));
      for (let i = 0; i < CLIENTS; i++) {
        const got = JSON.parse(readFileSync(join(root, `out-${i}.json`), 'utf8')) as unknown[];
        expect(got).toHaveLength(INFERENCES);
        got.forEach((o, k) => {
          const error = maxAbsDifference(parseOutputsJson(JSON.stringify(o)), expected[plans[i]![k]!]!);
          expect(error, `client ${i}, inference ${k}`).toBeLessThanOrEqual(TOLERANCE);
        });
        const line = await serverLine(await sessionOf(clients[i]!));
        expect(line).toMatch(/: 3 inferences, \d+\.\d MiB, \d+\.\d s$/);
      }
      expect((await doomed.done).signal).toBe('SIGKILL');
      expect(await serverLine(doomedSession)).toMatch(
        /: ended: .*the client at \S+ closed the connection.* \(after \d+ inferences?, /,
      );
      const log = server.stderr();
      expect(log).toMatch(/: ended: .*the client at \S+ sent something that is not a marill-2pc hello/);
      expect(log).toMatch(/: ended: .*the client at \S+ announced a 4294967280-byte message, over the limit/);
      expect(log).toMatch(new RegExp(`: ended: refused before its hello: no hello within ${HANDSHAKE_S} s`));
      expect(log).toMatch(/: ended: refused before its hello: the peer does not speak TLS/);
      expect(log).toMatch(/: ended: refused before its hello: TLS: .*certificate/);
      // One line per connection: the 8 clients, the killed one and the four raw connections.
      expect(log.match(/^session \d+ from /gm)).toHaveLength(CLIENTS + 1 + misbehaving.length);

      // Still up: one more client, its one input on standard input, its one output an object.
      const last = client(['-'], join(root, 'last.json'), readFileSync(inputs[3]!, 'utf8'));
      succeeded(await last.done, 'the last client');
      const lastOut = parseOutputsJson(readFileSync(join(root, 'last.json'), 'utf8'));
      expect(maxAbsDifference(lastOut, expected[3]!)).toBeLessThanOrEqual(TOLERANCE);

      server.child.kill('SIGTERM');
      const s = await server.done;
      expect(s.signal, s.stderr).toBeNull();
      expect(s.code, s.stderr).toBe(0);
      // Sessions that began (a hello-sized first message over TLS with a client certificate): the
      // clients, the killed one, the last one and the garbage; the others were refused before.
      expect(s.stderr).toMatch(
        new RegExp(`server: stopped after ${CLIENTS + 3} session\\(s\\), \\d+ inference\\(s\\)`),
      );
      dealer.child.kill('SIGTERM');
      const d = await dealer.done;
      expect(d.code, d.stderr).toBe(0);
      // The dealer paired every client's session with the server's: one line per session that ran.
      expect(d.stderr.match(/^session [0-9a-f]{12}: /gm)?.length).toBeGreaterThanOrEqual(CLIENTS + 1);
    },
    TEST_TIMEOUT_MS,
  );
});
