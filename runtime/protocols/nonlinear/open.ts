/**
 * Opening several shared arrays in ONE round: their shares are concatenated into one message,
 * so independent openings of different sub-protocols (a comparison's masked input, a Beaver
 * product's masked operands, a truncation's masked value) share a round.
 */
import type { PartyContext } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd } from '../../ring/kernels.ts';

/** Opens every part (this party's share of each masked value) in one exchange. */
export async function openTogether(ctx: PartyContext, parts: readonly Ring[]): Promise<Ring[]> {
  const total = parts.reduce((s, p) => s + p.length, 0);
  const mine = new BigInt64Array(total);
  let at = 0;
  for (const p of parts) {
    mine.set(p, at);
    at += p.length;
  }
  const opened = ringAdd(mine, await ctx.exchangeRing(mine));
  const out: Ring[] = [];
  at = 0;
  for (const p of parts) {
    out.push(opened.subarray(at, at + p.length));
    at += p.length;
  }
  return out;
}
