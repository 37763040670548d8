import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.ts';
import type { Graph, Node } from '../ir/graph.ts';
import { interpret } from '../ir/interpret.ts';
import type { Tensor } from '../ir/tensor.ts';
import { makeTensor, tensorHash } from '../ir/tensor.ts';
import { verifyGraph } from '../ir/verify.ts';
import { DEFAULT_OPTIONS, emptyNotes } from './context.ts';
import { loraSplit, worthwhileRank } from './lora-split.ts';
import { contextWithBase, seededTensor, seededValues } from '../test/passes/pass-harness.ts';
import { maxAbsDiff } from '../ir/tensor.ts';

/** base + (u @ v) in float32, like an exporter merging a LoRA update: an exactly rank-r change before rounding. */
function mergedWeight(base: Tensor, rank: number, seed: number): Tensor {
  const [k, n] = base.shape as [number, number];
  const u = seededValues(k * rank, seed, 0.2);
  const v = seededValues(rank * n, seed + 1, 0.2);
  const out = Float32Array.from(base.data as Float32Array);
  for (let i = 0; i < k; i++)
    for (let t = 0; t < rank; t++)
      for (let j = 0; j < n; j++) out[i * n + j]! += u[i * rank + t]! * v[t * n + j]!;
  return makeTensor('f32', [k, n], out);
}

interface WeightSpec {
  name: string;
  tensor: Tensor;
  visibility: 'public' | 'server';
  transposed?: boolean;
}

/** y = x @ W (W possibly through a transpose), x a client input [2, 3, k]. */
function matmulGraph(w: WeightSpec, xVisibility: 'client' | 'server' = 'client'): Graph {
  const b = new GraphBuilder('g');
  const k = w.tensor.shape[w.transposed ? 1 : 0]!;
  const x = b.addInput('x', { dtype: 'f32', shape: [2, 3, k] }, xVisibility);
  let wv = b.addWeight(w.name, w.visibility, { tensor: w.tensor });
  if (w.transposed) wv = b.add1('transpose', [wv], { perm: [1, 0] });
  const y = b.add1('matmul', [x, wv]);
  b.setOutputs([{ name: 'y', value: y }]);
  return b.build();
}

function run(g: Graph, seed: number): Float32Array {
  const x = seededTensor([...g.values.get('x')!.type.shape], seed);
  return interpret(g, new Map([['x', x]])).get('y')!.data as Float32Array;
}

function weights(g: Graph): { name: string; visibility: string; shape: readonly number[]; hash: string }[] {
  return g.nodes
    .filter((n: Node) => n.op === 'weight')
    .map((n) => ({
      name: String(n.attrs['name']),
      visibility: g.values.get(n.outputs[0]!)!.visibility,
      shape: g.values.get(n.outputs[0]!)!.type.shape,
      hash: String(n.attrs['hash']),
    }));
}

describe('worthwhileRank', () => {
  it('is the largest r with r (k + n) < k n, capped by the maximum', () => {
    expect(worthwhileRank(32, 32, 64)).toBe(15); // 16 * 64 = 1024 is not < 1024
    expect(worthwhileRank(32, 96, 64)).toBe(23); // 24 * 128 = 3072 is not < 3072
    expect(worthwhileRank(32, 2, 64)).toBe(1); // 1 * 34 < 64, 2 * 34 > 64
    expect(worthwhileRank(2, 2, 64)).toBe(0);
    expect(worthwhileRank(768, 768, 16)).toBe(16);
  });
});

describe('lora-split: merged adapters', () => {
  const base = seededTensor([8, 6], 1);
  const merged = mergedWeight(base, 2, 2);

  it('splits x @ W_merged into x @ W_base + (x @ B) @ A, equal within 1e-4', () => {
    const g = matmulGraph({ name: 'q.weight', tensor: merged, visibility: 'server' });
    const ctx = contextWithBase({ 'q.weight': base });
    const out = loraSplit(g, ctx);
    verifyGraph(out);
    expect(ctx.notes.lora).toHaveLength(1);
    expect(ctx.notes.lora[0]).toMatchObject({
      weight: 'q.weight',
      rank: 2,
      kind: 'merged',
      base: 'q.weight',
    });
    expect(ctx.notes.lora[0]!.relativeError).toBeLessThan(1e-4);
    const ws = weights(out);
    expect(ws).toContainEqual({
      name: 'q.weight',
      visibility: 'public',
      shape: [8, 6],
      hash: tensorHash(base),
    });
    expect(ws.find((w) => w.name === 'q.weight.lora_B')).toMatchObject({
      visibility: 'server',
      shape: [8, 2],
    });
    expect(ws.find((w) => w.name === 'q.weight.lora_A')).toMatchObject({
      visibility: 'server',
      shape: [2, 6],
    });
    expect(ws.some((w) => w.hash === tensorHash(merged))).toBe(false); // the merged weight is gone
    expect(out.nodes.filter((n) => n.op === 'matmul')).toHaveLength(3);
    expect(maxAbsDiff(run(out, 5), run(g, 5))).toBeLessThan(1e-4);
    // The base product is client-side plaintext: x is client data, W_base public.
    const baseMatmul = out.nodes.find((n) => n.op === 'matmul' && n.inputs[1] === out.nodes[0]!.outputs[0]);
    expect(out.values.get(baseMatmul!.outputs[0]!)!.visibility).toBe('client');
    expect(ctx.notes.weights.map((w) => [w.name, w.public, w.reason])).toEqual([
      ['q.weight', true, 'matches-base'],
      ['q.weight.lora_B', false, 'lora-adapter'],
      ['q.weight.lora_A', false, 'lora-adapter'],
    ]);
  });

  it('splits a transposed use (x @ W^T with W stored [n, k]) and keeps the transpose on the base', () => {
    const baseT = seededTensor([6, 8], 3);
    const mergedT = mergedWeight(baseT, 3, 4);
    const g = matmulGraph({ name: 'v', tensor: mergedT, visibility: 'server', transposed: true });
    const ctx = contextWithBase({ v: baseT });
    const out = loraSplit(g, ctx);
    verifyGraph(out);
    expect(ctx.notes.lora.map((n) => n.rank)).toEqual([3]);
    expect(out.nodes.filter((n) => n.op === 'transpose')).toHaveLength(1);
    expect(weights(out).find((w) => w.name === 'v.lora_B')?.shape).toEqual([8, 3]);
    expect(weights(out).find((w) => w.name === 'v.lora_A')?.shape).toEqual([3, 6]);
    expect(maxAbsDiff(run(out, 6), run(g, 6))).toBeLessThan(1e-4);
  });

  it('finds the base by position among same-shaped weights when names differ', () => {
    const other = seededTensor([8, 6], 9);
    const g = matmulGraph({ name: 'onnx::MatMul_77', tensor: merged, visibility: 'server' });
    // The base has two [8, 6] initializers; the graph's only [8, 6] weight is at position 0.
    const ctx = contextWithBase({ 'onnx::MatMul_12': base, 'onnx::MatMul_13': other });
    const out = loraSplit(g, ctx);
    expect(ctx.notes.lora[0]).toMatchObject({ weight: 'onnx::MatMul_77', base: 'onnx::MatMul_12', rank: 2 });
    expect(maxAbsDiff(run(out, 7), run(g, 7))).toBeLessThan(1e-4);
  });

  it('factors a weight used by two matmuls once, with one note per matmul', () => {
    const b = new GraphBuilder('g');
    const x = b.addInput('x', { dtype: 'f32', shape: [2, 3, 8] });
    const w = b.addWeight('w', 'server', { tensor: merged });
    const y1 = b.add1('matmul', [x, w]);
    const x2 = b.add1('relu', [x]);
    const y2 = b.add1('matmul', [x2, w]);
    b.setOutputs([{ name: 'y', value: b.add1('add', [y1, y2]) }]);
    const g = b.build();
    const ctx = contextWithBase({ w: base });
    const out = loraSplit(g, ctx);
    verifyGraph(out);
    expect(ctx.notes.lora).toHaveLength(2);
    expect(weights(out).map((x) => x.name)).toEqual(['w', 'w.lora_B', 'w.lora_A']);
    expect(maxAbsDiff(run(out, 8), run(g, 8))).toBeLessThan(1e-4);
  });

  it('does not split a full-rank difference', () => {
    const g = matmulGraph({ name: 'q.weight', tensor: seededTensor([8, 6], 10), visibility: 'server' });
    const ctx = contextWithBase({ 'q.weight': base });
    expect(loraSplit(g, ctx)).toBe(g);
    expect(ctx.notes.lora).toEqual([]);
  });

  it('does not split a rank above loraMaxRank', () => {
    const g = matmulGraph({ name: 'q.weight', tensor: mergedWeight(base, 2, 2), visibility: 'server' });
    const ctx = contextWithBase({ 'q.weight': base }, { loraMaxRank: 1 });
    expect(loraSplit(g, ctx)).toBe(g);
  });

  it('does not split when the split would not pay (rank >= k n / (k + n))', () => {
    const small = seededTensor([2, 2], 12);
    const g = matmulGraph({ name: 'w', tensor: mergedWeight(small, 1, 13), visibility: 'server' });
    expect(loraSplit(g, contextWithBase({ w: small }))).toBe(g);
  });

  it('does not split under --no-marill, without a base, or with server-side x', () => {
    const g = matmulGraph({ name: 'q.weight', tensor: merged, visibility: 'server' });
    expect(loraSplit(g, contextWithBase({ 'q.weight': base }, { noMarill: true }))).toBe(g);
    expect(loraSplit(g, { options: DEFAULT_OPTIONS, notes: emptyNotes() })).toBe(g);
    const serverX = matmulGraph({ name: 'q.weight', tensor: merged, visibility: 'server' }, 'server');
    expect(loraSplit(serverX, contextWithBase({ 'q.weight': base }))).toBe(serverX);
  });

  it('leaves public weights and adapter weights alone', () => {
    const pub = matmulGraph({ name: 'q.weight', tensor: merged, visibility: 'public' });
    expect(loraSplit(pub, contextWithBase({ 'q.weight': base }))).toBe(pub);
    const adapter = matmulGraph({ name: 'q.lora_A.weight', tensor: merged, visibility: 'server' });
    expect(loraSplit(adapter, contextWithBase({ 'q.lora_A.weight': base }))).toBe(adapter);
  });
});

/** base + sum of rank-1 updates u_j v_j^T, each confined to the columns [start, end). */
function blockUpdate(base: Tensor, updates: { start: number; end: number; u: Float32Array }[]): Tensor {
  const [k, n] = base.shape as [number, number];
  const out = Float32Array.from(base.data as Float32Array);
  updates.forEach(({ start, end, u }, j) => {
    const v = seededValues(end - start, 50 + j, 0.5);
    for (let i = 0; i < k; i++) for (let c = start; c < end; c++) out[i * n + c]! += u[i]! * v[c - start]!;
  });
  return makeTensor('f32', [k, n], out);
}

describe('lora-split: fused weights split by column blocks', () => {
  const base = seededTensor([8, 12], 21);
  const run1 = (g: Graph) => run(g, 22);

  it('splits [Dq | 0 | Dv] into two rank-1 blocks and a zero block (cheaper than rank 2 as a whole)', () => {
    // Whole: rank 2, 2 * (8 + 12) = 40 MACs per row; blocks: 1 * (8 + 4) twice = 24.
    const fused = blockUpdate(base, [
      { start: 0, end: 4, u: seededValues(8, 30) },
      { start: 8, end: 12, u: seededValues(8, 31) },
    ]);
    const g = matmulGraph({ name: 'c_attn', tensor: fused, visibility: 'server' });
    const ctx = contextWithBase({ c_attn: base });
    const out = loraSplit(g, ctx);
    verifyGraph(out);
    expect(ctx.notes.lora[0]).toMatchObject({
      weight: 'c_attn',
      rank: 2,
      blocks: [
        { start: 0, end: 4, rank: 1 },
        { start: 4, end: 8, rank: 0 },
        { start: 8, end: 12, rank: 1 },
      ],
    });
    expect(weights(out).map((w) => [w.name, w.shape])).toEqual([
      ['c_attn', [8, 12]],
      ['c_attn.lora_B.0-4', [8, 1]],
      ['c_attn.lora_A.0-4', [1, 4]],
      ['c_attn.lora_B.8-12', [8, 1]],
      ['c_attn.lora_A.8-12', [1, 4]],
    ]);
    expect(out.nodes.filter((n) => n.op === 'concat')).toHaveLength(1);
    expect(maxAbsDiff(run1(out), run1(g))).toBeLessThan(1e-4);
  });

  it('keeps the whole-matrix split when the blocks share one column space (rank 1 overall)', () => {
    // Whole: rank 1, 1 * (8 + 12) = 20 MACs per row; blocks: 2 * (8 + 4) = 24.
    const u = seededValues(8, 40);
    const fused = blockUpdate(base, [
      { start: 0, end: 4, u },
      { start: 8, end: 12, u },
    ]);
    const g = matmulGraph({ name: 'c_attn', tensor: fused, visibility: 'server' });
    const ctx = contextWithBase({ c_attn: base });
    const out = loraSplit(g, ctx);
    expect(ctx.notes.lora[0]).toMatchObject({ rank: 1 });
    expect(ctx.notes.lora[0]!.blocks).toBeUndefined();
    expect(out.nodes.filter((n) => n.op === 'concat')).toHaveLength(0);
    expect(maxAbsDiff(run1(out), run1(g))).toBeLessThan(1e-4);
  });
});

describe('lora-split: explicit adapters', () => {
  /** y = (x @ W + bias) + ((x @ A) @ B) * 2, the PEFT form with A [k, r], B [r, n]. */
  function explicitGraph(wVisibility: 'public' | 'server', adapters: 1 | 2 = 2): Graph {
    const b = new GraphBuilder('g');
    const x = b.addInput('x', { dtype: 'f32', shape: [1, 4, 8] });
    const w = b.addWeight('onnx::MatMul_5', wVisibility, { tensor: seededTensor([8, 6], 1) });
    const bias = b.addWeight('q.bias', 'public', { tensor: seededTensor([6], 2) });
    const base = b.add1('add', [bias, b.add1('matmul', [x, w])]);
    const la = b.addWeight('q.lora_A', 'server', { tensor: seededTensor([8, 3], 3) });
    const lb = b.addWeight('q.lora_B', 'server', { tensor: seededTensor([3, 6], 4) });
    const down = b.add1('matmul', [x, la]);
    const up =
      adapters === 2
        ? b.add1('matmul', [down, lb])
        : b.add1('matmul', [down, b.addWeight('up', 'server', { tensor: seededTensor([3, 6], 4) })]);
    const scaled = b.add1('mul', [up, b.addConst(makeTensor('f32', [], Float32Array.of(2)))]);
    b.setOutputs([{ name: 'y', value: b.add1('add', [base, scaled]) }]);
    return b.build();
  }

  it('recognises x @ W + ((x @ A) @ B) * s with W public and records the rank', () => {
    const g = explicitGraph('public');
    const ctx = contextWithBase({});
    expect(loraSplit(g, ctx)).toBe(g);
    expect(ctx.notes.lora).toEqual([{ weight: 'onnx::MatMul_5', rank: 3, kind: 'explicit' }]);
  });

  it('does not record an adapter whose base weight is private, or a branch with one adapter matmul', () => {
    const privateBase = contextWithBase({});
    loraSplit(explicitGraph('server'), privateBase);
    expect(privateBase.notes.lora).toEqual([]);
    const oneAdapter = contextWithBase({});
    loraSplit(explicitGraph('public', 1), oneAdapter);
    expect(oneAdapter.notes.lora).toEqual([]);
  });
});
