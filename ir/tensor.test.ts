import { describe, expect, it } from 'vitest';
import { MarillError } from './errors.ts';
import { fromNumbers, maxAbsDiff, tensorMaxAbsDiff, worstAbsDiff } from './tensor.ts';

describe('maxAbsDiff', () => {
  it('is the largest elementwise |a - b|, with its position', () => {
    expect(worstAbsDiff([1, 2, 3], [1, 2.5, 2])).toEqual({ diff: 1, at: 2 });
    expect(maxAbsDiff([-1, 4], [1, 4])).toBe(2);
    expect(worstAbsDiff([1, 2], [1, 2])).toEqual({ diff: 0, at: -1 });
  });

  it('counts equal infinities and NaN on both sides as agreeing', () => {
    expect(maxAbsDiff([Infinity, NaN, -Infinity], [Infinity, NaN, -Infinity])).toBe(0);
  });

  it('never reports a wrong result as a small error', () => {
    expect(maxAbsDiff([1, NaN], [1, 0])).toBe(Infinity);
    expect(maxAbsDiff([0], [NaN])).toBe(Infinity);
    expect(maxAbsDiff([Infinity], [-Infinity])).toBe(Infinity);
    expect(maxAbsDiff([1, 2], [1, 2, 3])).toBe(Infinity);
  });

  it('compares tensors of one dtype and shape, and rejects others by name', () => {
    const a = fromNumbers('f32', [2, 2], [1, 2, 3, 4]);
    expect(tensorMaxAbsDiff(a, fromNumbers('f32', [2, 2], [1, 2, 3, 4.5]))).toBe(0.5);
    expect(tensorMaxAbsDiff(fromNumbers('i64', [2], [3, -5]), fromNumbers('i64', [2], [3, 5]))).toBe(10);
    expect(() => tensorMaxAbsDiff(a, fromNumbers('f32', [4], [1, 2, 3, 4]), 'logits')).toThrow(
      /f32\[2,2\] compared with f32\[4\]/,
    );
    expect(() => tensorMaxAbsDiff(a, fromNumbers('i64', [2, 2], [1, 2, 3, 4]), 'logits')).toThrow(
      MarillError,
    );
  });
});
