/**
 * Boolean (XOR) sharing of bits, for the boolean comparison: bits are held one per byte (0/1) in
 * memory and packed 8 per byte on the wire and in dealer material.
 *
 * AND of shared bits uses dealer triples (a, b, c = a & b), a and b from the PRG seeds, c sent as
 * a correction (1 bit per AND to the client): open d = x ^ a and e = y ^ b, then
 *     z = c ^ (d & b) ^ (e & a) ^ (d & e at party 0),
 * which XORs to (d ^ a) & (e ^ b) = x & y. One round, 2 bits per AND from each party.
 */
import type { DealerStream, MaterialStream, PartyContext } from '../../protocol.ts';

/** Bytes holding `n` packed bits. */
export function packedBytes(n: number): number {
  return Math.ceil(n / 8);
}

/** Packs 0/1 bytes into bits (bit i at byte i >> 3, position i & 7). */
export function packBits(bits: Uint8Array): Uint8Array {
  const out = new Uint8Array(packedBytes(bits.length));
  for (let i = 0; i < bits.length; i++) out[i >> 3] |= (bits[i]! & 1) << (i & 7);
  return out;
}

/** The first `n` bits of a packed string, one per byte. */
export function unpackBits(packed: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (packed[i >> 3]! >> (i & 7)) & 1;
  return out;
}

/** AND triples for `n` ANDs, as one party holds them (unpacked). */
export interface AndTriples {
  readonly a: Uint8Array;
  readonly b: Uint8Array;
  readonly c: Uint8Array;
}

/** Dealer: `n` AND triples; a and b cost nothing, c costs ceil(n / 8) bytes to the client. */
export function dealAndTriples(n: number, d: DealerStream): void {
  const a = unpackBits(d.sharedRandomBytes(packedBytes(n)), n);
  const b = unpackBits(d.sharedRandomBytes(packedBytes(n)), n);
  const c = new Uint8Array(n);
  for (let i = 0; i < n; i++) c[i] = a[i]! & b[i]!;
  d.shareBytes(packBits(c));
}

export function andTriplesMaterial(n: number, s: MaterialStream): AndTriples {
  const a = unpackBits(s.sharedRandomBytes(packedBytes(n)), n);
  const b = unpackBits(s.sharedRandomBytes(packedBytes(n)), n);
  const c = unpackBits(s.shareBytes(packedBytes(n)), n);
  return { a, b, c };
}

/** Offline bytes of `n` AND triples: [server, client]. */
export function andTriplesOfflineBytes(n: number): [number, number] {
  return [0, packedBytes(n)];
}

/**
 * One round of `x.length` ANDs on shared bits, using triples from `from` on in `t`.
 * Online: ceil(2n / 8) bytes from each party.
 */
export async function andShared(
  ctx: PartyContext,
  x: Uint8Array,
  y: Uint8Array,
  t: AndTriples,
  from: number,
): Promise<Uint8Array> {
  const n = x.length;
  const mine = new Uint8Array(2 * n);
  for (let i = 0; i < n; i++) {
    mine[i] = x[i]! ^ t.a[from + i]!;
    mine[n + i] = y[i]! ^ t.b[from + i]!;
  }
  const theirs = unpackBits(await ctx.exchange(packBits(mine)), 2 * n);
  const z = new Uint8Array(n);
  const lead = ctx.index === 0 ? 1 : 0;
  for (let i = 0; i < n; i++) {
    const d = mine[i]! ^ theirs[i]!;
    const e = mine[n + i]! ^ theirs[n + i]!;
    z[i] = t.c[from + i]! ^ (d & t.b[from + i]!) ^ (e & t.a[from + i]!) ^ (d & e & lead);
  }
  return z;
}

/** Online bytes one party sends for one round of `n` ANDs. */
export function andRoundBytes(n: number): number {
  return packedBytes(2 * n);
}
