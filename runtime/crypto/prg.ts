/**
 * Pseudo-random generator: AES-128 in counter mode (node:crypto) keyed by a
 * 16-byte seed, read as one continuous stream. Two parties holding the same
 * seed (a party and the dealer, or client and server) draw identical values
 * as long as they make the same calls in the same order: this is what seed
 * compression rests on.
 *
 * `derive(label)` gives an independent stream for a label (AES key = seed,
 * IV = first 16 bytes of SHA-256(label)), used for session-fixed material that
 * the dealer regenerates at will.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import type { Cipher } from 'node:crypto';
import { MarillError } from '../../ir/errors.ts';

export const SEED_BYTES = 16;

/** CTR keystream = encryption of zeros: one shared, read-only zero buffer (grown on demand). */
let zeroBuffer = new Uint8Array(1 << 16);
function zeros(n: number): Uint8Array {
  if (zeroBuffer.length < n) zeroBuffer = new Uint8Array(Math.max(n, 2 * zeroBuffer.length));
  return zeroBuffer.subarray(0, n);
}

export class Prg {
  private readonly cipher: Cipher;
  private readonly seed: Uint8Array;

  constructor(seed: Uint8Array, iv: Uint8Array = new Uint8Array(16)) {
    if (seed.length !== SEED_BYTES)
      throw new MarillError(`a PRG seed has ${SEED_BYTES} bytes, got ${seed.length}`);
    this.seed = Uint8Array.from(seed);
    this.cipher = createCipheriv('aes-128-ctr', seed, iv);
  }

  /** A fresh seed from the operating system's CSPRNG. */
  static freshSeed(): Uint8Array {
    return new Uint8Array(randomBytes(SEED_BYTES));
  }

  /** A PRG on a fresh OS seed (private randomness). */
  static fresh(): Prg {
    return new Prg(Prg.freshSeed());
  }

  /** The next n pseudo-random bytes. */
  bytes(n: number): Uint8Array {
    const out = this.cipher.update(zeros(n));
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  /** The next n uniform ring elements (8 bytes each). */
  ring(n: number): BigInt64Array {
    const bytes = this.bytes(n * 8);
    // Large cipher outputs own their memory: view it rather than copy it.
    if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength)
      return new BigInt64Array(bytes.buffer, 0, n);
    const out = new BigInt64Array(n);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }

  /** A new, independent stream for `label`, keyed by this PRG's seed (not its position). */
  derive(label: string): Prg {
    const iv = createHash('sha256').update(label).digest().subarray(0, 16);
    return new Prg(this.seed, iv);
  }

  /** A new seed drawn from this stream. */
  seedFrom(): Uint8Array {
    return Uint8Array.from(this.bytes(SEED_BYTES));
  }
}
