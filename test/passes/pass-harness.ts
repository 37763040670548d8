/**
 * Shared helpers for pass tests written as `.mir` in -> expected `.mir` out:
 * loading fixtures, and running a graph before and after a pass on the same
 * random inputs and weights (weights parsed from text have only a hash, so each
 * gets seeded random data keyed by its name and hash: a weight kept, moved or
 * renumbered by a pass gets the same data in both graphs).
 */
import { readFileSync } from 'node:fs';
import type { Graph, Node } from '../../ir/graph.ts';
import { interpret } from '../../ir/interpret.ts';
import { seededUniform } from '../../ir/random.ts';
import { parseGraph } from '../../ir/parse.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { makeTensor, toNumbers } from '../../ir/tensor.ts';
import type { TensorType } from '../../ir/types.ts';
import { numel } from '../../ir/types.ts';
import type { CompileOptions, PassContext } from '../../passes/context.ts';
import { DEFAULT_OPTIONS, emptyNotes } from '../../passes/context.ts';
import { baseModelOf } from '../fixtures/base-model.ts';
import { randomTensor as randomOfType } from '../fixtures/random.ts';

export function loadMir(file: string): Graph {
  return parseGraph(readFileSync(file, 'utf8'), file);
}

function seedOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * A random tensor of a type, deterministic per seed: f32 uniform in [lo, hi), i64 in [0, 4)
 * (valid indices for the small gathers of the pass tests), bool fair coins.
 */
export function randomTensor(type: TensorType, seed: number, lo = -2, hi = 2): Tensor {
  const [min, max] = type.dtype === 'i64' ? [0, 4] : [lo, hi];
  return randomOfType(type.dtype, type.shape, seededUniform(seed), min, max);
}

/** n values (u - 0.5) * scale, u uniform in [0, 1): deterministic per seed. */
export function seededValues(n: number, seed: number, scale = 1): Float32Array {
  const next = seededUniform(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() - 0.5) * scale;
  return out;
}

/** An f32 tensor of seededValues. */
export function seededTensor(shape: readonly number[], seed: number, scale = 1): Tensor {
  return makeTensor('f32', shape, seededValues(numel(shape), seed, scale));
}

/** A pass context whose base model holds exactly `base` (by name), with `options` over the defaults. */
export function contextWithBase(
  base: Readonly<Record<string, Tensor>>,
  options: Partial<CompileOptions> = {},
): PassContext {
  return {
    options: { ...DEFAULT_OPTIONS, base: baseModelOf(new Map(Object.entries(base))), ...options },
    notes: emptyNotes(),
  };
}

/** Gives every data-less weight seeded random values (seed: its name and hash). */
export function withWeightData(g: Graph): Graph {
  const nodes = g.nodes.map((n: Node) => {
    if (n.op !== 'weight' || n.tensor) return n;
    const type = g.values.get(n.outputs[0]!)!.type;
    return {
      ...n,
      tensor: randomTensor(type, seedOf(`${String(n.attrs['name'])}#${String(n.attrs['hash'])}`)),
    };
  });
  return { ...g, nodes };
}

export function randomInputs(g: Graph, seed = 7): Map<string, Tensor> {
  return new Map(g.inputs.map((id, i) => [id, randomTensor(g.values.get(id)!.type, seed + 101 * i)]));
}

/** Largest absolute difference between the outputs of two graphs on the same inputs. */
export function maxOutputDifference(
  before: Graph,
  after: Graph,
  inputs: ReadonlyMap<string, Tensor>,
): number {
  const a = interpret(withWeightData(before), inputs);
  const b = interpret(withWeightData(after), inputs);
  let worst = 0;
  for (const [name, t] of a) {
    const u = b.get(name);
    if (!u) throw new Error(`output '${name}' is missing after the pass`);
    const x = toNumbers(t);
    const y = toNumbers(u);
    if (x.length !== y.length) throw new Error(`output '${name}' changed size`);
    for (let i = 0; i < x.length; i++) {
      if (Number.isNaN(x[i]!) !== Number.isNaN(y[i]!)) return Infinity;
      if (!Number.isNaN(x[i]!)) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    }
  }
  return worst;
}

/** How many nodes of each op a graph has. */
export function opCounts(g: Graph): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of g.nodes) m.set(n.op, (m.get(n.op) ?? 0) + 1);
  return m;
}
