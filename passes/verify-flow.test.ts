/**
 * The information-flow verifier on hand-written violating graphs (test/passes/verify-flow/),
 * each rejected with the rule it breaks, and on graphs that obey the rules (the placed
 * fixtures of the place tests, declared client post-processing, the example models).
 *
 * Some violations cannot even be written in the text form: the parser (ir/parse.ts, with
 * the structural verifier) refuses a result whose declared visibility or placement is not
 * the derived one and a share from a party that does not own the value. Those fixtures are
 * checked to be refused at parse time, and the same graphs are then built with
 * GraphBuilder, which takes a visibility or placement as given, so that the flow verifier
 * itself is exercised.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadBaseModel } from '../compiler/onnx/base-model.ts';
import { loadModel, runPipeline } from '../compiler/driver.ts';
import { examplePath, findVariant, loadExamplesManifest } from '../examples/manifest.ts';
import { GraphBuilder } from '../ir/builder.ts';
import { MarillError } from '../ir/errors.ts';
import type { Graph } from '../ir/graph.ts';
import { parseGraph } from '../ir/parse.ts';
import { loadMir } from '../test/passes/pass-harness.ts';
import { DEFAULT_OPTIONS, emptyNotes } from './context.ts';
import { place } from './place.ts';
import { provenancePass } from './provenance.ts';
import { verifyFlow } from './verify-flow.ts';

const DIR = 'test/passes/verify-flow';

/** The error verifyFlow raises (failing the test if it accepts the graph). */
function flowError(g: Graph, clientPost: readonly string[] = []): MarillError {
  try {
    verifyFlow(g, clientPost);
  } catch (e) {
    if (e instanceof MarillError) return e;
    throw e;
  }
  throw new Error(`verifyFlow accepted @${g.name}`);
}

function parseError(file: string): MarillError {
  try {
    loadMir(file);
  } catch (e) {
    if (e instanceof MarillError) return e;
    throw e;
  }
  throw new Error(`${file} parsed`);
}

describe('verify-flow rejects violating graphs (text fixtures the parser accepts)', () => {
  const CASES: { file: string; clientPost?: string[]; message: RegExp; where: string }[] = [
    {
      file: 'weight-declared-client',
      message: /a weight is public \(equal to the base\) or the server's, not client/,
      where: '%w = weight',
    },
    {
      file: 'input-declared-public',
      message: /graph input %x is public; inputs are the client's own data/,
      where: 'graph @leak inputs',
    },
    { file: 'reveal-to-server', message: /reveal to the server is not allowed/, where: '%hs = reveal' },
    {
      file: 'reveal-feeds-op',
      message: /revealed value is used by 'softmax', which is not declared client post-processing/,
      where: '%r = reveal',
    },
    {
      file: 'reveal-combined',
      message: /revealed value is used by 'add', which is not declared client post-processing/,
      where: '%r = reveal',
    },
    {
      file: 'reveal-combined',
      clientPost: ['add'],
      message: /revealed value is combined with other data by 'add'/,
      where: '%r = reveal',
    },
    { file: 'reveal-fed-back', message: /revealed value is used by 'share'/, where: '%hr = reveal' },
    {
      file: 'reveal-not-output',
      message: /reveals a value that is not a declared output/,
      where: '%peek = reveal',
    },
  ];

  it.each(CASES)('$file (client post-processing: $clientPost)', ({ file, clientPost, message, where }) => {
    const e = flowError(loadMir(`${DIR}/${file}.mir`), clientPost);
    expect(e.message).toMatch(/^information flow: /);
    expect(e.message).toMatch(message);
    expect(e.location.what).toContain(where);
  });

  it.each([
    ['secret-output', /output 'y' is secret, not revealed to the client/],
    ['server-output', /output 'w' is server, not revealed to the client/],
  ])('%s: every output is visible to the client', (file, message) => {
    expect(flowError(loadMir(`${DIR}/${file}.mir`)).message).toMatch(message);
  });

  it.each([
    [
      'state-visibility-mismatch',
      /state output 'present' is secret but the input it becomes, %past, is client/,
    ],
    ['secret-input-no-state', /graph input %p is secret; inputs are the client's own data/],
  ])('%s: carried state keeps its visibility and is never revealed', (file, message) => {
    expect(flowError(loadMir(`${DIR}/${file}.mir`)).message).toMatch(message);
  });

  it('state-revealed: a reveal reaches only result outputs, never carried state', () => {
    const e = flowError(loadMir(`${DIR}/state-revealed.mir`));
    expect(e.message).toMatch(/reveals a value that is not a declared output/);
    expect(e.location.what).toContain('%kr = reveal');
  });

  it('unplaced: every node runs somewhere', () => {
    const e = flowError(loadMir(`${DIR}/unplaced.mir`));
    expect(e.message).toMatch(/op is not placed/);
    expect(e.location.what).toContain('%y = matmul');
  });

  it('the compiler never emits such a plan: the pipeline ends in the verifier', () => {
    const g = loadMir(`${DIR}/input-declared-public.mir`);
    expect(() => runPipeline(g, DEFAULT_OPTIONS)).toThrow(/information flow: graph input %x is public/);
  });
});

describe('verify-flow rejects violations the parser cannot even read', () => {
  const HASH = 'e1'.repeat(32);
  const vec = { dtype: 'f32', shape: [1, 4] } as const;
  const mat = { dtype: 'f32', shape: [4, 4] } as const;

  function start(name: string) {
    const b = new GraphBuilder(name);
    const x = b.addInput('x', vec);
    const w = b.addWeight('layer.3.q.weight', 'server', { type: mat, hash: HASH }, { placement: 'server' });
    return { b, x, w };
  }

  it('a server weight flowing into a client op through a bogus declared visibility', () => {
    const pe = parseError(`${DIR}/server-weight-into-client-op.mir`);
    expect(pe.format()).toMatch(
      /server-weight-into-client-op\.mir:5:\d+: .*declared client but matmul .* gives secret/,
    );

    const { b, x, w } = start('leak');
    const y = b.add1('matmul', [x, w], {}, { placement: 'client', visibility: 'client' });
    b.setOutputs([{ name: 'y', value: y }]);
    const e = flowError(b.build());
    expect(e.message).toMatch(/result is client but its operands make it secret/);
    expect(e.location.what).toBe(`%${y} = matmul`);
  });

  it('a share from the party that does not own the value', () => {
    expect(parseError(`${DIR}/share-wrong-party.mir`).message).toMatch(
      /share from server reads a client value/,
    );

    const { b, x, w } = start('wrong');
    const s = b.add1('share', [x], { from: 'server' }, { placement: 'mpc' });
    const o = b.add1('matmul', [s, w], {}, { placement: 'mpc' });
    const y = b.add1('reveal', [o], { to: 'client' }, { placement: 'mpc' });
    b.setOutputs([{ name: 'y', value: y }]);
    expect(flowError(b.build()).message).toMatch(/shares a client value as if owned by server/);
  });

  it('an op placed @client whose result is secret', () => {
    expect(parseError(`${DIR}/client-op-secret-result.mir`).message).toMatch(
      /placed @client, but a secret result runs @mpc/,
    );

    const { b, x, w } = start('misplaced');
    const s = b.add1('share', [x], { from: 'client' }, { placement: 'mpc' });
    const o = b.add1('matmul', [s, w], {}, { placement: 'client' });
    const y = b.add1('reveal', [o], { to: 'client' }, { placement: 'mpc' });
    b.setOutputs([{ name: 'y', value: y }]);
    expect(flowError(b.build()).message).toMatch(/runs @client but its result is secret/);
  });
});

describe('verify-flow accepts graphs that obey the rules', () => {
  it.each(readdirSync('test/passes/place').filter((f) => f.endsWith('.out.mir')))(
    'placed fixture %s',
    (file) => {
      expect(() => verifyFlow(loadMir(`test/passes/place/${file}`))).not.toThrow();
    },
  );

  /** Logits revealed, then `tail` on the client (lines using %r, defining the outputs). */
  const afterReveal = (outputs: string, tail: string, returns: string) =>
    parseGraph(`graph @post(%x: client f32[1,6]) -> (${outputs}) {
  %w = weight "head.weight" : server f32[6,6] #sha256:${'e1'.repeat(32)} @server
  %s = share %x {from = "client"} : secret f32[1,6] @mpc
  %logits = matmul %s, %w : secret f32[1,6] @mpc
  %r = reveal %logits {to = "client"} : client f32[1,6] @mpc
${tail}
  return ${returns}
}
`);

  it('a generation step: the client keeps one cache, the parties share the other, only the logits are revealed', () => {
    const g = loadMir('test/mir/state.mir');
    expect(g.outputs.filter((o) => o.state !== undefined)).toHaveLength(2);
    expect(() => verifyFlow(g)).not.toThrow();
  });

  it('a reveal followed by bijective movement, and by declared client post-processing', () => {
    const movement = afterReveal(
      'y: f32[3,2]',
      `  %a = reshape %r {shape = [2, 3]} : client f32[2,3] @client
  %y = transpose %a {perm = [1, 0]} : client f32[3,2] @client`,
      '%y',
    );
    expect(() => verifyFlow(movement)).not.toThrow();
    expect(() => verifyFlow(loadMir(`${DIR}/reveal-feeds-op.mir`), ['softmax'])).not.toThrow();
  });

  it('but not a revealed value that is both an output and read by another op', () => {
    const twice = afterReveal(
      'logits: f32[1,6], y: f32[2,3]',
      '  %y = reshape %r {shape = [2, 3]} : client f32[2,3] @client',
      '%r, %y',
    );
    expect(flowError(twice).message).toMatch(/a revealed value may only be used as a declared output/);
  });

  it.each(loadExamplesManifest().families.map((f) => [f.name, f] as const))(
    'the example models of %s, placed after provenance against their base',
    (_name, family) => {
      const shapes = Object.fromEntries(family.inputs.map((t) => [t.name, [...t.shape]]));
      const base = loadBaseModel(examplePath(findVariant(family, 'base').file));
      for (const variant of ['frozen', 'lora-explicit', 'head-merged']) {
        const g = loadModel(examplePath(findVariant(family, variant).file), { shapes });
        const ctx = { options: { ...DEFAULT_OPTIONS, base }, notes: emptyNotes() };
        const placed = place(provenancePass.run(g, ctx));
        expect(() => verifyFlow(placed), variant).not.toThrow();
        // Both parties work in each (else the check would be about a one-party graph).
        expect(
          placed.nodes.some((n) => n.placement === 'client'),
          variant,
        ).toBe(true);
        expect(
          placed.nodes.some((n) => n.placement === 'mpc'),
          variant,
        ).toBe(true);
      }
    },
  );
});
