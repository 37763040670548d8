/**
 * TCP channels with length-prefixed framing: each message is a 4-byte
 * big-endian length and the payload. One connection per peer.
 *
 * Every link is mutual TLS 1.3 (node:tls) unless plain TCP is asked for
 * explicitly (`insecurePlaintext`): both sides present a certificate signed by
 * the session's CA and reject peers that do not, and each side checks the
 * role the peer's certificate names (./identity.ts): a connecting party
 * accepts only the role it dialled, a listener only the roles it serves.
 * Host names are not checked: the session's CA is private to the session and
 * the role is the identity that matters.
 *
 * Memory before the handshake is bounded: until the handshake calls
 * `setMessageLimit`, a connection may deliver one message of at most
 * HELLO_MAX_BYTES (its hello), then it is paused; a longer announced length
 * closes it before anything is allocated. After the handshake, messages above
 * the plan's largest (runtime/bound-plan.ts planMessageBound) are refused,
 * and reading pauses while more than twice that waits unreceived (a peer
 * that floods is pushed back by TCP instead of filling this side's memory).
 *
 * A listener hands out only connections that completed TLS (when on), carry
 * an accepted role and sent a hello-sized first message; others are refused
 * (reported through `onRefused` and in the accept timeout's message) while it
 * keeps waiting for the real peer. A plain peer on a TLS listener, or a TLS
 * peer on a plain one, is told so in one plain frame and closed; the
 * connecting side reports it as a TLS mismatch at once.
 *
 * Errors are one-line MarillErrors: a port in use, a peer that cannot be
 * reached before the connect deadline, a peer that disconnects or goes silent
 * mid-protocol (pending receives fail at once; see ./channel.ts), a TLS
 * failure in words.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { MarillError } from '../../ir/errors.ts';
import type { Channel } from './channel.ts';
import { DEFAULT_RECV_TIMEOUT_MS, Inbox } from './channel.ts';
import { HELLO_MAX_BYTES, refusalMessage } from './handshake.ts';
import type { Role } from './identity.ts';
import { roleInSubjectAltName } from './identity.ts';

/** Connections a listener holds at once before their hello (more are closed at once). */
const MAX_WAITING_CONNECTIONS = 32;

/** How long a closed channel waits for the peer to close its side before the socket is destroyed. */
const CLOSE_LINGER_MS = 10_000;

export interface TlsFiles {
  /** PEM paths: this party's certificate and key, and the CA that signs every party of the session. */
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** How a link is protected: exactly one of TLS files or an explicit request for plain TCP. */
export interface LinkOptions {
  readonly tls?: TlsFiles;
  /** Plain TCP: nothing encrypted, no peer authenticated. Only when asked for (`--insecure-plaintext`). */
  readonly insecurePlaintext?: boolean;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface ConnectOptions extends LinkOptions {
  /** How long to keep retrying a connection that is refused (peer not listening yet). */
  readonly connectTimeoutMs?: number;
  /** How long a receive waits for the peer. */
  readonly recvTimeoutMs?: number;
}

export interface ListenOptions extends LinkOptions {
  /** The roles a peer may have (checked against its certificate under TLS). */
  readonly peerRoles: readonly Role[];
  readonly recvTimeoutMs?: number;
  /**
   * How long a new connection may take to complete TLS and send its hello
   * before it is dropped as refused (default: recvTimeoutMs).
   */
  readonly helloTimeoutMs?: number;
  /** Told about each connection refused before its hello (who, why); the listener keeps waiting. */
  readonly onRefused?: (peer: string, why: string) => void;
}

/** Parses "host:port" (host may be empty for all interfaces, or a bracketed IPv6 address). */
export function parseEndpoint(text: string, what = 'address'): Endpoint {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new MarillError(`${what} '${text}' is not HOST:PORT`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new MarillError(`cannot read TLS ${what} '${path}': ${(e as Error).message}`);
  }
}

interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

/** The link's TLS material, or undefined for plain TCP asked for explicitly; anything else is refused. */
function linkMaterial(opts: LinkOptions): TlsMaterial | undefined {
  if (opts.tls && opts.insecurePlaintext)
    throw new MarillError('a link is either TLS or insecure plaintext, not both');
  if (opts.tls)
    return {
      cert: readPem(opts.tls.cert, 'certificate'),
      key: readPem(opts.tls.key, 'key'),
      ca: readPem(opts.tls.ca, 'CA'),
    };
  if (opts.insecurePlaintext) return undefined;
  throw new MarillError('a link needs TLS certificates (or, explicitly, insecure plaintext)');
}

const TLS_OPTIONS = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

/** The first bytes of a TLS record (handshake, alert, ...), where a plain frame's length would be. */
function looksLikeTls(head: Uint8Array): boolean {
  return head[0]! >= 0x14 && head[0]! <= 0x17 && head[1] === 0x03;
}

const NOT_TLS = 'the peer does not speak TLS (started with --insecure-plaintext?)';
const SPEAKS_TLS =
  'the peer speaks TLS, but this party runs with --insecure-plaintext (give it the certificates, or start every party with --insecure-plaintext)';

/** A TLS failure in words (node/OpenSSL codes are not for users). */
export function tlsFailure(e: NodeJS.ErrnoException): string {
  const code = e.code ?? '';
  if (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
    code === 'ERR_SSL_HTTP_REQUEST'
  )
    return NOT_TLS;
  // A close mid-handshake: the peer stopped, or refused us without an alert.
  if (code === 'ECONNRESET' || code === 'EPIPE')
    return 'TLS: the peer closed the connection during the TLS handshake (it stopped, or it does not speak TLS)';
  if (
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT' ||
    code === 'CERT_SIGNATURE_FAILURE'
  )
    return `TLS: the peer's certificate is not signed by this session's CA (${code})`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return `TLS: the peer's certificate is not valid now (${code})`;
  if (
    /^ERR_SSL_(TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_BAD_CERTIFICATE|TLSV13_ALERT_CERTIFICATE_REQUIRED)/.test(
      code,
    )
  )
    return `TLS: the peer refused this party's certificate (not signed by its CA?)`;
  if (code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' || code === 'ERR_SSL_UNSUPPORTED_PROTOCOL')
    return 'TLS: the peer does not speak TLS 1.3';
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'TLS: the peer presented no certificate';
  return `TLS: ${e.message.split('\n')[0]}`;
}

/** A socket as a Channel: frames in, frames out, failure on close/error. */
class SocketChannel implements Channel {
  private readonly inbox: Inbox;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private closing = false;
  /** Until the handshake: one message of at most HELLO_MAX_BYTES. */
  private maxMessageBytes = HELLO_MAX_BYTES;
  private handshakeDone = false;
  private delivered = 0;
  private onFirst: { resolve: () => void; reject: (e: Error) => void } | undefined;
  /** Settles with the first message (resolved) or the failure before it. */
  readonly greeted: Promise<void>;

  constructor(
    private readonly socket: net.Socket,
    readonly peer: string,
    recvTimeoutMs: number,
    /** The role the peer's certificate names (TLS only). */
    readonly certifiedRole?: Role,
    private readonly plain = false,
  ) {
    this.greeted = new Promise((resolve, reject) => (this.onFirst = { resolve, reject }));
    this.greeted.catch(() => {});
    this.inbox = new Inbox(peer, recvTimeoutMs);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.resume();
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // A peer that dies mid-run shows up as a reset or a broken pipe: say so in words.
      const gone = e.code === 'EPIPE' || e.code === 'ECONNRESET';
      const message = gone
        ? `the ${peer} closed the connection (it disconnected or stopped)`
        : e.code?.startsWith('ERR_SSL')
          ? `connection to the ${peer} failed: ${tlsFailure(e)}`
          : `connection to the ${peer} failed: ${e.message}`;
      this.fail(new MarillError(message));
    });
    socket.on('close', () => {
      const message = this.closing
        ? `connection to the ${peer} was closed`
        : `the ${peer} closed the connection (it disconnected or stopped)`;
      this.fail(new MarillError(message));
    });
  }

  private fail(e: MarillError): void {
    this.onFirst?.reject(e);
    this.onFirst = undefined;
    this.inbox.fail(e);
  }

  private refuse(e: MarillError): void {
    this.fail(e);
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.parse();
  }

  private parse(): void {
    for (;;) {
      if (!this.handshakeDone && this.delivered > 0) {
        // Before the handshake decides, nothing past the hello is read (TCP pushes back).
        this.socket.pause();
        return;
      }
      if (this.inbox.failed || this.pendingBytes < 4) return;
      const head = this.peek(4);
      if (this.plain && this.delivered === 0 && looksLikeTls(head))
        return this.refuse(new MarillError(`the ${this.peer}: ${SPEAKS_TLS}`));
      const len = head.readUInt32BE(0);
      if (len > this.maxMessageBytes) {
        const limit = this.handshakeDone ? "this plan's largest message" : 'a hello, before the handshake';
        return this.refuse(
          new MarillError(
            `the ${this.peer} announced a ${len}-byte message, over the limit of ${this.maxMessageBytes} bytes (${limit})`,
          ),
        );
      }
      if (this.pendingBytes < 4 + len) return;
      this.inbox.deliver(this.takeFrame(len));
      this.delivered++;
      this.onFirst?.resolve();
      this.onFirst = undefined;
      // A peer sending faster than this side receives: stop reading (TCP pushes back) until it catches up.
      if (this.overQueued()) {
        this.socket.pause();
        return;
      }
    }
  }

  /**
   * The next frame's payload (after its 4-byte header), copied once into
   * memory of its own: receivers may view it as a ring array without another copy.
   */
  private takeFrame(len: number): Uint8Array {
    const out = new Uint8Array(Buffer.allocUnsafeSlow(len).buffer, 0, len);
    let skip = 4;
    let at = 0;
    while (at < len || skip > 0) {
      const chunk = this.pending[0]!;
      const from = Math.min(skip, chunk.length);
      const n = Math.min(chunk.length - from, len - at);
      out.set(chunk.subarray(from, from + n), at);
      skip -= from;
      at += n;
      const used = from + n;
      this.pendingBytes -= used;
      if (used === chunk.length) this.pending.shift();
      else this.pending[0] = chunk.subarray(used);
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.pending[0]!.length >= n) return this.pending[0]!;
    this.pending = [Buffer.concat(this.pending)];
    return this.pending[0]!;
  }

  /** More arrived and unreceived than twice the largest message: reading waits for the receiver. */
  private overQueued(): boolean {
    return this.inbox.queuedBytes > 2 * this.maxMessageBytes;
  }

  setMessageLimit(maxBytes: number): void {
    this.maxMessageBytes = maxBytes;
    this.handshakeDone = true;
    this.parse();
    if (!this.inbox.failed && !this.overQueued()) this.socket.resume();
  }

  send(data: Uint8Array): void {
    if (this.inbox.failed) throw this.inbox.failed;
    // One write per frame (header and payload together: no separate tiny packet with Nagle off).
    // Copy: the caller may reuse or mutate its buffer before the socket flushes it.
    const frame = Buffer.allocUnsafe(4 + data.byteLength);
    frame.writeUInt32BE(data.byteLength, 0);
    frame.set(data, 4);
    this.socket.write(frame);
  }

  recv(): Promise<Uint8Array> {
    const message = this.inbox.recv();
    if (this.handshakeDone && this.socket.isPaused() && !this.overQueued()) {
      this.socket.resume();
      this.parse(); // frames already buffered while paused
    }
    return message;
  }

  close(): void {
    this.closing = true;
    this.socket.end();
    // A peer that never closes its side must not hold the socket open for ever.
    setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS).unref();
  }
}

/** A connection's key among those waiting for their hello: the remote address and port. */
function keyOf(socket: net.Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

function describe(role: string, socket: net.Socket): string {
  return `${role} at ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

/** Tells a peer of the wrong kind (plain vs TLS) why, in one plain frame, and closes. */
function sendRefusal(socket: net.Socket, why: string): void {
  const body = refusalMessage(why);
  const frame = Buffer.allocUnsafe(4 + body.byteLength);
  frame.writeUInt32BE(body.byteLength, 0);
  frame.set(body, 4);
  socket.end(frame);
  socket.destroySoon?.();
}

/** A listening server that hands out accepted connections as channels. */
export class Listener {
  private readonly queue: Channel[] = [];
  private readonly waiters: { resolve: (c: Channel) => void; reject: (e: Error) => void }[] = [];
  private failure: MarillError | undefined;
  /** Connections not yet handed out or refused, by remote address: the socket and its release. */
  private readonly waiting = new Map<string, { socket: net.Socket; release: () => void }>();
  private lastRefusal: string | undefined;
  private readonly peerName: string;

  private constructor(
    private readonly server: net.Server,
    private readonly secure: tls.Server | undefined,
    private readonly opts: ListenOptions,
  ) {
    this.peerName = opts.peerRoles.length === 1 ? opts.peerRoles[0]! : 'party';
    server.on('connection', (socket: net.Socket) => this.sniff(socket));
    secure?.on('secureConnection', (socket: tls.TLSSocket) => {
      const role = roleInSubjectAltName(socket.getPeerCertificate().subjectaltname);
      if (role === undefined || !opts.peerRoles.includes(role)) {
        const named = role ? `the ${role}'s` : 'no role';
        this.refused(
          describe(this.peerName, socket),
          `TLS: its certificate names ${named}, not the ${opts.peerRoles.join(' or ')}'s`,
        );
        this.drop(socket);
        return;
      }
      this.admit(socket, role);
    });
    secure?.on('tlsClientError', (e: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      this.refused(describe(this.peerName, socket), tlsFailure(e));
      this.drop(socket);
    });
  }

  /** Listens on host:port; a port in use (or any listen failure) is a clear MarillError. */
  static async open(at: Endpoint, opts: ListenOptions): Promise<Listener> {
    const material = linkMaterial(opts);
    const server = net.createServer({ pauseOnConnect: true });
    const secure = material
      ? tls.createServer({
          ...material,
          ...TLS_OPTIONS,
          requestCert: true,
          rejectUnauthorized: true,
          handshakeTimeout: opts.helloTimeoutMs ?? opts.recvTimeoutMs ?? DEFAULT_RECV_TIMEOUT_MS,
        })
      : undefined;
    const listener = new Listener(server, secure, opts);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'EADDRINUSE' ? 'address already in use' : e.message;
        reject(new MarillError(`cannot listen on ${at.host}:${at.port}: ${why}`));
      });
      server.listen(at.port, at.host, () => resolve());
    });
    server.on('error', (e: Error) => listener.fail(new MarillError(`listener failed: ${e.message}`)));
    return listener;
  }

  private get recvTimeoutMs(): number {
    return this.opts.recvTimeoutMs ?? DEFAULT_RECV_TIMEOUT_MS;
  }

  private refused(peer: string, why: string): void {
    this.lastRefusal = `${peer}: ${why}`;
    this.opts.onRefused?.(peer, why);
  }

  private release(socket: net.Socket, key = keyOf(socket)): void {
    this.waiting.get(key)?.release();
  }

  /**
   * Closes a refused connection for good: the TLS socket and the TCP socket
   * under it (which TLS reads through a stream wrapper after the sniffing,
   * so destroying the TLS socket alone can leave it open).
   */
  private drop(socket: net.Socket, key = keyOf(socket)): void {
    const raw = this.waiting.get(key)?.socket;
    this.release(socket, key);
    socket.destroy();
    raw?.destroy();
  }

  /**
   * Reads a new connection's first bytes to tell TLS from plain TCP, so a peer
   * of the wrong kind is told so (and refused) instead of seeing a bare close.
   * A connection that has not said hello within the hello timeout is closed.
   */
  private sniff(socket: net.Socket): void {
    const key = keyOf(socket);
    if (this.waiting.size >= MAX_WAITING_CONNECTIONS) {
      socket.destroy();
      return;
    }
    const helloMs = this.opts.helloTimeoutMs ?? this.recvTimeoutMs;
    const timer = setTimeout(() => {
      entry.release(); // refused once: what fails after the close is not reported again
      this.refused(describe(this.peerName, socket), `no hello within ${helloMs / 1000} s`);
      socket.destroy();
    }, helloMs);
    timer.unref();
    const entry = {
      socket,
      release: () => {
        clearTimeout(timer);
        if (this.waiting.get(key) === entry) this.waiting.delete(key);
      },
    };
    const release = entry.release;
    this.waiting.set(key, entry);
    socket.on('error', () => {}); // a failure shows as 'close' (or, later, at the channel)
    socket.once('close', release);
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      const tlsHello = chunk[0] === 0x16;
      const peer = describe(this.peerName, socket);
      if (this.secure && !tlsHello) {
        release();
        sendRefusal(socket, 'this party requires TLS: give every party the session certificates');
        return this.refused(peer, NOT_TLS);
      }
      if (!this.secure && tlsHello) {
        release();
        sendRefusal(socket, 'this party runs with --insecure-plaintext (no TLS)');
        return this.refused(peer, SPEAKS_TLS);
      }
      if (this.secure) this.secure.emit('connection', socket);
      else this.admit(socket, undefined);
    });
    socket.resume();
  }

  /** Hands out the connection once its first message (a hello-sized one) has arrived. */
  private admit(socket: net.Socket, role: Role | undefined): void {
    const peer = describe(role ?? this.peerName, socket);
    // Now, while the socket is open: a refused channel destroys it, and its address with it.
    const key = keyOf(socket);
    const ch = new SocketChannel(socket, peer, this.recvTimeoutMs, role, !this.secure);
    ch.greeted.then(
      () => {
        this.release(socket, key);
        const w = this.waiters.shift();
        if (w) w.resolve(ch);
        else this.queue.push(ch);
      },
      (e: Error) => {
        // Not waiting any more: already refused (no hello in time) and closed.
        if (this.waiting.has(key)) this.refused(peer, e.message);
        this.drop(socket, key);
      },
    );
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** Why the listener stopped (closed, or a listening error), once it has. */
  get failed(): MarillError | undefined {
    return this.failure;
  }

  private fail(e: MarillError): void {
    this.failure ??= e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  /** The next accepted connection; fails after `timeoutMs` without one. */
  accept(timeoutMs = DEFAULT_RECV_TIMEOUT_MS): Promise<Channel> {
    const ready = this.queue.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        const refusal = this.lastRefusal ? ` (refused ${this.lastRefusal})` : '';
        reject(
          new MarillError(
            `no ${this.peerName} connected to port ${this.port} within ${timeoutMs / 1000} s${refusal}`,
          ),
        );
      }, timeoutMs);
      const w = {
        resolve: (c: Channel) => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(w);
    });
  }

  /**
   * Stops listening, fails waiting accepts and drops connections still waiting
   * for their hello (handed-out ones stay open).
   */
  close(): void {
    const port = this.port;
    this.server.close();
    this.fail(new MarillError(`stopped listening on port ${port}`));
    for (const { socket, release } of [...this.waiting.values()]) {
      release();
      socket.destroy();
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A failure to connect: whether trying again may help (the peer not listening yet). */
class ConnectFailure extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

/** One connection attempt: TCP, then (with TLS) the handshake and the peer's role. */
function connectOnce(
  to: Endpoint,
  peerRole: Role,
  material: TlsMaterial | undefined,
  handshakeTimeoutMs: number,
): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    let tcpUp = false;
    const failed = (e: NodeJS.ErrnoException) => {
      const refused = e.code === 'ECONNREFUSED' || e.code === 'ENOENT';
      // Refused before TCP is up: the peer may start later. After it: a real answer.
      if (!tcpUp) reject(new ConnectFailure(refused ? 'connection refused' : e.message, refused));
      else if (material)
        reject(new ConnectFailure(e.message.startsWith('TLS:') ? e.message : tlsFailure(e), false));
      else reject(new ConnectFailure(e.message, false));
    };
    if (!material) {
      const s = net.connect({ host: to.host, port: to.port }, () => resolve(s));
      s.once('error', failed);
      return;
    }
    const silent = setTimeout(() => {
      s.destroy();
      reject(new ConnectFailure(`no TLS handshake within ${handshakeTimeoutMs / 1000} s`, false));
    }, handshakeTimeoutMs);
    const s = tls.connect(
      {
        host: to.host,
        port: to.port,
        ...material,
        ...TLS_OPTIONS,
        servername: to.host.match(/^[\d.]+$/) || to.host.includes(':') ? undefined : to.host,
        // The identity checked is the role in the certificate (the CA is the session's own).
        checkServerIdentity: (_host, cert) => {
          const role = roleInSubjectAltName(cert.subjectaltname);
          if (role === peerRole) return undefined;
          const named = role ? `the ${role}'s` : 'no role';
          return new Error(`TLS: its certificate names ${named}, not the ${peerRole}'s`);
        },
      },
      () => {
        clearTimeout(silent);
        resolve(s);
      },
    );
    s.once('connect', () => (tcpUp = true));
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(silent);
      failed(e);
    });
  });
}

/** Connects to a listening peer, retrying while the connection is refused (it may start later). */
export async function connect(to: Endpoint, peerRole: Role, opts: ConnectOptions): Promise<Channel> {
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 30_000);
  const material = linkMaterial(opts);
  const peer = `${peerRole} at ${to.host}:${to.port}`;
  for (;;) {
    try {
      const socket = await connectOnce(to, peerRole, material, opts.recvTimeoutMs ?? DEFAULT_RECV_TIMEOUT_MS);
      socket.removeAllListeners('error');
      return new SocketChannel(
        socket,
        peer,
        opts.recvTimeoutMs ?? DEFAULT_RECV_TIMEOUT_MS,
        material ? peerRole : undefined,
        !material,
      );
    } catch (e) {
      const err = e as ConnectFailure;
      if (!err.retry || Date.now() > deadline)
        throw new MarillError(`cannot connect to the ${peer}: ${err.message}`);
      await sleep(100);
    }
  }
}
