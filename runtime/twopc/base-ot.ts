/**
 * Base oblivious transfer: 1-out-of-2 random OT on ristretto255 (@noble/curves),
 * the "simplest OT" of Chou and Orlandi (LATINCRYPT 2015), semi-honest.
 *
 *   sender:   a <- Z_q, sends A = aG                                  (32 bytes, once)
 *   receiver: per OT i, b_i <- Z_q, c_i its choice, sends B_i = b_i G + c_i A   (32 bytes each)
 *   sender:   k0_i = H(i, A, B_i, a B_i),  k1_i = H(i, A, B_i, a (B_i - A))
 *   receiver: k_{c_i} = H(i, A, B_i, b_i A)
 *
 * Since a B_i = a b_i G + c_i a A, the receiver's b_i A equals a B_i when c_i = 0 and
 * a (B_i - A) when c_i = 1; the other key needs a^2 G from (A, B_i), which is CDH.
 * B_i is uniform whatever c_i, so the sender learns nothing of the choice.
 *
 * Why this one: two flights, 32 bytes per OT and no hash-to-curve, against
 * Masny-Rindal's two points and two hashes-to-curve per OT. Its known gap (it
 * is not UC-secure against a malicious party) is outside the semi-honest model
 * of the 2pc setting, and ristretto255 removes the cofactor issues of the
 * original Curve25519 presentation. 128 of these seed the OT extension (./iknp.ts).
 */
import { createHash } from 'node:crypto';
import { ristretto255 } from '@noble/curves/ed25519.js';
import { MarillError } from '../../ir/errors.ts';
import type { Prg } from '../crypto/prg.ts';
import type { Link, PairCost, PartyIndex } from './link.ts';
import { flight, sequence } from './link.ts';

const Point = ristretto255.Point;
type Point = InstanceType<typeof Point>;
const POINT_BYTES = 32;
export const KEY_BYTES = 16;

/** A uniform non-zero scalar mod the group order from 64 PRG bytes (bias below 2^-250). */
function scalar(rng: Prg): bigint {
  const bytes = rng.bytes(64);
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  const s = v % Point.Fn.ORDER;
  return s === 0n ? 1n : s;
}

function key(i: number, a: Uint8Array, b: Uint8Array, shared: Point): Uint8Array {
  const h = createHash('sha256').update('marillc base OT');
  const index = new Uint8Array(4);
  new DataView(index.buffer).setUint32(0, i);
  h.update(index).update(a).update(b).update(shared.toBytes());
  return new Uint8Array(h.digest().subarray(0, KEY_BYTES));
}

function point(bytes: Uint8Array, what: string): Point {
  try {
    return Point.fromBytes(bytes);
  } catch {
    throw new MarillError(`base OT: ${what} is not a ristretto255 point`);
  }
}

/** The sender's keys: k0[i] and k1[i], 16 bytes each. */
export interface BaseOtSenderKeys {
  readonly k0: readonly Uint8Array[];
  readonly k1: readonly Uint8Array[];
}

/** Sender of `count` random OTs. */
export async function baseOtSend(link: Link, count: number, rng: Prg): Promise<BaseOtSenderKeys> {
  const a = scalar(rng);
  const bigA = Point.BASE.multiply(a);
  const aBytes = bigA.toBytes();
  link.send(aBytes);
  const msg = await link.recvExactly(POINT_BYTES * count, 'base OT receiver points');
  const k0: Uint8Array[] = [];
  const k1: Uint8Array[] = [];
  // a (B - A) = aB - a A, with a A the same for every OT.
  const aA = bigA.multiply(a);
  for (let i = 0; i < count; i++) {
    const bBytes = msg.subarray(POINT_BYTES * i, POINT_BYTES * (i + 1));
    const aB = point(bBytes, `receiver point ${i}`).multiply(a);
    k0.push(key(i, aBytes, bBytes, aB));
    k1.push(key(i, aBytes, bBytes, aB.subtract(aA)));
  }
  return { k0, k1 };
}

/** Receiver of `choices.length` random OTs: k_{c_i} for each choice bit c_i. */
export async function baseOtReceive(
  link: Link,
  choices: readonly boolean[],
  rng: Prg,
): Promise<Uint8Array[]> {
  const aBytes = await link.recvExactly(POINT_BYTES, 'base OT sender point');
  const bigA = point(aBytes, 'sender point');
  const bs = choices.map(() => scalar(rng));
  const points = bs.map((b, i) => {
    const bG = Point.BASE.multiply(b);
    return choices[i] ? bG.add(bigA) : bG;
  });
  const msg = new Uint8Array(POINT_BYTES * choices.length);
  points.forEach((p, i) => msg.set(p.toBytes(), POINT_BYTES * i));
  link.send(msg);
  return bs.map((b, i) =>
    key(i, aBytes, msg.subarray(POINT_BYTES * i, POINT_BYTES * (i + 1)), bigA.multiply(b)),
  );
}

/** Exact traffic of `count` base OTs with the sender at index `sender`. */
export function baseOtCost(count: number, sender: PartyIndex): PairCost {
  const receiver: PartyIndex = sender === 0 ? 1 : 0;
  return sequence(flight(sender, POINT_BYTES), flight(receiver, POINT_BYTES * count));
}
