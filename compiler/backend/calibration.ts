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
   * bench/results/twopc-primitives.json, both parties on one thread) per byte
   * of their exact traffic: random OT 16 B at 1.41 M/s = 22.6 MB/s, AND triples
   * 32 B at 0.86 M/s = 27.5 MB/s, weight triples 31.5 and 49.9 MB/s,
   * correlated OT 24 B at 1.78 M/s = 42.6 MB/s, Beaver triples (Gilboa) 3,072 B
   * at 14.3 k/s = 44.0 MB/s; 37e6 is their median (37.1 MB/s), within a factor
   * 1.7 of each.
   */
  readonly preprocessBytesPerSecond: number;
  /**
   * Setting '2pc': seconds of the session's base OTs (2 x 128 Chou-Orlandi
   * OTs, both directions; the same file's first row: 2.42 s), once per session.
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
  preprocessBytesPerSecond: 37e6,
  baseOtSetupSeconds: 2.4,
};
