/**
 * Per-op accounting at one party: bytes it sent and rounds, online (per
 * inference, summed over inferences) and setup (once per session) apart;
 * preprocessing bytes it received from the dealer; wall time.
 *
 * Definitions (the cost model predicts exactly these; see runtime/protocol.ts):
 * bytes are payload bytes (no framing headers); a round is one exchange/send/
 * recv call. Both parties of a run count the same rounds for each op; the
 * combined report (`combineReports`) gives [server, client] pairs and totals
 * that add each byte once: online bytes by sender, offline bytes by receiver.
 */
import type { Party } from '../protocol.ts';

export interface OpStats {
  /** The node id (its first output) and what ran it. */
  readonly id: string;
  readonly op: string;
  readonly protocol: string;
  /** Online bytes this party sent and online rounds, summed over inferences. */
  bytesSent: number;
  rounds: number;
  /** Online bytes this party received from the peer, summed over inferences. */
  bytesReceived: number;
  /** Once-per-session bytes sent and rounds (`ctx.once`). */
  setupBytesSent: number;
  setupRounds: number;
  /** Once-per-session bytes received, and the wall time spent in `ctx.once` work. */
  setupBytesReceived: number;
  setupSeconds: number;
  /** Dealer -> this party preprocessing bytes, summed over inferences. */
  offlineBytes: number;
  /**
   * Without a dealer: bytes this party sent making the op's correlations, their
   * flights as this party saw them, and the wall time, summed over inferences.
   */
  preprocessBytesSent: number;
  preprocessBytesReceived: number;
  preprocessRounds: number;
  preprocessSeconds: number;
  /** Wall time of the online phase (setup included), summed over inferences. */
  seconds: number;
  /** How many inferences ran this op. */
  runs: number;
}

/** A record of an op that has counted nothing yet. */
function emptyStats(id: string, op: string, protocol: string): OpStats {
  return {
    id,
    op,
    protocol,
    bytesSent: 0,
    rounds: 0,
    bytesReceived: 0,
    setupBytesSent: 0,
    setupRounds: 0,
    setupBytesReceived: 0,
    setupSeconds: 0,
    offlineBytes: 0,
    preprocessBytesSent: 0,
    preprocessBytesReceived: 0,
    preprocessRounds: 0,
    preprocessSeconds: 0,
    seconds: 0,
    runs: 0,
  };
}

export class PartyAccounting {
  private readonly byId = new Map<string, OpStats>();

  constructor(readonly party: Party) {}

  /** The record of an op (created on first use; order of first use is kept). */
  op(id: string, op: string, protocol: string): OpStats {
    let s = this.byId.get(id);
    if (!s) {
      s = emptyStats(id, op, protocol);
      this.byId.set(id, s);
    }
    return s;
  }

  list(): OpStats[] {
    return [...this.byId.values()];
  }
}

/** One op in the two-party report: pairs are [server, client]. */
export interface OpReport {
  readonly id: string;
  readonly op: string;
  readonly protocol: string;
  readonly onlineBytes: [number, number];
  readonly rounds: number;
  readonly offlineBytes: [number, number];
  readonly setupBytes: [number, number];
  readonly setupRounds: number;
  /** Without a dealer: bytes each party sent making the op's correlations, and their flights. */
  readonly preprocessBytes: [number, number];
  readonly preprocessRounds: number;
  /** Wall time of making them at each party. */
  readonly preprocessSeconds: [number, number];
  /** Wall time at each party. */
  readonly seconds: [number, number];
  readonly runs: number;
}

export interface RunReport {
  readonly ops: OpReport[];
  readonly totals: {
    readonly onlineBytes: number;
    readonly offlineBytes: number;
    readonly setupBytes: number;
    readonly rounds: number;
    readonly setupRounds: number;
    readonly preprocessBytes: number;
    readonly preprocessRounds: number;
  };
}

/**
 * Merges the two parties' records. Rounds are taken from the server's record
 * (both count the same; `roundMismatches` lists ops where they do not).
 */
export function combineReports(server: readonly OpStats[], client: readonly OpStats[]): RunReport {
  const clientById = new Map(client.map((s) => [s.id, s]));
  const ids = [...new Set([...server.map((s) => s.id), ...client.map((s) => s.id)])];
  const serverById = new Map(server.map((s) => [s.id, s]));
  const ops: OpReport[] = ids.map((id) => {
    const s = serverById.get(id) ?? emptyStats(id, '', '');
    const c = clientById.get(id) ?? emptyStats(id, '', '');
    return {
      id,
      op: s.op || c.op,
      protocol: s.protocol || c.protocol,
      onlineBytes: [s.bytesSent, c.bytesSent],
      rounds: Math.max(s.rounds, c.rounds),
      offlineBytes: [s.offlineBytes, c.offlineBytes],
      setupBytes: [s.setupBytesSent, c.setupBytesSent],
      setupRounds: Math.max(s.setupRounds, c.setupRounds),
      preprocessBytes: [s.preprocessBytesSent, c.preprocessBytesSent],
      preprocessRounds: Math.max(s.preprocessRounds, c.preprocessRounds),
      preprocessSeconds: [s.preprocessSeconds, c.preprocessSeconds],
      seconds: [s.seconds, c.seconds],
      runs: Math.max(s.runs, c.runs),
    };
  });
  const sum = (f: (o: OpReport) => number) => ops.reduce((t, o) => t + f(o), 0);
  return {
    ops,
    totals: {
      onlineBytes: sum((o) => o.onlineBytes[0] + o.onlineBytes[1]),
      offlineBytes: sum((o) => o.offlineBytes[0] + o.offlineBytes[1]),
      setupBytes: sum((o) => o.setupBytes[0] + o.setupBytes[1]),
      rounds: sum((o) => o.rounds),
      setupRounds: sum((o) => o.setupRounds),
      preprocessBytes: sum((o) => o.preprocessBytes[0] + o.preprocessBytes[1]),
      preprocessRounds: sum((o) => o.preprocessRounds),
    },
  };
}

/** Ops whose two parties counted different rounds (a protocol bug: sends and recvs must pair). */
export function roundMismatches(server: readonly OpStats[], client: readonly OpStats[]): string[] {
  const c = new Map(client.map((s) => [s.id, s]));
  return server
    .filter((s) => {
      const o = c.get(s.id);
      return (
        o !== undefined &&
        (o.rounds !== s.rounds ||
          o.setupRounds !== s.setupRounds ||
          o.preprocessRounds !== s.preprocessRounds)
      );
    })
    .map((s) => s.id);
}

/** A party's totals over its ops: online and offline bytes (both directions), rounds, setup. */
export interface StatsTotals {
  /** Online bytes this party sent and received. */
  online: number;
  /** Dealer bytes this party received. */
  offline: number;
  rounds: number;
  setupBytes: number;
  setupRounds: number;
  setupSeconds: number;
  /** Without a dealer: preprocessing bytes this party sent and received, flights, wall time. */
  preprocessBytes: number;
  preprocessRounds: number;
  preprocessSeconds: number;
}

export function statsTotals(stats: readonly OpStats[]): StatsTotals {
  const t = {
    online: 0,
    offline: 0,
    rounds: 0,
    setupBytes: 0,
    setupRounds: 0,
    setupSeconds: 0,
    preprocessBytes: 0,
    preprocessRounds: 0,
    preprocessSeconds: 0,
  };
  for (const s of stats) {
    t.online += s.bytesSent + s.bytesReceived;
    t.offline += s.offlineBytes;
    t.rounds += s.rounds;
    t.setupBytes += s.setupBytesSent + s.setupBytesReceived;
    t.setupRounds += s.setupRounds;
    t.setupSeconds += s.setupSeconds;
    t.preprocessBytes += s.preprocessBytesSent + s.preprocessBytesReceived;
    t.preprocessRounds += s.preprocessRounds;
    t.preprocessSeconds += s.preprocessSeconds;
  }
  return t;
}
