/**
 * The PartyContext implementation: one per op run, over the party-to-party
 * channel, counting into that op's OpStats. See runtime/protocol.ts for the
 * contract and the definitions of bytes and rounds.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Prg } from '../crypto/prg.ts';
import type { Channel } from '../net/channel.ts';
import type { Party, PartyContext } from '../protocol.ts';
import { partyIndex } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import type { OpStats } from './accounting.ts';

/** State both parties keep for a whole session. */
export interface SessionState {
  readonly party: Party;
  readonly fracBits: number;
  readonly channel: Channel;
  /** Randomness common to the two parties (seeded at the handshake). */
  readonly common: Prg;
  /** Results of `ctx.once`, by the op's session key and the key (shared by a generation's step plans). */
  readonly onceCache: Map<string, unknown>;
}

/** Byte arrays one after another, in one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, x) => s + x.byteLength, 0));
  let at = 0;
  for (const x of parts) {
    out.set(x, at);
    at += x.byteLength;
  }
  return out;
}

/** Bytes of a ring array (a view, no copy). */
export function ringBytes(r: Ring): Uint8Array {
  return new Uint8Array(r.buffer, r.byteOffset, r.byteLength);
}

/**
 * A ring array from received bytes: a view when the message owns its whole
 * (aligned) buffer, as the channels deliver it; otherwise a copy.
 */
export function bytesToRing(b: Uint8Array, what = 'message'): Ring {
  if (b.byteLength % 8 !== 0)
    throw new MarillError(`${what} of ${b.byteLength} bytes is not a whole number of ring elements`);
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && !(b.buffer instanceof SharedArrayBuffer))
    return new BigInt64Array(b.buffer, 0, b.byteLength / 8);
  const out = new BigInt64Array(b.byteLength / 8);
  new Uint8Array(out.buffer).set(b);
  return out;
}

class OpContext implements PartyContext {
  readonly party: Party;
  readonly index: 0 | 1;
  readonly fracBits: number;
  readonly common: Prg;
  private inSetup = false;

  constructor(
    private readonly session: SessionState,
    private readonly stats: OpStats,
    private readonly sessionKey: string,
  ) {
    this.party = session.party;
    this.index = partyIndex(session.party);
    this.fracBits = session.fracBits;
    this.common = session.common;
  }

  private count(sentBytes: number): void {
    if (this.inSetup) {
      this.stats.setupBytesSent += sentBytes;
      this.stats.setupRounds += 1;
    } else {
      this.stats.bytesSent += sentBytes;
      this.stats.rounds += 1;
    }
  }

  private received(m: Uint8Array): Uint8Array {
    if (this.inSetup) this.stats.setupBytesReceived += m.byteLength;
    else this.stats.bytesReceived += m.byteLength;
    return m;
  }

  async exchange(data: Uint8Array): Promise<Uint8Array> {
    this.count(data.byteLength);
    this.session.channel.send(data);
    return this.received(await this.session.channel.recv());
  }

  async exchangeRing(data: Ring): Promise<Ring> {
    const got = bytesToRing(await this.exchange(ringBytes(data)));
    if (got.length !== data.length)
      throw new MarillError(`peer sent ${got.length} ring elements where ${data.length} were expected`, {
        what: this.stats.id,
      });
    return got;
  }

  async send(data: Uint8Array): Promise<void> {
    this.count(data.byteLength);
    this.session.channel.send(data);
  }

  sendRing(data: Ring): Promise<void> {
    return this.send(ringBytes(data));
  }

  async recv(): Promise<Uint8Array> {
    this.count(0);
    return this.received(await this.session.channel.recv());
  }

  async recvRing(): Promise<Ring> {
    return bytesToRing(await this.recv());
  }

  async once<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const fullKey = `${this.sessionKey}/${key}`;
    if (this.session.onceCache.has(fullKey)) return this.session.onceCache.get(fullKey) as T;
    const wasSetup = this.inSetup;
    this.inSetup = true;
    const t0 = performance.now();
    try {
      const value = await compute();
      this.session.onceCache.set(fullKey, value);
      return value;
    } finally {
      this.inSetup = wasSetup;
      if (!wasSetup) this.stats.setupSeconds += (performance.now() - t0) / 1000;
    }
  }
}

/**
 * The context for one run of one op. `sessionKey` keys its `once` results
 * (runtime/bound-plan.ts `sessionKey`; default: the op id).
 */
export function opContext(
  session: SessionState,
  stats: OpStats,
  sessionKey: string = stats.id,
): PartyContext {
  return new OpContext(session, stats, sessionKey);
}
