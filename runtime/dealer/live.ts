/**
 * The live dealer process (`marillc run PLAN --party dealer --listen H:P`) and
 * the parties' side of it.
 *
 * Wire protocol, per party connection (after the handshake of
 * runtime/net/handshake.ts, which checks the plan hash):
 *   dealer -> party   seeds: 16-byte stream seed, 16-byte session seed, then the dealer session id
 *   party  -> dealer  1 byte: 1 = "material for my next inference", 0 = "done"
 *   dealer -> party   one frame per bound op of the plan (runtime/bound-plan.ts order)
 * The dealer deals each inference once for both parties and keeps a party's
 * frames until it asks, so the parties may run at different speeds. It deals
 * ahead: the first inference while the parties connect, the next one as soon
 * as both hold the current one, so a party's request is answered from frames
 * already dealt (dealing is off the parties' critical path; on a machine
 * shared with the parties it still competes with them for CPU). It never
 * sees inputs, weights or outputs: it only knows the plan and its own randomness.
 */
import { MarillError } from '../../ir/errors.ts';
import { bindPlan, planMessageBound } from '../bound-plan.ts';
import type { Channel } from '../net/channel.ts';
import { handshake, makeHello } from '../net/handshake.ts';
import type { ConnectOptions, Endpoint, LinkOptions } from '../net/tcp.ts';
import { Listener, connect } from '../net/tcp.ts';
import type { Plan } from '../plan.ts';
import type { Party } from '../protocol.ts';
import { partyIndex } from '../protocol.ts';
import type { MaterialFeed } from './feeds.ts';
import { PlanDealer, QueuedFeed } from './feeds.ts';
import { SEED_BYTES } from '../crypto/prg.ts';

const NEXT = 1;
const DONE = 0;

export interface DealerOptions extends LinkOptions {
  readonly plan: Plan;
  readonly listen: Endpoint;
  /** How long to wait for each party to connect and between its requests. */
  readonly timeoutMs?: number;
  /** Called once listening (with the bound port). */
  readonly onListening?: (port: number) => void;
  /** Told about each connection refused before its hello (the dealer keeps waiting). */
  readonly onRefused?: (peer: string, why: string) => void;
}

export interface DealerSummary {
  readonly inferences: number;
  /** Bytes of material sent to [server, client] (seeds excluded). */
  readonly bytesSent: [number, number];
}

async function serveParty(
  channel: Channel,
  party: Party,
  dealer: PlanDealer,
  sent: [number, number],
  served: [number, number],
): Promise<void> {
  const seeds = dealer.seeds[partyIndex(party)];
  const hello = new Uint8Array(2 * SEED_BYTES + dealer.id.length);
  hello.set(seeds.stream, 0);
  hello.set(seeds.session, SEED_BYTES);
  hello.set(new TextEncoder().encode(dealer.id), 2 * SEED_BYTES);
  channel.send(hello);
  for (;;) {
    let request: Uint8Array;
    try {
      request = await channel.recv();
    } catch {
      return; // the party went away: nothing more to deal for it
    }
    if (request[0] === DONE) return;
    if (request[0] !== NEXT)
      throw new MarillError(`the ${party} sent an unknown dealer request ${request[0]}`);
    for (const frame of await dealer.nextFramesFor(party)) {
      channel.send(frame);
      sent[partyIndex(party)] += frame.byteLength;
    }
    served[partyIndex(party)]++;
    dealer.dealAhead();
  }
}

/** Runs a dealer for one session: accepts the server and the client, serves both until they finish. */
export async function runDealer(opts: DealerOptions): Promise<DealerSummary> {
  const dealer = new PlanDealer(opts.plan);
  const listener = await Listener.open(opts.listen, {
    tls: opts.tls,
    insecurePlaintext: opts.insecurePlaintext,
    peerRoles: ['server', 'client'],
    recvTimeoutMs: opts.timeoutMs,
    onRefused: opts.onRefused,
  });
  opts.onListening?.(listener.port);
  // The first inference is dealt while the parties connect and handshake.
  dealer.dealAhead();
  const sent: [number, number] = [0, 0];
  const handedOut: [number, number] = [0, 0];
  const mine = makeHello('dealer', opts.plan.hash, opts.plan.weightsDigest);
  const served: Promise<void>[] = [];
  const seen = new Set<Party>();
  try {
    while (seen.size < 2) {
      const channel = await listener.accept(opts.timeoutMs);
      const expected = (['server', 'client'] as const).filter((p) => !seen.has(p));
      // Under TLS the role is the certificate's: a party's seeds go to that role's key only.
      const peer = await handshake(channel, mine, expected, planMessageBound(opts.plan));
      const party = peer.role as Party;
      seen.add(party);
      served.push(serveParty(channel, party, dealer, sent, handedOut).finally(() => channel.close()));
    }
    await Promise.all(served);
  } finally {
    dealer.stop();
    listener.close();
  }
  // Inferences handed out (one dealt ahead and never asked for is not counted).
  return { inferences: Math.max(...handedOut), bytesSent: sent };
}

/** A party's feed from a live dealer: connects, handshakes, receives its seeds. */
export async function liveDealerFeed(
  plan: Plan,
  party: Party,
  at: Endpoint,
  opts: ConnectOptions,
): Promise<MaterialFeed> {
  const channel = await connect(at, 'dealer', opts);
  await handshake(channel, makeHello(party, plan.hash, plan.weightsDigest), 'dealer', planMessageBound(plan));
  const hello = await channel.recv();
  if (hello.byteLength <= 2 * SEED_BYTES) throw new MarillError('the dealer sent no seeds');
  const seeds = {
    stream: Uint8Array.from(hello.subarray(0, SEED_BYTES)),
    session: Uint8Array.from(hello.subarray(SEED_BYTES, 2 * SEED_BYTES)),
  };
  const id = new TextDecoder().decode(hello.subarray(2 * SEED_BYTES));
  const opCount = bindPlan(plan).length;
  return new QueuedFeed(
    seeds,
    `live:${id}`,
    async () => {
      channel.send(Uint8Array.of(NEXT));
      const frames: Uint8Array[] = [];
      for (let i = 0; i < opCount; i++) frames.push(await channel.recv());
      return frames;
    },
    () => {
      try {
        channel.send(Uint8Array.of(DONE));
      } catch {
        // the dealer is already gone
      }
      channel.close();
    },
  );
}
