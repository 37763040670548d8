/**
 * Scanning recorded bytes (a party's transcript, a tap on a link) for
 * secrets: a byte window of a secret anywhere in them, and how far their byte
 * histogram is from uniform.
 */
import type { Tensor } from '../../ir/tensor.ts';
import type { Channel } from '../../runtime/net/channel.ts';
import { tensorBytes } from '../../ir/tensor.ts';
import { encodeFixed } from '../../runtime/ring/fixed.ts';

export function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).includes(Buffer.from(needle));
}

/**
 * A tensor's 32-byte windows an observer could match: the first 32 bytes of
 * its float32 encoding and of its fixed-point ring encoding (far longer than
 * a chance match).
 */
export function secretWindows(t: Tensor, fracBits: number): { what: string; bytes: Uint8Array }[] {
  const raw = tensorBytes(t).subarray(0, 32);
  const ring = encodeFixed(t.data as Float32Array, fracBits);
  const fixed = new Uint8Array(ring.buffer, ring.byteOffset, Math.min(32, ring.byteLength));
  return [
    { what: 'float32 bytes', bytes: raw },
    { what: 'ring encoding', bytes: fixed },
  ];
}

/** Chi-square statistic of the byte histogram against uniform (255 degrees of freedom). */
export function chiSquare(bytes: Uint8Array): number {
  const counts = new Float64Array(256);
  for (const b of bytes) counts[b]!++;
  const expected = bytes.length / 256;
  let chi = 0;
  for (const c of counts) chi += (c - expected) ** 2 / expected;
  return chi;
}

/** For 255 degrees of freedom, P(chi2 > 420) < 1e-9. */
export const CHI2_LIMIT = 420;

/** A channel that records a copy of every message it receives into `log`. */
export function tapReceived(inner: Channel, log: Uint8Array[]): Channel {
  return {
    peer: inner.peer,
    send: (d) => inner.send(d),
    close: () => inner.close(),
    setMessageLimit: (n) => inner.setMessageLimit(n),
    recv: async () => {
      const m = await inner.recv();
      log.push(Uint8Array.from(m));
      return m;
    },
  };
}
