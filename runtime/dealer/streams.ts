/**
 * Seed-compressed correlated randomness: the DealerStream and MaterialStream of
 * runtime/protocol.ts.
 *
 * The dealer holds, per party p, an inference stream PRG(seed_p) and a session
 * seed. Party p holds the same two. Anything party p's side of a correlation
 * can be drawn from its stream costs no bytes; the rest (corrections, raw keys)
 * goes into p's frame for the op. The dealer never sees inputs, weights or
 * outputs: it only ever handles its own random values.
 */
import { MarillError } from '../../ir/errors.ts';
import { Prg } from '../crypto/prg.ts';
import type { Correlation, DealerStream, MaterialStream, Party } from '../protocol.ts';
import { partyIndex } from '../protocol.ts';
import type { Ring } from '../ring/kernels.ts';
import { ringAdd, ringSub } from '../ring/kernels.ts';
import { bytesToRing, concatBytes, ringBytes } from '../mpc/context.ts';

/** The seeds one party shares with the dealer for a session. */
export interface PartySeeds {
  /** Seeds the per-inference streams (one derived stream per inference index, see inferencePrg). */
  readonly stream: Uint8Array;
  /** Seeds session-fixed values (`sessionOwnedRandom`). */
  readonly session: Uint8Array;
}

export function freshSeeds(): PartySeeds {
  return { stream: Prg.freshSeed(), session: Prg.freshSeed() };
}

/**
 * The stream of inference `index`: derived from the stream seed, so material
 * of any inference can be used on its own (a party may start at inference k
 * of a material folder, or skip inferences another session of the server used).
 */
function inferencePrg(seed: Uint8Array, index: number): Prg {
  return new Prg(seed).derive(`inference/${index}`);
}

/** Derived stream for session-fixed values of one op (by its session key) and key. */
function sessionPrg(seed: Uint8Array, sessionKey: string, key: string): Prg {
  return new Prg(seed).derive(`session/${sessionKey}/${key}`);
}

function xorBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/**
 * The dealer's state for a session: both parties' streams. `forOp(id)` gives
 * the stream a protocol's `deal` writes to; `takeFrames()` then returns what
 * each party must receive for that op.
 */
export class Dealer {
  private prgs: [Prg, Prg];
  private readonly chunks: [Uint8Array[], Uint8Array[]] = [[], []];
  /** Session-fixed values, generated once (they enter every inference's correlations). */
  private readonly sessionValues = new Map<string, Ring>();

  constructor(private readonly seeds: readonly [PartySeeds, PartySeeds]) {
    this.prgs = [inferencePrg(seeds[0].stream, 0), inferencePrg(seeds[1].stream, 0)];
  }

  /** Deals the material of inference `index` from here on. */
  startInference(index: number): void {
    this.prgs = [inferencePrg(this.seeds[0].stream, index), inferencePrg(this.seeds[1].stream, index)];
  }

  /** `sessionKey` keys the op's session-fixed values (runtime/bound-plan.ts; default: the op id). */
  forOp(opId: string, sessionKey: string = opId): DealerStream {
    const prgs = this.prgs;
    const chunks = this.chunks;
    const seeds = this.seeds;
    const sessionValues = this.sessionValues;
    const stream: DealerStream = {
      sharedRandom(n: number): Ring {
        return ringAdd(prgs[0].ring(n), prgs[1].ring(n));
      },
      share(value: Ring): void {
        const s0 = prgs[0].ring(value.length);
        chunks[1].push(ringBytes(ringSub(value, s0)));
      },
      ownedRandom(owner: Party, n: number): Ring {
        return prgs[partyIndex(owner)].ring(n);
      },
      sessionOwnedRandom(owner: Party, key: string, n: number): Ring {
        const id = `${owner}/${sessionKey}/${key}/${n}`;
        let v = sessionValues.get(id);
        if (!v) {
          v = sessionPrg(seeds[partyIndex(owner)].session, sessionKey, key).ring(n);
          sessionValues.set(id, v);
        }
        return v;
      },
      sharedRandomBytes(n: number): Uint8Array {
        return xorBytes(prgs[0].bytes(n), prgs[1].bytes(n));
      },
      shareBytes(value: Uint8Array): void {
        chunks[1].push(xorBytes(value, prgs[0].bytes(value.length)));
      },
      send(to: Party, data: Uint8Array): void {
        chunks[partyIndex(to)].push(Uint8Array.from(data));
      },
      correlation(c, params) {
        c.deal(params, stream);
      },
    };
    return stream;
  }

  /** The bytes each party receives for the op just dealt: [server, client]. */
  takeFrames(): [Uint8Array, Uint8Array] {
    const frames: [Uint8Array, Uint8Array] = [concatBytes(this.chunks[0]), concatBytes(this.chunks[1])];
    this.chunks[0].length = 0;
    this.chunks[1].length = 0;
    return frames;
  }
}

/**
 * A party's state for a session: its stream. `forOp(id, frame)` gives the
 * stream a protocol's `material` reads; `finish()` checks the frame was used up
 * (a protocol whose deal and material disagree is caught here).
 */
export class MaterialSource {
  private prg: Prg;

  constructor(
    readonly party: Party,
    private readonly seeds: PartySeeds,
  ) {
    this.prg = inferencePrg(seeds.stream, 0);
  }

  /** Reads the material of inference `index` from here on (the dealer dealt it with the same stream). */
  startInference(index: number): void {
    this.prg = inferencePrg(this.seeds.stream, index);
  }

  /**
   * `preprocessed`: without a dealer, the op's correlations as the parties made
   * them (then nothing is read from a dealer: a protocol that asks is refused).
   */
  forOp(
    opId: string,
    frame: Uint8Array,
    sessionKey: string = opId,
    preprocessed?: readonly unknown[],
  ): MaterialStream & { finish(): void } {
    const party = this.party;
    let taken = 0;
    const dealerOnly = (what: string): never => {
      throw new MarillError(`the protocol ${what}, which needs a dealer (this plan runs without one)`, {
        what: opId,
      });
    };
    const prg = this.prg;
    const seeds = this.seeds;
    let at = 0;
    const read = (n: number): Uint8Array => {
      if (at + n > frame.byteLength)
        throw new MarillError(
          `dealer material for this op is ${frame.byteLength} bytes, the protocol reads more`,
          {
            what: opId,
          },
        );
      const out = frame.subarray(at, at + n);
      at += n;
      return out;
    };
    const stream: MaterialStream & { finish(): void } = {
      party,
      sharedRandom: (n) => prg.ring(n),
      share: (n) =>
        preprocessed
          ? dealerOnly('reads a dealt share')
          : party === 'server'
            ? prg.ring(n)
            : bytesToRing(read(n * 8), 'dealer material'),
      ownedRandom: (owner, n) => (owner === party ? prg.ring(n) : undefined),
      sessionOwnedRandom: (owner, key, n) =>
        owner === party ? sessionPrg(seeds.session, sessionKey, key).ring(n) : undefined,
      sharedRandomBytes: (n) => prg.bytes(n),
      shareBytes: (n) =>
        preprocessed
          ? dealerOnly('reads dealt bits')
          : party === 'server'
            ? prg.bytes(n)
            : Uint8Array.from(read(n)),
      // A view: the frame is this op's own memory, and received material is only read.
      receive: (to, n) =>
        preprocessed ? dealerOnly('reads dealer keys') : to === party ? read(n) : undefined,
      correlation: <P, M>(c: Correlation<P, M>, params: P): M => {
        if (!preprocessed) return c.material(params, stream);
        if (taken >= preprocessed.length)
          throw new MarillError(
            `reads correlation '${c.name}' beyond the ${preprocessed.length} made for it`,
            {
              what: opId,
            },
          );
        return preprocessed[taken++] as M;
      },
      finish: () => {
        if (preprocessed && taken !== preprocessed.length)
          throw new MarillError(
            `${preprocessed.length} correlations were made for this op, it read ${taken}`,
            {
              what: opId,
            },
          );
        if (at !== frame.byteLength)
          throw new MarillError(
            `dealer material for this op is ${frame.byteLength} bytes, the protocol read ${at}`,
            { what: opId },
          );
      },
    };
    return stream;
  }
}
