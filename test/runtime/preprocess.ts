/**
 * Test support for dealer-free correlations: two parties' preprocessors on
 * the in-process channel pair, with the OT extension set up once, and a
 * runner that makes one correlation at both parties and measures its traffic
 * (to compare with `preprocessCost`).
 */
import { Prg } from '../../runtime/crypto/prg.ts';
import type { Correlation, Preprocessor } from '../../runtime/protocol.ts';
import type { PairCost } from '../../runtime/twopc/link.ts';
import { Meter, meteredPair } from '../../runtime/twopc/link.ts';
import { partyPreprocessor } from '../../runtime/twopc/preprocessor.ts';
import type { OtSession } from '../../runtime/twopc/triples.ts';
import { otSessionSetup } from '../../runtime/twopc/triples.ts';

export interface PreprocessPair {
  readonly sessions: readonly [OtSession, OtSession];
  /** Replaced by `make` for each correlation it measures. */
  meter: Meter;
  /** Preprocessors of both parties (fresh randomness per call unless seeded). */
  preprocessors(label?: string, sessionKey?: string): [Preprocessor, Preprocessor];
  /** Makes one correlation at both parties; returns [server material, client material] and the traffic. */
  make<P, M>(c: Correlation<P, M>, params: P, label?: string): Promise<{ materials: [M, M]; cost: PairCost }>;
}

/** Base OTs both ways (about 2 s): do it once per test file (`beforeAll`). */
export async function preprocessPair(seed = 'pair'): Promise<PreprocessPair> {
  const { links, meter } = meteredPair();
  const root = new Prg(new Uint8Array(16)).derive(seed);
  const sessions = (await Promise.all([
    otSessionSetup(links[0], root.derive('server')),
    otSessionSetup(links[1], root.derive('client')),
  ])) as [OtSession, OtSession];
  const sessionSeeds = [root.derive('session/server').bytes(16), root.derive('session/client').bytes(16)];
  let calls = 0;
  const pair: PreprocessPair = {
    sessions,
    meter,
    preprocessors(label = `call/${calls++}`, sessionKey = 'op') {
      return [
        partyPreprocessor(
          'server',
          sessions[0],
          root.derive(`${label}/server`),
          sessionSeeds[0]!,
          sessionKey,
        ),
        partyPreprocessor(
          'client',
          sessions[1],
          root.derive(`${label}/client`),
          sessionSeeds[1]!,
          sessionKey,
        ),
      ];
    },
    async make(c, params, label) {
      const m = new Meter();
      sessions[0].link.meter = m;
      sessions[1].link.meter = m;
      pair.meter = m;
      const [p0, p1] = pair.preprocessors(label);
      const materials = (await Promise.all([c.preprocess!(params, p0), c.preprocess!(params, p1)])) as [
        Awaited<ReturnType<typeof c.material>>,
        Awaited<ReturnType<typeof c.material>>,
      ];
      return { materials, cost: m.cost() };
    },
  };
  return pair;
}
