/**
 * Kernels on small cases worked out by hand, and the edge cases onnxruntime
 * cannot be asked about (IR-only semantics: 2quad, mask exclusion, errors).
 */
import { describe, expect, it } from 'vitest';
import { MarillError } from '../errors.ts';
import type { Attrs } from '../graph.ts';
import type { OpName } from '../ops.ts';
import type { Tensor } from '../tensor.ts';
import { fromNumbers, toNumbers } from '../tensor.ts';
import { ours } from '../../test/fixtures/against-ort.ts';

const f32 = (shape: number[], values: number[]) => fromNumbers('f32', shape, values);
const i64 = (shape: number[], values: number[]) => fromNumbers('i64', shape, values);
const bool = (shape: number[], values: number[]) => fromNumbers('bool', shape, values);

function run(op: OpName, inputs: Tensor[], attrs: Attrs = {}): Tensor {
  return ours(op, inputs, attrs)[0]!;
}

function expectValues(t: Tensor, shape: number[], values: number[], digits = 6): void {
  expect(t.shape).toEqual(shape);
  const got = toNumbers(t);
  expect(got.length).toBe(values.length);
  got.forEach((v, i) => expect(v).toBeCloseTo(values[i]!, digits));
}

describe('matmul (hand-derived)', () => {
  it('2x3 @ 3x2', () => {
    const a = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    const b = f32([3, 2], [7, 8, 9, 10, 11, 12]);
    // [1*7+2*9+3*11, 1*8+2*10+3*12; 4*7+5*9+6*11, 4*8+5*10+6*12]
    expectValues(run('matmul', [a, b]), [2, 2], [58, 64, 139, 154]);
  });

  it('broadcasts a batch of vectors against one matrix and one matrix against a batch', () => {
    const a = f32([2, 1, 2], [1, 2, 3, 4]);
    const b = f32([2, 1], [5, 6]);
    expectValues(run('matmul', [a, b]), [2, 1, 1], [17, 39]);
    const m = f32([1, 2], [1, 1]);
    expectValues(run('matmul', [m, f32([2, 2, 1], [1, 2, 3, 4])]), [2, 1, 1], [3, 7]);
  });

  it('i64 matmul is exact', () => {
    expectValues(run('matmul', [i64([1, 2], [3, -4]), i64([2, 1], [5, 6])]), [1, 1], [-9]);
  });
});

describe('softmax family', () => {
  it('softmax of [0, ln 2] is [1/3, 2/3]; of [1000, 1001] is [1, e]/(1 + e) (max subtraction)', () => {
    expectValues(run('softmax', [f32([2], [0, Math.LN2])]), [2], [1 / 3, 2 / 3]);
    expectValues(run('softmax', [f32([2], [1000, 1001])]), [2], [1 / (1 + Math.E), Math.E / (1 + Math.E)]);
  });

  it('log_softmax of [0, ln 2] is [ln 1/3, ln 2/3]', () => {
    expectValues(run('log_softmax', [f32([2], [0, Math.LN2])]), [2], [Math.log(1 / 3), Math.log(2 / 3)]);
  });

  it('an -inf mask gives exactly 0 and the rest renormalises', () => {
    const y = run('softmax', [f32([3], [0, 5, Math.LN2]), f32([3], [0, -Infinity, 0])]);
    expectValues(y, [3], [1 / 3, 0, 2 / 3]);
    expect(toNumbers(y)[1]).toBe(0);
  });

  it('softmax along axis 0 normalises columns', () => {
    const y = run('softmax', [f32([2, 2], [0, 1, Math.LN2, 1])], { axis: 0 });
    expectValues(y, [2, 2], [1 / 3, 0.5, 2 / 3, 0.5]);
  });

  it('2quad is (x + 5)^2 normalised', () => {
    // weights 25, 36, 0
    expectValues(run('softmax', [f32([3], [0, 1, -5])], { approx: '2quad' }), [3], [25 / 61, 36 / 61, 0]);
  });

  it('2quad excludes positions whose mask is <= -1e4, and a fully masked row is all zeros', () => {
    const x = f32([2, 3], [0, 1, 2, 0, 1, 2]);
    const mask = f32([2, 3], [0, -1e4, 0, -1e4, -Infinity, -2e4]);
    // row 0: weights 25, 0, 49
    expectValues(run('softmax', [x, mask], { approx: '2quad' }), [2, 3], [25 / 74, 0, 49 / 74, 0, 0, 0]);
  });

  it('2quad adds a mask above the threshold instead of excluding', () => {
    // z = [0, -1]: weights 25, 16
    expectValues(
      run('softmax', [f32([2], [0, 0]), f32([2], [0, -1])], { approx: '2quad' }),
      [2],
      [25 / 41, 16 / 41],
    );
  });
});

describe('gelu and friends', () => {
  it('each approximation at hand-computed points', () => {
    const x = f32([3], [-1, 0, 2]);
    // x * Phi(x); Phi(1) = 0.8413447460685429, Phi(2) = 0.9772498680518208
    expectValues(run('gelu', [x]), [3], [-(1 - 0.8413447460685429), 0, 2 * 0.9772498680518208]);
    expectValues(run('gelu', [x], { approx: 'relu' }), [3], [0, 0, 2]);
    // 0.125x^2 + 0.25x + 0.5
    expectValues(run('gelu', [x], { approx: 'quad' }), [3], [0.375, 0.5, 1.5]);
    const t = 0.5 * 2 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (2 + 0.044715 * 8)));
    expectValues(run('gelu', [x], { approx: 'tanh' }), [3], [-(1 - 0.841191990607477), 0, t], 5);
  });

  it('silu, rsqrt, sigmoid', () => {
    expectValues(run('silu', [f32([1], [0])]), [1], [0]);
    expectValues(run('rsqrt', [f32([2], [4, 0.25])]), [2], [0.5, 2]);
    expectValues(run('sigmoid', [f32([3], [0, -800, 800])]), [3], [0.5, 0, 1]);
  });
});

describe('layernorm and rmsnorm (hand-derived)', () => {
  it('layernorm of [1,2,3,4]: mean 2.5, variance 1.25', () => {
    const s = Math.sqrt(1.25);
    const y = run('layernorm', [f32([1, 4], [1, 2, 3, 4]), f32([4], [1, 1, 1, 1])], { epsilon: 0 });
    expectValues(y, [1, 4], [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]);
  });

  it('layernorm scale and bias apply per position', () => {
    const y = run('layernorm', [f32([2], [0, 2]), f32([2], [2, 3]), f32([2], [10, 20])], { epsilon: 0 });
    expectValues(y, [2], [8, 23]);
  });

  it('rmsnorm of [3,4] with scale [1,2]', () => {
    const rms = Math.sqrt(12.5);
    expectValues(
      run('rmsnorm', [f32([2], [3, 4]), f32([2], [1, 2])], { epsilon: 0 }),
      [2],
      [3 / rms, 8 / rms],
    );
  });
});

describe('reductions and argmax', () => {
  const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
  it('sum, mean, max with and without keepdims', () => {
    expectValues(run('reduce_sum', [x], { axes: [0], keepdims: 0 }), [3], [5, 7, 9]);
    expectValues(run('reduce_mean', [x], { axes: [1], keepdims: 1 }), [2, 1], [2, 5]);
    expectValues(run('reduce_max', [x], { axes: [0, 1], keepdims: 0 }), [], [6]);
    expectValues(run('reduce_sum', [x], { axes: [], keepdims: 0 }), [2, 3], [1, 2, 3, 4, 5, 6]);
  });

  it('i64 mean truncates toward zero', () => {
    expectValues(run('reduce_mean', [i64([2], [-3, -4])], { axes: [0], keepdims: 0 }), [], [-3]);
  });

  it('argmax takes the first index on ties', () => {
    expectValues(run('argmax', [f32([4], [1, 3, 3, 2])], { axis: 0, keepdims: 0 }), [], [1]);
    expectValues(run('argmax', [i64([2, 2], [5, 5, 1, 7])], { axis: 1 }), [2, 1], [0, 1]);
  });
});

describe('movement ops', () => {
  it('gather with negative indices; out of range is an error', () => {
    expectValues(run('gather', [f32([3], [10, 20, 30]), i64([2], [-1, 0])]), [2], [30, 10]);
    expect(() => run('gather', [f32([3], [10, 20, 30]), i64([1], [3])])).toThrow(/index 3 is out of range/);
  });

  it('slice with a negative step down to index 0 (end -1)', () => {
    const x = f32([6], [0, 1, 2, 3, 4, 5]);
    expectValues(run('slice', [x], { starts: [4], ends: [-1], axes: [0], steps: [-2] }), [3], [4, 2, 0]);
    expectValues(run('slice', [x], { starts: [6], ends: [6], axes: [0], steps: [1] }), [0], []);
  });

  it('trilu keeps j - i >= k (upper) or j - i <= k (lower)', () => {
    const x = f32([3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expectValues(run('trilu', [x], { upper: 1, k: 1 }), [3, 3], [0, 2, 3, 0, 0, 6, 0, 0, 0]);
    expectValues(run('trilu', [x], { upper: 0, k: -1 }), [3, 3], [0, 0, 0, 4, 0, 0, 7, 8, 0]);
  });

  it('transpose, concat and split on i64 and bool', () => {
    const t = run('transpose', [i64([2, 3], [1, 2, 3, 4, 5, 6])], { perm: [1, 0] });
    expectValues(t, [3, 2], [1, 4, 2, 5, 3, 6]);
    const c = run('concat', [bool([1, 2], [1, 0]), bool([2, 2], [0, 1, 1, 1])], { axis: 0 });
    expect(c.dtype).toBe('bool');
    expectValues(c, [3, 2], [1, 0, 0, 1, 1, 1]);
    const parts = ours('split', [i64([5], [1, 2, 3, 4, 5])], { axis: 0, sizes: [2, 0, 3] });
    expect(parts.map((p) => toNumbers(p))).toEqual([[1, 2], [], [3, 4, 5]]);
  });

  it('expand and reshape keep dtype', () => {
    expectValues(run('expand', [i64([2, 1], [1, 2])], { shape: [2, 3] }), [2, 3], [1, 1, 1, 2, 2, 2]);
    expectValues(run('reshape', [f32([2, 2], [1, 2, 3, 4])], { shape: [4] }), [4], [1, 2, 3, 4]);
  });
});

describe('elementwise broadcasting and dtypes', () => {
  it('[2,1] + [1,3] is the outer sum; a scalar broadcasts everywhere', () => {
    expectValues(
      run('add', [f32([2, 1], [10, 20]), f32([1, 3], [1, 2, 3])]),
      [2, 3],
      [11, 12, 13, 21, 22, 23],
    );
    expectValues(run('mul', [f32([], [2]), f32([2, 2], [1, 2, 3, 4])]), [2, 2], [2, 4, 6, 8]);
  });

  it('zero-size broadcasting gives a zero-size result', () => {
    const y = run('sub', [f32([0, 3], []), f32([3], [1, 2, 3])]);
    expect(y.shape).toEqual([0, 3]);
    expect(y.data.length).toBe(0);
  });

  it('incompatible shapes and mixed dtypes are MarillErrors', () => {
    expect(() => ours('add', [f32([2], [1, 2]), f32([3], [1, 2, 3])])).toThrow(MarillError);
    expect(() => ours('add', [f32([1], [1]), i64([1], [1])])).toThrow(/types differ/);
  });

  it('i64: truncating division, division by zero, negative powers', () => {
    expectValues(run('div', [i64([2], [-7, 7]), i64([1], [2])]), [2], [-3, 3]);
    expect(() => run('div', [i64([1], [1]), i64([1], [0])])).toThrow(/division by zero/);
    expectValues(run('pow', [i64([4], [2, 1, -1, 3]), i64([4], [10, -3, -3, -1])]), [4], [1024, 1, -1, 0]);
  });

  it('where broadcasts a scalar condition; comparisons give bool', () => {
    expectValues(run('where', [bool([], [0]), f32([2], [1, 2]), f32([], [9])]), [2], [9, 9]);
    const lt = run('less', [f32([3], [1, 2, 3]), f32([], [2])]);
    expect(lt.dtype).toBe('bool');
    expectValues(lt, [3], [1, 0, 0]);
  });

  it('cast: f32 -> i64 truncates toward zero, non-finite is an error, bool is x != 0', () => {
    expectValues(run('cast', [f32([4], [-2.7, -0.5, 0.5, 2.7])], { to: 'i64' }), [4], [-2, 0, 0, 2]);
    expect(() => run('cast', [f32([1], [NaN])], { to: 'i64' })).toThrow(/cannot cast NaN/);
    expectValues(run('cast', [f32([3], [0, -0.1, NaN])], { to: 'bool' }), [3], [0, 1, 1]);
    expectValues(run('cast', [bool([2], [1, 0])], { to: 'f32' }), [2], [1, 0]);
  });

  it('neg on i64 and not on bool', () => {
    expectValues(run('neg', [i64([2], [3, -4])]), [2], [-3, 4]);
    expectValues(run('not', [bool([2], [1, 0])]), [2], [0, 1]);
  });
});
