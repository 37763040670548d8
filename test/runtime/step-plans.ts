/**
 * A hand-made generation for runtime tests: one step plan per step shape,
 * built with GraphBuilder and made with one shared weight key, carrying a
 * secret state (a cache of the server's embeddings of the tokens, as shares)
 * and a client state (a cache of the public embeddings, at the client).
 *
 * Step {sequence S, past p}: tokens [1,S] (client); past_s [1,p,D] (secret);
 * past_c [1,p,D] (client)
 *   present_s = concat(past_s, gather(table, tokens))        (MPC, server table)
 *   present_c = concat(past_c, gather(ptable, tokens))       (client, public table)
 *   h = reduce_sum(present_s + share(present_c), axis 1) + last position of present_s
 *   logits = h @ w_out                                        (MPC, server weight), revealed
 */
import { GraphBuilder } from '../../ir/builder.ts';
import type { Graph } from '../../ir/graph.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { makeTensor } from '../../ir/tensor.ts';
import { Prg } from '../../runtime/crypto/prg.ts';
import type { GenerationPlan } from '../../runtime/generate/plan.ts';
import { generationShapes, makeGenerationPlan } from '../../runtime/generate/plan.ts';
import type { StepShape } from '../../runtime/generate/schedule.ts';

export const VOCAB = 12;
export const DIM = 6;

function randomTensor(shape: number[], scale: number, prg: Prg): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = new Uint32Array(prg.bytes(4 * n).buffer);
  return makeTensor(
    'f32',
    shape,
    Float32Array.from(u, (v) => ((v / 2 ** 32) * 2 - 1) * scale),
  );
}

export interface ToyWeights {
  readonly table: Tensor;
  readonly ptable: Tensor;
  readonly wOut: Tensor;
}

export function toyWeights(seed = 7): ToyWeights {
  const prg = new Prg(new Uint8Array(16).fill(seed));
  return {
    table: randomTensor([VOCAB, DIM], 1, prg),
    ptable: randomTensor([VOCAB, DIM], 1, prg),
    wOut: randomTensor([DIM, VOCAB], 1, prg),
  };
}

/** The step graph of one shape (value ids differ between shapes: `offset` shifts them). */
export function toyStepGraph(w: ToyWeights, { sequence: S, past: p }: StepShape, offset = 0): Graph {
  const b = new GraphBuilder(
    `toy_${S}_${p}`,
    Array.from({ length: offset }, (_, i) => String(i)),
  );
  const mpc = { placement: 'mpc' as const };
  const tokens = b.addInput('input_ids', { dtype: 'i64', shape: [1, S] }, 'client');
  const pastS = b.addInput('past_s', { dtype: 'f32', shape: [1, p, DIM] }, 'secret');
  const pastC = b.addInput('past_c', { dtype: 'f32', shape: [1, p, DIM] }, 'client');
  const table = b.addWeight('table', 'server', { tensor: w.table }, { placement: 'server' });
  const ptable = b.addWeight('ptable', 'public', { tensor: w.ptable }, { placement: 'both' });
  const wOut = b.addWeight('w_out', 'server', { tensor: w.wOut }, { placement: 'server' });
  const emb = b.add1('gather', [table, tokens], { axis: 0 }, mpc);
  const presentS = b.add1('concat', [pastS, emb], { axis: 1 }, mpc);
  const ec = b.add1('gather', [ptable, tokens], { axis: 0 }, { placement: 'client' });
  const presentC = b.add1('concat', [pastC, ec], { axis: 1 }, { placement: 'client' });
  const shared = b.add1('share', [presentC], { from: 'client' }, mpc);
  const sum = b.add1('add', [presentS, shared], {}, mpc);
  const pooled = b.add1('reduce_sum', [sum], { axes: [1], keepdims: 1 }, mpc);
  const last = b.add1(
    'slice',
    [presentS],
    { starts: [p + S - 1], ends: [p + S], axes: [1], steps: [1] },
    mpc,
  );
  const h = b.add1('add', [pooled, last], {}, mpc);
  const logits = b.add1('matmul', [h, wOut], {}, { ...mpc, protocol: 'beaver.weight' });
  const out = b.add1('reveal', [logits], { to: 'client' }, mpc);
  b.setOutputs([
    { name: 'logits', value: out },
    { name: 'present_s', value: presentS, state: pastS },
    { name: 'present_c', value: presentC, state: pastC },
  ]);
  return b.build();
}

/** A toy generation plan of every step shape up to `maxContext`, made as the compiler makes one. */
export class ToyGeneration {
  readonly plan: GenerationPlan;
  constructor(
    readonly maxContext = 10,
    readonly weights: ToyWeights = toyWeights(),
  ) {
    // Each shape's graph numbers its values differently, as separately compiled step plans may.
    const steps = generationShapes(maxContext).map((shape) => ({
      shape,
      graph: toyStepGraph(weights, shape, (shape.sequence * 31 + shape.past * 7) % 50),
    }));
    this.plan = makeGenerationPlan(steps, { maxContext, tokens: 'input_ids', logits: 'logits' });
  }

  serverWeights(): Map<string, Tensor> {
    return new Map([
      ['table', this.weights.table],
      ['ptable', this.weights.ptable],
      ['w_out', this.weights.wOut],
    ]);
  }

  clientWeights(): Map<string, Tensor> {
    return new Map([['ptable', this.weights.ptable]]);
  }
}
