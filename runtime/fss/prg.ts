/**
 * The length-doubling PRG of the FSS tree constructions, batched.
 *
 * A 128-bit seed s expands into numbered 128-bit blocks
 *   G(s)[j] = AES_K(s ^ j) ^ s ^ j
 * with one fixed, public AES-128 key K (the Matyas-Meyer-Oseas form: a correlation-robust
 * hash in the ideal-cipher model, the usual choice of FSS libraries). The tweak j is xored into
 * the seed's last 32-bit word, so every block of every seed goes through the same cipher and a
 * whole tree level of a whole tensor is one AES-ECB call into OpenSSL (AES-NI).
 */
import { createCipheriv } from 'node:crypto';
import type { Cipher } from 'node:crypto';

/** Bytes in a seed (the security parameter: lambda = 128). */
export const SEED_BYTES = 16;
/** 32-bit words in a seed. */
export const SEED_WORDS = 4;

/** Public fixed key ("marillc-fss-prg!"); any public constant works, the seeds are the secret. */
const FIXED_KEY = Buffer.from('6d6172696c6c632d6673732d70726721', 'hex');

let sharedCipher: Cipher | undefined;

function cipher(): Cipher {
  if (sharedCipher === undefined) {
    // ECB without padding is stateless: one cipher object serves every call.
    sharedCipher = createCipheriv('aes-128-ecb', FIXED_KEY, null);
    sharedCipher.setAutoPadding(false);
  }
  return sharedCipher;
}

/**
 * Applies the MMO hash in place to a buffer of prepared blocks (each already `seed ^ tweak`):
 * block := AES_K(block) ^ block. `blocks` must hold a whole number of 16-byte blocks and be
 * 4-byte aligned.
 */
export function hashBlocksInPlace(blocks: Uint32Array): void {
  if (blocks.length === 0) return;
  const bytes = new Uint8Array(blocks.buffer, blocks.byteOffset, blocks.byteLength);
  const enc = cipher().update(bytes);
  if (enc.length !== bytes.length) throw new Error(`AES-ECB returned ${enc.length} bytes for ${bytes.length}`);
  // Buffer pool slices may be unaligned for a Uint32Array view: xor bytewise in that case.
  if (enc.byteOffset % 4 === 0) {
    const e = new Uint32Array(enc.buffer, enc.byteOffset, blocks.length);
    for (let i = 0; i < blocks.length; i++) blocks[i] ^= e[i]!;
  } else {
    for (let i = 0; i < bytes.length; i++) bytes[i] ^= enc[i]!;
  }
}

/**
 * Writes block `seed ^ tweak` at word offset `dst` of `out`, the seed read from `seeds` at word
 * offset `src`. Hashing the buffer afterwards (hashBlocksInPlace) yields G(seed)[tweak].
 */
export function prepareBlock(out: Uint32Array, dst: number, seeds: Uint32Array, src: number, tweak: number): void {
  out[dst] = seeds[src]!;
  out[dst + 1] = seeds[src + 1]!;
  out[dst + 2] = seeds[src + 2]!;
  out[dst + 3] = seeds[src + 3]! ^ tweak;
}
