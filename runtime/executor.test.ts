// The plan executor in one process (both parties, real dealer and protocols) against the
// plaintext interpreter, with measured bytes/rounds against the plan's predicted costs.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.ts';
import { MarillError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { interpret } from '../ir/interpret.ts';
import type { Tensor } from '../ir/tensor.ts';
import { makeTensor } from '../ir/tensor.ts';
import { Prg } from './crypto/prg.ts';
import { expectPlanCosts } from '../test/runtime/expect-cost.ts';
import { tensorHash } from '../ir/tensor.ts';
import type { Plan } from './plan.ts';
import { definePlan, freshWeightKey, keyedWeightHash, makePlan, planSpec } from './plan.ts';
import { simulatePlan } from './session.ts';

function randomTensor(shape: number[], scale: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = new Uint32Array(Prg.fresh().bytes(4 * n).buffer);
  return makeTensor(
    'f32',
    shape,
    Float32Array.from(u, (v) => ((v / 2 ** 32) * 2 - 1) * scale),
  );
}

/** Weights of a graph by name (the server knows all, the client the public ones). */
function weightsOf(g: Graph, visible: (v: string) => boolean): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const n of g.nodes)
    if (n.op === 'weight' && visible(g.values.get(n.outputs[0]!)!.visibility))
      out.set(String(n.attrs['name']), n.tensor!);
  return out;
}

/**
 * A placed graph using every core op protocol: share, public-weight matmul (linear), server-weight
 * matmul (beaver.weight, both sides), secret x secret mul and matmul (beaver), bias adds (public and
 * server-private), movement ops, reductions, where with a public mask, and reveal.
 */
function linearGraph(): Graph {
  const b = new GraphBuilder('linear_mix');
  const mpc = { placement: 'mpc' as const };
  const x = b.addInput('x', { dtype: 'f32', shape: [2, 4, 8] }, 'client');
  const wPub = b.addWeight('w_pub', 'public', { tensor: randomTensor([8, 8], 0.5) }, { placement: 'both' });
  const wSrv = b.addWeight('w_srv', 'server', { tensor: randomTensor([8, 6], 0.5) }, { placement: 'server' });
  const wLeft = b.addWeight(
    'w_left',
    'server',
    { tensor: randomTensor([3, 4], 0.5) },
    { placement: 'server' },
  );
  const bias = b.addWeight('bias', 'server', { tensor: randomTensor([6], 0.5) }, { placement: 'server' });
  const mask = b.addWeight(
    'mask',
    'public',
    {
      tensor: makeTensor(
        'bool',
        [4, 6],
        Uint8Array.from({ length: 24 }, (_, i) => (i % 3 ? 1 : 0)),
      ),
    },
    { placement: 'both' },
  );
  // client plaintext work (frozen layer), then share
  const xc = b.add1(
    'mul',
    [x, b.addConst(makeTensor('f32', [], Float32Array.of(0.5)), { placement: 'both' })],
    {},
    { placement: 'client' },
  );
  const s = b.add1('share', [xc], { from: 'client' }, mpc);
  const h = b.add1('matmul', [s, wPub], {}, { ...mpc, protocol: 'linear' });
  const w = b.add1('matmul', [h, wSrv], {}, { ...mpc, protocol: 'beaver.weight' });
  const wb = b.add1('add', [w, bias], {}, mpc);
  const gain = b.addWeight('gain', 'server', { tensor: randomTensor([6], 1) }, { placement: 'server' });
  const scaledByServer = b.add1('mul', [wb, gain], {}, mpc); // default protocol: beaver.weight (elementwise)
  const sq = b.add1('mul', [scaledByServer, wb], {}, { ...mpc, protocol: 'beaver' });
  const masked = b.add1('where', [mask, sq, wb], {}, mpc);
  const left = b.add1('matmul', [wLeft, masked], {}, { ...mpc, protocol: 'beaver.weight' }); // [2,3,6]
  const t = b.add1('transpose', [left], { perm: [0, 2, 1] }, mpc); // [2,6,3]
  const att = b.add1('matmul', [t, left], {}, { ...mpc, protocol: 'beaver' }); // [2,6,6]
  const red = b.add1('reduce_mean', [att], { axes: [2], keepdims: 0 }, mpc); // [2,6]
  const sum = b.add1('reduce_sum', [masked], { axes: [1], keepdims: 0 }, mpc); // [2,6]
  const cat = b.add1('concat', [red, sum], { axis: 1 }, mpc); // [2,12]
  const sl = b.add1('slice', [cat], { starts: [1], ends: [11], axes: [1], steps: [2] }, mpc); // [2,5]
  const scaled = b.add1(
    'div',
    [sl, b.addConst(makeTensor('f32', [], Float32Array.of(4)), { placement: 'both' })],
    {},
    mpc,
  );
  const y = b.add1('reveal', [scaled], { to: 'client' }, mpc);
  b.setOutputs([{ name: 'y', value: y }]);
  return b.build();
}

describe('plan executor (in process)', () => {
  it('matches the plaintext interpreter and its predicted costs exactly', async () => {
    const g = linearGraph();
    const plan = makePlan(g);
    const x = randomTensor([2, 4, 8], 2);
    const ref = interpret(g, new Map([['x', x]])).get('y')!;
    const { outputs, report } = await simulatePlan(
      plan,
      { server: weightsOf(g, () => true), client: weightsOf(g, (v) => v === 'public') },
      { client: new Map([['x', x]]) },
      { inferences: 2 },
    );
    const y = outputs.get('y')!;
    expect(y.shape).toEqual(ref.shape);
    const got = y.data as Float32Array;
    const want = ref.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThan(1e-2);
    // the cost model's promise: measured == predicted, op by op (two inferences, setup once)
    expectPlanCosts(report, plan, 2);
    const protocols = report.ops.map((o) => `${o.op}:${o.protocol}`);
    expect(protocols).toEqual(
      expect.arrayContaining(['matmul:beaver.weight', 'mul:beaver.weight', 'mul:beaver']),
    );
  });

  it('a plan survives its spec literal; a tampered spec is refused', () => {
    const plan = makePlan(linearGraph());
    const spec = planSpec(plan);
    expect(definePlan(JSON.parse(JSON.stringify(spec))).hash).toBe(plan.hash);
    const tampered = { ...spec, fracBits: 12 };
    expect(() => definePlan(tampered)).toThrow(/states hash/);
  });

  it('refuses a public weight that differs from the plan', async () => {
    const g = linearGraph();
    const plan = makePlan(g);
    const clientWeights = weightsOf(g, (v) => v === 'public');
    clientWeights.set('w_pub', randomTensor([8, 8], 0.5));
    const err = await simulatePlan(
      plan,
      { server: weightsOf(g, () => true), client: clientWeights },
      { client: new Map() },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MarillError);
    expect((err as MarillError).format()).toMatch(/^weight 'w_pub': differs from the plan's/);
  });

  it('checks private weights by keyed hash: the server needs the plan’s key, and the right one', async () => {
    const g = linearGraph();
    const weightKey = freshWeightKey();
    const plan = makePlan(g, { weightKey });
    const wSrv = g.nodes.find((n) => n.op === 'weight' && n.attrs['name'] === 'w_srv')!;
    // The plan names the private weight by HMAC under the key, not by its SHA-256.
    const stated = planSpec(plan).nodes.find((n) => n.op === 'weight' && n.attrs['name'] === 'w_srv')!;
    expect(stated.attrs['hash']).not.toBe(tensorHash(wSrv.tensor!));
    expect(stated.attrs['hash']).toBe(keyedWeightHash(weightKey, tensorHash(wSrv.tensor!)));
    const run = (p: Plan) =>
      simulatePlan(
        p,
        { server: weightsOf(g, () => true), client: weightsOf(g, (v) => v === 'public') },
        { client: new Map([['x', randomTensor([2, 4, 8], 2)]]) },
      ).catch((e: unknown) => e);
    const noKey = await run({ ...plan, weightKey: undefined });
    expect(noKey).toBeInstanceOf(MarillError);
    expect((noKey as MarillError).message).toMatch(/the server needs the plan's weight key/);
    const otherKey = await run({ ...plan, weightKey: freshWeightKey() });
    expect(otherKey).toBeInstanceOf(MarillError);
    expect((otherKey as MarillError).format()).toMatch(
      /^weight 'w_\w+': differs from the plan's \(server weight hash/,
    );
    expect(await run(plan)).not.toBeInstanceOf(Error);
  });

  it('a plan revealing to the server is refused when made; run anyway, the client fails for lack of output', async () => {
    const build = (to: 'client' | 'server') => {
      const b = new GraphBuilder('reveal_target');
      const x = b.addInput('x', { dtype: 'f32', shape: [2, 3] }, 'client');
      const s = b.add1('share', [x], { from: 'client' }, { placement: 'mpc' });
      const y = b.add1('reveal', [s], { to }, { placement: 'mpc' });
      b.setOutputs([{ name: 'y', value: y }]);
      return b.build();
    };
    const toServer = build('server');
    expect(() => makePlan(toServer)).toThrow(/information flow: reveal to the server is not allowed/);
    // A plan object that skipped the checks (the runtime's last line of defence).
    const unchecked: Plan = { ...makePlan(build('client')), graph: toServer };
    const err = await simulatePlan(
      unchecked,
      { server: new Map(), client: new Map() },
      { client: new Map([['x', randomTensor([2, 3], 1)]]) },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MarillError);
    expect((err as MarillError).message).toMatch(/the client did not learn output 'y'/);
  });
});
