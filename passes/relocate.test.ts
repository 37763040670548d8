import { describe, expect, it } from 'vitest';
import type { Graph, Node } from '../ir/graph.ts';
import { interpret } from '../ir/interpret.ts';
import { printGraph } from '../ir/print.ts';
import type { Tensor } from '../ir/tensor.ts';
import { toNumbers } from '../ir/tensor.ts';
import { verifyGraph } from '../ir/verify.ts';
import { expectTextFile } from '../test/expect-text.ts';
import { DEFAULT_OPTIONS, emptyNotes } from './context.ts';
import { relocate, relocatePass } from './relocate.ts';
import { verifyFlow } from './verify-flow.ts';
import { seededTensor, loadMir } from '../test/passes/pass-harness.ts';

const DIR = 'test/passes/relocate';

/** Weights parsed from text have no values; give each one random data so the graph can be interpreted. */
function withWeightData(g: Graph): Graph {
  const nodes = g.nodes.map((n: Node, i) =>
    n.op === 'weight' ? { ...n, tensor: seededTensor(g.values.get(n.outputs[0]!)!.type.shape, 100 + i) } : n,
  );
  return { ...g, nodes };
}

function runGraph(g: Graph): Map<string, Tensor> {
  const inputs = new Map(g.inputs.map((id, i) => [id, seededTensor(g.values.get(id)!.type.shape, 7 + i)]));
  return interpret(withWeightData(g), inputs);
}

function load(name: string): Graph {
  return loadMir(`${DIR}/${name}.in.mir`);
}

const CASES: { input: string; clientPost: string[]; expected: string; moved: number }[] = [
  { input: 'movement', clientPost: [], expected: 'movement', moved: 2 },
  { input: 'softmax', clientPost: [], expected: 'softmax', moved: 0 },
  { input: 'softmax', clientPost: ['softmax'], expected: 'softmax.declared', moved: 1 },
  { input: 'argmax', clientPost: ['argmax'], expected: 'argmax', moved: 1 },
  { input: 'argmax', clientPost: ['softmax', 'argmax'], expected: 'argmax.both-declared', moved: 2 },
  { input: 'shared-use', clientPost: [], expected: 'shared-use', moved: 0 },
  { input: 'slice', clientPost: [], expected: 'slice', moved: 0 },
  { input: 'slice', clientPost: ['slice'], expected: 'slice.declared', moved: 1 },
  { input: 'masked-softmax', clientPost: ['softmax'], expected: 'masked-softmax', moved: 0 },
  { input: 'two-views', clientPost: [], expected: 'two-views', moved: 1 },
];

describe('relocate', () => {
  it.each(CASES)(
    '$input with client post-processing [$clientPost]',
    ({ input, clientPost, expected, moved }) => {
      const g = load(input);
      const out = relocate(g, clientPost);
      expectTextFile(printGraph(out), `${DIR}/${expected}.out.mir`);
      verifyGraph(out);
      // The information-flow verifier accepts what relocation produces (with the same declarations).
      expect(() => verifyFlow(out, clientPost)).not.toThrow();
      const clientOps = (h: Graph) => h.nodes.filter((n) => n.placement === 'client').length;
      expect(clientOps(out) - clientOps(g)).toBe(moved);
      // Relocation never changes what the graph computes.
      const before = runGraph(g);
      const after = runGraph(out);
      for (const [name, t] of before) expect(toNumbers(after.get(name)!)).toEqual(toNumbers(t));
    },
  );

  it('reveals the secret input of each moved op, keeping exactly one reveal per output path', () => {
    const out = relocate(load('movement'), []);
    const reveals = out.nodes.filter((n) => n.op === 'reveal');
    expect(reveals).toHaveLength(1);
    const matmul = out.nodes.find((n) => n.op === 'matmul')!;
    expect(reveals[0]!.inputs).toEqual(matmul.outputs);
  });
});

describe('--client-post that moves nothing', () => {
  function run(input: string, clientPost: string[]): string[] {
    const ctx = { options: { ...DEFAULT_OPTIONS, clientPost }, notes: emptyNotes() };
    relocatePass.run(load(input), ctx);
    return ctx.notes.warnings;
  }

  it('a declared op that moves gives no warning', () => {
    expect(run('softmax', ['softmax'])).toEqual([]);
  });

  it('an op the model lacks is a warning (the plan is still correct)', () => {
    expect(run('softmax', ['argmax'])).toEqual([
      "--client-post argmax: the model has no 'argmax' op; nothing moved to the client",
    ]);
  });

  it('an op that cannot move (masked softmax reads a second operand) is a warning', () => {
    const [warning, ...rest] = run('masked-softmax', ['softmax']);
    expect(rest).toEqual([]);
    expect(warning).toContain(
      "--client-post softmax: no 'softmax' lies between the last MPC op and an output",
    );
  });

  it('a name that is no IR op is an error, with the lower-case op when there is one', () => {
    expect(() => run('softmax', ['Softmax'])).toThrow(
      /--client-post 'Softmax' is not an op of the IR \(did you mean 'softmax'\? single-operand ops of this model: .*softmax/,
    );
    expect(() => run('softmax', ['sofmax'])).toThrow(
      /--client-post 'sofmax' is not an op of the IR \(single/,
    );
  });
});
