/**
 * TCP (optionally TLS) channels with length-prefixed framing: each message is
 * a 4-byte big-endian length and the payload. One connection per peer.
 *
 * Errors are one-line MarillErrors: a port in use, a peer that cannot be
 * reached before the connect deadline, a peer that disconnects or goes silent
 * mid-protocol (pending receives fail at once; see ./channel.ts), a TLS peer
 * without a certificate signed by the given CA.
 *
 * TLS (node:tls) is mutual: both sides present a certificate signed by the
 * session's CA and reject peers that do not, so no one else can join a session.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { MarillError } from '../../ir/errors.ts';
import type { Channel } from './channel.ts';
import { DEFAULT_RECV_TIMEOUT_MS, Inbox } from './channel.ts';

/** How long a closed channel waits for the peer to close its side before the socket is destroyed. */
const CLOSE_LINGER_MS = 10_000;

/** Messages above this are refused (a corrupt or hostile length prefix). */
export const MAX_FRAME_BYTES = 1 << 30;

export interface TlsFiles {
  /** PEM paths: this party's certificate and key, and the CA that signs every party of the session. */
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface ConnectOptions {
  readonly tls?: TlsFiles;
  /** How long to keep retrying a connection that is refused (peer not listening yet). */
  readonly connectTimeoutMs?: number;
  /** How long a receive waits for the peer. */
  readonly recvTimeoutMs?: number;
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

function tlsMaterial(files: TlsFiles): { cert: Buffer; key: Buffer; ca: Buffer } {
  return {
    cert: readPem(files.cert, 'certificate'),
    key: readPem(files.key, 'key'),
    ca: readPem(files.ca, 'CA'),
  };
}

/** A socket as a Channel: frames in, frames out, failure on close/error. */
class SocketChannel implements Channel {
  private readonly inbox: Inbox;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private closing = false;

  constructor(
    private readonly socket: net.Socket,
    readonly peer: string,
    recvTimeoutMs: number,
    private readonly maxFrameBytes: number = MAX_FRAME_BYTES,
    private readonly plain: boolean = false,
  ) {
    this.inbox = new Inbox(peer, recvTimeoutMs);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // A peer that dies mid-run shows up as a reset or a broken pipe: say so in words.
      const gone = e.code === 'EPIPE' || e.code === 'ECONNRESET';
      const message = gone
        ? `the ${peer} closed the connection (it disconnected or stopped)`
        : `connection to the ${peer} failed: ${e.message}`;
      this.inbox.fail(new MarillError(message));
    });
    socket.on('close', () => {
      const message = this.closing
        ? `connection to the ${peer} was closed`
        : `the ${peer} closed the connection (it disconnected or stopped)`;
      this.inbox.fail(new MarillError(message));
    });
  }

  private onData(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    for (;;) {
      if (this.pendingBytes < 4) return;
      const head = this.peek(4);
      const len = head.readUInt32BE(0);
      if (len > this.maxFrameBytes) {
        // A TLS record header (handshake, version 3.x) where a length is due: a TLS peer on plain TCP.
        const tlsPeer = this.plain && head[0] === 0x16 && head[1] === 0x03;
        const why = tlsPeer
          ? `the ${this.peer} speaks TLS, but this side is plain TCP (give both sides the --tls-* flags, or neither)`
          : `the ${this.peer} announced a ${len}-byte message, over the limit of ${this.maxFrameBytes} bytes`;
        this.inbox.fail(new MarillError(why));
        this.socket.destroy();
        return;
      }
      if (this.pendingBytes < 4 + len) return;
      this.inbox.deliver(this.takeFrame(len));
      // A peer sending faster than this side receives: stop reading (TCP pushes back) until it catches up.
      if (this.inbox.queuedBytes > 2 * this.maxFrameBytes) this.socket.pause();
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
    if (this.socket.isPaused() && this.inbox.queuedBytes <= 2 * this.maxFrameBytes) this.socket.resume();
    return message;
  }

  close(): void {
    this.closing = true;
    this.socket.end();
    // A peer that never closes its side must not hold the socket open for ever.
    setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS).unref();
  }
}

function describe(role: string, socket: net.Socket): string {
  return `${role} at ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

export interface ListenerOptions {
  readonly tls?: TlsFiles;
  /** Who connects (for messages): 'client', 'party'. */
  readonly peerRole?: string;
  readonly recvTimeoutMs?: number;
  /** Frames announced above this are refused before any memory is set aside for them (default MAX_FRAME_BYTES). */
  readonly maxFrameBytes?: number;
  /** How long a TLS handshake may take before the connection is dropped. */
  readonly tlsHandshakeTimeoutMs?: number;
  /** Called when a connection fails its TLS handshake (it never becomes a channel). */
  readonly onRejected?: (remote: string, reason: string) => void;
}

/** A listening server that hands out accepted connections as channels. */
export class Listener {
  private readonly queue: Channel[] = [];
  private readonly waiters: { resolve: (c: Channel) => void; reject: (e: Error) => void }[] = [];
  private failure: MarillError | undefined;

  private constructor(
    private readonly server: net.Server,
    private readonly peerRole: string,
    private readonly opts: ListenerOptions,
  ) {
    const secure = !!opts.tls;
    const event = secure ? 'secureConnection' : 'connection';
    server.on(event, (socket: net.Socket) => {
      const ch = new SocketChannel(
        socket,
        describe(this.peerRole, socket),
        opts.recvTimeoutMs ?? DEFAULT_RECV_TIMEOUT_MS,
        opts.maxFrameBytes,
        !secure,
      );
      const w = this.waiters.shift();
      if (w) w.resolve(ch);
      else this.queue.push(ch);
    });
    server.on('tlsClientError', (e: Error, socket: net.Socket) => {
      // A peer without a valid certificate (or not speaking TLS): refused by TLS; keep listening.
      opts.onRejected?.(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, e.message);
    });
  }

  /** Listens on host:port; a port in use (or any listen failure) is a clear MarillError. */
  static async open(at: Endpoint, opts: ListenerOptions = {}): Promise<Listener> {
    const server = opts.tls
      ? tls.createServer({
          ...tlsMaterial(opts.tls),
          requestCert: true,
          rejectUnauthorized: true,
          ...(opts.tlsHandshakeTimeoutMs !== undefined
            ? { handshakeTimeout: opts.tlsHandshakeTimeoutMs }
            : {}),
        })
      : net.createServer();
    const listener = new Listener(server, opts.peerRole ?? 'peer', opts);
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
        reject(
          new MarillError(`no ${this.peerRole} connected to port ${this.port} within ${timeoutMs / 1000} s`),
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

  /** Stops listening; accepted connections stay open, waiting accepts fail. */
  close(): void {
    const port = this.port;
    this.server.close();
    this.fail(new MarillError(`stopped listening on port ${port}`));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connects to a listening peer, retrying while the connection is refused (it may start later). */
export async function connect(to: Endpoint, peerRole: string, opts: ConnectOptions = {}): Promise<Channel> {
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 30_000);
  const material = opts.tls ? tlsMaterial(opts.tls) : undefined;
  for (;;) {
    try {
      const socket = await new Promise<net.Socket>((resolve, reject) => {
        const s: net.Socket = material
          ? tls.connect(
              {
                host: to.host,
                port: to.port,
                ...material,
                servername: to.host.match(/^[\d.]+$/) ? undefined : to.host,
              },
              () => resolve(s),
            )
          : net.connect({ host: to.host, port: to.port }, () => resolve(s));
        s.once('error', reject);
      });
      socket.removeAllListeners('error');
      return new SocketChannel(
        socket,
        `${peerRole} at ${to.host}:${to.port}`,
        opts.recvTimeoutMs ?? DEFAULT_RECV_TIMEOUT_MS,
      );
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const retry = err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' || err.code === 'ENOENT';
      if (!retry || Date.now() > deadline) {
        const why = err.code === 'ECONNREFUSED' ? 'connection refused' : err.message;
        throw new MarillError(`cannot connect to the ${peerRole} at ${to.host}:${to.port}: ${why}`);
      }
      await sleep(100);
    }
  }
}
