import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../ir/builder.ts';
import type { Graph } from '../ir/graph.ts';
import { interpret } from '../ir/interpret.ts';
import { printGraph } from '../ir/print.ts';
import type { Tensor } from '../ir/tensor.ts';
import { fromNumbers, toNumbers } from '../ir/tensor.ts';
import { verifyGraph } from '../ir/verify.ts';
import { expectTextFile } from '../test/expect-text.ts';
import { loadMir, maxOutputDifference, randomInputs } from '../test/passes/pass-harness.ts';
import { approximatePass } from './approximate.ts';
import type { GeluMode, SoftmaxMode } from './context.ts';
import { DEFAULT_OPTIONS, emptyNotes } from './context.ts';

const DIR = 'test/passes/approximate';

function approximateWith(g: Graph, gelu: GeluMode, softmax: SoftmaxMode): Graph {
  const out = approximatePass.run(g, { options: { ...DEFAULT_OPTIONS, gelu, softmax }, notes: emptyNotes() });
  verifyGraph(out);
  return out;
}

describe('approximate: text IR in, expected text IR out', () => {
  const MODES: { gelu: GeluMode; softmax: SoftmaxMode; file: string }[] = [
    { gelu: 'quad', softmax: 'exact', file: 'gelu-quad' },
    { gelu: 'relu', softmax: 'exact', file: 'gelu-relu' },
    { gelu: 'tanh', softmax: 'exact', file: 'gelu-tanh' },
    { gelu: 'exact', softmax: '2quad', file: 'softmax-2quad' },
  ];
  it.each(MODES)('--gelu $gelu --softmax $softmax', ({ gelu, softmax, file }) => {
    const out = approximateWith(loadMir(`${DIR}/model.in.mir`), gelu, softmax);
    expectTextFile(printGraph(out), `${DIR}/${file}.out.mir`);
  });

  it('changes nothing with --gelu exact --softmax exact', () => {
    const g = loadMir(`${DIR}/model.in.mir`);
    expect(approximateWith(g, 'exact', 'exact')).toBe(g);
  });

  it('changes the outputs when an approximation is asked for', () => {
    const g = loadMir(`${DIR}/model.in.mir`);
    const inputs = randomInputs(g);
    expect(maxOutputDifference(g, approximateWith(g, 'quad', 'exact'), inputs)).toBeGreaterThan(1e-3);
    expect(maxOutputDifference(g, approximateWith(g, 'exact', '2quad'), inputs)).toBeGreaterThan(1e-3);
  });
});

/** gelu(x) for one small vector, after the pass with the given mode. */
function geluAfter(mode: GeluMode, xs: readonly number[]): number[] {
  const b = new GraphBuilder('gelu');
  const x = b.addInput('x', { dtype: 'f32', shape: [xs.length] });
  b.setOutputs([{ name: 'y', value: b.add1('gelu', [x]) }]);
  const g = approximateWith(b.build(), mode, 'exact');
  const out = interpret(g, new Map([['x', fromNumbers('f32', [xs.length], xs)]]));
  return toNumbers(out.get('y')!);
}

function expectClose(actual: readonly number[], expected: readonly number[], tol = 1e-5): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) =>
    expect(Math.abs(a - expected[i]!), `element ${i}: ${a} vs ${expected[i]}`).toBeLessThan(tol),
  );
}

describe('approximate: the interpreter evaluates the approximated forms', () => {
  const xs = [-3, -1, -0.5, 0, 0.5, 1, 2.5];

  it('--gelu quad gives 0.125x^2 + 0.25x + 0.5 (MPCFormer), unlike the exact GeLU', () => {
    const quad = geluAfter('quad', xs);
    expectClose(
      quad,
      xs.map((x) => 0.125 * x * x + 0.25 * x + 0.5),
    );
    // The exact GeLU of -3 is about -0.004; quad gives 0.875.
    expect(Math.abs(quad[0]! - geluAfter('exact', xs)[0]!)).toBeGreaterThan(0.8);
  });

  it('--gelu relu gives max(x, 0)', () => {
    expectClose(
      geluAfter('relu', xs),
      xs.map((x) => Math.max(x, 0)),
    );
  });

  it('--gelu tanh gives 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))', () => {
    const c = Math.sqrt(2 / Math.PI);
    expectClose(
      geluAfter('tanh', xs),
      xs.map((x) => 0.5 * x * (1 + Math.tanh(c * (x + 0.044715 * x ** 3)))),
    );
  });

  it('--softmax 2quad gives (x + 5)^2 / sum, masked positions excluded', () => {
    const b = new GraphBuilder('softmax');
    const x = b.addInput('x', { dtype: 'f32', shape: [1, 3] });
    const mask = b.addConst(fromNumbers('f32', [1, 3], [0, 0, -10000]));
    b.setOutputs([{ name: 'p', value: b.add1('softmax', [x, mask]) }]);
    const g = approximateWith(b.build(), 'exact', '2quad');
    const input: Tensor = fromNumbers('f32', [1, 3], [1, 2, 3]);
    const p = toNumbers(interpret(g, new Map([['x', input]])).get('p')!);
    // (1 + 5)^2 = 36, (2 + 5)^2 = 49, the third is masked: 36/85, 49/85, 0.
    expectClose(p, [36 / 85, 49 / 85, 0]);
  });
});
