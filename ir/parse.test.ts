import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expectTextFile } from '../test/expect-text.ts';
import type { Graph } from './graph.ts';
import { OP_NAMES } from './ops.ts';
import { parseGraph } from './parse.ts';
import { printGraph } from './print.ts';
import { verifyGraph } from './verify.ts';

const MIR_DIR = fileURLToPath(new URL('../test/mir/', import.meta.url));
const fixtures = readdirSync(MIR_DIR)
  .filter((f) => f.endsWith('.mir'))
  .sort()
  .map((name) => ({ name, text: readFileSync(MIR_DIR + name, 'utf8') }));

/** The parts of a graph the text form carries (tensors of weights are not in the text). */
function comparable(g: Graph) {
  return {
    name: g.name,
    inputs: g.inputs,
    outputs: g.outputs,
    values: [...g.values.entries()],
    nodes: g.nodes.map((n) => ({
      op: n.op,
      inputs: n.inputs,
      outputs: n.outputs,
      attrs: n.attrs,
      placement: n.placement,
      protocol: n.protocol,
      tensor: n.tensor && {
        dtype: n.tensor.dtype,
        shape: n.tensor.shape,
        data: Array.from(n.tensor.data as ArrayLike<number | bigint>),
      },
    })),
  };
}

describe('.mir fixtures (test/mir/*.mir)', () => {
  it('exist', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(5);
  });

  for (const { name, text } of fixtures) {
    it(`${name}: print(parse(text)) is the text, and parse(print(g)) is g`, () => {
      const g = parseGraph(text, name);
      verifyGraph(g);
      const printed = printGraph(g);
      expect(printed).toBe(text);
      const again = parseGraph(printed, name);
      expect(printGraph(again)).toBe(printed);
      expect(comparable(again)).toEqual(comparable(g));
    });
  }

  it('cover every op of the op table, multi-result nodes, quoted names, placements with and without protocol', () => {
    const graphs = fixtures.map((f) => parseGraph(f.text, f.name));
    const nodes = graphs.flatMap((g) => g.nodes);
    expect(new Set(nodes.map((n) => n.op))).toEqual(new Set(OP_NAMES));
    expect(nodes.some((n) => n.outputs.length > 2)).toBe(true);
    expect(nodes.some((n) => n.placement === 'mpc' && n.protocol !== undefined)).toBe(true);
    for (const p of ['client', 'server', 'both', 'mpc'])
      expect(nodes.some((n) => n.placement === p && n.protocol === undefined)).toBe(true);
    const texts = fixtures.map((f) => f.text).join('\n');
    for (const quoted of ['@"', '%"', '("', ', "', '\\"', '\\t']) expect(texts).toContain(quoted);
  });

  it('cover every attribute kind written in text: int, float, ints, string, and const values', () => {
    const texts = fixtures.map((f) => f.text).join('\n');
    expect(texts).toMatch(/\{axis = -?\d+\}/); // int
    expect(texts).toMatch(/epsilon = 1e-12/); // float
    expect(texts).toMatch(/perm = \[\d+(, \d+)*\]/); // ints
    expect(texts).toMatch(/approx = "2quad"/); // string
    expect(texts).toMatch(/= const \[\]/); // floats (const values), empty
  });
});

describe('parseGraph', () => {
  it('normalises hand-written text: comments, spacing, defaults, attribute order, number spellings', () => {
    const input = readFileSync(MIR_DIR + 'normalize/input.mir', 'utf8');
    expectTextFile(printGraph(parseGraph(input)), MIR_DIR + 'normalize/expected.mir');
  });

  it('fills attributes left out with the op table defaults', () => {
    const g = parseGraph(readFileSync(MIR_DIR + 'normalize/input.mir', 'utf8'));
    const softmax = g.nodes.find((n) => n.op === 'softmax')!;
    expect(softmax.attrs).toEqual({ axis: -1, approx: 'exact' });
    const layernorm = g.nodes.find((n) => n.op === 'layernorm')!;
    expect(layernorm.attrs).toEqual({ axis: -1, epsilon: 1e-5 });
  });

  it('reads const values into tensors of the declared dtype', () => {
    const g = parseGraph(fixtures.find((f) => f.name === 'consts.mir')!.text);
    const tensors = g.nodes.map((n) => n.tensor!);
    expect(tensors[1]!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(tensors[1]!.data as Float32Array)).toEqual([
      Math.fround(0.1),
      -3,
      Math.fround(1e-12),
      -0,
      Infinity,
      -Infinity,
      NaN,
      3.4028234663852886e38,
    ]);
    expect(Object.is(tensors[1]!.data[3], -0)).toBe(true);
    expect(tensors[2]!.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(tensors[2]!.data as BigInt64Array)).toEqual([
      0n,
      -1n,
      9007199254740992n,
      2n ** 63n - 1n,
      -(2n ** 63n),
    ]);
    expect(tensors[3]!.data).toEqual(Uint8Array.from([1, 0, 0, 1]));
    expect(tensors[4]!.data.length).toBe(0);
  });

  it('accepts CRLF line endings and comments anywhere', () => {
    const text = fixtures.find((f) => f.name === 'attention.mir')!.text;
    const crlf = text.replace(/\n/g, ' // note\r\n');
    expect(printGraph(parseGraph(crlf))).toBe(text);
  });

  it('keeps the weight name, visibility, type and hash, and attaches no tensor', () => {
    const g = parseGraph(fixtures.find((f) => f.name === 'names.mir')!.text);
    const w = g.nodes[0]!;
    expect(w.op).toBe('weight');
    expect(w.attrs['name']).toBe('transformer.wte.weight\twith "quotes" and \\ backslash');
    expect(w.attrs['hash']).toBe('0d4fc4a78d3706edccafb665a8b2fdd9309e82c78625bb0f2b8e7bb9e1c4d21c');
    expect(w.tensor).toBeUndefined();
    expect(g.values.get('emb weight')).toEqual({
      id: 'emb weight',
      type: { dtype: 'f32', shape: [5, 3] },
      visibility: 'public',
    });
    expect(g.inputs).toEqual(['input-ids', 'onnx::Mask_1', '1.5']);
    expect(g.outputs.map((o) => o.name)).toEqual(['logits/final', '0', 'inf', 'last_hidden.state']);
    expect(g.name).toBe('gpt2/fine-tuned (v1)');
  });

  it('reads state outputs: each names the graph input it becomes at the next step', () => {
    const g = parseGraph(fixtures.find((f) => f.name === 'state.mir')!.text);
    expect(g.outputs.map((o) => [o.name, o.state])).toEqual([
      ['logits', undefined],
      ['present.0', 'past.0'],
      ['present/1', 'past.1'],
    ]);
    expect(g.values.get('past.1')!.visibility).toBe('secret');
  });
});
