/**
 * The long-running server (`marillc serve PLAN --party server`): accepts
 * clients until shut down; each connection is a session (./sessions.ts)
 * running concurrently with the others, with its own executor, dealer feed
 * and channel. A session that fails (a client killed mid-inference, garbage,
 * an oversized frame, silence, a TLS mismatch) ends alone, with one log line;
 * the others go on.
 *
 * Limits: at most `maxSessions` sessions at once (one more client is refused
 * with a message it prints); a frame larger than the plan's largest message
 * is refused before memory is set aside for it (runtime/net/tcp.ts: a hello's
 * size before the handshake, the plan's largest message after); the
 * handshake is bounded in time. `shutdown()` stops accepting, refuses further inferences, lets those
 * running finish for up to `graceMs`, then cuts what is left.
 */
import { MarillError } from '../../ir/errors.ts';
import type { MaterialProvider } from '../dealer/provider.ts';
import type { CheckedWeights } from '../executor.ts';
import type { Channel } from '../net/channel.ts';
import { refusalMessage } from '../net/handshake.ts';
import type { Role } from '../net/identity.ts';
import type { Endpoint, LinkOptions } from '../net/tcp.ts';
import { Listener } from '../net/tcp.ts';
import { serveGeneration } from '../generate/served.ts';
import { GenerationWeights } from '../generate/session.ts';
import type { SessionLogEntry } from './log.ts';
import { sendControl } from './control.ts';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, serveSession } from './sessions.ts';

export interface ServerOptions extends LinkOptions {
  /** The weights checked against the plan (CheckedWeights), or a generation plan's (GenerationWeights). */
  readonly weights: CheckedWeights | GenerationWeights;
  readonly listen: Endpoint;
  readonly material: MaterialProvider;
  /** Sessions at once (default 16). */
  readonly maxSessions?: number;
  /** Bound on each session's handshake (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /** How long a receive waits for a client mid-session (default 60 s). */
  readonly timeoutMs?: number;
  /** How long running inferences may take to finish after shutdown() (default 30 s). */
  readonly graceMs?: number;
  readonly onListening?: (port: number) => void;
  /** One entry per ended session. */
  readonly onLog?: (e: SessionLogEntry) => void;
}

export interface ServerSummary {
  readonly sessions: number;
  readonly inferences: number;
}

/** A channel that counts the payload bytes through it (for the session's log line). */
class CountingChannel implements Channel {
  bytes = 0;
  constructor(private readonly inner: Channel) {}
  get peer(): string {
    return this.inner.peer;
  }
  get certifiedRole(): Role | undefined {
    return this.inner.certifiedRole;
  }
  setMessageLimit(maxBytes: number): void {
    this.inner.setMessageLimit(maxBytes);
  }
  send(data: Uint8Array): void {
    this.bytes += data.byteLength;
    this.inner.send(data);
  }
  async recv(): Promise<Uint8Array> {
    const m = await this.inner.recv();
    this.bytes += m.byteLength;
    return m;
  }
  close(): void {
    this.inner.close();
  }
}

interface Running {
  readonly channel: Channel;
  state: 'handshake' | 'idle' | 'inference';
}

/** "client at 127.0.0.1:50412" -> "127.0.0.1:50412". */
function remoteOf(peer: string): string {
  const at = peer.lastIndexOf(' at ');
  return at >= 0 ? peer.slice(at + 4) : peer;
}

export class PartyServer {
  private readonly running = new Set<Running>();
  private numbered = 0;
  private readonly totals = { sessions: 0, inferences: 0 };
  private stopping = false;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  private finish: () => void = () => {};
  /** Resolves once shut down and every session has ended. */
  readonly done: Promise<ServerSummary>;

  private constructor(
    private readonly opts: ServerOptions,
    private readonly listener: Listener,
  ) {
    this.done = new Promise<void>((resolve) => (this.finish = resolve)).then(() => {
      clearTimeout(this.graceTimer);
      return { ...this.totals };
    });
  }

  static async start(opts: ServerOptions): Promise<PartyServer> {
    const handshakeMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    // The listener reports TLS failures to the server it is about to belong to.
    const ref: { server?: PartyServer } = {};
    const listener = await Listener.open(opts.listen, {
      tls: opts.tls,
      insecurePlaintext: opts.insecurePlaintext,
      peerRoles: ['client'],
      recvTimeoutMs: opts.timeoutMs ?? 60_000,
      helloTimeoutMs: handshakeMs,
      onRefused: (peer, why) => ref.server?.refused(peer, why),
    });
    const server = new PartyServer(opts, listener);
    ref.server = server;
    opts.onListening?.(listener.port);
    void server.acceptLoop();
    return server;
  }

  get port(): number {
    return this.listener.port;
  }

  /** Sessions running now. */
  get active(): number {
    return this.running.size;
  }

  /** Stops accepting; idle sessions end now, running inferences get `graceMs` to finish. */
  shutdown(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.listener.close();
    for (const r of this.running)
      if (r.state !== 'inference') {
        try {
          if (r.state === 'idle')
            sendControl(r.channel, { control: 'refused', reason: 'the server is shutting down' });
        } catch {
          // the client is gone already
        }
        r.channel.close();
      }
    this.graceTimer = setTimeout(() => {
      for (const r of this.running) r.channel.close();
    }, this.opts.graceMs ?? 30_000);
    this.settle();
  }

  private settle(): void {
    if (this.stopping && this.running.size === 0) this.finish();
  }

  private log(e: SessionLogEntry): void {
    this.opts.onLog?.(e);
  }

  /**
   * A connection refused before its hello (a failed TLS handshake, a
   * certificate of another role, plain TCP, silence): it never became a
   * session, but it gets its line.
   */
  private refused(peer: string, why: string): void {
    this.log({
      event: 'session',
      session: ++this.numbered,
      from: remoteOf(peer),
      inferences: 0,
      bytes: 0,
      seconds: 0,
      ended: `refused before its hello: ${why}`,
    });
  }

  private async acceptLoop(): Promise<void> {
    while (!this.stopping) {
      let channel: Channel;
      try {
        channel = await this.listener.accept(24 * 3600_000);
      } catch {
        const failed = this.listener.failed;
        if (failed && !this.stopping) {
          // The listening socket itself failed: no client can come any more.
          this.log({ event: 'stopping', message: `server: ${failed.message}` });
          this.shutdown();
        }
        continue; // stopped listening (the loop ends), or a day without a client
      }
      void this.session(channel).catch((e: unknown) => {
        // A session's own failures are logged by it; anything else must not stop the other sessions.
        this.log({ event: 'error', message: `server: ${e instanceof Error ? e.message : String(e)}` });
      });
    }
  }

  private async session(raw: Channel): Promise<void> {
    const number = ++this.numbered;
    const from = remoteOf(raw.peer);
    const max = this.opts.maxSessions ?? 16;
    if (this.running.size >= max) {
      const reason = `the server is serving its maximum of ${max} sessions; try again later`;
      try {
        raw.send(refusalMessage(reason));
      } catch {
        // the client is gone already: nothing to tell it
      }
      raw.close();
      this.log({
        event: 'session',
        session: number,
        from,
        inferences: 0,
        bytes: 0,
        seconds: 0,
        ended: `refused: ${reason}`,
      });
      return;
    }
    const channel = new CountingChannel(raw);
    const entry: Running = { channel, state: 'handshake' };
    this.running.add(entry);
    const t0 = performance.now();
    let inferences = 0;
    let ended: string | undefined;
    try {
      const o = {
        channel,
        material: this.opts.material,
        number,
        handshakeTimeoutMs: this.opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
        stopping: () => this.stopping,
        onState: (s: 'idle' | 'inference') => (entry.state = s),
        onInference: () => inferences++,
      };
      const { weights } = this.opts;
      // A generation plan's sessions are generation sessions (their steps count as inferences).
      if (weights instanceof GenerationWeights) await serveGeneration({ ...o, plan: weights.plan, weights });
      else await serveSession({ ...o, plan: weights.plan, weights });
    } catch (e) {
      ended = e instanceof MarillError ? e.format() : e instanceof Error ? e.message : String(e);
      if (this.stopping) ended = `the server shut down (${ended})`;
    } finally {
      channel.close();
      this.running.delete(entry);
    }
    this.totals.sessions++;
    this.totals.inferences += inferences;
    this.log({
      event: 'session',
      session: number,
      from,
      inferences,
      bytes: channel.bytes,
      seconds: (performance.now() - t0) / 1000,
      ...(ended !== undefined ? { ended } : {}),
    });
    this.settle();
  }
}
