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
  /**
   * Setting '2pc': local work of making correlations without a dealer (IKNP OT
   * extension, Gilboa products, AND triples), per byte they send, both parties'
   * bytes and work together. The primitives' rates (bench/twopc-primitives.ts,
   * bench/results/twopc-primitives.json, both parties on one thread, packed
   * corrections) per byte of their exact traffic: random OT 29.6 MB/s,
   * correlated OT 47.7, Beaver triples (Gilboa) 34.9, AND triples 37.0, weight
   * triples 17.4 / 31.8 / 30.8 MB/s ([16,64]x[64,16], [16,64]x[64,256],
   * [32,128]x[128,128]); 32e6 is their median (31.8 MB/s).
   */
  readonly preprocessBytesPerSecond: number;
  /**
   * Setting '2pc': seconds of the session's base OTs (2 x 128 Chou-Orlandi
   * OTs, both directions; the same file's first row: 1.06 s), once per session.
   */
  readonly baseOtSetupSeconds: number;
}

export const DEFAULT_CALIBRATION: Calibration = {
  ringMacsPerSecond: 4.5e9,
  floatMacsPerSecond: 0.5e9,
  floatElementsPerSecond: 50e6,
  ortMacsPerSecond: 8e9,
  ortElementsPerSecond: 150e6,
  protocolBytesPerSecond: 150e6,
  preprocessBytesPerSecond: 32e6,
  baseOtSetupSeconds: 1.06,
};
