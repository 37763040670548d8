/**
 * Fixing dynamic input dimensions: by input (`--shape input_ids=1x16`), by
 * dimension name (`--shape sequence=16`), from the data at hand (eval), and one
 * error that lists every input still dynamic. The declared dimensions are
 * written out here, so each expected shape follows from the precedence rules
 * in input-shapes.ts by hand.
 */
import { describe, expect, it } from 'vitest';
import { MarillError } from '../../ir/errors.ts';
import { resolveInputTypes } from './input-shapes.ts';
import type { OnnxDim, OnnxValueInfo } from './model.ts';

const input = (name: string, dims: OnnxDim[] | undefined): OnnxValueInfo => ({
  name,
  elemType: 'int64',
  dtype: 'i64',
  dims,
});

/** A decoder with a KV cache: past keys of a dynamic length, then the new tokens. */
const DECODER = [
  input('input_ids', [1, 'sequence']),
  input('attention_mask', [1, 'total_sequence']),
  input('past_key', [1, 2, 'past_sequence', 8]),
];

const shapes = (inputs: OnnxValueInfo[], flags: Record<string, number[]>, data?: Record<string, number[]>) =>
  resolveInputTypes(inputs, flags, 'm.onnx', data).map((t) => t.shape);

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof MarillError) return e.format();
    throw e;
  }
  throw new Error('expected a MarillError');
}

describe('--shape by dimension name', () => {
  it('fixes that dimension in every input that has it; zero is a size (an empty cache)', () => {
    expect(shapes(DECODER, { sequence: [16], total_sequence: [16], past_sequence: [0] })).toEqual([
      [1, 16],
      [1, 16],
      [1, 2, 0, 8],
    ]);
  });

  it('a shape by input wins over the dimension names', () => {
    const two = [input('a', [1, 'sequence']), input('b', [1, 'sequence'])];
    expect(shapes(two, { sequence: [4], b: [1, 9] })).toEqual([
      [1, 4],
      [1, 9],
    ]);
  });

  it('a dimension takes one size', () => {
    expect(message(() => shapes(DECODER, { sequence: [1, 16] }))).toBe(
      'm.onnx: --shape sequence=1x16: a dimension takes one size, e.g. sequence=16',
    );
  });

  it('a name that is neither an input nor a dimension lists both', () => {
    expect(message(() => shapes(DECODER, { seq: [16] }))).toBe(
      "m.onnx: --shape names 'seq', which is not a graph input (inputs: input_ids, attention_mask, past_key) nor a dynamic dimension (sequence, total_sequence, past_sequence)",
    );
  });
});

describe('shapes from the data (eval)', () => {
  it('fill only the dimensions still dynamic', () => {
    const data = { input_ids: [1, 5], attention_mask: [1, 7], past_key: [1, 2, 2, 8] };
    expect(shapes(DECODER, { sequence: [3] }, data)).toEqual([
      [1, 3],
      [1, 7],
      [1, 2, 2, 8],
    ]);
  });

  it('leave a declared dimension as declared (the input reader reports the mismatch)', () => {
    expect(shapes([input('x', [1, 'sequence'])], {}, { x: [2, 5] })).toEqual([[1, 5]]);
  });

  it('give an undeclared shape whole', () => {
    expect(shapes([input('x', undefined)], {}, { x: [3, 4] })).toEqual([[3, 4]]);
  });

  it('of another rank fix nothing', () => {
    expect(message(() => shapes([input('x', [1, 'sequence'])], {}, { x: [5] }))).toContain(
      "input 'x': dimension 1 ('sequence') is dynamic",
    );
  });
});

describe('dynamic dimensions left unfixed', () => {
  it('are all reported in one error, with both ways to fix them', () => {
    expect(message(() => shapes(DECODER, { sequence: [16] }))).toBe(
      "m.onnx: 2 inputs have dynamic dimensions: 'attention_mask' [1,<total_sequence>], 'past_key' [1,2,<past_sequence>,8]; fix them with --shape total_sequence=<size> --shape past_sequence=<size> (by dimension) or --shape attention_mask=1x<total_sequence> --shape past_key=1x2x<past_sequence>x8 (by input)",
    );
  });

  it('an unnamed dynamic dimension can only be fixed by input', () => {
    expect(message(() => shapes([input('x', [null, 4])], {}))).toBe(
      "m.onnx: input 'x': dimension 0 is dynamic; fix it with --shape x=<?>x4",
    );
  });
});
