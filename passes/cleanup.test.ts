import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.ts';
import type { Graph } from '../ir/graph.ts';
import { printGraph } from '../ir/print.ts';
import { fromNumbers, makeTensor, toNumbers } from '../ir/tensor.ts';
import { verifyGraph } from '../ir/verify.ts';
import { expectTextFile } from '../test/expect-text.ts';
import { loadMir, maxOutputDifference, opCounts, randomInputs } from '../test/passes/pass-harness.ts';
import { cleanupPass } from './cleanup.ts';
import { DEFAULT_OPTIONS, emptyNotes } from './context.ts';
import { csePass } from './cse.ts';
import { dcePass } from './dce.ts';
import { FOLD_LIMIT, foldConstantsPass } from './fold-constants.ts';
import type { Pass } from './manager.ts';

const DIR = 'test/passes/cleanup';
const ctx = { options: DEFAULT_OPTIONS, notes: emptyNotes() };

function runPass(pass: Pass, g: Graph): Graph {
  const out = pass.run(g, ctx);
  verifyGraph(out);
  return out;
}

function constValues(g: Graph, id: string): readonly number[] {
  const n = g.nodes.find((x) => x.outputs.includes(id));
  expect(n?.op, `%${id} should be a const`).toBe('const');
  return n!.attrs['value'] as readonly number[];
}

const CASES: { name: string; pass: Pass }[] = [
  { name: 'fold', pass: foldConstantsPass },
  { name: 'identities', pass: foldConstantsPass },
  { name: 'cse', pass: csePass },
  { name: 'dce', pass: dcePass },
  { name: 'cleanup', pass: cleanupPass },
];

describe('cleanup passes: text IR in, expected text IR out', () => {
  it.each(CASES)('$name', ({ name, pass }) => {
    const g = loadMir(`${DIR}/${name}.in.mir`);
    const out = runPass(pass, g);
    expectTextFile(printGraph(out), `${DIR}/${name}.out.mir`);
    // Cleanup never changes what the graph computes, not even by rounding.
    expect(maxOutputDifference(g, out, randomInputs(g))).toBe(0);
  });
});

describe('fold-constants', () => {
  it('evaluates shape arithmetic to the hand-computed values', () => {
    const out = runPass(foldConstantsPass, loadMir(`${DIR}/fold.in.mir`));
    // [1, 2, 3] * 2 = [2, 4, 6], cast to f32.
    expect(constValues(out, 'd')).toEqual([2, 4, 6]);
    // where([1,0,1,0,1,0] broadcast over rows of d = [2,4,6], -d)
    expect(constValues(out, 'pick')).toEqual([2, -4, 6, -2, 4, -6]);
    expect(out.values.get('pick')!.visibility).toBe('public');
  });

  it('never folds an op that reads a weight, nor a large broadcast of a small constant', () => {
    const out = runPass(foldConstantsPass, loadMir(`${DIR}/fold.in.mir`));
    const op = (id: string) => out.nodes.find((n) => n.outputs.includes(id))!.op;
    expect(op('e')).toBe('add');
    expect(op('big')).toBe('expand');
  });

  it('folds a result larger than the limit when it only rearranges as many constant elements', () => {
    const b = new GraphBuilder('big');
    const n = FOLD_LIMIT + 4;
    const data = Float32Array.from({ length: 2 * n }, (_, i) => i);
    const c = b.addConst(makeTensor('f32', [2, n], data));
    const t = b.add1('transpose', [c], { perm: [1, 0] });
    const wide = b.add1('expand', [b.add1('reshape', [c], { shape: [1, 2, n] })], { shape: [3, 2, n] });
    b.setOutputs([
      { name: 't', value: t },
      { name: 'wide', value: wide },
    ]);
    const out = runPass(foldConstantsPass, b.build());
    const t2 = out.nodes.find((x) => x.outputs.includes(t))!;
    expect(t2.op).toBe('const');
    // Transposed [2, n] -> [n, 2]: element (i, j) is data[j * n + i].
    expect(toNumbers(t2.tensor!).slice(0, 4)).toEqual([0, n, 1, n + 1]);
    expect(out.nodes.find((x) => x.outputs.includes(wide))!.op).toBe('expand');
  });

  it('leaves share and reveal alone even over constants', () => {
    const b = new GraphBuilder('boundary');
    const c = b.addConst(fromNumbers('f32', [2], [1, 2]), { visibility: 'client' });
    const s = b.add1('share', [c], { from: 'client' });
    b.setOutputs([{ name: 's', value: b.add1('reveal', [s], { to: 'client' }) }]);
    const out = runPass(foldConstantsPass, b.build());
    expect(opCounts(out).get('share')).toBe(1);
    expect(opCounts(out).get('reveal')).toBe(1);
  });
});

describe('cse', () => {
  it('merges the same weight read twice but keeps a same-bytes copy under another name', () => {
    const out = runPass(csePass, loadMir(`${DIR}/cse.in.mir`));
    const names = out.nodes.filter((n) => n.op === 'weight').map((n) => n.attrs['name']);
    expect(names.sort()).toEqual(['w', 'w_copy']);
    // Outputs c and d were the same computation: now the same value.
    expect(out.outputs[0]!.value).toBe(out.outputs[1]!.value);
  });
});

describe('cse on constants', () => {
  it('keeps constants apart that JSON would confuse: nan, inf, -inf, 0 and -0', () => {
    const b = new GraphBuilder('special');
    const x = b.addInput('x', { dtype: 'f32', shape: [2] });
    const specials = [NaN, Infinity, -Infinity, 0, -0];
    const outs = specials.map((s) => b.add1('add', [x, b.addConst(fromNumbers('f32', [], [s]))]));
    b.setOutputs(outs.map((value, i) => ({ name: `o${i}`, value })));
    const out = runPass(csePass, b.build());
    expect(opCounts(out).get('const')).toBe(5);
    expect(new Set(out.outputs.map((o) => o.value)).size).toBe(5);
  });
});

describe('cleanup', () => {
  it('folds, merges and drops until the graph stops shrinking', () => {
    const out = runPass(cleanupPass, loadMir(`${DIR}/cleanup.in.mir`));
    expect(opCounts(out)).toEqual(
      new Map([
        ['const', 1],
        ['add', 1],
      ]),
    );
    expect(constValues(out, out.nodes[0]!.outputs[0]!)).toEqual([4]);
  });
});
