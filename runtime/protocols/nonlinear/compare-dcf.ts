/**
 * Comparison by function secret sharing (variant 'dcf'): the dealer gives the parties keys of a
 * distributed comparison function (runtime/fss/dcf.ts) for alpha = R mod 2^{m-1} with payload
 * beta = (1 - 2 R_{m-1}, (1 - 2 R_{m-1}) r), plus shares of the offsets (R_{m-1}, R_{m-1} r).
 * Evaluating the key at the public y of each threshold and adding the offset gives shares of
 *     z = R_{m-1} + (1 - 2 R_{m-1}) [y < alpha] = R_{m-1} xor [y < alpha]   and of z r,
 * which ./compare.ts turns into [x < t] and [x < t] x. Key security hides alpha and r.
 *
 * Cost per element (w = 2 payload words with `select`, else 1; L = m - 1 tree levels):
 *   online  1 round, 8 bytes each way (the opening of x + r), for any number of thresholds;
 *   offline each party receives the correction words, L (16 + 8w) + L/4 + 8w bytes (the root
 *           seeds come from the PRG seeds), and the client 8w bytes more (offset shares).
 * Local work: one DCF evaluation (L AES blocks + L (1 + w/2) more) per element and threshold.
 */
import { decodeDcfCorrections, encodeDcfCorrections } from '../../fss/dcf-codec.ts';
import type { DcfKeys, DcfShape } from '../../fss/dcf.ts';
import { dcfCorrectionBytes, dcfEval, dcfGen } from '../../fss/dcf.ts';
import type { Cost, DealerStream, MaterialStream, PartyContext } from '../../protocol.ts';
import { cost } from '../../protocol.ts';
import type { Ring } from '../../ring/kernels.ts';
import { ringAdd, ringAddScalar, ringMul, ringMulScalar } from '../../ring/kernels.ts';
import type { CompareParams, CompareResult } from './compare.ts';
import { checkCompareParams, combineSign, maskParts, openedParts, tile } from './compare.ts';

export interface DcfCompareMaterial {
  readonly kind: 'dcf';
  /** This party's share of the mask r. */
  readonly r: Ring;
  readonly keys: DcfKeys;
  /** Shares of R_{m-1} and (with select) R_{m-1} r. */
  readonly zOffset: Ring;
  readonly zrOffset: Ring | undefined;
}

function keyShape(p: CompareParams): DcfShape {
  return { bits: p.bits - 1, payloadWords: p.select ? 2 : 1, count: p.n };
}

/** Root seeds (4 words per key) from two ring words per key. */
function seedWords(r: Ring): Uint32Array {
  return new Uint32Array(r.buffer, r.byteOffset, r.length * 2);
}

export function dealDcfCompare(p: CompareParams, d: DealerStream): void {
  checkCompareParams(p);
  const r = d.sharedRandom(p.n);
  const { top, low } = maskParts(r, p);
  const seeds0 = d.ownedRandom('server', 2 * p.n);
  const seeds1 = d.ownedRandom('client', 2 * p.n);
  const flip = ringAddScalar(ringMulScalar(top, -2n), 1n);
  let beta = flip;
  if (p.select) {
    beta = new BigInt64Array(2 * p.n);
    beta.set(flip);
    beta.set(ringMul(flip, r), p.n);
  }
  const wire = encodeDcfCorrections(dcfGen(keyShape(p), low, beta, seedWords(seeds0), seedWords(seeds1)));
  d.send('server', wire);
  d.send('client', wire);
  d.share(top);
  if (p.select) d.share(ringMul(top, r));
}

export function dcfCompareMaterial(p: CompareParams, s: MaterialStream): DcfCompareMaterial {
  checkCompareParams(p);
  const r = s.sharedRandom(p.n);
  const seeds = s.ownedRandom('server', 2 * p.n) ?? s.ownedRandom('client', 2 * p.n)!;
  const bytes = dcfCorrectionBytes(keyShape(p));
  const wire = s.receive('server', bytes) ?? s.receive('client', bytes)!;
  const keys: DcfKeys = {
    party: s.party === 'server' ? 0 : 1,
    rootSeeds: seedWords(seeds),
    corrections: decodeDcfCorrections(keyShape(p), wire),
  };
  const zOffset = s.share(p.n);
  const zrOffset = p.select ? s.share(p.n) : undefined;
  return { kind: 'dcf', r, keys, zOffset, zrOffset };
}

/** After the opening: local only (no rounds). */
export function finishDcfCompare(
  ctx: Pick<PartyContext, 'index'>,
  p: CompareParams,
  m: DcfCompareMaterial,
  x: Ring,
  xhat: Ring,
  thresholds: readonly bigint[],
): CompareResult {
  const { a, y } = openedParts(xhat, thresholds, p);
  const out = dcfEval(m.keys, y);
  const planes = thresholds.length * p.n;
  const z = ringAdd(out.subarray(0, planes), tile(m.zOffset, thresholds.length));
  const zr = m.zrOffset
    ? ringAdd(out.subarray(planes, 2 * planes), tile(m.zrOffset, thresholds.length))
    : undefined;
  return combineSign(ctx, a, z, zr, x, xhat);
}

export function dcfCompareCost(p: CompareParams): Cost {
  const keyBytes = dcfCorrectionBytes(keyShape(p));
  const offsets = 8 * p.n * (p.select ? 2 : 1);
  return cost({ onlineBytes: [8 * p.n, 8 * p.n], rounds: 1, offlineBytes: [keyBytes, keyBytes + offsets] });
}
