/**
 * Test support for dealer-free correlations: two parties' preprocessors on
 * the in-process channel pair, with the OT extension set up once, and a
 * runner that makes one correlation at both parties and measures its traffic
 * (to compare with `preprocessCost`).
 */
import { Prg } from '../../runtime/crypto/prg.ts';
import type { Correlation, MaterialStream, Party, Preprocessor, Protocol } from '../../runtime/protocol.ts';
import { correlationsOf } from '../../runtime/twopc/correlations.ts';
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
  /**
   * A protocol's material at both parties without a dealer: each correlation its deal reads
   * made by `preprocess` (in order), everything else drawn by each party alone. Returns the
   * materials and the traffic of all its correlations.
   */
  materials<P, M, I, O>(
    protocol: Protocol<P, M, I, O>,
    params: P,
    label?: string,
  ): Promise<{ materials: [M, M]; cost: PairCost }>;
}

/**
 * One party's MaterialStream in the dealer-free setting: correlations are what `made` holds,
 * in the order the deal listed them; shared and owned randomness is this party's own draw;
 * a value a dealer would share is refused (no one knows it).
 */
function preprocessedStream(
  party: Party,
  made: readonly { readonly name: string; readonly material: unknown }[],
  rng: Prg,
  sessionSeed: Uint8Array,
): MaterialStream {
  let next = 0;
  const refuse = (what: string): never => {
    throw new Error(`${what} outside a correlation has no dealer-free form`);
  };
  return {
    party,
    sharedRandom: (n) => rng.ring(n),
    share: () => refuse('share'),
    ownedRandom: (owner, n) => (owner === party ? rng.ring(n) : undefined),
    sessionOwnedRandom: (owner, key, n) =>
      owner === party ? new Prg(sessionSeed).derive(`owned/${key}`).ring(n) : undefined,
    sharedRandomBytes: (n) => rng.bytes(n),
    shareBytes: () => refuse('shareBytes'),
    receive: () => refuse('receive'),
    correlation<P, M>(c: Correlation<P, M>): M {
      const m = made[next++];
      if (!m || m.name !== c.name) throw new Error(`correlation '${c.name}' read out of order`);
      return m.material as M;
    },
  };
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
    async materials(protocol, params, label = `protocol/${calls++}`) {
      const { uses, needsDealer } = correlationsOf({ deal: (d) => protocol.deal(params, d) });
      if (needsDealer) throw new Error(`${protocol.name} ${needsDealer}`);
      const m = new Meter();
      sessions[0].link.meter = m;
      sessions[1].link.meter = m;
      pair.meter = m;
      const made: [{ name: string; material: unknown }[], { name: string; material: unknown }[]] = [[], []];
      for (const [i, u] of uses.entries()) {
        const [p0, p1] = pair.preprocessors(`${label}/${i}`);
        const both = await Promise.all([
          u.correlation.preprocess!(u.params, p0),
          u.correlation.preprocess!(u.params, p1),
        ]);
        both.forEach((material, party) => made[party]!.push({ name: u.correlation.name, material }));
      }
      const streams = (['server', 'client'] as const).map((party, i) =>
        preprocessedStream(party, made[i]!, root.derive(`${label}/own/${party}`), sessionSeeds[i]!),
      );
      return {
        materials: [protocol.material(params, streams[0]!), protocol.material(params, streams[1]!)],
        cost: m.cost(),
      };
    },
  };
  return pair;
}
