/**
 * The repository's one seeded pseudo-random generator, mulberry32: a 32-bit
 * state advanced by a Weyl step and mixed into each output word. Passes that
 * need reproducible randomness (the randomized range finder of
 * passes/numeric/lowrank.ts), the tests' random inputs and the benchmark model
 * generator (bench/models/) all draw from it, so a seed names the same numbers
 * everywhere and a failing case reproduces from its seed.
 *
 * Not for secrets: shares and dealer material come from runtime/crypto/prg.ts
 * (AES-CTR).
 */

/** Uniform 32-bit words (as non-negative numbers below 2^32) from a seed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Uniform numbers in [0, 1) from a seed: mulberry32's words scaled by 2^-32. */
export function seededUniform(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}
