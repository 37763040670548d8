/**
 * What a network attacker meets (issue: encrypted, authenticated links by
 * default):
 *   - plain TCP is never the silent default: `marillc run` without
 *     certificates or --insecure-plaintext is a usage error, and
 *     --insecure-plaintext warns;
 *   - a passive tap on every link (dealer-server, dealer-client,
 *     server-client) of a TLS run records no dealer seed, no window of a
 *     private weight and none of the client's input, while the same tap on a
 *     plaintext run does record the seeds (the control: the attack the issue
 *     reports, W = F + B from the seeds);
 *   - roles are bound to certificates: the dealer refuses a client
 *     certificate whose hello claims the server (and sends it no seeds); the
 *     client refuses a "server" holding another role's certificate;
 *   - memory before the handshake is bounded: 700 MiB announced and streamed
 *     at a dealer process (by a peer holding a valid certificate, and over
 *     plain TCP) is refused at the first header, and the dealer's RSS does
 *     not grow.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../../ir/tensor.ts';
import { writeDealerMaterial } from '../../runtime/dealer/files.ts';
import { DealerService, liveDealerFeed, runDealer } from '../../runtime/dealer/live.ts';
import type { Role } from '../../runtime/net/identity.ts';
import type { LinkOptions } from '../../runtime/net/tcp.ts';
import { Listener, connect, parseEndpoint } from '../../runtime/net/tcp.ts';
import { runParty } from '../../runtime/party.ts';
import { freshWeightKey, makePlan } from '../../runtime/plan.ts';
import { DEFAULT_FRAC_BITS } from '../../runtime/ring/fixed.ts';
import { PartySession } from '../../runtime/session.ts';
import { marillc } from '../cli-harness.ts';
import { startTap } from '../e2e/proxy.ts';
import type { TestCertificates } from '../runtime/certs.ts';
import { testCertificates } from '../runtime/certs.ts';
import { SMALL_LAYER, bertEncoderLayer, layerInput, layerWeights } from '../runtime/layers.ts';
import { startChild } from '../runtime/processes.ts';
import { contains, secretWindows } from './scan.ts';

const layer = { ...SMALL_LAYER, seed: 41, nonlinear: false };
const loopback = parseEndpoint('127.0.0.1:0');
let certs: TestCertificates;

beforeAll(async () => {
  certs = await testCertificates();
});
afterAll(() => certs.remove());

type LinkKind = 'tls' | 'plain';
const linkFor = (kind: LinkKind, role: Role): LinkOptions =>
  kind === 'tls' ? { tls: certs.files(role) } : { insecurePlaintext: true };

describe('plain TCP is never the silent default', () => {
  it('`marillc run` with neither certificates nor --insecure-plaintext is a usage error that says how to make them', () => {
    // The link is decided before the plan is read: the plan file need not exist.
    const r = marillc(['run', 'no-such-plan.ts', '--party', 'dealer', '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^marillc: error: the links need TLS certificates: make certificates with `marillc certs --out DIR` and pass --certs DIR/m,
    );
  });

  it('--insecure-plaintext warns on stderr', () => {
    const r = marillc([
      'run',
      'no-such-plan.ts',
      '--party',
      'client',
      '--insecure-plaintext',
      '--connect',
      ':9',
      '--dealer',
      ':9',
    ]);
    expect(r.stderr).toMatch(
      /^marillc: warning: --insecure-plaintext: the client's links are neither encrypted nor authenticated/m,
    );
  });
});

interface TappedRun {
  /** Every byte the taps saw, on the three links. */
  readonly wire: Buffer;
  /** The dealer's seeds as the parties received them (stream and session seed of each). */
  readonly seeds: Uint8Array[];
  readonly serverWeights: Map<string, Tensor>;
  readonly input: Tensor;
  readonly output: Tensor;
}

/** Dealer, server and client on loopback, each link through a passive tap. */
async function tappedRun(kind: LinkKind): Promise<TappedRun> {
  const graph = bertEncoderLayer(layer);
  const plan = makePlan(graph);
  const serverWeights = layerWeights(graph, 'server');
  const input = layerInput(layer, 3);
  let listening!: (port: number) => void;
  const dealerPort = new Promise<number>((r) => (listening = r));
  const dealer = runDealer({ plan, listen: loopback, ...linkFor(kind, 'dealer'), onListening: listening });
  // Both parties meet at the dealer under one session id (in a served session, dealerSessionId of their hellos).
  const session = 'ab'.repeat(16);
  const dport = await dealerPort;
  const [toDealerS, toDealerC] = await Promise.all([startTap(dport), startTap(dport)]);
  const listener = await Listener.open(loopback, { ...linkFor(kind, 'server'), peerRoles: ['client'] });
  const betweenParties = await startTap(listener.port);
  try {
    const at = (port: number) => ({ host: '127.0.0.1', port });
    const [serverFeed, clientFeed] = await Promise.all([
      liveDealerFeed(plan, 'server', at(toDealerS.port), session, linkFor(kind, 'server')),
      liveDealerFeed(plan, 'client', at(toDealerC.port), session, linkFor(kind, 'client')),
    ]);
    const toServer = await connect(at(betweenParties.port), 'server', linkFor(kind, 'client'));
    const clientOpen = PartySession.open({
      plan,
      party: 'client',
      channel: toServer,
      feed: clientFeed,
      weights: layerWeights(graph, 'client'),
    });
    const toClient = await listener.accept(10_000);
    const server = await PartySession.open({
      plan,
      party: 'server',
      channel: toClient,
      feed: serverFeed,
      weights: serverWeights,
    });
    const client = await clientOpen;
    const [, outputs] = await Promise.all([
      server.infer(new Map()),
      client.infer(new Map([['hidden_in', input]])),
    ]);
    server.close();
    client.close();
    await dealer;
    return {
      wire: Buffer.concat([toDealerS.bytes(), toDealerC.bytes(), betweenParties.bytes()]),
      seeds: [
        serverFeed.seeds.stream,
        serverFeed.seeds.session,
        clientFeed.seeds.stream,
        clientFeed.seeds.session,
      ],
      serverWeights,
      input,
      output: outputs.get('hidden_out')!,
    };
  } finally {
    listener.close();
    for (const t of [toDealerS, toDealerC, betweenParties]) t.close();
  }
}

describe('a passive tap on every link', () => {
  it('over TLS records no seed, no window of a private weight, nothing of the input or output', async () => {
    const run = await tappedRun('tls');
    expect(run.wire.length).toBeGreaterThan(50_000); // the taps did see the whole run
    run.seeds.forEach((seed, i) => expect(contains(run.wire, seed), `seed ${i}`).toBe(false));
    expect(run.serverWeights.size).toBeGreaterThan(0);
    for (const [name, w] of run.serverWeights) {
      if (w.data.length < 8) continue;
      for (const { what, bytes } of secretWindows(w, DEFAULT_FRAC_BITS))
        expect(contains(run.wire, bytes), `${what} of ${name}`).toBe(false);
    }
    for (const t of [run.input, run.output])
      for (const { what, bytes } of secretWindows(t, DEFAULT_FRAC_BITS))
        expect(contains(run.wire, bytes), what).toBe(false);
  });

  it('over --insecure-plaintext records the dealer seeds (control: what the tap would give away)', async () => {
    const run = await tappedRun('plain');
    run.seeds.forEach((seed, i) => expect(contains(run.wire, seed), `seed ${i}`).toBe(true));
  });
});

describe('roles are bound to certificates', () => {
  it('the dealer refuses a client certificate whose hello claims the server, and sends it no seeds', async () => {
    const plan = makePlan(bertEncoderLayer(layer));
    const refusals: string[] = [];
    let refused!: () => void;
    const wasRefused = new Promise<void>((r) => (refused = r));
    const dealer = await DealerService.start({
      plan,
      listen: loopback,
      ...linkFor('tls', 'dealer'),
      timeoutMs: 10_000,
      onRefused: (_peer, why) => {
        refusals.push(why);
        refused();
      },
    });
    try {
      // The client's certificate and key, asking for the server's material.
      const impostor = liveDealerFeed(
        plan,
        'server',
        { host: '127.0.0.1', port: dealer.port },
        'cd'.repeat(16),
        { tls: certs.files('client') },
      );
      await expect(impostor).rejects.toThrow(/closed the connection/);
      await wasRefused;
    } finally {
      dealer.stop();
    }
    // No session was opened for it: no seeds were dealt to anyone.
    expect(await dealer.done).toEqual({ sessions: 0, inferences: 0, bytesSent: [0, 0] });
    expect(refusals).toEqual([
      expect.stringMatching(
        /refusing the client at \S+: its certificate is the client's, but its hello claims the server/,
      ),
    ]);
  });

  it("the client refuses a server that presents another role's certificate", async () => {
    const graph = bertEncoderLayer(layer);
    const plan = makePlan(graph);
    const material = mkdtempSync(join(tmpdir(), 'marillc-links-'));
    writeDealerMaterial(plan, material, 1);
    // A listener holding the dealer's certificate poses as the server.
    const listener = await Listener.open(loopback, { ...linkFor('tls', 'dealer'), peerRoles: ['client'] });
    try {
      const err = await runParty({
        plan,
        party: 'client',
        weights: layerWeights(graph, 'client'),
        inputs: [new Map([['hidden_in', layerInput(layer, 1)]])],
        connect: `127.0.0.1:${listener.port}`,
        dealerDir: join(material, 'client'),
        tls: certs.files('client'),
        timeoutMs: 10_000,
      }).catch((e: Error) => e.message);
      expect(err).toMatch(
        /^cannot connect to the server at \S+: TLS: its certificate names the dealer's, not the server's$/,
      );
    } finally {
      listener.close();
      rmSync(material, { recursive: true, force: true });
    }
  });
});

/** The resident set size of a process, from /proc (Linux). */
function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error('no VmRSS');
  return Number(m[1]) * 1024;
}

const STREAM_BYTES = 700 << 20;

/**
 * Announces a 700 MiB message as the first frame and streams up to 700 MiB
 * after it; resolves with how much was written before the peer closed.
 */
function flood(port: number, kind: LinkKind): Promise<number> {
  return new Promise((resolve) => {
    const s: net.Socket =
      kind === 'tls'
        ? tls.connect({
            host: '127.0.0.1',
            port,
            cert: readFileSync(certs.files('client').cert),
            key: readFileSync(certs.files('client').key),
            ca: readFileSync(certs.files('client').ca),
            checkServerIdentity: () => undefined,
          })
        : net.connect(port, '127.0.0.1');
    const chunk = Buffer.alloc(1 << 20, 0x41);
    let written = 0;
    let closed = false;
    const pump = () => {
      while (!closed && written < STREAM_BYTES) {
        written += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
    };
    s.once(kind === 'tls' ? 'secureConnect' : 'connect', () => {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(STREAM_BYTES, 0);
      s.write(header);
      pump();
    });
    s.on('error', () => {});
    s.on('close', () => {
      closed = true;
      resolve(written);
    });
  });
}

describe('memory before the handshake is bounded', () => {
  it.each(['tls', 'plain'] as const)(
    '%s: 700 MiB announced to a dealer process is refused at the header; its RSS does not grow',
    async (kind) => {
      const dealer = startChild({
        role: 'dealer',
        layer: 'bert',
        layerOptions: layer,
        listen: '127.0.0.1:0',
        weightKey: Buffer.from(freshWeightKey()).toString('hex'),
        ...linkFor(kind, 'dealer'),
        timeoutMs: 60_000,
      });
      try {
        const port = await dealer.listening;
        await new Promise((r) => setTimeout(r, 500)); // the first inference is dealt ahead at start
        const before = rssBytes(dealer.process.pid!);
        const written = await flood(port, kind);
        const after = rssBytes(dealer.process.pid!);
        expect(written).toBeLessThan(STREAM_BYTES); // closed long before the end of the stream
        expect(after - before).toBeLessThan(16 << 20);
        expect(dealer.process.exitCode).toBeNull(); // still up, waiting for the real parties
      } finally {
        dealer.process.kill();
        await dealer.done;
      }
    },
    60_000,
  );
});
