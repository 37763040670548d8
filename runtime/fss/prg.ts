/**
 * The length-doubling PRG of the FSS tree constructions, batched.
 *
 * A 128-bit seed s expands into numbered 128-bit blocks
 *   G(s)[j] = AES_K(s ^ j) ^ s ^ j
 * with one fixed, public AES-128 key K (the Matyas-Meyer-Oseas form: a correlation-robust
 * hash in the ideal-cipher model, the usual choice of FSS libraries). The tweak j is xored into
 * the seed's last 32-bit word, so every block of every seed goes through the same cipher and a
 * whole tree level of a whole tensor is one AES-ECB call into OpenSSL (AES-NI). The xors around
 * the call are done by the WebAssembly kernels of ./dcf-wasm.ts.
 */
import { createCipheriv } from 'node:crypto';
import type { Cipher } from 'node:crypto';

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

/** AES_K of each 16-byte block (ECB, no padding): the raw permutation; callers add the xors. */
export function aesEcb(blocks: Uint8Array): Uint8Array {
  const enc = cipher().update(blocks);
  if (enc.length !== blocks.length)
    throw new Error(`AES-ECB returned ${enc.length} bytes for ${blocks.length}`);
  return enc;
}
