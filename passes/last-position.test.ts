/**
 * The last-position rewrite: the sliced graph's output equals the last row of
 * the original graph's (the interpreter on the unsliced graph is the oracle),
 * the slice reaches below the final norm and LM head of a real decoder, and it
 * stops with an explicit slice where a value has other readers.
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '../compiler/driver.ts';
import { examplePath, loadExamplesManifest } from '../examples/manifest.ts';
import { interpret } from '../ir/interpret.ts';
import { parseGraph } from '../ir/parse.ts';
import { seededUniform } from '../ir/random.ts';
import type { Tensor } from '../ir/tensor.ts';
import { fromNumbers, tensorMaxAbsDiff } from '../ir/tensor.ts';
import { verifyGraph } from '../ir/verify.ts';
import { sliceLastPosition } from './last-position.ts';
import { runPipeline } from '../compiler/driver.ts';
import { DEFAULT_OPTIONS } from './context.ts';

function lastRow(t: Tensor): Tensor {
  const [, s, v] = t.shape as [number, number, number];
  return fromNumbers('f32', [1, 1, v], Array.from((t.data as Float32Array).subarray((s - 1) * v, s * v)));
}

describe('sliceLastPosition', () => {
  it.each(loadExamplesManifest().cache.map((c) => [c.family, c] as const))(
    '%s: the last row of the logits, with the final norm and LM head on one position',
    (_name, cache) => {
      const S = 5;
      const P = 2;
      const g = loadModel(examplePath(cache.variants[0]!.file), {
        shapes: { sequence: [S], past_sequence: [P] },
      });
      const sliced = sliceLastPosition(g, 'logits');
      verifyGraph(sliced);
      const next = seededUniform(3);
      const inputs = new Map<string, Tensor>([
        [
          'input_ids',
          fromNumbers(
            'i64',
            [1, S],
            Array.from({ length: S }, () => Math.floor(next() * cache.vocab)),
          ),
        ],
      ]);
      for (const i of g.inputs.filter((id) => id !== 'input_ids'))
        inputs.set(
          i,
          fromNumbers(
            'f32',
            [1, cache.heads, P, cache.headDim],
            Array.from({ length: cache.heads * P * cache.headDim }, () => 2 * next() - 1),
          ),
        );
      const want = interpret(g, inputs);
      const have = interpret(sliced, inputs);
      expect(tensorMaxAbsDiff(have.get('logits')!, lastRow(want.get('logits')!))).toBe(0);
      for (const o of g.outputs.filter((o) => o.name !== 'logits'))
        expect(tensorMaxAbsDiff(have.get(o.name)!, want.get(o.name)!)).toBe(0);
      // After fusion, the final norm and the LM head read one position.
      const fused = runPipeline(sliced, DEFAULT_OPTIONS, {}, undefined, 'fused').graph;
      const logits = fused.outputs.find((o) => o.name === 'logits')!.value;
      const head = fused.nodes.find((n) => n.outputs.includes(logits))!;
      expect(head.op).toBe('matmul');
      const norm = fused.nodes.find((n) => n.outputs.includes(head.inputs[0]!))!;
      expect(['layernorm', 'rmsnorm']).toContain(norm.op);
      expect(fused.values.get(norm.inputs[0]!)!.type.shape).toEqual([1, 1, 32]);
    },
  );

  it('stops with one explicit slice at a value that has other readers', () => {
    const g = parseGraph(`graph @g(%x: client f32[1,3,4]) -> (logits: f32[1,3,4], other: f32[1,3,4]) {
  %a = relu %x : client f32[1,3,4]
  %b = neg %a : client f32[1,3,4]
  %c = exp %a : client f32[1,3,4]
  return %b, %c
}
`);
    const s = sliceLastPosition(g, 'logits');
    expect(s.nodes.map((n) => n.op)).toEqual(['relu', 'exp', 'slice', 'neg']);
    const x = fromNumbers(
      'f32',
      [1, 3, 4],
      [...Array(12).keys()].map((k) => k - 6),
    );
    const want = interpret(g, new Map([['x', x]]));
    const have = interpret(s, new Map([['x', x]]));
    expect(tensorMaxAbsDiff(have.get('logits')!, lastRow(want.get('logits')!))).toBe(0);
    expect(tensorMaxAbsDiff(have.get('other')!, want.get('other')!)).toBe(0);
  });

  it('sinks through a 2-D row view ([1, S, D] -> [S, D], matmul, back), other outputs unchanged', () => {
    const H = 'c3'.repeat(32);
    const g = parseGraph(`graph @g(%x: client f32[1,3,4]) -> (logits: f32[1,3,2], flat: f32[12]) {
  %w = weight "w" : server f32[4,2] #sha256:${H}
  %a = reshape %x {shape = [3, 4]} : client f32[3,4]
  %b = matmul %a, %w : secret f32[3,2]
  %c = reshape %b {shape = [1, 3, 2]} : secret f32[1,3,2]
  %y = exp %x : client f32[1,3,4]
  %f = reshape %y {shape = [12]} : client f32[12]
  return %c, %f
}
`);
    const s = sliceLastPosition(g, 'logits');
    // The slice reads the input: the 2-D matmul runs on one row.
    const slice = s.nodes.find((n) => n.op === 'slice')!;
    expect(slice.inputs).toEqual(['x']);
    expect(s.nodes.find((n) => n.op === 'matmul')!.inputs.map((id) => s.values.get(id)!.type.shape)).toEqual([
      [1, 4],
      [4, 2],
    ]);
    const x = fromNumbers(
      'f32',
      [1, 3, 4],
      [...Array(12).keys()].map((k) => k / 4 - 1),
    );
    const w = fromNumbers('f32', [4, 2], [1, -1, 0.5, 2, -2, 0.25, 3, 1]);
    const withW = (h: typeof g) => ({
      ...h,
      nodes: h.nodes.map((n) => (n.op === 'weight' ? { ...n, tensor: w } : n)),
    });
    const want = interpret(withW(g), new Map([['x', x]]));
    const have = interpret(withW(s), new Map([['x', x]]));
    expect(tensorMaxAbsDiff(have.get('logits')!, lastRow(want.get('logits')!))).toBe(0);
    expect(tensorMaxAbsDiff(have.get('flat')!, want.get('flat')!)).toBe(0);
  });

  it('leaves a one-position output as it is, and refuses an output that is not [1, S, V]', () => {
    const g = parseGraph(`graph @g(%x: client f32[1,1,4]) -> (logits: f32[1,1,4]) {
  return %x
}
`);
    expect(sliceLastPosition(g, 'logits')).toBe(g);
    expect(() => sliceLastPosition(g, 'nope')).toThrow(/no output 'nope'/);
  });
});
