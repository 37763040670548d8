/**
 * Both parties and the dealer in one process, for protocol tests and
 * benchmarks: a real dealer (seed-compressed material through byte frames), a
 * real in-process channel pair and the real accounting, with the two parties'
 * online phases running concurrently.
 *
 *   const s = new TwoPartySession();
 *   const [y0, y1] = await s.run(truncate, { n, bits: 16 }, [x0, x1]);
 *   s.stats('truncate#0')  // measured bytes/rounds per party, compare with truncate.cost(...)
 */
import { Prg } from '../../runtime/crypto/prg.ts';
import { Dealer, MaterialSource, freshSeeds } from '../../runtime/dealer/streams.ts';
import type { OpReport, RunReport } from '../../runtime/mpc/accounting.ts';
import { PartyAccounting, combineReports } from '../../runtime/mpc/accounting.ts';
import type { SessionState } from '../../runtime/mpc/context.ts';
import { opContext } from '../../runtime/mpc/context.ts';
import { channelPair } from '../../runtime/net/channel.ts';
import type { BoundOp, Operand, Protocol } from '../../runtime/protocol.ts';
import { DEFAULT_FRAC_BITS, decodeFixed, encodeFixed } from '../../runtime/ring/fixed.ts';
import type { Ring } from '../../runtime/ring/kernels.ts';
import { ringAdd, ringSub } from '../../runtime/ring/kernels.ts';

export class TwoPartySession {
  readonly fracBits: number;
  private readonly dealer: Dealer;
  private readonly sources: [MaterialSource, MaterialSource];
  private readonly sessions: [SessionState, SessionState];
  private readonly accounting: [PartyAccounting, PartyAccounting];
  private counter = 0;

  constructor(opts: { fracBits?: number; timeoutMs?: number } = {}) {
    this.fracBits = opts.fracBits ?? DEFAULT_FRAC_BITS;
    const seeds = [freshSeeds(), freshSeeds()] as const;
    this.dealer = new Dealer(seeds);
    this.sources = [new MaterialSource('server', seeds[0]), new MaterialSource('client', seeds[1])];
    const [toClient, toServer] = channelPair(['client', 'server'], opts.timeoutMs);
    const common = Prg.freshSeed();
    const state = (party: 'server' | 'client', channel: typeof toClient): SessionState => ({
      party,
      fracBits: this.fracBits,
      channel,
      common: new Prg(common),
      onceCache: new Map(),
    });
    this.sessions = [state('server', toClient), state('client', toServer)];
    this.accounting = [new PartyAccounting('server'), new PartyAccounting('client')];
  }

  /**
   * Runs one protocol: deals, reads each party's material, runs both online
   * phases. `opId` keys the accounting and session-scoped state (`ctx.once`):
   * reuse an id to run the same op again in this session.
   */
  async run<P, M, I, O>(
    protocol: Protocol<P, M, I, O>,
    params: P,
    inputs: readonly [I, I],
    opId = `${protocol.name}#${this.counter++}`,
  ): Promise<[O, O]> {
    protocol.deal(params, this.dealer.forOp(opId));
    const frames = this.dealer.takeFrames();
    const materials = ([0, 1] as const).map((i) => {
      const stream = this.sources[i].forOp(opId, frames[i]);
      const m = protocol.material(params, stream);
      stream.finish();
      return m;
    }) as [M, M];
    return this.runOnline(protocol, params, materials, inputs, opId, frames);
  }

  /**
   * The online phases of one protocol run on material made elsewhere (e.g. without a
   * dealer, test/runtime/preprocess.ts); `opId` as in `run`.
   */
  async runOnline<P, M, I, O>(
    protocol: Protocol<P, M, I, O>,
    params: P,
    materials: readonly [M, M],
    inputs: readonly [I, I],
    opId = `${protocol.name}#${this.counter++}`,
    frames: readonly [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)],
  ): Promise<[O, O]> {
    const outs = await Promise.all(
      ([0, 1] as const).map(async (i) => {
        const stats = this.accounting[i].op(opId, protocol.name, protocol.name);
        stats.offlineBytes += frames[i].byteLength;
        stats.runs += 1;
        const t0 = performance.now();
        const out = await protocol.online(
          opContext(this.sessions[i], stats),
          params,
          materials[i]!,
          inputs[i],
        );
        stats.seconds += (performance.now() - t0) / 1000;
        return out;
      }),
    );
    return [outs[0]!, outs[1]!];
  }

  /**
   * Runs one protocol's online phase on materials made elsewhere (e.g. by both
   * parties' `preprocess` without a dealer, ./preprocess.ts): no dealer bytes.
   */
  async runWithMaterials<P, M, I, O>(
    protocol: Protocol<P, M, I, O>,
    params: P,
    materials: readonly [M, M],
    inputs: readonly [I, I],
    opId = `${protocol.name}#${this.counter++}`,
  ): Promise<[O, O]> {
    const outs = await Promise.all(
      ([0, 1] as const).map(async (i) => {
        const stats = this.accounting[i].op(opId, protocol.name, protocol.name);
        stats.runs += 1;
        const t0 = performance.now();
        const out = await protocol.online(
          opContext(this.sessions[i], stats),
          params,
          materials[i],
          inputs[i],
        );
        stats.seconds += (performance.now() - t0) / 1000;
        return out;
      }),
    );
    return [outs[0]!, outs[1]!];
  }

  /** Runs an op protocol bound to a node (as the executor does). */
  async runBound(
    bound: BoundOp,
    inputs: readonly [readonly Operand[], readonly Operand[]],
    opId: string,
    name: string,
  ) {
    bound.deal(this.dealer.forOp(opId));
    const frames = this.dealer.takeFrames();
    const runs = ([0, 1] as const).map((i) => {
      const stream = this.sources[i].forOp(opId, frames[i]);
      const run = bound.prepare(stream);
      stream.finish();
      return run;
    });
    const outs = await Promise.all(
      ([0, 1] as const).map(async (i) => {
        const stats = this.accounting[i].op(opId, name, name);
        stats.offlineBytes += frames[i].byteLength;
        stats.runs += 1;
        const t0 = performance.now();
        const out = await runs[i]!(opContext(this.sessions[i], stats), inputs[i]);
        stats.seconds += (performance.now() - t0) / 1000;
        return out;
      }),
    );
    return [outs[0]!, outs[1]!] as const;
  }

  /** Measured figures of one op, combined over both parties. */
  stats(opId: string): OpReport {
    const op = this.report().ops.find((o) => o.id === opId);
    if (!op) throw new Error(`no op '${opId}' ran in this session`);
    return op;
  }

  report(): RunReport {
    return combineReports(this.accounting[0].list(), this.accounting[1].list());
  }

  /** Closes the channel (a later run fails: used to test disconnects). */
  close(): void {
    this.sessions[0].channel.close();
  }
}

/** A uniformly random additive sharing of x. */
export function splitShares(x: Ring): [Ring, Ring] {
  const r = Prg.fresh().ring(x.length);
  return [ringSub(x, r), r];
}

/** Fixed-point encodes reals and shares them. */
export function shareReals(x: ArrayLike<number>, fracBits = DEFAULT_FRAC_BITS): [Ring, Ring] {
  return splitShares(encodeFixed(Float64Array.from(x), fracBits));
}

/** Reconstructs and decodes a shared fixed-point value. */
export function openReals(shares: readonly [Ring, Ring], fracBits = DEFAULT_FRAC_BITS): Float64Array {
  return decodeFixed(ringAdd(shares[0], shares[1]), fracBits);
}
