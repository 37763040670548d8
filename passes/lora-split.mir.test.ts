/**
 * lora-split as text IR in -> expected text IR out (test/passes/lora-split/).
 *
 * Merged splits need weight values, which .mir does not carry: those inputs are built
 * here from seeded tensors, printed and compared with NAME.in.mir (so the file shows
 * exactly what goes in), then the output is compared with NAME.out.mir. The adapter
 * weights' hashes depend on the factorisation's floating-point details, so they are
 * masked to zeros in the comparison; their values are checked against the oracle
 * instead (the interpreter on the original graph, within 1e-4).
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.ts';
import type { Graph } from '../ir/graph.ts';
import { interpret } from '../ir/interpret.ts';
import { printGraph } from '../ir/print.ts';
import type { Tensor } from '../ir/tensor.ts';
import { makeTensor, tensorHash } from '../ir/tensor.ts';
import { verifyGraph } from '../ir/verify.ts';
import { expectTextFile } from '../test/expect-text.ts';
import { loraSplit } from './lora-split.ts';
import { contextWithBase, seededTensor, seededValues, loadMir } from '../test/passes/pass-harness.ts';

const DIR = 'test/passes/lora-split';

/** base + u v^T over columns [start, end) for each update (rank 1 each). */
function updated(base: Tensor, updates: readonly { start: number; end: number; seed: number }[]): Tensor {
  const [k, n] = base.shape as [number, number];
  const out = Float32Array.from(base.data as Float32Array);
  for (const { start, end, seed } of updates) {
    const u = seededValues(k, seed, 0.5);
    const v = seededValues(end - start, seed + 1, 0.5);
    for (let i = 0; i < k; i++) for (let c = start; c < end; c++) out[i * n + c]! += u[i]! * v[c - start]!;
  }
  return makeTensor('f32', [k, n], out);
}

/** An attention block's Q and V projections of a client x (as after provenance): q = x @ Wq, v = x @ Wv^T. */
function projections(wq: Tensor, wv: Tensor): Graph {
  const b = new GraphBuilder('projections');
  const x = b.addInput('x', { dtype: 'f32', shape: [1, 4, 8] });
  const q = b.add1('matmul', [x, b.addWeight('onnx::MatMul_10', 'server', { tensor: wq })]);
  const wvT = b.add1('transpose', [b.addWeight('v.weight', 'server', { tensor: wv })], { perm: [1, 0] });
  const v = b.add1('matmul', [x, wvT]);
  b.setOutputs([
    { name: 'q', value: q },
    { name: 'v', value: v },
  ]);
  return b.build();
}

/** A fused QKV weight [8, 12] (GPT-2's c_attn) of a client x. */
function fusedQkv(w: Tensor): Graph {
  const b = new GraphBuilder('fused_qkv');
  const x = b.addInput('x', { dtype: 'f32', shape: [4, 8] });
  const y = b.add1('matmul', [x, b.addWeight('c_attn.weight', 'server', { tensor: w })]);
  b.setOutputs([{ name: 'qkv', value: y }]);
  return b.build();
}

const ADAPTER_HASH = /("[^"]*\.lora_[AB][^"]*" : server f32\[[\d,]+\] #sha256:)[0-9a-f]{64}/g;

function masked(text: string): string {
  return text.replace(ADAPTER_HASH, (_, head: string) => `${head}${'0'.repeat(64)}`);
}

function maxOutputDiff(a: Graph, b: Graph): number {
  const x = makeTensor('f32', a.values.get('x')!.type.shape, seededValues(32, 77));
  const ra = interpret(a, new Map([['x', x]]));
  const rb = interpret(b, new Map([['x', x]]));
  let m = 0;
  for (const [name, t] of ra) {
    const u = t.data as Float32Array;
    const w = rb.get(name)!.data as Float32Array;
    for (let i = 0; i < u.length; i++) m = Math.max(m, Math.abs(u[i]! - w[i]!));
  }
  return m;
}

function load(name: string): Graph {
  return loadMir(`${DIR}/${name}.in.mir`);
}

describe('lora-split (.mir)', () => {
  it('explicit: recognised, graph unchanged', () => {
    const ctx = contextWithBase({});
    const out = loraSplit(load('explicit'), ctx);
    expectTextFile(printGraph(out), `${DIR}/explicit.out.mir`);
    expect(ctx.notes.lora).toEqual([{ weight: 'onnx::MatMul_5', rank: 2, kind: 'explicit' }]);
  });

  it('explicit with a private base weight: not an adapter, nothing recorded', () => {
    const ctx = contextWithBase({});
    const out = loraSplit(load('explicit-private-base'), ctx);
    expectTextFile(printGraph(out), `${DIR}/explicit-private-base.out.mir`);
    expect(ctx.notes.lora).toEqual([]);
  });

  it('merged: Q (direct) and V (transposed) split against their base weights', () => {
    const bq = seededTensor([8, 8], 1);
    const bv = seededTensor([8, 8], 2);
    const g = projections(
      updated(bq, [{ start: 0, end: 8, seed: 3 }]),
      updated(bv, [{ start: 0, end: 8, seed: 5 }]),
    );
    expectTextFile(printGraph(g), `${DIR}/merged.in.mir`);
    const ctx = contextWithBase({ 'onnx::MatMul_10': bq, 'v.weight': bv });
    const out = loraSplit(g, ctx);
    verifyGraph(out);
    expectTextFile(masked(printGraph(out)), `${DIR}/merged.out.mir`);
    expect(ctx.notes.lora.map((n) => [n.weight, n.rank])).toEqual([
      ['onnx::MatMul_10', 1],
      ['v.weight', 1],
    ]);
    expect(maxOutputDiff(g, out)).toBeLessThan(1e-4);
    // The public weights are the base tensors, under their base names.
    const publicHashes = out.nodes
      .filter((n) => n.op === 'weight' && out.values.get(n.outputs[0]!)!.visibility === 'public')
      .map((n) => [n.attrs['name'], n.attrs['hash']]);
    expect(publicHashes).toEqual([
      ['onnx::MatMul_10', tensorHash(bq)],
      ['v.weight', tensorHash(bv)],
    ]);
  });

  it('merged fused QKV: Q and V blocks split separately, K unchanged', () => {
    const base = seededTensor([8, 12], 11);
    const g = fusedQkv(
      updated(base, [
        { start: 0, end: 4, seed: 12 },
        { start: 8, end: 12, seed: 14 },
      ]),
    );
    expectTextFile(printGraph(g), `${DIR}/fused-qkv.in.mir`);
    const ctx = contextWithBase({ 'c_attn.weight': base });
    const out = loraSplit(g, ctx);
    verifyGraph(out);
    expectTextFile(masked(printGraph(out)), `${DIR}/fused-qkv.out.mir`);
    expect(maxOutputDiff(g, out)).toBeLessThan(1e-4);
  });

  it('full-rank difference: unchanged', () => {
    const g = projections(seededTensor([8, 8], 21), seededTensor([8, 8], 22));
    expectTextFile(printGraph(g), `${DIR}/full-rank.in.mir`);
    const ctx = contextWithBase({
      'onnx::MatMul_10': seededTensor([8, 8], 1),
      'v.weight': seededTensor([8, 8], 2),
    });
    expectTextFile(printGraph(loraSplit(g, ctx)), `${DIR}/full-rank.out.mir`);
    expect(ctx.notes.lora).toEqual([]);
  });
});
