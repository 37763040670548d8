/**
 * Correlation-robust hash from fixed-key AES-128 (the tweakable construction
 * of Guo, Katz, Wang, Yu, "Efficient and Secure Multiparty Computation from
 * Fixed-Key Block Ciphers", S&P 2020, section 7.4):
 *     H(x, i) = pi(pi(x) xor i) xor pi(x)
 * with pi = AES-128 under a public, fixed key. It is what IKNP needs: the
 * outputs H(q_i, i) and H(q_i xor s, i) stay pseudorandom to a party that does
 * not know s. `blocks` > 1 gives a longer output per input by tweaking with
 * (i, block): the messages of a correlated OT over several ring elements.
 *
 * node:crypto runs AES-ECB over a whole batch in one call (AES-NI), so a
 * hash costs two AES blocks plus one per extra output block.
 */
import { createCipheriv, createHash } from 'node:crypto';

/** The public fixed key: the first 16 bytes of SHA-256 of a label. */
const FIXED_KEY = createHash('sha256').update('marillc twopc fixed-key AES').digest().subarray(0, 16);

function permute(data: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-128-ecb', FIXED_KEY, null);
  cipher.setAutoPadding(false);
  const out = cipher.update(data);
  // Word views below need 4-byte alignment; a small output may sit unaligned in Node's pool.
  if (out.byteOffset % 4 !== 0) return Uint8Array.from(out);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * H(x_j, firstIndex + j) for the `count` 16-byte inputs in `x`, each expanded
 * to `blocks` 16-byte blocks: output block b of input j is
 * pi(pi(x_j) xor (index, b)) xor pi(x_j), with the tweak's low 64 bits the
 * index and the next 32 bits b.
 */
export function crHash(x: Uint8Array, count: number, firstIndex: number, blocks = 1): Uint8Array {
  const y = permute(x.subarray(0, 16 * count));
  const y32 = new Uint32Array(y.buffer, y.byteOffset, 4 * count);
  const z = new Uint8Array(16 * count * blocks);
  const z32 = new Uint32Array(z.buffer);
  for (let j = 0; j < count; j++) {
    const index = firstIndex + j;
    const lo = index >>> 0;
    const hi = Math.floor(index / 2 ** 32) >>> 0;
    for (let b = 0; b < blocks; b++) {
      const o = 4 * (j * blocks + b);
      z32[o] = y32[4 * j]! ^ lo;
      z32[o + 1] = y32[4 * j + 1]! ^ hi;
      z32[o + 2] = y32[4 * j + 2]! ^ b;
      z32[o + 3] = y32[4 * j + 3]!;
    }
  }
  const out = permute(z);
  const out32 = new Uint32Array(out.buffer, out.byteOffset, 4 * count * blocks);
  for (let j = 0; j < count; j++)
    for (let b = 0; b < blocks; b++) {
      const o = 4 * (j * blocks + b);
      for (let w = 0; w < 4; w++) out32[o + w] = out32[o + w]! ^ y32[4 * j + w]!;
    }
  return out;
}
