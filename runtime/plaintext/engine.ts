/**
 * The plaintext engine a party runs its plaintext nodes with:
 *   ort          segments (./segments.ts) on onnxruntime, one session each, and
 *                the interpreter for nodes without an ONNX lowering (default);
 *   interpreter  every node on ir/interpret.ts evalOp, the reference.
 */
import { MarillError } from '../../ir/errors.ts';

export const PLAINTEXT_ENGINES = ['ort', 'interpreter'] as const;
export type PlaintextEngineName = (typeof PLAINTEXT_ENGINES)[number];
export const DEFAULT_PLAINTEXT_ENGINE: PlaintextEngineName = 'ort';

export function isPlaintextEngine(s: string): s is PlaintextEngineName {
  return (PLAINTEXT_ENGINES as readonly string[]).includes(s);
}

export function parsePlaintextEngine(s: string): PlaintextEngineName {
  if (!isPlaintextEngine(s))
    throw new MarillError(`unknown plaintext engine '${s}' (one of ${PLAINTEXT_ENGINES.join(', ')})`);
  return s;
}
