/**
 * Wire form of DCF correction words, as the dealer ships them to each party:
 *   seedCW (16 bytes per level and key) | controlCW (2 bits per level and key, packed) |
 *   valueCW (8w bytes per level and key) | finalCW (8w bytes per key)
 * Its length is exactly dcfCorrectionBytes(shape).
 */
import { MarillError } from '../../ir/errors.ts';
import type { DcfCorrections, DcfShape } from './dcf.ts';
import { dcfCorrectionBytes } from './dcf.ts';

/** The correction words as one byte string. */
export function encodeDcfCorrections(c: DcfCorrections): Uint8Array {
  const out = new Uint8Array(dcfCorrectionBytes(c));
  let at = 0;
  out.set(new Uint8Array(c.seedCW.buffer, c.seedCW.byteOffset, c.seedCW.byteLength), at);
  at += c.seedCW.byteLength;
  const controls = c.controlCW;
  for (let i = 0; i < controls.length; i++) out[at + (i >> 2)] |= (controls[i]! & 3) << ((i & 3) * 2);
  at += Math.ceil((controls.length * 2) / 8);
  out.set(new Uint8Array(c.valueCW.buffer, c.valueCW.byteOffset, c.valueCW.byteLength), at);
  at += c.valueCW.byteLength;
  out.set(new Uint8Array(c.finalCW.buffer, c.finalCW.byteOffset, c.finalCW.byteLength), at);
  return out;
}

/** A copy of `len` bytes at `at` in fresh (aligned) memory. */
function copied(bytes: Uint8Array, at: number, len: number): ArrayBuffer {
  const buf = new ArrayBuffer(len);
  new Uint8Array(buf).set(bytes.subarray(at, at + len));
  return buf;
}

/** `count` 32-bit words at byte `at`: a view when aligned (corrections are only read after decoding), else a copy. */
function words32(bytes: Uint8Array, at: number, count: number): Uint32Array {
  const offset = bytes.byteOffset + at;
  return offset % 4 === 0
    ? new Uint32Array(bytes.buffer, offset, count)
    : new Uint32Array(copied(bytes, at, 4 * count));
}

/** `count` ring words at byte `at`: a view when aligned, else a copy. */
function words64(bytes: Uint8Array, at: number, count: number): BigInt64Array {
  const offset = bytes.byteOffset + at;
  return offset % 8 === 0
    ? new BigInt64Array(bytes.buffer, offset, count)
    : new BigInt64Array(copied(bytes, at, 8 * count));
}

/** Parses the wire form for a batch of the given shape. */
export function decodeDcfCorrections(shape: DcfShape, bytes: Uint8Array): DcfCorrections {
  const expected = dcfCorrectionBytes(shape);
  if (bytes.byteLength !== expected)
    throw new MarillError(`DCF correction words of ${bytes.byteLength} bytes, expected ${expected}`);
  const { bits, payloadWords: w, count: n } = shape;
  let at = 0;
  const seedCW = words32(bytes, at, bits * n * 4);
  at += bits * n * 16;
  const controlCW = new Uint8Array(bits * n);
  for (let i = 0; i < controlCW.length; i++) controlCW[i] = (bytes[at + (i >> 2)]! >> ((i & 3) * 2)) & 3;
  at += Math.ceil((bits * n * 2) / 8);
  const valueCW = words64(bytes, at, bits * n * w);
  at += bits * n * w * 8;
  const finalCW = words64(bytes, at, n * w);
  return { bits, payloadWords: w, count: n, seedCW, controlCW, valueCW, finalCW };
}
