/**
 * A message channel to one peer: ordered, reliable, message-framed. The TCP
 * transport (./tcp.ts) and the in-process pair below both implement it.
 *
 * Failure contract: once the peer is gone (closed, disconnected, timed out)
 * every pending and later `recv` rejects with a MarillError saying so, so a
 * protocol never hangs on a dead peer.
 *
 * Size contract: the handshake (./handshake.ts) ends by calling
 * `setMessageLimit` with the plan's largest message; a message above it
 * fails the channel. Before that, a TCP channel accepts only a hello-sized
 * message (./tcp.ts); the in-process pair, whose peer is this process,
 * accepts any size until a limit is set.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Role } from './identity.ts';

export interface Channel {
  /** Queues one message for the peer (never blocks; errors surface on `recv`). */
  send(data: Uint8Array): void;
  /** The next message from the peer. */
  recv(): Promise<Uint8Array>;
  /** Closes the channel; the peer's pending `recv` fails. */
  close(): void;
  /** Who the peer is, for error messages ("client at 127.0.0.1:4000"). */
  readonly peer: string;
  /** The role the peer's TLS certificate names (undefined without TLS: nothing is certified). */
  readonly certifiedRole?: Role;
  /** The handshake is done: from now on refuse messages above `maxBytes`. */
  setMessageLimit(maxBytes: number): void;
}

/** Default time a `recv` waits before failing: generous, since a large matmul may run meanwhile. */
export const DEFAULT_RECV_TIMEOUT_MS = 300_000;

/**
 * The receiving half shared by transports: a queue of arrived messages and of
 * waiting receivers, a failure state, and a per-recv timeout.
 */
export class Inbox {
  private readonly messages: Uint8Array[] = [];
  private readonly waiters: { resolve: (m: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  private failure: MarillError | undefined;

  constructor(
    private readonly peer: string,
    private readonly timeoutMs: number = DEFAULT_RECV_TIMEOUT_MS,
  ) {}

  private bytes = 0;

  deliver(message: Uint8Array): void {
    const w = this.waiters.shift();
    if (w) w.resolve(message);
    else {
      this.messages.push(message);
      this.bytes += message.byteLength;
    }
  }

  /** Bytes of arrived messages nobody has received yet (a transport stops reading above a bound). */
  get queuedBytes(): number {
    return this.bytes;
  }

  /** Fails every pending and future recv (the first failure wins). */
  fail(error: MarillError): void {
    this.failure ??= error;
    for (const w of this.waiters.splice(0)) w.reject(this.failure);
  }

  get failed(): MarillError | undefined {
    return this.failure;
  }

  recv(): Promise<Uint8Array> {
    const ready = this.messages.shift();
    if (ready) {
      this.bytes -= ready.byteLength;
      return Promise.resolve(ready);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new MarillError(`no message from the ${this.peer} within ${this.timeoutMs / 1000} s`));
      }, this.timeoutMs);
      const waiter = {
        resolve: (m: Uint8Array) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(waiter);
    });
  }
}

class InProcessChannel implements Channel {
  other: InProcessChannel | undefined;
  readonly inbox: Inbox;
  private closed = false;
  private maxMessageBytes = Infinity;

  constructor(
    readonly peer: string,
    timeoutMs: number,
  ) {
    this.inbox = new Inbox(peer, timeoutMs);
  }

  send(data: Uint8Array): void {
    if (this.closed) throw new MarillError(`channel to the ${this.peer} is closed`);
    const other = this.other!;
    if (data.byteLength > other.maxMessageBytes) {
      other.inbox.fail(
        new MarillError(
          `the ${other.peer} sent a ${data.byteLength}-byte message, over the limit of ${other.maxMessageBytes} bytes`,
        ),
      );
      return;
    }
    // Copy: the sender may reuse its buffer, as it could with a socket.
    other.inbox.deliver(Uint8Array.from(data));
  }

  setMessageLimit(maxBytes: number): void {
    this.maxMessageBytes = maxBytes;
  }

  recv(): Promise<Uint8Array> {
    return this.inbox.recv();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inbox.fail(new MarillError(`channel to the ${this.peer} is closed`));
    const other = this.other!;
    other.inbox.fail(new MarillError(`the ${other.peer} closed the connection`));
  }
}

/**
 * Two connected channels in one process (unit tests): what one sends the
 * other receives. `names` say who each end's peer is.
 */
export function channelPair(
  names: readonly [string, string] = ['client', 'server'],
  timeoutMs = DEFAULT_RECV_TIMEOUT_MS,
): [Channel, Channel] {
  const a = new InProcessChannel(names[0], timeoutMs);
  const b = new InProcessChannel(names[1], timeoutMs);
  a.other = b;
  b.other = a;
  return [a, b];
}
