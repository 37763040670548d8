// Channels: framing, failures (disconnect, silence, port in use), TLS (CA, roles, plain/TLS
// mismatch), bounded messages before and after the handshake, and the handshake itself.
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestCertificates } from '../../test/runtime/certs.ts';
import { testCertificates } from '../../test/runtime/certs.ts';
import { MarillError } from '../../ir/errors.ts';
import { Prg } from '../crypto/prg.ts';
import type { Channel } from './channel.ts';
import { channelPair } from './channel.ts';
import { HELLO_MAX_BYTES, commonSeed, handshake, makeHello } from './handshake.ts';
import type { Role } from './identity.ts';
import type { LinkOptions } from './tcp.ts';
import { Listener, connect, parseEndpoint } from './tcp.ts';

const PLAIN: LinkOptions = { insecurePlaintext: true };
let certs: TestCertificates;
/** A second session: its CA signs none of `certs`' parties, and is not trusted by them. */
let rogue: TestCertificates;
const tlsOf = (role: Role, from: () => TestCertificates = () => certs): LinkOptions => ({
  tls: from().files(role),
});

beforeAll(async () => {
  [certs, rogue] = await Promise.all([testCertificates(), testCertificates('marillc-rogue-')]);
});
afterAll(() => {
  certs.remove();
  rogue.remove();
});

const loopback = parseEndpoint('127.0.0.1:0');

/** A connected TCP pair on loopback: [listening side (server), connecting side (client)]. */
async function tcpPair(
  opts: { links?: [LinkOptions, LinkOptions]; recvTimeoutMs?: number } = {},
): Promise<[Channel, Channel]> {
  const [serverLink, clientLink] = opts.links ?? [PLAIN, PLAIN];
  const listener = await Listener.open(loopback, {
    ...serverLink,
    peerRoles: ['client'],
    recvTimeoutMs: opts.recvTimeoutMs,
  });
  try {
    const client = await connect({ host: '127.0.0.1', port: listener.port }, 'server', {
      ...clientLink,
      recvTimeoutMs: opts.recvTimeoutMs,
      connectTimeoutMs: 5_000,
    });
    // A listener hands out a connection once its first message arrived: the hello's place.
    client.send(Uint8Array.of(0));
    const server = await listener.accept(10_000);
    expect([...(await server.recv())]).toEqual([0]);
    server.setMessageLimit(64 << 20);
    client.setMessageLimit(64 << 20);
    return [server, client];
  } finally {
    listener.close();
  }
}

const tlsLinks = (): [LinkOptions, LinkOptions] => [tlsOf('server'), tlsOf('client')];

describe('framing', () => {
  it.each(['in-process', 'tcp', 'tls'] as const)(
    '%s: messages arrive whole and in order, large and empty',
    async (kind) => {
      const [a, b] =
        kind === 'in-process' ? channelPair() : await tcpPair(kind === 'tls' ? { links: tlsLinks() } : {});
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
    const first = await Listener.open(loopback, { ...PLAIN, peerRoles: ['client'] });
    await expect(
      Listener.open({ host: '127.0.0.1', port: first.port }, { ...PLAIN, peerRoles: ['client'] }),
    ).rejects.toThrow(new RegExp(`cannot listen on 127.0.0.1:${first.port}: address already in use`));
    first.close();
  });

  it('nobody listening: connect gives up with a clear error', async () => {
    const l = await Listener.open(loopback, { ...PLAIN, peerRoles: ['client'] });
    const port = l.port;
    l.close();
    await expect(
      connect({ host: '127.0.0.1', port }, 'server', { ...PLAIN, connectTimeoutMs: 300 }),
    ).rejects.toThrow(/cannot connect to the server at 127.0.0.1:\d+: connection refused/);
  });

  it('a link with neither TLS files nor insecure plaintext is refused', async () => {
    await expect(Listener.open(loopback, { peerRoles: ['client'] })).rejects.toThrow(
      /a link needs TLS certificates/,
    );
    await expect(connect({ host: '127.0.0.1', port: 9 }, 'server', {})).rejects.toThrow(
      /a link needs TLS certificates/,
    );
  });

  it('bad endpoints are refused', () => {
    expect(() => parseEndpoint('nope')).toThrow(/not HOST:PORT/);
    expect(parseEndpoint('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseEndpoint(':9')).toEqual({ host: '127.0.0.1', port: 9 });
  });
});

describe('TLS', () => {
  it('refuses a peer whose certificate is not signed by the session CA; the real one gets in', async () => {
    const refusals: string[] = [];
    const listener = await Listener.open(loopback, {
      ...tlsOf('server'),
      peerRoles: ['client'],
      onRefused: (_peer, why) => refusals.push(why),
    });
    const rogueClient = connect({ host: '127.0.0.1', port: listener.port }, 'server', {
      ...tlsOf('client', () => rogue),
      connectTimeoutMs: 2_000,
    }).then(
      async (ch) => ch.recv(), // TLS 1.3: the server drops the rogue after the client's Finished
      (e: unknown) => Promise.reject(e),
    );
    await expect(rogueClient).rejects.toThrow(MarillError);
    const [a, b] = await Promise.all([
      listener.accept(5_000),
      connect({ host: '127.0.0.1', port: listener.port }, 'server', tlsOf('client')).then((ch) => {
        ch.send(Uint8Array.of(9));
        return ch;
      }),
    ]);
    expect([...(await a.recv())]).toEqual([9]);
    a.send(Uint8Array.of(1, 2));
    expect([...(await b.recv())]).toEqual([1, 2]);
    expect(refusals.length).toBeGreaterThan(0);
    a.close();
    b.close();
    listener.close();
  });

  it('the connecting side refuses a listener whose certificate names another role', async () => {
    // The listener holds the client's certificate but the client dials a server.
    const listener = await Listener.open(loopback, { ...tlsOf('client'), peerRoles: ['client'] });
    await expect(
      connect({ host: '127.0.0.1', port: listener.port }, 'server', {
        ...tlsOf('client'),
        connectTimeoutMs: 5_000,
      }),
    ).rejects.toThrow(
      /cannot connect to the server at \S+: TLS: its certificate names the client's, not the server's/,
    );
    listener.close();
  });

  it('a listener refuses a certificate of a role it does not serve, and keeps waiting', async () => {
    const refusals: string[] = [];
    const listener = await Listener.open(loopback, {
      ...tlsOf('server'),
      peerRoles: ['client'],
      onRefused: (_peer, why) => refusals.push(why),
    });
    const dealerAsClient = await connect(
      { host: '127.0.0.1', port: listener.port },
      'server',
      tlsOf('dealer'),
    );
    dealerAsClient.send(Uint8Array.of(1));
    await expect(dealerAsClient.recv()).rejects.toThrow(/closed the connection/);
    expect(refusals).toEqual([expect.stringMatching(/its certificate names the dealer's, not the client's/)]);
    await expect(listener.accept(300)).rejects.toThrow(/no client connected .* \(refused .*dealer's/);
    listener.close();
  });

  it('a plain client on a TLS listener is told that TLS is required', async () => {
    const refusals: string[] = [];
    const listener = await Listener.open(loopback, {
      ...tlsOf('server'),
      peerRoles: ['client'],
      onRefused: (_peer, why) => refusals.push(why),
    });
    const plain = await connect({ host: '127.0.0.1', port: listener.port }, 'server', PLAIN);
    await expect(handshake(plain, makeHello('client', 'p', 'w'), 'server', 1 << 20)).rejects.toThrow(
      /the server at \S+ refused this connection: this party requires TLS/,
    );
    expect(refusals).toEqual([
      expect.stringMatching(/does not speak TLS \(started with --insecure-plaintext\?\)/),
    ]);
    listener.close();
  });

  it('a TLS client on a plain listener fails at once, saying the peer does not speak TLS', async () => {
    const refusals: string[] = [];
    const listener = await Listener.open(loopback, {
      ...PLAIN,
      peerRoles: ['client'],
      onRefused: (_peer, why) => refusals.push(why),
    });
    const t0 = Date.now();
    await expect(
      connect({ host: '127.0.0.1', port: listener.port }, 'server', {
        ...tlsOf('client'),
        connectTimeoutMs: 20_000,
      }),
    ).rejects.toThrow(/the peer does not speak TLS \(started with --insecure-plaintext\?\)/);
    expect(Date.now() - t0).toBeLessThan(10_000); // not retried until the connect deadline
    expect(refusals).toEqual([
      expect.stringMatching(/the peer speaks TLS, but this party runs with --insecure-plaintext/),
    ]);
    listener.close();
  });

  it('a missing certificate file is a clear error', async () => {
    await expect(
      Listener.open(loopback, {
        tls: { ...certs.files('server'), cert: '/nonexistent.pem' },
        peerRoles: ['client'],
      }),
    ).rejects.toThrow(/cannot read TLS certificate '\/nonexistent.pem'/);
  });
});

describe('message sizes are bounded', () => {
  /** Opens a raw TCP connection, writes `header` then up to `streamBytes`; resolves with what the peer accepted. */
  function stream(
    port: number,
    header: Buffer,
    streamBytes: number,
  ): Promise<{ written: number; closed: boolean }> {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      const chunk = Buffer.alloc(1 << 20);
      let written = 0;
      let closed = false;
      const pump = () => {
        while (!closed && written < streamBytes) {
          written += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
        if (!closed) s.end();
      };
      s.on('connect', () => {
        s.write(header);
        pump();
      });
      s.on('error', () => {});
      s.on('close', () => {
        closed = true;
        resolve({ written, closed });
      });
    });
  }

  it('before the handshake, a length above a hello closes the connection before allocating it', async () => {
    const refusals: string[] = [];
    const listener = await Listener.open(loopback, {
      ...PLAIN,
      peerRoles: ['client'],
      onRefused: (_peer, why) => refusals.push(why),
    });
    const header = Buffer.alloc(4);
    header.writeUInt32BE(700 << 20, 0);
    const r = await stream(listener.port, header, 700 << 20);
    expect(r.closed).toBe(true);
    expect(r.written).toBeLessThan(700 << 20); // the listener closed it long before the end
    expect(refusals).toEqual([
      expect.stringMatching(
        new RegExp(`announced a ${700 << 20}-byte message, over the limit of ${HELLO_MAX_BYTES} bytes`),
      ),
    ]);
    await expect(listener.accept(200)).rejects.toThrow(/no client connected/);
    listener.close();
  });

  it('after the handshake, a message above the plan limit fails the channel', async () => {
    const [a, b] = await tcpPair();
    b.setMessageLimit(1000);
    a.send(new Uint8Array(1000));
    expect((await b.recv()).byteLength).toBe(1000);
    a.send(new Uint8Array(1001));
    await expect(b.recv()).rejects.toThrow(/announced a 1001-byte message, over the limit of 1000 bytes/);
    a.close();
  });

  it('in process, the same limit holds once set', async () => {
    const [a, b] = channelPair(['client', 'server']);
    b.setMessageLimit(16);
    a.send(new Uint8Array(17));
    await expect(b.recv()).rejects.toThrow(/sent a 17-byte message, over the limit of 16 bytes/);
  });
});

describe('handshake', () => {
  it('agrees on a common seed when plan and weights match', async () => {
    const [a, b] = channelPair(['client', 'server']);
    const sh = makeHello('server', 'p'.repeat(64), 'w'.repeat(64), 'live:1');
    const ch = makeHello('client', 'p'.repeat(64), 'w'.repeat(64), 'live:1');
    const [peerOfServer, peerOfClient] = await Promise.all([
      handshake(a, sh, 'client', 1 << 20),
      handshake(b, ch, 'server', 1 << 20),
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
      handshake(a, sh, 'client', 1 << 20),
      handshake(b, ch, diff.role === 'server' ? 'client' : 'server', 1 << 20),
    ]);
    expect(results[0].status).toBe('rejected');
    expect(String((results[0] as PromiseRejectedResult).reason.message)).toMatch(message);
    expect(results[1].status).toBe('rejected');
  });

  it('under TLS, a hello that claims another role than the certificate is refused', async () => {
    const listener = await Listener.open(loopback, { ...tlsOf('dealer'), peerRoles: ['server', 'client'] });
    const party = await connect({ host: '127.0.0.1', port: listener.port }, 'dealer', tlsOf('client'));
    // The client's certificate, a hello claiming the server (whose seeds the dealer must not send it).
    const claim = handshake(party, makeHello('server', 'p', 'w'), 'dealer', 1 << 20);
    const dealerSide = await listener.accept(5_000);
    expect(dealerSide.certifiedRole).toBe('client');
    await expect(
      handshake(dealerSide, makeHello('dealer', 'p', 'w'), ['server', 'client'], 1 << 20),
    ).rejects.toThrow(
      /refusing the client at \S+: its certificate is the client's, but its hello claims the server/,
    );
    await claim.catch(() => {});
    listener.close();
  });

  it('a peer whose certificate is of an unexpected role gets nothing, not even a hello', async () => {
    const [a, b] = channelPair(['dealer', 'client']);
    const certified: Channel = {
      peer: a.peer,
      certifiedRole: 'dealer',
      send: (d) => a.send(d),
      recv: () => a.recv(),
      close: () => a.close(),
      setMessageLimit: (n) => a.setMessageLimit(n),
    };
    await expect(handshake(certified, makeHello('client', 'p', 'w'), 'server', 1 << 20)).rejects.toThrow(
      /its certificate is the dealer's, not the server's/,
    );
    await expect(b.recv()).rejects.toThrow(/closed/); // closed without our hello
  });
});
