/**
 * The onnxruntime plaintext engine against the interpreter (the reference),
 * through the party sessions (simulatePlan): every IR op with an ONNX lowering
 * as a one-node client segment, with operands as live-ins and as baked
 * weights; ops without a faithful lowering left to the interpreter; and a
 * chain split around such an op into two segments.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/builder.ts';
import type { Attrs, Graph } from '../../ir/graph.ts';
import { interpret } from '../../ir/interpret.ts';
import type { OpName } from '../../ir/ops.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { fromNumbers } from '../../ir/tensor.ts';
import { mismatch } from '../../test/fixtures/ort-op.ts';
import { seededUniform } from '../../ir/random.ts';
import { randomBool, randomF32, randomI64 } from '../../test/fixtures/random.ts';
import { inProcessFeeds } from '../dealer/feeds.ts';
import { PartyExecutor } from '../executor.ts';
import type { Plan } from '../plan.ts';
import { makePlan } from '../plan.ts';
import { simulatePlan } from '../session.ts';
import type { PlaintextEngineName } from './engine.ts';
import { parsePlaintextEngine } from './engine.ts';
import type { Segment } from './segments.ts';

const next = seededUniform(1207);
const f32 = (shape: number[], lo = -3, hi = 3) => randomF32(shape, next, lo, hi);
const pos = (shape: number[]) => randomF32(shape, next, 0.1, 4);
const i64 = (shape: number[], values: number[]) => fromNumbers('i64', shape, values);

interface Case {
  readonly op: OpName;
  readonly inputs: readonly Tensor[];
  readonly attrs?: Attrs;
  readonly label?: string;
}

interface OneNode {
  readonly plan: Plan;
  readonly graph: Graph;
  readonly inputs: Map<string, Tensor>;
  readonly weights: Map<string, Tensor>;
}

/** One client plaintext node; operands `asWeights` are public weights (baked), the rest client inputs. */
function oneNode(c: Case, asWeights: ReadonlySet<number> = new Set()): OneNode {
  const b = new GraphBuilder(c.op);
  const inputs = new Map<string, Tensor>();
  const weights = new Map<string, Tensor>();
  const ids = c.inputs.map((t, i) => {
    if (asWeights.has(i)) {
      weights.set(`w${i}`, t);
      return b.addWeight(`w${i}`, 'public', { tensor: t }, { placement: 'both' });
    }
    inputs.set(`x${i}`, t);
    return b.addInput(`x${i}`, { dtype: t.dtype, shape: t.shape }, 'client');
  });
  const outs = b.add(c.op, ids, c.attrs ?? {}, { placement: 'client' });
  b.setOutputs(outs.map((value, k) => ({ name: `y${k}`, value })));
  const graph = b.build();
  return { plan: makePlan(graph), graph, inputs, weights };
}

function clientSegments(plan: Plan, weights: Map<string, Tensor>): readonly Segment[] {
  const [serverFeed, clientFeed] = inProcessFeeds(plan);
  serverFeed.close();
  clientFeed.close();
  return new PartyExecutor(plan, 'client', clientFeed, weights).segments;
}

async function run(t: OneNode, plaintextEngine: PlaintextEngineName): Promise<Map<string, Tensor>> {
  const { outputs } = await simulatePlan(
    t.plan,
    { server: t.weights, client: t.weights },
    { client: t.inputs },
    { plaintextEngine },
  );
  return outputs;
}

function expectClose(got: Map<string, Tensor>, want: Map<string, Tensor>, rel: number, abs: number): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [name, t] of want) expect(mismatch(got.get(name)!, t, rel, abs), name).toBeNull();
}

const MAPPED: Case[] = [
  { op: 'add', inputs: [f32([2, 3, 4]), f32([4])] },
  { op: 'sub', inputs: [f32([2, 1, 4]), f32([3, 1])] },
  { op: 'mul', inputs: [f32([1]), f32([2, 3])] },
  { op: 'div', inputs: [f32([2, 3]), pos([3])] },
  { op: 'pow', inputs: [pos([3, 4]), f32([4], -2, 2)] },
  { op: 'max', inputs: [f32([3, 1]), f32([1, 5])] },
  { op: 'min', inputs: [i64([3], [4, -2, 9]), i64([3], [1, 5, -7])] },
  { op: 'neg', inputs: [f32([4, 5])] },
  { op: 'abs', inputs: [f32([4, 5])] },
  { op: 'sqrt', inputs: [pos([4, 5])] },
  { op: 'rsqrt', inputs: [pos([4, 5])] },
  { op: 'reciprocal', inputs: [pos([4, 5])] },
  { op: 'exp', inputs: [f32([4, 5])] },
  { op: 'log', inputs: [pos([4, 5])] },
  { op: 'erf', inputs: [f32([4, 5])] },
  { op: 'tanh', inputs: [f32([4, 5])] },
  { op: 'sigmoid', inputs: [f32([4, 5])] },
  { op: 'relu', inputs: [f32([4, 5])] },
  ...(['erf', 'tanh', 'relu', 'quad'] as const).map((approx) => ({
    op: 'gelu' as const,
    inputs: [f32([4, 16], -5, 5)],
    attrs: { approx },
    label: `gelu ${approx}`,
  })),
  { op: 'silu', inputs: [f32([4, 5])] },
  { op: 'sin', inputs: [f32([4, 5])] },
  { op: 'cos', inputs: [f32([4, 5])] },
  { op: 'equal', inputs: [i64([2, 3], [1, 2, 3, 4, 5, 6]), i64([3], [1, 0, 6])] },
  { op: 'less', inputs: [f32([2, 3]), f32([3])] },
  { op: 'greater', inputs: [f32([2, 3]), f32([3])] },
  { op: 'and', inputs: [randomBool([3, 4], next), randomBool([4], next)] },
  { op: 'or', inputs: [randomBool([3, 4], next), randomBool([4], next)] },
  { op: 'not', inputs: [randomBool([3, 4], next)] },
  { op: 'where', inputs: [randomBool([2, 1, 4], next), f32([3, 1]), f32([4])] },
  ...(['i64', 'bool'] as const).map((to) => ({
    op: 'cast' as const,
    inputs: [fromNumbers('f32', [6], [-2.7, -0.5, 0, 0.5, 2.7, 1e6])],
    attrs: { to },
    label: `cast f32 -> ${to}`,
  })),
  { op: 'cast', inputs: [randomI64([5], next, -3, 3)], attrs: { to: 'f32' }, label: 'cast i64 -> f32' },
  { op: 'matmul', inputs: [f32([2, 3, 4]), f32([4, 5])] },
  {
    op: 'matmul',
    inputs: [randomI64([2, 3], next, -9, 9), randomI64([3, 4], next, -9, 9)],
    label: 'i64 matmul',
  },
  {
    op: 'softmax',
    inputs: [f32([2, 3, 4], -4, 4), fromNumbers('f32', [2, 1, 4], [0, 0, -1e4, -1e4, 0, -1e4, 0, 0])],
    label: 'masked softmax',
  },
  { op: 'log_softmax', inputs: [f32([2, 3, 5])], attrs: { axis: 1 } },
  { op: 'layernorm', inputs: [f32([2, 3, 5]), pos([5]), f32([5])], attrs: { epsilon: 1e-5 } },
  {
    op: 'layernorm',
    inputs: [f32([2, 3, 5]), pos([15])],
    attrs: { axis: -2 },
    label: 'layernorm over two axes, flat scale',
  },
  { op: 'rmsnorm', inputs: [f32([3, 8]), pos([8])] },
  { op: 'reduce_sum', inputs: [f32([2, 3, 4])], attrs: { axes: [1], keepdims: 0 } },
  {
    op: 'reduce_sum',
    inputs: [randomI64([3, 4], next, -50, 50)],
    attrs: { axes: [-1] },
    label: 'i64 reduce_sum',
  },
  { op: 'reduce_sum', inputs: [f32([2, 3])], attrs: { axes: [] }, label: 'reduce_sum over no axes' },
  { op: 'reduce_mean', inputs: [f32([2, 3, 4])], attrs: { axes: [0, 2] } },
  { op: 'reduce_max', inputs: [f32([2, 3, 4])], attrs: { axes: [-1], keepdims: 0 } },
  { op: 'argmax', inputs: [f32([2, 3, 4])], attrs: { axis: 1, keepdims: 0 } },
  { op: 'gather', inputs: [f32([6, 4]), i64([2, 2], [0, -1, 3, -6])], attrs: { axis: 0 } },
  { op: 'reshape', inputs: [f32([2, 6])], attrs: { shape: [3, -1] } },
  {
    op: 'transpose',
    inputs: [randomBool([2, 3, 4], next)],
    attrs: { perm: [2, 0, 1] },
    label: 'bool transpose',
  },
  {
    op: 'slice',
    inputs: [f32([5, 6])],
    attrs: { starts: [4], ends: [-1], axes: [1], steps: [-2] },
    label: 'slice with a negative step to the start',
  },
  {
    op: 'slice',
    inputs: [f32([5, 6])],
    attrs: { starts: [1, 0], ends: [4, 6], axes: [0, 1], steps: [1, 2] },
  },
  { op: 'concat', inputs: [f32([2, 3]), f32([2, 1]), f32([2, 2])], attrs: { axis: 1 } },
  { op: 'split', inputs: [f32([6, 2])], attrs: { axis: 0, sizes: [1, 3, 2] } },
  { op: 'expand', inputs: [f32([3, 1])], attrs: { shape: [2, 3, 4] } },
  { op: 'trilu', inputs: [f32([2, 4, 5])], attrs: { upper: 0, k: 1 } },
];

describe('onnxruntime engine: each lowered op equals the interpreter', () => {
  for (const c of MAPPED)
    it(c.label ?? c.op, async () => {
      const t = oneNode(c);
      expect(clientSegments(t.plan, t.weights).map((s) => s.nodes.length)).toEqual([1]);
      const want = interpret(t.graph, t.inputs);
      expectClose(await run(t, 'interpreter'), want, 0, 0);
      expectClose(await run(t, 'ort'), want, 1e-5, 1e-6);
    });

  it('operands baked as initializers (public weights) give the same results', async () => {
    for (const [c, baked] of [
      [MAPPED.find((m) => m.op === 'matmul')!, [1]],
      [MAPPED.find((m) => m.op === 'layernorm')!, [1, 2]],
      [MAPPED.find((m) => m.op === 'gather')!, [0]],
    ] as const) {
      const t = oneNode(c, new Set(baked));
      const [segment] = clientSegments(t.plan, t.weights);
      expect(segment!.baked.length, c.op).toBe(baked.length);
      expectClose(await run(t, 'ort'), interpret(t.graph, t.inputs), 1e-5, 1e-6);
    }
  });
});

describe('ops without a faithful lowering stay on the interpreter', () => {
  const unmapped: Case[] = [
    { op: 'softmax', inputs: [f32([2, 5])], attrs: { approx: '2quad' }, label: 'softmax 2quad' },
    { op: 'div', inputs: [i64([3], [7, -7, 9]), i64([3], [2, 2, -4])], label: 'i64 div' },
    { op: 'pow', inputs: [i64([3], [2, 3, -2]), i64([3], [3, -1, 2])], label: 'i64 pow' },
    {
      op: 'reduce_mean',
      inputs: [i64([2, 2], [1, 2, 3, 5])],
      attrs: { axes: [1] },
      label: 'i64 reduce_mean',
    },
  ];
  for (const c of unmapped)
    it(c.label!, async () => {
      const t = oneNode(c);
      expect(clientSegments(t.plan, t.weights)).toEqual([]);
      expectClose(await run(t, 'ort'), interpret(t.graph, t.inputs), 0, 0);
    });

  it('an i64 division by zero is still reported, not trapped', async () => {
    const t = oneNode({ op: 'div', inputs: [i64([2], [1, 2]), i64([2], [1, 0])] });
    await expect(run(t, 'ort')).rejects.toThrow(/integer division by zero/);
  });
});

describe('segments', () => {
  /**
   * Client chain: matmul (public weight) -> add -> softmax 2quad -> matmul -> gelu, one
   * output from before the split and one from its end; the 2quad softmax splits it in two.
   */
  function chain(quad = true): OneNode {
    const b = new GraphBuilder('chain');
    const x = b.addInput('x', { dtype: 'f32', shape: [2, 4, 8] }, 'client');
    const w1 = f32([8, 8], -0.5, 0.5);
    const w2 = f32([8, 6], -0.5, 0.5);
    const pub = { placement: 'both' as const };
    const client = { placement: 'client' as const };
    const h = b.add1('matmul', [x, b.addWeight('w1', 'public', { tensor: w1 }, pub)], {}, client);
    const h2 = b.add1('add', [h, b.addConst(fromNumbers('f32', [], [0.25]), pub)], {}, client);
    const p = quad ? b.add1('softmax', [h2], { approx: '2quad' }, client) : h2;
    const q = b.add1('matmul', [p, b.addWeight('w2', 'public', { tensor: w2 }, pub)], {}, client);
    const y = b.add1('gelu', [q], {}, client);
    b.setOutputs([
      { name: 'h', value: h2 },
      { name: 'y', value: y },
    ]);
    const graph = b.build();
    return {
      plan: makePlan(graph),
      graph,
      inputs: new Map([['x', f32([2, 4, 8])]]),
      weights: new Map([
        ['w1', w1],
        ['w2', w2],
      ]),
    };
  }

  it('split around an op without a lowering, which the interpreter runs', async () => {
    const t = chain();
    const segments = clientSegments(t.plan, t.weights);
    const ops = segments.map((s) => s.nodes.map((i) => t.graph.nodes[i]!.op));
    expect(ops).toEqual([
      ['matmul', 'add'],
      ['matmul', 'gelu'],
    ]);
    // the first segment's add feeds both the softmax and a graph output; its matmul result stays inside
    expect(segments[0]!.outputs).toEqual([t.graph.outputs[0]!.value]);
    expect(segments[0]!.baked.length).toBe(2); // w1 and the const
    expect(segments[1]!.inputs.length).toBe(1); // the softmax's result
    const want = interpret(t.graph, t.inputs);
    expectClose(await run(t, 'ort'), want, 1e-5, 1e-6);
    expectClose(await run(t, 'interpreter'), want, 0, 0);
  });

  it('a run whose weights pass the size limit is cut in two', async () => {
    const t = chain(false);
    const ops = (maxSegmentBytes?: number) => {
      const [serverFeed, clientFeed] = inProcessFeeds(t.plan);
      serverFeed.close();
      clientFeed.close();
      const opts = maxSegmentBytes === undefined ? {} : { maxSegmentBytes };
      const ex = new PartyExecutor(t.plan, 'client', clientFeed, t.weights, opts);
      return ex.segments.map((s) => s.nodes.map((i) => t.graph.nodes[i]!.op));
    };
    expect(ops()).toEqual([['matmul', 'add', 'matmul', 'gelu']]);
    // w1 (8x8 f32, 256 B) and the const (4 B) fit in 300 bytes; w2 (8x6, 192 B) does not join them
    expect(ops(300)).toEqual([
      ['matmul', 'add'],
      ['matmul', 'gelu'],
    ]);
    expect(ops(452)).toEqual([['matmul', 'add', 'matmul', 'gelu']]);
  });

  it('the interpreter engine makes no segments', () => {
    const t = chain();
    const [serverFeed, clientFeed] = inProcessFeeds(t.plan);
    serverFeed.close();
    clientFeed.close();
    const ex = new PartyExecutor(t.plan, 'client', clientFeed, t.weights, { plaintextEngine: 'interpreter' });
    expect(ex.segments).toEqual([]);
  });

  it('engine names are checked', () => {
    expect(parsePlaintextEngine('ort')).toBe('ort');
    expect(() => parsePlaintextEngine('tensorrt')).toThrow(/unknown plaintext engine 'tensorrt'/);
  });
});
