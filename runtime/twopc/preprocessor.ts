/**
 * One party's `Preprocessor` (../protocol.ts): its OT extension with the peer
 * and its own randomness, per op (session-fixed values are keyed by the op's
 * session key, as the dealer keys `sessionOwnedRandom`).
 */
import { Prg } from '../crypto/prg.ts';
import type { Party, Preprocessor } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import type { OtSession } from './triples.ts';

export function partyPreprocessor(
  party: Party,
  ot: OtSession,
  rng: Prg,
  sessionSeed: Uint8Array,
  sessionKey: string,
): Preprocessor {
  return {
    party,
    ot,
    rng,
    sessionRandom: (key, n): Ring => new Prg(sessionSeed).derive(`session/${sessionKey}/${key}`).ring(n),
  };
}
