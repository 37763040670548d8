/**
 * Extra microbenchmark cases for `npm run bench` (bench/runtime-protocols.ts runs every
 * registered op protocol on sample nodes already): the building blocks underneath them, at a
 * given element count, so the DCF-versus-boolean trade-off shows up directly.
 *
 * A case runs once in a TwoPartySession under `opId` and returns its predicted cost; the
 * harness reads the measured figures with `session.stats(opId)`.
 */
import { Prg } from '../../crypto/prg.ts';
import type { Cost } from '../../protocol.ts';
import { encodeFixed } from '../../ring/fixed.ts';
import type { TwoPartySession } from '../../../test/runtime/two-party.ts';
import { splitShares } from '../../../test/runtime/two-party.ts';
import { COMPARE_VARIANTS } from './compare.ts';
import { compareProtocol } from './comparator.ts';
import { expProtocol } from './exp.ts';
import { finishedNewton } from './newton.ts';
import { exactCompare } from './ranges.ts';
import { splineProtocol } from './spline.ts';

export interface NonlinearBenchCase {
  readonly name: string;
  /** Elements the figures are per. */
  readonly elements: number;
  run(session: TwoPartySession, opId: string): Promise<Cost>;
}

/** Reals spread like activations (|x| up to ~8), as shares. */
function activations(n: number, offset = 0): [BigInt64Array, BigInt64Array] {
  const u = new Uint32Array(Prg.fresh().bytes(4 * n).buffer);
  return splitShares(
    encodeFixed(
      Float64Array.from(u, (v) => offset + 16 * (v / 2 ** 32 - 0.5)),
      16,
    ),
  );
}

export function nonlinearBenchCases(n: number): NonlinearBenchCase[] {
  const f = 16;
  return COMPARE_VARIANTS.flatMap((variant): NonlinearBenchCase[] => [
    {
      name: `cmp.${variant} (select, 1 threshold)`,
      elements: n,
      async run(s, opId) {
        const p = exactCompare(variant, n, 1, f, true);
        const x = activations(n);
        await s.run(
          compareProtocol,
          p,
          [
            { x: x[0], thresholds: [0n] },
            { x: x[1], thresholds: [0n] },
          ],
          opId,
        );
        return compareProtocol.cost(p);
      },
    },
    {
      name: `spline gelu.erf.${variant}`,
      elements: n,
      async run(s, opId) {
        const p = { fn: 'gelu.erf' as const, variant, n, fracBits: f };
        await s.run(splineProtocol, p, activations(n), opId);
        return splineProtocol.cost(p);
      },
    },
    {
      name: `exp.${variant}`,
      elements: n,
      async run(s, opId) {
        const p = { variant, n, fracBits: f };
        await s.run(expProtocol, p, activations(n, -8), opId);
        return expProtocol.cost(p);
      },
    },
    {
      name: `reciprocal.${variant} (softmax row sums, [1/2, 256])`,
      elements: n,
      async run(s, opId) {
        const p = {
          kind: 'reciprocal' as const,
          variant,
          n,
          fracBits: f,
          lo: -1,
          hi: 8,
          perOctave: 8,
          iterations: 2,
        };
        await s.run(finishedNewton, p, activations(n, 60), opId);
        return finishedNewton.cost(p);
      },
    },
  ]);
}
