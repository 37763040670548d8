import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './builder.ts';
import { MarillError } from './errors.ts';
import { fromNumbers, makeTensor, toNumbers } from './tensor.ts';
import { readInputs, tensorFromJson, tensorToJson } from './tensor-json.ts';

function errorLine(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (!(e instanceof MarillError)) throw e;
    const line = e.format();
    expect(line).not.toContain('\n');
    return line;
  }
  throw new Error('expected a MarillError');
}

function bertInputs() {
  const b = new GraphBuilder('bert');
  b.addInput('input_ids', { dtype: 'i64', shape: [1, 3] });
  b.addInput('attention_mask', { dtype: 'f32', shape: [1, 3] });
  return b.build();
}

describe('tensorFromJson / tensorToJson', () => {
  it('reads nested arrays row-major and writes them back', () => {
    const t = tensorFromJson('x', [[1, 2.5, -3]], { dtype: 'f32', shape: [1, 3] });
    expect(t.shape).toEqual([1, 3]);
    expect(toNumbers(t)).toEqual([1, 2.5, -3]);
    expect(tensorToJson(t)).toEqual([[1, 2.5, -3]]);
  });

  it('round-trips scalars, bools, non-finite floats and i64 beyond 2^53', () => {
    expect(tensorToJson(tensorFromJson('s', 7, { dtype: 'i64', shape: [] }))).toBe(7);
    const flags = tensorFromJson('b', [true, 0, 1], { dtype: 'bool', shape: [3] });
    expect(tensorToJson(flags)).toEqual([true, false, true]);
    const odd = fromNumbers('f32', [3], [NaN, Infinity, -Infinity]);
    expect(tensorToJson(odd)).toEqual(['NaN', 'Infinity', '-Infinity']);
    expect(toNumbers(tensorFromJson('f', tensorToJson(odd), { dtype: 'f32', shape: [3] }))).toEqual([
      NaN,
      Infinity,
      -Infinity,
    ]);
    const big = makeTensor('i64', [2], BigInt64Array.from([2n ** 60n + 1n, -5n]));
    expect(tensorToJson(big)).toEqual(['1152921504606846977', -5]);
    expect(tensorFromJson('n', tensorToJson(big), { dtype: 'i64', shape: [2] }).data).toEqual(big.data);
  });

  it('reads an empty tensor from its nesting up to the first zero dimension', () => {
    expect(tensorFromJson('e', [], { dtype: 'f32', shape: [0, 3] }).shape).toEqual([0, 3]);
    expect(tensorFromJson('e', [[], []], { dtype: 'f32', shape: [2, 0] }).shape).toEqual([2, 0]);
  });

  it('names the tensor and the problem on a wrong shape or rank', () => {
    const want = { dtype: 'i64', shape: [1, 16] } as const;
    expect(errorLine(() => tensorFromJson('input_ids', [[1, 2, 3]], want, 'in.json'))).toBe(
      "in.json: tensor 'input_ids': has shape [1,3], the model needs i64[1,16]",
    );
    expect(errorLine(() => tensorFromJson('input_ids', [1, 2], want))).toMatch(
      /tensor 'input_ids': has shape \[2\]/,
    );
  });

  it('names the element on a wrong dtype', () => {
    const ids = { dtype: 'i64', shape: [2] } as const;
    expect(errorLine(() => tensorFromJson('ids', [1, 1.5], ids))).toMatch(
      /tensor 'ids': element \[1\] is 1\.5: not an integer \(i64/,
    );
    expect(errorLine(() => tensorFromJson('x', ['a', 2], { dtype: 'f32', shape: [2] }))).toMatch(
      /tensor 'x': element \[0\] is "a": not a number/,
    );
    expect(errorLine(() => tensorFromJson('m', [2, 0], { dtype: 'bool', shape: [2] }))).toMatch(
      /tensor 'm': element \[0\] is 2: not a boolean/,
    );
    expect(errorLine(() => tensorFromJson('ids', [2 ** 60, 0], ids))).toMatch(/too large .* decimal string/);
    expect(errorLine(() => tensorFromJson('ids', ['99999999999999999999', '0'], ids))).toMatch(
      /outside the i64 range/,
    );
  });

  it('reports ragged arrays with the path of the odd element', () => {
    const want = { dtype: 'f32', shape: [2, 2] } as const;
    expect(errorLine(() => tensorFromJson('x', [[1, 2], [3]], want))).toMatch(
      /tensor 'x': is ragged: element \[1\] has 1 entries, expected 2/,
    );
    expect(errorLine(() => tensorFromJson('x', [[1, 2], 3], want))).toMatch(
      /is ragged: element \[1\] is 3, expected an array/,
    );
    expect(errorLine(() => tensorFromJson('x', [1, [2]], { dtype: 'f32', shape: [2] }))).toMatch(
      /is ragged: element \[1\] is an array/,
    );
  });
});

describe('readInputs', () => {
  it('reads every graph input with its declared type', () => {
    const got = readInputs(
      bertInputs(),
      { input_ids: [[101, 7, 102]], attention_mask: [[1, 1, 0]] },
      'in.json',
    );
    expect(got.get('input_ids')!.dtype).toBe('i64');
    expect(toNumbers(got.get('input_ids')!)).toEqual([101, 7, 102]);
    expect(toNumbers(got.get('attention_mask')!)).toEqual([1, 1, 0]);
  });

  it('rejects a missing tensor, naming it and its type', () => {
    expect(errorLine(() => readInputs(bertInputs(), { input_ids: [[1, 2, 3]] }, 'in.json'))).toBe(
      "in.json: tensor 'attention_mask': is missing from the input (the model needs f32[1,3])",
    );
  });

  it('rejects an extra tensor, listing the real inputs', () => {
    const json = { input_ids: [[1, 2, 3]], attention_mask: [[1, 1, 1]], token_type_ids: [[0, 0, 0]] };
    expect(errorLine(() => readInputs(bertInputs(), json, 'in.json'))).toBe(
      "in.json: tensor 'token_type_ids': is not an input of the model (its inputs: input_ids, attention_mask)",
    );
  });

  it('rejects floats for an i64 input and JSON that is not an object', () => {
    const json = { input_ids: [[1, 2.25, 3]], attention_mask: [[1, 1, 1]] };
    expect(errorLine(() => readInputs(bertInputs(), json, 'in.json'))).toMatch(
      /^in\.json: tensor 'input_ids': element \[0\]\[1\] is 2\.25: not an integer/,
    );
    expect(errorLine(() => readInputs(bertInputs(), [[1, 2, 3]], 'in.json'))).toMatch(
      /^in\.json: expected an object from tensor name to nested arrays, got an array/,
    );
  });
});
