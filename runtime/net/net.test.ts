// Channels: framing, failures (disconnect, silence, port in use), TLS, and the handshake.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MarillError } from '../../ir/errors.ts';
import { Prg } from '../crypto/prg.ts';
import type { Channel } from './channel.ts';
import { channelPair } from './channel.ts';
import { commonSeed, handshake, makeHello } from './handshake.ts';
import type { TlsFiles } from './tcp.ts';
import { Listener, connect, parseEndpoint } from './tcp.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));
const tlsFor = (who: string, ca = 'ca.pem'): TlsFiles => ({
  cert: fixture(`${who}.pem`),
  key: fixture(`${who}.key`),
  ca: fixture(ca),
});

/** A connected TCP pair on loopback: [listening side, connecting side]. */
async function tcpPair(
  opts: { tls?: [TlsFiles, TlsFiles]; recvTimeoutMs?: number } = {},
): Promise<[Channel, Channel]> {
  const listener = await Listener.open(parseEndpoint('127.0.0.1:0'), {
    tls: opts.tls?.[0],
    peerRole: 'client',
    recvTimeoutMs: opts.recvTimeoutMs,
  });
  try {
    const [a, b] = await Promise.all([
      listener.accept(10_000),
      connect({ host: '127.0.0.1', port: listener.port }, 'server', {
        tls: opts.tls?.[1],
        recvTimeoutMs: opts.recvTimeoutMs,
        connectTimeoutMs: 5_000,
      }),
    ]);
    return [a, b];
  } finally {
    listener.close();
  }
}

describe('framing', () => {
  it.each(['in-process', 'tcp', 'tls'] as const)(
    '%s: messages arrive whole and in order, large and empty',
    async (kind) => {
      const [a, b] =
        kind === 'in-process'
          ? channelPair()
          : await tcpPair(kind === 'tls' ? { tls: [tlsFor('server'), tlsFor('client')] } : {});
      const big = Prg.fresh().bytes(5 * 1024 * 1024 + 3);
      const small = Array.from({ length: 200 }, (_, i) => Prg.fresh().bytes(i));
      a.send(big);
      for (const m of small) a.send(m);
      a.send(new Uint8Array(0));
      expect(Buffer.compare(Buffer.from(await b.recv()), Buffer.from(big))).toBe(0);
      for (const m of small) expect([...(await b.recv())]).toEqual([...m]);
      expect((await b.recv()).byteLength).toBe(0);
      b.send(Uint8Array.of(7));
      expect([...(await a.recv())]).toEqual([7]);
      a.close();
      b.close();
    },
  );
});

describe('failures end the run with a clear error, never a hang', () => {
  it('a peer that disconnects fails the pending and later receives', async () => {
    const [a, b] = await tcpPair();
    const pending = b.recv();
    a.close();
    await expect(pending).rejects.toThrow(/the server at 127\.0\.0\.1:\d+ closed the connection/);
    await expect(b.recv()).rejects.toThrow(MarillError);
  });

  it('an in-process peer that closes fails the other side', async () => {
    const [a, b] = channelPair(['client', 'server']);
    const pending = b.recv();
    a.close();
    await expect(pending).rejects.toThrow(/the server closed the connection/);
  });

  it('a silent peer times out', async () => {
    const [a, b] = await tcpPair({ recvTimeoutMs: 200 });
    await expect(b.recv()).rejects.toThrow(/no message from the server at 127\.0\.0\.1:\d+ within 0\.2 s/);
    a.close();
    b.close();
  });

  it('a port in use is reported', async () => {
    const first = await Listener.open(parseEndpoint('127.0.0.1:0'));
    await expect(Listener.open({ host: '127.0.0.1', port: first.port })).rejects.toThrow(
      new RegExp(`cannot listen on 127.0.0.1:${first.port}: address already in use`),
    );
    first.close();
  });

  it('nobody listening: connect gives up with a clear error', async () => {
    const l = await Listener.open(parseEndpoint('127.0.0.1:0'));
    const port = l.port;
    l.close();
    await expect(connect({ host: '127.0.0.1', port }, 'server', { connectTimeoutMs: 300 })).rejects.toThrow(
      /cannot connect to the server at 127.0.0.1:\d+: connection refused/,
    );
  });

  it('bad endpoints are refused', () => {
    expect(() => parseEndpoint('nope')).toThrow(/not HOST:PORT/);
    expect(parseEndpoint('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseEndpoint(':9')).toEqual({ host: '127.0.0.1', port: 9 });
  });
});

describe('TLS', () => {
  it('refuses a peer whose certificate is not signed by the session CA', async () => {
    const listener = await Listener.open(parseEndpoint('127.0.0.1:0'), {
      tls: tlsFor('server'),
      peerRole: 'client',
    });
    const rogue = connect({ host: '127.0.0.1', port: listener.port }, 'server', {
      tls: tlsFor('rogue', 'ca.pem'),
      connectTimeoutMs: 2_000,
    }).then(
      async (ch) => ch.recv(), // the server drops the rogue during the TLS handshake
      (e: unknown) => Promise.reject(e),
    );
    await expect(rogue).rejects.toThrow(MarillError);
    // the real client still gets in afterwards
    const [a, b] = await Promise.all([
      listener.accept(5_000),
      connect({ host: '127.0.0.1', port: listener.port }, 'server', { tls: tlsFor('client') }),
    ]);
    a.send(Uint8Array.of(1, 2));
    expect([...(await b.recv())]).toEqual([1, 2]);
    a.close();
    b.close();
    listener.close();
  });

  it('a missing certificate file is a clear error', async () => {
    await expect(
      Listener.open(parseEndpoint('127.0.0.1:0'), { tls: { ...tlsFor('server'), cert: '/nonexistent.pem' } }),
    ).rejects.toThrow(/cannot read TLS certificate '\/nonexistent.pem'/);
  });
});

describe('handshake', () => {
  it('agrees on a common seed when plan and weights match', async () => {
    const [a, b] = channelPair(['client', 'server']);
    const sh = makeHello('server', 'p'.repeat(64), 'w'.repeat(64), 'live:1');
    const ch = makeHello('client', 'p'.repeat(64), 'w'.repeat(64), 'live:1');
    const [peerOfServer, peerOfClient] = await Promise.all([
      handshake(a, sh, 'client'),
      handshake(b, ch, 'server'),
    ]);
    expect(Buffer.from(commonSeed(sh, peerOfServer))).toEqual(Buffer.from(commonSeed(ch, peerOfClient)));
  });

  interface Diff {
    plan?: string;
    weights?: string;
    material?: string;
    role?: 'server';
  }
  it.each<[string, Diff, RegExp]>([
    ['plan', { plan: 'q'.repeat(64) }, /plan differs/],
    ['weights', { weights: 'v'.repeat(64) }, /weights differ/],
    ['dealer material', { material: 'files:x#1' }, /dealer material differs/],
    ['role', { role: 'server' }, /expected the client, but the peer is the server/],
  ])('refuses a peer with other %s, on both sides', async (_what, diff, message) => {
    const [a, b] = channelPair(['client', 'server']);
    const sh = makeHello('server', 'p'.repeat(64), 'w'.repeat(64), 'files:x#0');
    const ch = makeHello(
      diff.role ?? 'client',
      diff.plan ?? 'p'.repeat(64),
      diff.weights ?? 'w'.repeat(64),
      diff.material ?? 'files:x#0',
    );
    const results = await Promise.allSettled([
      handshake(a, sh, 'client'),
      handshake(b, ch, diff.role === 'server' ? 'client' : 'server'),
    ]);
    expect(results[0].status).toBe('rejected');
    expect(String((results[0] as PromiseRejectedResult).reason.message)).toMatch(message);
    expect(results[1].status).toBe('rejected');
  });
});
