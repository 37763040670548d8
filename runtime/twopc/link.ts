/**
 * The two-party link the dealer-free primitives talk over, and their cost.
 *
 * A `Link` is one party's end of a `Channel` plus its index (0 = server, 1 =
 * client, as `partyIndex` in ../protocol.ts). Costs follow runtime/README.md:
 * bytes are payload bytes handed to the channel per sending party; latency is
 * counted in flights, a flight being a maximal run of messages sent by one
 * party with no message from the other in between (a message that depends on
 * the peer's previous one starts a new flight; independent messages pipeline).
 * `meteredPair` measures both on the in-process channel pair so tests and the
 * benchmark compare the cost functions with real traffic.
 */
import type { Channel } from '../net/channel.ts';
import { channelPair } from '../net/channel.ts';
import type { Ring } from '../ring/kernels.ts';
import { MarillError } from '../../ir/errors.ts';

export type PartyIndex = 0 | 1;

/** Bytes sent by each party (by index) and flights, with who sends the first and the last flight. */
export interface PairCost {
  readonly bytes: readonly [number, number];
  readonly flights: number;
  readonly first: PartyIndex | undefined;
  readonly last: PartyIndex | undefined;
}

export const NO_COST: PairCost = { bytes: [0, 0], flights: 0, first: undefined, last: undefined };

/** One flight of `bytes` sent by `from`. */
export function flight(from: PartyIndex, bytes: number): PairCost {
  const b: [number, number] = [0, 0];
  b[from] = bytes;
  return { bytes: b, flights: 1, first: from, last: from };
}

/** The cost of running `costs` one after the other: a flight that follows one of the same sender merges. */
export function sequence(...costs: readonly PairCost[]): PairCost {
  return costs.reduce((a, c) => {
    if (c.flights === 0) return { ...a, bytes: [a.bytes[0] + c.bytes[0], a.bytes[1] + c.bytes[1]] };
    if (a.flights === 0) return { ...c, bytes: [a.bytes[0] + c.bytes[0], a.bytes[1] + c.bytes[1]] };
    return {
      bytes: [a.bytes[0] + c.bytes[0], a.bytes[1] + c.bytes[1]],
      flights: a.flights + c.flights - (a.last === c.first ? 1 : 0),
      first: a.first,
      last: c.last,
    };
  }, NO_COST);
}

/** Records the traffic of both ends of a pair, in the order messages are sent. */
export class Meter {
  readonly bytes: [number, number] = [0, 0];
  readonly messages: [number, number] = [0, 0];
  flights = 0;
  first: PartyIndex | undefined;
  last: PartyIndex | undefined;

  record(from: PartyIndex, bytes: number): void {
    this.bytes[from] += bytes;
    this.messages[from] += 1;
    if (this.last !== from) this.flights += 1;
    this.first ??= from;
    this.last = from;
  }

  /** What was measured, in the form the cost functions predict. */
  cost(): PairCost {
    return {
      bytes: [this.bytes[0], this.bytes[1]],
      flights: this.flights,
      first: this.first,
      last: this.last,
    };
  }
}

/**
 * One party's own view of the traffic (what a party of a real run can measure):
 * the bytes it sent, and flights as the runs of same-sender messages in the
 * order it sent and received them. For protocols whose flights alternate
 * (every cost function here), both parties count the flights `sequence` predicts.
 */
export class PartyMeter {
  bytesSent = 0;
  bytesReceived = 0;
  flights = 0;
  private last: PartyIndex | undefined;

  record(from: PartyIndex, bytes: number): void {
    this.bytesSent += bytes;
    this.note(from);
  }

  received(from: PartyIndex, bytes: number): void {
    this.bytesReceived += bytes;
    this.note(from);
  }

  private note(from: PartyIndex): void {
    if (this.last !== from) this.flights += 1;
    this.last = from;
  }
}

/** What a link reports traffic to: a shared `Meter` (tests) or one party's `PartyMeter`. */
export interface TrafficMeter {
  record(from: PartyIndex, bytes: number): void;
  received?(from: PartyIndex, bytes: number): void;
}

export class Link {
  /** Where traffic is reported; a runtime swaps it per op to account each op apart. */
  meter: TrafficMeter | undefined;

  constructor(
    private readonly channel: Channel,
    readonly index: PartyIndex,
    meter?: TrafficMeter,
  ) {
    this.meter = meter;
  }

  get peer(): PartyIndex {
    return this.index === 0 ? 1 : 0;
  }

  send(data: Uint8Array): void {
    this.meter?.record(this.index, data.byteLength);
    this.channel.send(data);
  }

  async recv(): Promise<Uint8Array> {
    const m = await this.channel.recv();
    this.meter?.received?.(this.peer, m.byteLength);
    return m;
  }

  /** The next message, which must have exactly `bytes` bytes (a misbehaving peer ends the run). */
  async recvExactly(bytes: number, what: string): Promise<Uint8Array> {
    const m = await this.recv();
    if (m.byteLength !== bytes)
      throw new MarillError(`${this.channel.peer}: ${what}: expected ${bytes} bytes, got ${m.byteLength}`);
    return m;
  }

  sendRing(r: Ring): void {
    this.send(new Uint8Array(r.buffer, r.byteOffset, r.byteLength));
  }

  async recvRing(n: number, what: string): Promise<Ring> {
    const m = await this.recvExactly(8 * n, what);
    const out = new BigInt64Array(n);
    new Uint8Array(out.buffer).set(m);
    return out;
  }
}

/** Two linked parties in one process (index 0 = server, 1 = client) sharing one meter. */
export function meteredPair(): { readonly links: readonly [Link, Link]; readonly meter: Meter } {
  const [toClient, toServer] = channelPair(['client', 'server']);
  const meter = new Meter();
  return { links: [new Link(toClient, 0, meter), new Link(toServer, 1, meter)], meter };
}
