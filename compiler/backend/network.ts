/**
 * Network profiles for the cost model (`--network lan|wan|BW,LAT`).
 *   lan  1 Gbit/s, 0.5 ms one-way latency
 *   wan  100 Mbit/s, 40 ms one-way latency
 *   BW,LAT  custom: bandwidth in Mbit/s, one-way latency in ms (e.g. `200,10`)
 */
import { MarillError } from '../../ir/errors.ts';

export interface NetworkProfile {
  readonly name: string;
  /** Bytes per second in each direction (links are full duplex). */
  readonly bytesPerSecond: number;
  /** One-way latency in seconds: what one round costs beyond transfer time. */
  readonly latencySeconds: number;
}

export const NETWORKS: Readonly<Record<'lan' | 'wan', NetworkProfile>> = {
  lan: { name: 'lan', bytesPerSecond: 1e9 / 8, latencySeconds: 0.5e-3 },
  wan: { name: 'wan', bytesPerSecond: 100e6 / 8, latencySeconds: 40e-3 },
};

export function parseNetwork(text: string): NetworkProfile {
  if (text === 'lan' || text === 'wan') return NETWORKS[text];
  const m = /^(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$/.exec(text);
  if (!m || Number(m[1]) <= 0)
    throw new MarillError(
      `--network expects lan, wan or BW,LAT (Mbit/s, ms one-way), e.g. 200,10; got '${text}'`,
    );
  return { name: text, bytesPerSecond: (Number(m[1]) * 1e6) / 8, latencySeconds: Number(m[2]) / 1e3 };
}

/**
 * Seconds to run `rounds` sequential rounds in which the parties send
 * `bytes[0]` and `bytes[1]` in all: each round waits one latency, and the two
 * directions transfer at the same time.
 */
export function transferSeconds(
  net: NetworkProfile,
  bytes: readonly [number, number],
  rounds: number,
): number {
  return rounds * net.latencySeconds + Math.max(bytes[0], bytes[1]) / net.bytesPerSecond;
}
