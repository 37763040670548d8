/**
 * Weights as raw bytes, for tests that look for a tensor inside a file: the
 * little-endian bytes of an ONNX initializer (what a bundle would hold if it
 * held that tensor), and a copy of a model with one weight's bytes changed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadOnnx } from '../../compiler/onnx/load.ts';
import type { Tensor } from '../../ir/tensor.ts';

/** Long enough that a chance match of float bytes is out of the question. */
export const SCAN_WINDOW_BYTES = 64;

export function rawBytes(t: Tensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** The first SCAN_WINDOW_BYTES of a tensor (all of it if smaller). */
export function scanWindow(t: Tensor): Buffer {
  return rawBytes(t).subarray(0, SCAN_WINDOW_BYTES);
}

/** Initializers of an ONNX file by name. */
export function onnxWeights(path: string): Map<string, Tensor> {
  return new Map([...loadOnnx(path).initializers].map(([name, init]) => [name, init.tensor]));
}

/**
 * Writes a copy of `model` in which the named initializer's first element
 * differs (one byte of its raw data flipped), everything else unchanged.
 */
export function writeWithOneWeightChanged(model: string, weight: string, out: string): void {
  const tensor = onnxWeights(model).get(weight);
  if (!tensor) throw new Error(`${model} has no initializer '${weight}'`);
  const bytes = readFileSync(model);
  const at = bytes.indexOf(scanWindow(tensor));
  if (at < 0) throw new Error(`the raw bytes of '${weight}' are not stored in ${model} as they are`);
  if (bytes.indexOf(scanWindow(tensor), at + 1) >= 0)
    throw new Error(`the raw bytes of '${weight}' occur twice in ${model}`);
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(out, bytes);
}
