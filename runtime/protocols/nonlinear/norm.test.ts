import { describe, expect, it } from 'vitest';
import { layernorm as plainLayernorm, rmsnorm as plainRmsnorm } from '../../../ir/kernels/norm.ts';
import { makeTensor } from '../../../ir/tensor.ts';
import { encodeFixed } from '../../ring/fixed.ts';
import { TwoPartySession, openReals, splitShares } from '../../../test/runtime/two-party.ts';
import { COMPARE_VARIANTS } from './compare.ts';
import type { NormInputs, NormKind, NormParam, NormParams } from './norm.ts';
import { normErrorBound, normProtocol } from './norm.ts';
import { expectMeasuredCost } from '../../../test/runtime/expect-cost.ts';
import { uniform } from '../../../test/runtime/real-inputs.ts';

const F = 16;
const q = (v: number) => Math.round(v * 2 ** F) / 2 ** F;

/** Rows at different scales within the documented range: small, unit, large, offset with a small spread. */
function rowsOf(rows: number, size: number): Float64Array {
  const x = new Float64Array(rows * size);
  const scales = [0.05, 1, 40, 0.02];
  for (let r = 0; r < rows; r++) {
    const u = uniform(size, -1, 1);
    for (let j = 0; j < size; j++) x[r * size + j] = q((r % 4 === 3 ? 5 : 0) + scales[r % 4]! * u[j]!);
  }
  return x;
}

async function check(kind: NormKind, variant: 'dcf' | 'bool', gammaKind: 'public' | 'shared', eps: number) {
  const rows = 8;
  const size = 48;
  const x = rowsOf(rows, size);
  const gamma = Float32Array.from(uniform(size, 0.5, 1.5).map(q));
  const beta = Float32Array.from(uniform(size, -1, 1).map(q));
  const betaKind = kind === 'layernorm' ? gammaKind : 'none';
  const p: NormParams = {
    kind,
    variant,
    rows,
    size,
    fracBits: F,
    epsilon: eps,
    gamma: gammaKind,
    beta: betaKind,
  };
  const asParam = (v: Float32Array): [NormParam, NormParam] => {
    if (gammaKind === 'public')
      return [
        { kind: 'public', values: v },
        { kind: 'public', values: v },
      ];
    const [a, b] = splitShares(encodeFixed(v, F));
    return [
      { kind: 'shared', share: a },
      { kind: 'shared', share: b },
    ];
  };
  const g = asParam(gamma);
  const b = asParam(beta);
  const xs = splitShares(encodeFixed(x, F));
  const inputs = ([0, 1] as const).map((i): NormInputs => ({
    x: xs[i],
    gamma: g[i],
    beta: betaKind === 'none' ? undefined : b[i],
  }));
  const s = new TwoPartySession();
  const got = openReals(await s.run(normProtocol, p, [inputs[0]!, inputs[1]!], kind), F);
  const tensors = [makeTensor('f32', [rows, size], Float32Array.from(x)), makeTensor('f32', [size], gamma)];
  if (kind === 'layernorm') tensors.push(makeTensor('f32', [size], beta));
  const kernel = kind === 'layernorm' ? plainLayernorm : plainRmsnorm;
  const want = kernel(tensors, { axis: -1, epsilon: eps }, [])[0]!.data as Float32Array;
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * size, (r + 1) * size));
    for (let j = 0; j < size; j++) {
      // float32 reference: allow its own rounding too.
      const bound = normErrorBound(p, row, j, gamma[j]!) + 1e-6 * Math.abs(want[r * size + j]!);
      worst = Math.max(worst, Math.abs(got[r * size + j]! - want[r * size + j]!) / bound);
    }
  }
  expect(worst).toBeLessThanOrEqual(1);
  expectMeasuredCost(s, kind, normProtocol.cost(p));
}

describe.each(COMPARE_VARIANTS)('normalisation (%s)', (variant) => {
  it.each(['public', 'shared'] as const)('layernorm with %s gamma and beta', (gk) =>
    check('layernorm', variant, gk, 1e-5),
  );
  it.each(['public', 'shared'] as const)('rmsnorm with %s gamma', (gk) =>
    check('rmsnorm', variant, gk, 1e-6),
  );
  it('layernorm with BERT epsilon 1e-12', () => check('layernorm', variant, 'public', 1e-12));

  it('maps a constant row (below the documented range) to beta, within 1e-2', async () => {
    const size = 32;
    const x = new Float64Array(size).fill(2.5);
    const beta = Float32Array.from(uniform(size, -1, 1).map(q));
    const gamma = new Float32Array(size).fill(1);
    const p: NormParams = {
      kind: 'layernorm',
      variant,
      rows: 1,
      size,
      fracBits: F,
      epsilon: 1e-12,
      gamma: 'public',
      beta: 'public',
    };
    const xs = splitShares(encodeFixed(x, F));
    const inputs = ([0, 1] as const).map((i): NormInputs => ({
      x: xs[i],
      gamma: { kind: 'public', values: gamma },
      beta: { kind: 'public', values: beta },
    }));
    const got = openReals(await new TwoPartySession().run(normProtocol, p, [inputs[0]!, inputs[1]!]), F);
    for (let j = 0; j < size; j++) expect(Math.abs(got[j]! - beta[j]!)).toBeLessThanOrEqual(1e-2);
  });
});
