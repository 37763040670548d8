// The serving runtime in one process, over TCP on loopback: a live dealer and a server for many
// sessions; concurrent sessions with different inputs get their own results (against the plaintext
// interpreter); a material folder is shared by sessions without any inference used twice; a busy
// server and a TLS server refuse what they must with a message on the client's side.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MarillError } from '../../ir/errors.ts';
import { interpret } from '../../ir/interpret.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { tensorMaxAbsDiff } from '../../ir/tensor.ts';
import type { TestCertificates } from '../../test/runtime/certs.ts';
import { testCertificates } from '../../test/runtime/certs.ts';
import { SMALL_LAYER, bertEncoderLayer, layerInput, layerWeights } from '../../test/runtime/layers.ts';
import { MaterialFolder, writeDealerMaterial } from '../dealer/files.ts';
import { DealerService, liveDealerFeed } from '../dealer/live.ts';
import type { MaterialFlags } from '../dealer/provider.ts';
import { materialProvider } from '../dealer/provider.ts';
import { CheckedWeights } from '../executor.ts';
import type { Role } from '../net/identity.ts';
import type { LinkOptions } from '../net/tcp.ts';
import { parseEndpoint } from '../net/tcp.ts';
import { runParty } from '../party.ts';
import { makePlan } from '../plan.ts';
import type { SessionLogEntry } from './log.ts';
import { formatLogLine } from './log.ts';
import { PartyServer } from './server.ts';

const layer = { ...SMALL_LAYER, seed: 31, nonlinear: false };
const graph = bertEncoderLayer(layer);
const plan = makePlan(graph);
const dirs: string[] = [];
let certs: TestCertificates;
beforeAll(async () => {
  certs = await testCertificates();
});
afterAll(() => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  certs.remove();
});

/** Every link is mutual TLS with the certificate of the role (the default the CLI enforces too). */
const tlsFor = (role: Role): LinkOptions => ({ tls: certs.files(role) });
const PLAIN: LinkOptions = { insecurePlaintext: true };

async function startServer(material: MaterialFlags, opts: { maxSessions?: number } = {}) {
  const log: SessionLogEntry[] = [];
  const server = await PartyServer.start({
    weights: CheckedWeights.check(plan, 'server', layerWeights(graph, 'server')),
    listen: parseEndpoint('127.0.0.1:0'),
    ...tlsFor('server'),
    material: materialProvider(plan, 'server', material, tlsFor('server')),
    handshakeTimeoutMs: 5_000,
    timeoutMs: 30_000,
    onLog: (e) => log.push(e),
    ...opts,
  });
  return { server, log };
}

function client(
  port: number,
  material: MaterialFlags,
  seeds: readonly number[],
  link: LinkOptions = tlsFor('client'),
) {
  return runParty({
    plan,
    party: 'client',
    weights: layerWeights(graph, 'client'),
    inputs: seeds.map((s) => new Map([['hidden_in', layerInput(layer, s)]])),
    connect: `127.0.0.1:${port}`,
    ...material,
    ...link,
    timeoutMs: 30_000,
  });
}

function expectPlaintext(outputs: Map<string, Tensor>[], seeds: readonly number[]): void {
  expect(outputs).toHaveLength(seeds.length);
  seeds.forEach((s, k) => {
    const want = interpret(graph, new Map([['hidden_in', layerInput(layer, s)]])).get('hidden_out')!;
    expect(tensorMaxAbsDiff(outputs[k]!.get('hidden_out')!, want)).toBeLessThanOrEqual(1e-2);
  });
}

describe('serving many sessions', () => {
  it('two concurrent sessions with different inputs each get their own results (live dealer)', async () => {
    const dealer = await DealerService.start({
      plan,
      listen: parseEndpoint('127.0.0.1:0'),
      ...tlsFor('dealer'),
      timeoutMs: 30_000,
    });
    const material = { dealer: `127.0.0.1:${dealer.port}` };
    const { server, log } = await startServer(material);
    try {
      const [a, b] = await Promise.all([
        client(server.port, material, [1, 2]),
        client(server.port, material, [3, 4, 5]),
      ]);
      expectPlaintext(a.outputs, [1, 2]);
      expectPlaintext(b.outputs, [3, 4, 5]);
      // Different inputs, different results: no session saw the other's.
      expect(
        tensorMaxAbsDiff(a.outputs[0]!.get('hidden_out')!, b.outputs[0]!.get('hidden_out')!),
      ).toBeGreaterThan(0.1);
      // The client's report: setup once, then each inference with the same traffic.
      expect(b.inferences).toHaveLength(3);
      expect(new Set(b.inferences!.map((i) => i.online_bytes)).size).toBe(1);
      expect(b.inferences![0]!.online_bytes).toBeGreaterThan(0);
    } finally {
      server.shutdown();
      dealer.stop();
    }
    const summary = await server.done;
    expect(summary).toEqual({ sessions: 2, inferences: 5 });
    expect(
      log
        .filter((e) => e.event === 'session')
        .map((e) => e.inferences)
        .sort(),
    ).toEqual([2, 3]);
    expect(log.every((e) => e.ended === undefined)).toBe(true);
    const dealt = await dealer.done;
    expect(dealt.sessions).toBe(2);
    expect(dealt.inferences).toBe(5);
  });

  it('sessions share a material folder: every inference used once, then a clear refusal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'marill-serve-'));
    dirs.push(dir);
    writeDealerMaterial(plan, dir, 4);
    const { server } = await startServer({ dealerDir: join(dir, 'server') });
    try {
      // Each client has its own copy of the client folder's use record: here one folder, read in turn.
      const first = await client(server.port, { dealerDir: join(dir, 'client') }, [6, 7]);
      expectPlaintext(first.outputs, [6, 7]);
      const second = await client(server.port, { dealerDir: join(dir, 'client') }, [8]);
      expectPlaintext(second.outputs, [8]);
      const err = await client(server.port, { dealerDir: join(dir, 'client') }, [9, 10]).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MarillError);
      expect((err as MarillError).message).toMatch(
        /the server at .* refused the inference: all 4 inference\(s\) of this dealer material are used/,
      );
    } finally {
      server.shutdown();
    }
    await server.done;
    // The folder is spent, and an index below a party's own record is refused, whatever the peer asks.
    expect(() => MaterialFolder.open(plan, 'client', join(dir, 'client'))).toThrow(
      /all 4 inference\(s\) .* are used/,
    );
    const fresh = mkdtempSync(join(tmpdir(), 'marill-serve-'));
    dirs.push(fresh);
    writeDealerMaterial(plan, fresh, 3);
    const folder = MaterialFolder.open(plan, 'client', join(fresh, 'client'));
    expect(folder.reserve(1)).toBe(1);
    expect(() => folder.reserve(0)).toThrow(/inference 0 of this dealer material is already used/);
    expect(() => folder.reserve(1)).toThrow(/already used/);
    expect(folder.reserve()).toBe(2);
  });

  it('shutdown lets the running inference finish, then refuses the next with a message', async () => {
    const dealer = await DealerService.start({
      plan,
      listen: parseEndpoint('127.0.0.1:0'),
      ...tlsFor('dealer'),
      timeoutMs: 30_000,
    });
    const material = { dealer: `127.0.0.1:${dealer.port}` };
    const { server, log } = await startServer(material);
    let stopped = false;
    const running = runParty({
      plan,
      party: 'client',
      weights: layerWeights(graph, 'client'),
      inputs: [1, 2, 3, 4].map((s) => new Map([['hidden_in', layerInput(layer, s)]])),
      connect: `127.0.0.1:${server.port}`,
      ...material,
      ...tlsFor('client'),
      timeoutMs: 30_000,
      // Mid-way through the first inference (after its first node), the server is told to stop.
      onProgress: (done) => {
        if (done === 1 && !stopped) {
          stopped = true;
          server.shutdown();
        }
      },
    }).catch((e: unknown) => e);
    const err = await running;
    expect((err as MarillError).message).toMatch(/refused the inference: the server is shutting down/);
    expect(await server.done).toEqual({ sessions: 1, inferences: 1 });
    expect(log.find((e) => e.event === 'session')?.inferences).toBe(1);
    dealer.stop();
    await dealer.done;
  });

  it('a busy server refuses one session more with a message; a plain client on a TLS server is refused', async () => {
    const dealer = await DealerService.start({
      plan,
      listen: parseEndpoint('127.0.0.1:0'),
      timeoutMs: 30_000,
      ...tlsFor('dealer'),
    });
    const material = { dealer: `127.0.0.1:${dealer.port}` };
    const { server, log } = await startServer(material, { maxSessions: 1 });
    try {
      const long = client(server.port, material, [1, 2, 3, 4, 5, 6]);
      // Wait until the first session runs, then try a second one and a plain-TCP one.
      while (server.active === 0) await new Promise((r) => setTimeout(r, 20));
      const busy = await client(server.port, material, [1]).catch((e: unknown) => e);
      expect((busy as MarillError).message).toMatch(
        /refused this connection: the server is serving its maximum of 1 sessions/,
      );
      const plain = await client(server.port, material, [1], PLAIN).catch((e: unknown) => e);
      expect(plain).toBeInstanceOf(MarillError);
      expect((plain as MarillError).message).toMatch(/refused this connection: this party requires TLS/);
      expectPlaintext((await long).outputs, [1, 2, 3, 4, 5, 6]);
    } finally {
      server.shutdown();
      dealer.stop();
    }
    await server.done;
    const ended = log.filter((e) => e.ended !== undefined).map((e) => e.ended);
    expect(ended).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^refused: the server is serving its maximum of 1 sessions/),
        expect.stringMatching(/^refused before its hello: the peer does not speak TLS/),
      ]),
    );
  });

  it('the dealer gives each role of a session its seeds once, and other sessions other seeds', async () => {
    const dealer = await DealerService.start({
      plan,
      listen: parseEndpoint('127.0.0.1:0'),
      ...tlsFor('dealer'),
      timeoutMs: 30_000,
    });
    const at = parseEndpoint(`127.0.0.1:${dealer.port}`);
    try {
      const a = await liveDealerFeed(plan, 'client', at, 'aa'.repeat(16), tlsFor('client'));
      const again = await liveDealerFeed(plan, 'client', at, 'aa'.repeat(16), tlsFor('client')).catch(
        (e: unknown) => e,
      );
      expect((again as MarillError).message).toMatch(
        /the dealer refused the session: the client of this dealer session has already connected/,
      );
      const b = await liveDealerFeed(plan, 'client', at, 'bb'.repeat(16), tlsFor('client'));
      expect(Buffer.from(b.seeds.stream).equals(Buffer.from(a.seeds.stream))).toBe(false);
      const server = await liveDealerFeed(plan, 'server', at, 'aa'.repeat(16), tlsFor('server'));
      // Same dealer session: the same dealer run id in both parties' tags.
      expect(server.tag).toBe(a.tag);
      expect(b.tag).not.toBe(a.tag);
      for (const f of [a, b, server]) f.close();
    } finally {
      dealer.stop();
    }
    expect((await dealer.done).sessions).toBe(2);
  });
});

describe('session log lines', () => {
  const entry: SessionLogEntry = {
    event: 'session',
    session: 7,
    from: '127.0.0.1:50412',
    inferences: 3,
    bytes: 13 * 1024 * 1024,
    seconds: 2.14,
  };

  it('text: one line with the counts, or the reason it ended', () => {
    expect(formatLogLine(entry, false)).toBe('session 7 from 127.0.0.1:50412: 3 inferences, 13.0 MiB, 2.1 s');
    expect(formatLogLine({ ...entry, inferences: 1, ended: 'the client closed the connection' }, false)).toBe(
      'session 7 from 127.0.0.1:50412: ended: the client closed the connection (after 1 inference, 13.0 MiB, 2.1 s)',
    );
  });

  it('JSON: the same fields, one object per line', () => {
    const line = formatLogLine({ ...entry, ended: 'x\ny' }, true);
    expect(line).not.toContain('\n');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed).toMatchObject({ ...entry, ended: 'x\ny' });
    expect(typeof parsed['time']).toBe('string');
  });
});
