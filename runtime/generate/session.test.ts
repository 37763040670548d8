// A generation session in one process over hand-made step plans (test/runtime/step-plans.ts):
// carried secret and client state, greedy tokens against the plaintext interpreter driven
// step by step, measured bytes and rounds of every step against the cost model, the masked
// server weights opened once per session, what each party holds, and refused schedules.
import { describe, expect, it } from 'vitest';
import { costPlan } from '../../compiler/backend/cost.ts';
import { NETWORKS } from '../../compiler/backend/network.ts';
import { interpret } from '../../ir/interpret.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { makeTensor } from '../../ir/tensor.ts';
import { encodeFixed } from '../ring/fixed.ts';
import { ToyGeneration, toyStepGraph } from '../../test/runtime/step-plans.ts';
import { bindPlan, planCosts } from '../bound-plan.ts';
import { stepPlan } from './plan.ts';
import { argmax } from './sampling.ts';
import { stepShape } from './schedule.ts';
import { SimulatedGeneration, simulateGeneration } from './simulate.ts';

/** The plaintext reference: the same step graphs on the interpreter, state fed back. */
function plaintextGeneration(
  gen: ToyGeneration,
  prompt: number[],
  steps: number,
): { tokens: number[]; logits: Float32Array[]; state: Map<string, Tensor> } {
  let state = new Map<string, Tensor>();
  let ids = prompt;
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  for (let k = 0; k < steps; k++) {
    const shape = stepShape(prompt.length, k);
    const g = toyStepGraph(gen.weights, shape);
    const inputs = new Map<string, Tensor>([
      ['input_ids', makeTensor('i64', [1, ids.length], BigInt64Array.from(ids, BigInt))],
    ]);
    for (const o of g.outputs)
      if (o.state !== undefined)
        inputs.set(o.state, state.get(o.state) ?? makeTensor('f32', g.values.get(o.state)!.type.shape));
    const out = interpret(g, inputs);
    state = new Map(g.outputs.filter((o) => o.state !== undefined).map((o) => [o.state!, out.get(o.name)!]));
    const l = out.get('logits')!.data as Float32Array;
    logits.push(l);
    tokens.push(argmax(l));
    ids = [tokens.at(-1)!];
  }
  return { tokens, logits, state };
}

describe('generation session (in process)', () => {
  const gen = new ToyGeneration();
  const weights = { server: gen.serverWeights(), client: gen.clientWeights() };

  it('greedy tokens and logits of every step match the plaintext interpreter; costs as predicted step by step', async () => {
    const prompt = [3, 1, 4];
    const steps = 6;
    const want = plaintextGeneration(gen, prompt, steps);
    const received: Uint8Array[] = [];
    const sim = await SimulatedGeneration.open(
      gen.plan,
      weights,
      { prompt: prompt.length, steps },
      { onClientReceives: (m) => received.push(Uint8Array.from(m)) },
    );
    const tokens: number[] = [];
    try {
      let ids = prompt;
      for (let k = 0; k < steps; k++) {
        const logits = await sim.step(ids);
        // Fixed point with 16 fractional bits, a handful of truncations: well under 1e-2.
        for (let i = 0; i < logits.length; i++)
          expect(Math.abs(logits[i]! - want.logits[k]![i]!)).toBeLessThan(1e-2);
        tokens.push(argmax(logits));
        ids = [tokens.at(-1)!];
        // The secret cache is held as shares at both parties; the client's cache only at the client.
        expect(sim.held('server').get('past_s')?.kind).toBe('share');
        expect(sim.held('client').get('past_s')?.kind).toBe('share');
        expect(sim.held('client').get('past_c')?.kind).toBe('plain');
        expect(sim.held('server').has('past_c')).toBe(false);
      }
      expect(tokens).toEqual(want.tokens);
      // The secret cache never crossed to the client: neither the server's share of it (with which
      // the client would open it) nor its plaintext encoding is in anything the client received.
      const wire = Buffer.concat(received);
      const serverShare = sim.held('server').get('past_s');
      if (serverShare?.kind !== 'share') throw new Error('the server holds no share of the cache');
      const cache = want.state.get('past_s')!;
      expect(cache.shape).toEqual(serverShare.share.shape);
      const encoded = encodeFixed(cache.data as Float32Array, gen.plan.fracBits);
      for (let i = 0; i + 2 <= serverShare.share.data.length; i += 2) {
        expect(wire.includes(Buffer.from(serverShare.share.data.slice(i, i + 2).buffer))).toBe(false);
        expect(wire.includes(Buffer.from(encoded.slice(i, i + 2).buffer))).toBe(false);
      }
      const { steps: measured, setup, report } = sim.report();
      expect(measured.map((s) => s.position)).toEqual([0, 3, 4, 5, 6, 7]);
      let setupPredicted = 0;
      measured.forEach((m, k) => {
        const plan = stepPlan(gen.plan, stepShape(prompt.length, k));
        const predicted = costPlan(plan.graph, { network: NETWORKS.lan, fracBits: plan.fracBits }).total;
        expect(m.online_bytes, `step ${k}`).toBe(predicted.online_bytes);
        expect(m.rounds, `step ${k}`).toBe(predicted.rounds);
        expect(m.offline_bytes, `step ${k}`).toBe(
          planCosts(plan).reduce((s, c) => s + c.cost.offlineBytes[1], 0),
        );
        if (k === 0) setupPredicted = predicted.setup_bytes;
      });
      // The masked server weights are opened once per session, not once per step.
      expect(setup.bytes).toBe(setupPredicted);
      expect(setup.bytes).toBeGreaterThan(0);
      expect(report.totals.setupBytes).toBe(setupPredicted);
    } finally {
      await sim.end();
    }
  });

  it('simulateGeneration: greedy tokens by the shared loop equal the plaintext ones; a context beyond maxContext is refused', async () => {
    const prompt = [7, 2];
    const want = plaintextGeneration(gen, prompt, 5);
    const streamed: number[] = [];
    const got = await simulateGeneration(
      gen.plan,
      weights,
      { promptIds: prompt, options: { maxNewTokens: 5 } },
      { onToken: (t) => streamed.push(t) },
    );
    expect(got.tokens).toEqual(want.tokens);
    expect(streamed).toEqual(want.tokens);
    expect(got.prompt).toEqual(prompt);
    expect(got.steps).toHaveLength(5);
    await expect(
      simulateGeneration(gen.plan, weights, { promptIds: [1, 2, 3], options: { maxNewTokens: 9 } }),
    ).rejects.toThrow(/need a context of 11, beyond the plan's maxContext 10/);
  });

  it('step plans number their values differently, yet share their once-per-session keys', async () => {
    const a = bindPlan(stepPlan(gen.plan, { sequence: 3, past: 0 }));
    const b = bindPlan(stepPlan(gen.plan, { sequence: 1, past: 5 }));
    const weighted = (ops: typeof a) => ops.filter((o) => o.sessionKey.startsWith('w:'));
    expect(weighted(a).map((o) => o.spec.id)).not.toEqual(weighted(b).map((o) => o.spec.id));
    expect(weighted(a).map((o) => o.sessionKey)).toEqual(weighted(b).map((o) => o.sessionKey));
    expect(weighted(a).length).toBe(2); // the embedding table and w_out
  });

  it('a step past the announced schedule is refused', async () => {
    const sim = await SimulatedGeneration.open(
      gen.plan,
      weights,
      { prompt: 2, steps: 1 },
      {
        plaintextEngine: 'interpreter',
      },
    );
    try {
      await sim.step([1, 2]);
      await expect(sim.step([5])).rejects.toThrow(/outside the announced schedule of 1 step/);
    } finally {
      await sim.end();
    }
  });

  it('the client giving the wrong number of tokens for a step is refused', async () => {
    const sim = await SimulatedGeneration.open(
      gen.plan,
      weights,
      { prompt: 2, steps: 2 },
      {
        plaintextEngine: 'interpreter',
      },
    );
    try {
      await expect(sim.step([1, 2, 3])).rejects.toThrow(/step 0 feeds 2 token\(s\), the client gave 3/);
    } finally {
      await sim.end();
    }
  });
});
