/**
 * Local-work rates the cost model turns op sizes into seconds with, from the
 * kernel and protocol microbenchmarks (`npm run bench`, bench/results/runtime.json)
 * on the reference machine (2 cores). They affect only the time estimates and
 * hence protocol selection; bytes and rounds, which the model predicts exactly,
 * do not depend on them. Update them from a fresh runtime.json when kernels change.
 */
export interface Calibration {
  /** Ring (Z_2^64) multiply-accumulates per second in a party's local matmul (both cores). */
  readonly ringMacsPerSecond: number;
  /** float32 multiply-accumulates per second in the plaintext interpreter (reference engine, fallback). */
  readonly floatMacsPerSecond: number;
  /** Plaintext elementwise elements per second (interpreter). */
  readonly floatElementsPerSecond: number;
  /**
   * The same two rates on onnxruntime, the default plaintext engine, single-threaded
   * as the runtime runs it (bench/results/plaintext.json measures them: matmuls of a
   * BERT-base layer, and elementwise ops of its FFN width).
   */
  readonly ortMacsPerSecond: number;
  readonly ortElementsPerSecond: number;
  /**
   * Local work per byte an MPC protocol communicates (PRG expansion of
   * material, masking, ring arithmetic, (de)serialisation), in bytes per second.
   */
  readonly protocolBytesPerSecond: number;
}

export const DEFAULT_CALIBRATION: Calibration = {
  ringMacsPerSecond: 4.5e9,
  floatMacsPerSecond: 0.5e9,
  floatElementsPerSecond: 50e6,
  ortMacsPerSecond: 8e9,
  ortElementsPerSecond: 150e6,
  protocolBytesPerSecond: 150e6,
};
