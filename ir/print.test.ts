import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './builder.ts';
import type { Graph } from './graph.ts';
import {
  formatF32,
  formatI64,
  formatNumber,
  formatOutputName,
  formatValueName,
  parseI64,
} from './mir-text.ts';
import { parseGraph } from './parse.ts';
import { printGraph } from './print.ts';
import { mulberry32 } from './random.ts';
import { expectTextRoundTrip } from '../test/mir-round-trip.ts';
import type { Tensor } from './tensor.ts';
import { fromNumbers, makeTensor, tensorHash } from './tensor.ts';

function f32FromBits(bits: number): number {
  const u = new Uint32Array([bits]);
  return new Float32Array(u.buffer)[0]!;
}

function bitsOfF32(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0]!;
}

describe('number formatting', () => {
  it('prints f32 values in their shortest round-trip decimal', () => {
    // Hand-derived: the f32 nearest 0.1 is 0.100000001490116..., and "0.1" reads back to it.
    expect(formatF32(Math.fround(0.1))).toBe('0.1');
    expect(formatF32(Math.fround(1 / 3))).toBe('0.33333334');
    expect(formatF32(3.4028234663852886e38)).toBe('3.4028235e+38'); // FLT_MAX
    expect(formatF32(1.401298464324817e-45)).toBe('1e-45'); // smallest subnormal
    expect(formatF32(16777217)).toBe('16777216'); // 2^24 + 1 is not an f32
    expect(formatF32(-3)).toBe('-3');
    expect(formatF32(-0)).toBe('-0');
    expect(formatF32(Infinity)).toBe('inf');
    expect(formatF32(-Infinity)).toBe('-inf');
    expect(formatF32(NaN)).toBe('nan');
  });

  it('reads every printed f32 back to the same bits (random bit patterns)', () => {
    const next = mulberry32(12345);
    for (let i = 0; i < 20000; i++) {
      const x = f32FromBits(next());
      const text = formatF32(x);
      const back = Math.fround(
        text === 'nan' ? NaN : text === 'inf' ? Infinity : text === '-inf' ? -Infinity : Number(text),
      );
      if (Number.isNaN(x)) expect(Number.isNaN(back)).toBe(true);
      else expect(bitsOfF32(back)).toBe(bitsOfF32(x));
      // Shortest: no decimal with fewer significant digits names the same f32.
      const digits = text
        .replace(/^-/, '')
        .replace(/e.*$/, '')
        .replace('.', '')
        .replace(/^0+/, '')
        .replace(/0+$/, '').length;
      if (digits > 1 && Number.isFinite(x)) {
        const shorter = Number(Math.fround(x).toPrecision(digits - 1));
        expect(Math.fround(shorter)).not.toBe(Math.fround(x));
      }
    }
  });

  it('prints doubles (attributes) so that they read back exactly', () => {
    expect(formatNumber(1e-12)).toBe('1e-12');
    expect(formatNumber(0.5)).toBe('0.5');
    expect(formatNumber(-3)).toBe('-3');
    expect(formatNumber(9.999999960041972e-13)).toBe('9.999999960041972e-13');
  });

  it('prints and reads i64 values exactly at the ends of the range', () => {
    expect(formatI64(2 ** 63)).toBe('9223372036854775807'); // the double image of INT64_MAX
    expect(formatI64(-(2 ** 63))).toBe('-9223372036854775808');
    expect(parseI64('9223372036854775807')).toBe(2n ** 63n - 1n);
    expect(parseI64('9223372036854775808')).toBe(2n ** 63n - 1n);
    expect(parseI64('9223372036854775809')).toBeUndefined();
    expect(parseI64('1.5')).toBeUndefined();
    expect(parseI64('1e3')).toBe(1000n);
  });
});

describe('names', () => {
  it('quotes names that are not bare identifiers', () => {
    expect(formatValueName('input_ids')).toBe('%input_ids');
    expect(formatValueName('0')).toBe('%0');
    expect(formatValueName('input.1')).toBe('%input.1');
    expect(formatValueName('attention-mask')).toBe('%"attention-mask"');
    expect(formatValueName('onnx::Add_3')).toBe('%"onnx::Add_3"');
    expect(formatOutputName('logits')).toBe('logits');
    expect(formatOutputName('0')).toBe('"0"');
    expect(formatOutputName('nan')).toBe('"nan"');
    expect(formatOutputName('a b')).toBe('"a b"');
  });
});

/** A graph built through the builder from real tensors, with awkward names and values. */
function builtGraph(): { g: Graph; weights: Map<string, Tensor>; consts: Tensor[] } {
  const b = new GraphBuilder('built graph');
  const x = b.addInput('input ids', { dtype: 'i64', shape: [2, 3] }, 'client');
  const next = mulberry32(7);
  const table = fromNumbers(
    'f32',
    [5, 4],
    Array.from({ length: 20 }, () => f32FromBits(next() & 0xbfffffff)),
  );
  const w = b.addWeight('emb/"table"', 'public', { tensor: table });
  const e = b.add1('gather', [w, x]);
  const scaleData = Float32Array.from([0.1, -2.5e-7, 3.4028234663852886e38, -0, 1 / 3]);
  const scale = makeTensor('f32', [1, 1, 5], scaleData);
  const s = b.addConst(scale);
  const big = makeTensor('i64', [3], BigInt64Array.from([2n ** 63n - 1n, -(2n ** 63n), -7n]));
  b.addConst(big, { outputIds: ['i64 const'] });
  const flags = fromNumbers('bool', [2], [1, 0]);
  b.addConst(flags);
  const sum = b.add1('reduce_sum', [e], { axes: [2], keepdims: 1 });
  const y = b.add1('mul', [sum, s]);
  const sh = b.add1('share', [y], { from: 'client' }, { placement: 'client' });
  const sm = b.add1('softmax', [sh], { axis: 1 }, { placement: 'mpc', protocol: 'fss-exp.v2' });
  const r = b.add1('reveal', [sm], { to: 'client' }, { placement: 'mpc' });
  const [p, q] = b.add('split', [r], { axis: 2, sizes: [2, 3] });
  b.setOutputs([
    { name: 'probs 0', value: p! },
    { name: 'rest', value: q! },
  ]);
  return { g: b.build(), weights: new Map([['emb/"table"', table]]), consts: [scale, big, flags] };
}

describe('printGraph on builder-built graphs', () => {
  it('reads back to an equal graph: values, nodes, attributes, weight hashes and const tensors', () => {
    const { g, weights, consts } = builtGraph();
    const back = expectTextRoundTrip(g);
    expect(back.name).toBe(g.name);
    // Weights are referenced by hash: the parsed hash is the hash of the original tensor.
    const weightNode = back.nodes.find((n) => n.op === 'weight')!;
    expect(weightNode.attrs['hash']).toBe(tensorHash(weights.get(weightNode.attrs['name'] as string)!));
    expect(weightNode.tensor).toBeUndefined();
    // Const tensors come back bit for bit (the original buffers are the oracle).
    const parsedConsts = back.nodes.filter((n) => n.op === 'const').map((n) => n.tensor!);
    expect(parsedConsts.map((t) => [t.dtype, t.shape])).toEqual(consts.map((t) => [t.dtype, t.shape]));
    parsedConsts.forEach((t, k) => {
      expect(Buffer.from(t.data.buffer).equals(Buffer.from(consts[k]!.data.buffer))).toBe(true);
    });
  });

  it('leaves out default attributes and prints the others in op-table order', () => {
    const b = new GraphBuilder('g');
    const x = b.addInput('x', { dtype: 'f32', shape: [2, 2] });
    const scale = b.addInput('scale', { dtype: 'f32', shape: [2] });
    const a = b.add1('gelu', [x], { approx: 'erf' });
    const c = b.add1('softmax', [a], { approx: '2quad', axis: 0 });
    const d = b.add1('layernorm', [c, scale], { epsilon: 1e-5 });
    b.setOutputs([{ name: 'y', value: d }]);
    const lines = printGraph(b.build()).split('\n');
    expect(lines[1]).toBe('  %0 = gelu %x : client f32[2,2]');
    expect(lines[2]).toBe('  %1 = softmax %0 {axis = 0, approx = "2quad"} : client f32[2,2]');
    expect(lines[3]).toBe('  %2 = layernorm %1, %scale : client f32[2,2]');
  });

  it('is deterministic and ends with a newline', () => {
    const a = printGraph(builtGraph().g);
    const b = printGraph(builtGraph().g);
    expect(a).toBe(b);
    expect(a.endsWith('}\n')).toBe(true);
  });
});

describe('names in the text form', () => {
  it('round-trip any string as graph, value and output names (random names)', () => {
    const pool = [
      'a',
      'Z',
      '_',
      '0',
      '9',
      '.',
      '-',
      ' ',
      '%',
      '@',
      '"',
      '\\',
      '\n',
      '\t',
      '/',
      ':',
      'é',
      '\u{1F600}',
      '\udc00',
    ];
    const next = mulberry32(99);
    const randomName = (): string => {
      const n = 1 + (next() % 6);
      return Array.from({ length: n }, () => pool[next() % pool.length]!).join('');
    };
    for (let trial = 0; trial < 200; trial++) {
      const [graphName, input, result, output] = [randomName(), randomName(), randomName(), randomName()];
      if (input === result) continue;
      const b = new GraphBuilder(graphName);
      b.addInput(input, { dtype: 'f32', shape: [2] });
      b.add1('relu', [input], {}, { outputIds: [result] });
      b.setOutputs([{ name: output, value: result }]);
      const g = b.build();
      const text = printGraph(g);
      const back = parseGraph(text);
      expect(back.name).toBe(graphName);
      expect(back.inputs).toEqual([input]);
      expect(back.outputs).toEqual([{ name: output, value: result }]);
      expect(printGraph(back)).toBe(text);
    }
  });

  it('keeps keywords and number words usable as names', () => {
    const b = new GraphBuilder('client');
    b.addInput('return', { dtype: 'f32', shape: [] });
    b.add1('neg', ['return'], {}, { outputIds: ['graph'] });
    b.setOutputs([
      { name: 'return', value: 'graph' },
      { name: 'inf', value: 'return' },
    ]);
    const text = printGraph(b.build());
    expect(text.split('\n')[0]).toBe(
      'graph @client(%return: client f32[]) -> (return: f32[], "inf": f32[]) {',
    );
    expect(printGraph(parseGraph(text))).toBe(text);
  });
});
