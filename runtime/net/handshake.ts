/**
 * The session handshake, run first on every connection (party-party and
 * party-dealer): each side sends a hello, reads the peer's, and both refuse
 * (with the same one-line reason) a peer that speaks another protocol
 * version, runs another plan, binds other weights, or claims the wrong
 * role. Party-party hellos also carry a random contribution to the parties'
 * common seed (./../protocols/sharing.ts shares from it), which the dealer
 * never sees.
 *
 * Under TLS the peer's role is the one its certificate names
 * (`channel.certifiedRole`): a certificate of an unexpected role is refused
 * before this side sends anything, and a hello that claims another role than
 * its certificate is refused. A listener may instead answer with a refusal
 * (`refusalMessage`: e.g. "this party requires TLS"), reported as such.
 * The handshake ends by raising the channel's message limit from a hello's
 * size to the plan's largest message.
 */
import { createHash } from 'node:crypto';
import { MarillError } from '../../ir/errors.ts';
import { Prg, SEED_BYTES } from '../crypto/prg.ts';
import type { Channel } from './channel.ts';
import type { Role } from './identity.ts';

export type { Role } from './identity.ts';

export const PROTOCOL_NAME = 'marill-2pc';
export const PROTOCOL_VERSION = 1;

/**
 * Largest message a peer may send before the handshake, and the least limit
 * after it (control messages: the dealer's seeds, requests): a hello is a few
 * hundred bytes of JSON.
 */
export const HELLO_MAX_BYTES = 8 * 1024;

export interface Hello {
  readonly protocol: string;
  readonly version: number;
  readonly role: Role;
  readonly planHash: string;
  /**
   * Digest of the plan's weight hashes (runtime/plan.ts weightsDigest: public
   * weights by SHA-256, private ones by keyed hash), stated after this party
   * checked the weights it holds against them: the client learns that the
   * server's weights are the plan's, and nothing that fingerprints them.
   */
  readonly weights: string;
  /** Hex random contribution to the common seed (party-party only). */
  readonly nonce: string;
  /**
   * Which dealer material this party will use ('live', or a material folder's dealer run id);
   * the parties must agree, or their correlated randomness would not match.
   */
  readonly material?: string;
  /**
   * A party's hello to the dealer: the dealer session it joins (both parties
   * of a session derive the same id from their hellos: dealerSessionId).
   */
  readonly session?: string;
}

const short = (h: string) => `${h.slice(0, 12)}…`;

/** Why two hellos do not belong to one session, or undefined if they do. */
export function helloMismatch(
  mine: Hello,
  peer: Hello,
  expectedPeer: Role | readonly Role[],
): string | undefined {
  const expected: readonly Role[] = typeof expectedPeer === 'string' ? [expectedPeer] : expectedPeer;
  if (peer.protocol !== PROTOCOL_NAME) return `the peer does not speak ${PROTOCOL_NAME}`;
  if (peer.version !== mine.version)
    return `protocol version differs (this side ${mine.version}, peer ${peer.version})`;
  if (!expected.includes(peer.role))
    return `expected the ${expected.join(' or ')}, but the peer is the ${peer.role}`;
  if (peer.planHash !== mine.planHash)
    return `plan differs (this side ${short(mine.planHash)}, ${peer.role} ${short(peer.planHash)})`;
  if (mine.role !== 'dealer' && peer.role !== 'dealer' && peer.weights !== mine.weights)
    return `weights differ (this side ${short(mine.weights)}, ${peer.role} ${short(peer.weights)})`;
  if (mine.material !== undefined && peer.material !== undefined && mine.material !== peer.material)
    return `dealer material differs (this side ${mine.material}, ${peer.role} ${peer.material}): both parties must use the same live dealer or the same dealer run's folders`;
  return undefined;
}

/**
 * What a listener sends instead of a hello to a peer it will not talk to (then
 * it closes): a peer of the wrong kind (TLS vs plain), or a session a serving
 * party will not take (too many sessions, shutting down).
 */
export function refusalMessage(reason: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ protocol: PROTOCOL_NAME, refused: reason }));
}

function parseHello(bytes: Uint8Array, peer: string): Hello {
  let h: (Hello & { refused?: unknown }) | null;
  try {
    h = JSON.parse(new TextDecoder().decode(bytes)) as Hello & { refused?: unknown };
  } catch {
    h = null;
  }
  if (typeof h === 'object' && h !== null && typeof h.refused === 'string')
    throw new MarillError(`the ${peer} refused this connection: ${h.refused}`);
  if (typeof h !== 'object' || h === null || typeof h.planHash !== 'string')
    throw new MarillError(`the ${peer} sent something that is not a ${PROTOCOL_NAME} hello`, { what: peer });
  return h;
}

export function makeHello(
  role: Role,
  planHash: string,
  weights: string,
  material?: string,
  session?: string,
): Hello {
  return {
    protocol: PROTOCOL_NAME,
    version: PROTOCOL_VERSION,
    role,
    planHash,
    weights,
    nonce: Buffer.from(Prg.freshSeed()).toString('hex'),
    ...(material !== undefined ? { material } : {}),
    ...(session !== undefined ? { session } : {}),
  };
}

/**
 * Sends our hello, reads the peer's, and refuses a mismatch (closing the
 * channel); then admits messages up to `maxMessageBytes` (the plan's largest,
 * runtime/bound-plan.ts planMessageBound).
 */
export async function handshake(
  channel: Channel,
  mine: Hello,
  expectedPeer: Role | readonly Role[],
  maxMessageBytes: number,
): Promise<Hello> {
  const refuse = (why: string): never => {
    channel.close();
    throw new MarillError(`refusing the ${channel.peer}: ${why}`, { what: 'handshake' });
  };
  const expected: readonly Role[] = typeof expectedPeer === 'string' ? [expectedPeer] : expectedPeer;
  const certified = channel.certifiedRole;
  // Nothing (not even our nonce) goes to a peer whose certificate is of another role.
  if (certified !== undefined && !expected.includes(certified))
    refuse(`its certificate is the ${certified}'s, not the ${expected.join(' or ')}'s`);
  channel.send(new TextEncoder().encode(JSON.stringify(mine)));
  const peer = parseHello(await channel.recv(), channel.peer);
  if (certified !== undefined && peer.role !== certified)
    refuse(`its certificate is the ${certified}'s, but its hello claims the ${String(peer.role)}`);
  const why = helloMismatch(mine, peer, expectedPeer);
  if (why) refuse(why);
  channel.setMessageLimit(maxMessageBytes);
  return peer;
}

/** The parties' common seed: both nonces hashed in role order (server first). */
export function commonSeed(a: Hello, b: Hello): Uint8Array {
  const [server, client] = a.role === 'server' ? [a, b] : [b, a];
  const h = createHash('sha256').update(`common/${server.nonce}/${client.nonce}`).digest();
  return new Uint8Array(h.subarray(0, SEED_BYTES));
}

/**
 * The id under which both parties of a session meet at a live dealer: both
 * nonces hashed under another label than the common seed, so the dealer
 * (which sees the id) learns nothing of the seed.
 */
export function dealerSessionId(a: Hello, b: Hello): string {
  const [server, client] = a.role === 'server' ? [a, b] : [b, a];
  return createHash('sha256')
    .update(`dealer-session/${server.nonce}/${client.nonce}`)
    .digest('hex')
    .slice(0, 32);
}
