import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/builder.ts';
import type { Graph, ValueId } from '../../ir/graph.ts';
import { makeTensor } from '../../ir/tensor.ts';
import type { Placement, Visibility } from '../../ir/types.ts';
import { emptyNotes } from '../../passes/context.ts';
import { formatSummary, summarize } from './summary.ts';

const HASH = 'ab'.repeat(32);

function weight(
  b: GraphBuilder,
  name: string,
  vis: Visibility,
  shape: number[],
  placement: Placement,
): ValueId {
  return b.addWeight(name, vis, { type: { dtype: 'f32', shape }, hash: HASH }, { placement });
}

function scalar(b: GraphBuilder, v: number): ValueId {
  return b.addConst(makeTensor('f32', [], Float32Array.of(v)), { placement: 'both' });
}

/**
 * A frozen bottom layer on the client, a fine-tuned top in MPC:
 *   client  h  = x @ Wpub          [1,4,8] x [8,8]: 4*8*8  = 256 MACs
 *           g  = gelu(h)            32 non-linear elements
 *   both    t  = transpose(Wpub)    (public: counted for client and server)
 *   server  bb = bias * bias        1 op
 *   mpc     s  = share(g)
 *           y  = s @ Wpriv          [1,4,8] x [8,6]: 4*6*8  = 192 secure MACs
 *           z  = s @ t              [1,4,8] x [8,8]: 4*8*8  = 256 local MACs
 *           zz = z @ t              [1,4,8] x [8,8]: 4*8*8  = 256 local MACs
 *           c  = y + bb
 *           p  = softmax(c)         24 non-linear elements
 *           m  = max(zz, zz)        32 non-linear elements
 *           two reveals
 */
function frozenBottom(): Graph {
  const b = new GraphBuilder('frozen');
  const x = b.addInput('x', { dtype: 'f32', shape: [1, 4, 8] });
  const wpub = weight(b, 'wpub', 'public', [8, 8], 'both');
  const wpriv = weight(b, 'wpriv', 'server', [8, 6], 'server');
  const bias = weight(b, 'bias', 'server', [6], 'server');
  const h = b.add1('matmul', [x, wpub], {}, { placement: 'client' });
  const g = b.add1('gelu', [h], {}, { placement: 'client' });
  const t = b.add1('transpose', [wpub], { perm: [1, 0] }, { placement: 'both' });
  const bb = b.add1('mul', [bias, bias], {}, { placement: 'server' });
  const s = b.add1('share', [g], { from: 'client' }, { placement: 'mpc' });
  const y = b.add1('matmul', [s, wpriv], {}, { placement: 'mpc' });
  const z = b.add1('matmul', [s, t], {}, { placement: 'mpc' });
  const zz = b.add1('matmul', [z, t], {}, { placement: 'mpc' });
  const c = b.add1('add', [y, bb], {}, { placement: 'mpc' });
  const p = b.add1('softmax', [c], {}, { placement: 'mpc' });
  const m = b.add1('max', [zz, zz], {}, { placement: 'mpc' });
  const r1 = b.add1('reveal', [p], { to: 'client' }, { placement: 'mpc' });
  const r2 = b.add1('reveal', [m], { to: 'client' }, { placement: 'mpc' });
  b.setOutputs([
    { name: 'p', value: r1 },
    { name: 'm', value: r2 },
  ]);
  return b.build();
}

/**
 * Two-head self-attention on secret x [1,4,8]: q, k = x @ Wq, x @ Wk, split into heads
 * [1,2,4,4], scores = q @ k^T [1,2,4,4] scaled and masked, then a final softmax over
 * logits x @ Wout [1,4,5] (a weight operand: not attention).
 */
function attention(): Graph {
  const b = new GraphBuilder('attn');
  const x0 = b.addInput('x', { dtype: 'f32', shape: [1, 4, 8] });
  const x = b.add1('share', [x0], { from: 'client' }, { placement: 'mpc' });
  const heads = (w: ValueId, perm: number[]) => {
    const proj = b.add1('matmul', [x, w], {}, { placement: 'mpc' });
    const split = b.add1('reshape', [proj], { shape: [1, 4, 2, 4] }, { placement: 'mpc' });
    return b.add1('transpose', [split], { perm }, { placement: 'mpc' });
  };
  const q = heads(weight(b, 'wq', 'server', [8, 8], 'server'), [0, 2, 1, 3]);
  const kT = heads(weight(b, 'wk', 'server', [8, 8], 'server'), [0, 2, 3, 1]);
  const scores = b.add1('matmul', [q, kT], {}, { placement: 'mpc' });
  const scaled = b.add1('div', [scores, scalar(b, 2)], {}, { placement: 'mpc' });
  const mask = b.addConst(makeTensor('f32', [1, 1, 4, 4], new Float32Array(16)), { placement: 'both' });
  const probs = b.add1('softmax', [scaled, mask], {}, { placement: 'mpc', origin: 'Softmax_7' });
  const logits = b.add1(
    'matmul',
    [x, weight(b, 'wout', 'server', [8, 5], 'server')],
    {},
    { placement: 'mpc' },
  );
  const out = b.add1('softmax', [logits], {}, { placement: 'mpc' });
  b.setOutputs([
    { name: 'probs', value: b.add1('reveal', [probs], { to: 'client' }, { placement: 'mpc' }) },
    { name: 'out', value: b.add1('reveal', [out], { to: 'client' }, { placement: 'mpc' }) },
  ]);
  return b.build();
}

describe('summarize', () => {
  it('counts ops, MACs and non-linear elements per placement (hand-computed)', () => {
    const s = summarize(frozenBottom(), emptyNotes()).summary;
    // client: matmul, gelu, transpose (both); server: mul, transpose (both)
    expect(s.client).toEqual({ ops: 3, macs: 256, nonlinear: 32 });
    expect(s.server).toEqual({ ops: 2, macs: 0, nonlinear: 0 });
    // mpc: share, 3 matmuls, add, softmax, max, 2 reveals
    expect(s.mpc).toEqual({ ops: 9, local_macs: 512, secure_macs: 192, nonlinear: 24 + 32 });
  });

  it('counts secret x secret matmuls as secure and finds attention with its head count', () => {
    const r = summarize(attention(), emptyNotes());
    // q and k projections 4*8*8 = 256 each; logits 4*5*8 = 160; scores [1,2,4,4] x k=4: 32*4 = 128.
    expect(r.summary.mpc.secure_macs).toBe(256 + 256 + 160 + 128);
    expect(r.summary.mpc.local_macs).toBe(0);
    // div by a public scalar is linear; the two softmaxes: 32 + 20 elements.
    expect(r.summary.mpc.nonlinear).toBe(32 + 20);
    expect(r.attention).toEqual([
      {
        node: expect.stringMatching(/^%/),
        origin: 'Softmax_7',
        heads: 2,
        seq: 4,
        head_dim: 4,
        rows: 8,
        placement: 'mpc',
      },
    ]);
  });

  it('counts a comparison and a division by a secret under MPC as non-linear, but not on the client', () => {
    const b = new GraphBuilder('cmp');
    const x = b.addInput('x', { dtype: 'f32', shape: [2, 3] });
    const local = b.add1('less', [x, x], {}, { placement: 'client' });
    const s = b.add1('share', [x], { from: 'client' }, { placement: 'mpc' });
    const lt = b.add1('less', [s, s], {}, { placement: 'mpc' });
    const q = b.add1('div', [s, s], {}, { placement: 'mpc' });
    b.setOutputs([
      { name: 'a', value: local },
      { name: 'b', value: b.add1('reveal', [lt], { to: 'client' }, { placement: 'mpc' }) },
      { name: 'c', value: b.add1('reveal', [q], { to: 'client' }, { placement: 'mpc' }) },
    ]);
    const r = summarize(b.build(), emptyNotes()).summary;
    expect(r.client.nonlinear).toBe(0);
    expect(r.mpc.nonlinear).toBe(6 + 6);
  });

  it('derives placement from visibility on an unplaced graph', () => {
    const b = new GraphBuilder('unplaced');
    const x = b.addInput('x', { dtype: 'f32', shape: [3, 4] });
    const w = b.addWeight('w', 'server', { type: { dtype: 'f32', shape: [4, 2] }, hash: HASH });
    b.setOutputs([{ name: 'y', value: b.add1('matmul', [x, w]) }]);
    expect(summarize(b.build(), emptyNotes()).summary.mpc).toEqual({
      ops: 1,
      local_macs: 0,
      secure_macs: 3 * 2 * 4,
      nonlinear: 0,
    });
  });

  it('copies weights and lora notes', () => {
    const notes = emptyNotes();
    notes.weights.push({ name: 'a', public: true, reason: 'matches-base', baseName: 'a0' });
    notes.lora.push({ weight: 'q', rank: 4, kind: 'merged', base: 'q0', relativeError: 1e-7 });
    const r = summarize(frozenBottom(), notes);
    expect(r.weights).toEqual([{ name: 'a', public: true, reason: 'matches-base' }]);
    expect(r.lora).toEqual([{ weight: 'q', rank: 4, kind: 'merged', base: 'q0', relativeError: 1e-7 }]);
  });
});

describe('formatSummary', () => {
  it('prints one row per placement with exact figures', () => {
    const notes = emptyNotes();
    notes.lora.push({ weight: 'q', rank: 4, kind: 'merged' });
    const text = formatSummary(summarize(attention(), notes));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/ops\s+MACs\s+local MACs\s+secure MACs\s+non-linear$/);
    expect(lines[3]).toMatch(/^mpc\s+\d+\s+800\s+0\s+800\s+52$/);
    expect(text).toContain('lora: 1 merged adapter matmul(s), rank 4');
    expect(text).toContain('attention: 1 softmax(es), 2 head(s), 8 rows; 1 under MPC');
  });
});
