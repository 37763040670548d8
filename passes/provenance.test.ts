/**
 * provenance as text IR in -> expected text IR out (test/passes/provenance/), plus the
 * decision recorded for each weight. Expected decisions are written out by hand from the
 * rule order of docs/ir.md ("Visibility") (--no-marill, --private, --public, LoRA names, base content);
 * the base model is built here from hand-written tensors, hashed with ir/tensor.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadBaseModel } from '../compiler/onnx/base-model.ts';
import { examplePath, findVariant, loadExamplesManifest } from '../examples/manifest.ts';
import type { Graph } from '../ir/graph.ts';
import { printGraph } from '../ir/print.ts';
import type { Tensor } from '../ir/tensor.ts';
import { fromNumbers, tensorHash } from '../ir/tensor.ts';
import { verifyGraph } from '../ir/verify.ts';
import { expectTextFile } from '../test/expect-text.ts';
import { loadMir } from '../test/passes/pass-harness.ts';
import type { BaseModel, CompileOptions, WeightReason } from './context.ts';
import { DEFAULT_OPTIONS, emptyNotes } from './context.ts';
import { globToRegExp, matchesAny } from './glob.ts';
import { isLoraAdapterName, provenancePass } from './provenance.ts';

const DIR = 'test/passes/provenance';

function runProvenance(g: Graph, options: Partial<CompileOptions>) {
  const ctx = { options: { ...DEFAULT_OPTIONS, ...options }, notes: emptyNotes() };
  const out = provenancePass.run(g, ctx);
  verifyGraph(out);
  const reasons = Object.fromEntries(ctx.notes.weights.map((w) => [w.name, w.reason]));
  const publicNames = ctx.notes.weights.filter((w) => w.public).map((w) => w.name);
  return { out, notes: ctx.notes.weights, reasons, publicNames };
}

/** Public for these reasons, private for the others. */
const PUBLIC_REASONS: readonly WeightReason[] = ['matches-base', 'public-glob'];

describe('provenance: globs, LoRA names and --no-marill (names.in.mir, no base)', () => {
  const W0 = 'encoder.layer.0.attn.q.weight';
  const W1 = 'encoder.layer.1.attn.q.weight';
  const M7 = 'onnx::MatMul_7';
  const M12 = 'onnx::MatMul_12';
  const LA = 'encoder.layer.1.attn.q.lora_A';
  const LB = 'encoder.layer.1.attn.q.lora_B';

  const CASES: {
    name: string;
    options: Partial<CompileOptions>;
    reasons: Record<string, WeightReason>;
  }[] = [
    {
      // Without a base or globs every weight is private: the standard baseline.
      name: 'no-base',
      options: {},
      reasons: {
        [W0]: 'no-base',
        [W1]: 'no-base',
        [M7]: 'no-base',
        [M12]: 'no-base',
        [LA]: 'lora-adapter',
        [LB]: 'lora-adapter',
      },
    },
    {
      // '?' is exactly one character: onnx::MatMul_7 matches, onnx::MatMul_12 does not.
      name: 'public-glob',
      options: { publicGlobs: ['encoder.layer.0.*', 'onnx::MatMul_?'] },
      reasons: {
        [W0]: 'public-glob',
        [W1]: 'no-base',
        [M7]: 'public-glob',
        [M12]: 'no-base',
        [LA]: 'lora-adapter',
        [LB]: 'lora-adapter',
      },
    },
    {
      // --private is checked before --public.
      name: 'private-wins',
      options: { publicGlobs: ['*'], privateGlobs: ['encoder.layer.1.*'] },
      reasons: {
        [W0]: 'public-glob',
        [W1]: 'private-glob',
        [M7]: 'public-glob',
        [M12]: 'public-glob',
        [LA]: 'private-glob',
        [LB]: 'private-glob',
      },
    },
    {
      // An explicit --public overrides the LoRA name rule (the user's word is last).
      name: 'public-lora',
      options: { publicGlobs: ['*.lora_A'] },
      reasons: {
        [W0]: 'no-base',
        [W1]: 'no-base',
        [M7]: 'no-base',
        [M12]: 'no-base',
        [LA]: 'public-glob',
        [LB]: 'lora-adapter',
      },
    },
    {
      // --no-marill beats every other rule.
      name: 'no-marill',
      options: { noMarill: true, publicGlobs: ['*'] },
      reasons: {
        [W0]: 'no-marill',
        [W1]: 'no-marill',
        [M7]: 'no-marill',
        [M12]: 'no-marill',
        [LA]: 'no-marill',
        [LB]: 'no-marill',
      },
    },
  ];

  it.each(CASES)('$name', ({ name, options, reasons }) => {
    const g = loadMir(`${DIR}/names.in.mir`);
    const { out, reasons: got, publicNames } = runProvenance(g, options);
    expectTextFile(printGraph(out), `${DIR}/names.${name}.out.mir`);
    expect(got).toEqual(reasons);
    const expectedPublic = Object.keys(reasons).filter((n) => PUBLIC_REASONS.includes(reasons[n]!));
    expect(publicNames.sort()).toEqual(expectedPublic.sort());
    // Each weight's visibility follows its decision, and the products follow the join rule:
    // public weight x client input -> client, private weight -> secret.
    for (const n of out.nodes.filter((m) => m.op === 'weight')) {
      const isPublic = expectedPublic.includes(String(n.attrs['name']));
      expect(out.values.get(n.outputs[0]!)!.visibility).toBe(isPublic ? 'public' : 'server');
    }
    expect(out.values.get('y0')!.visibility).toBe(expectedPublic.includes(W0) ? 'client' : 'secret');
  });
});

describe('provenance: content match against a base model (base.in.mir)', () => {
  const tensor = (shape: number[], values: number[]): Tensor => fromNumbers('f32', shape, values);
  /** The public base, by initializer name. */
  const BASE: Record<string, Tensor> = {
    'embeddings.word.weight': tensor([3, 2], [0.5, -1, 2, 0.25, -3, 1.5]),
    'layer.0.q.weight': tensor([2, 2], [1, 2, 3, 4]),
    'layer.0.v.weight': tensor([2, 2], [5, 6, 7, 8]),
  };
  /** What each weight of base.in.mir holds, as the fixture's comments say. */
  const FINE_TUNED: Record<string, Tensor> = {
    'embeddings.word.weight': BASE['embeddings.word.weight']!,
    'onnx::MatMul_21': BASE['layer.0.q.weight']!,
    'layer.0.v.weight': tensor([2, 2], [5, 6, 7, 8.5]),
    'layer.0.q.weight.flat': tensor([1, 4], [1, 2, 3, 4]),
    'layer.0.q.lora_B': BASE['layer.0.v.weight']!,
  };

  function baseModel(): BaseModel {
    const tensors = new Map(Object.entries(BASE));
    const byHash = new Map([...tensors].map(([name, t]) => [tensorHash(t), name]));
    return { file: 'hand-built base', tensors, byHash };
  }

  it('the fixture holds the hashes of the tensors its comments name', () => {
    const g = loadMir(`${DIR}/base.in.mir`);
    const hashes = Object.fromEntries(
      g.nodes.filter((n) => n.op === 'weight').map((n) => [String(n.attrs['name']), String(n.attrs['hash'])]),
    );
    expect(hashes).toEqual(
      Object.fromEntries(Object.entries(FINE_TUNED).map(([n, t]) => [n, tensorHash(t)])),
    );
  });

  it('public exactly when the bytes and shape equal a base initializer, whatever it is called', () => {
    const { out, notes } = runProvenance(loadMir(`${DIR}/base.in.mir`), { base: baseModel() });
    expectTextFile(printGraph(out), `${DIR}/base.out.mir`);
    expect(notes).toEqual([
      {
        name: 'embeddings.word.weight',
        public: true,
        reason: 'matches-base',
        baseName: 'embeddings.word.weight',
      },
      { name: 'onnx::MatMul_21', public: true, reason: 'matches-base', baseName: 'layer.0.q.weight' },
      { name: 'layer.0.v.weight', public: false, reason: 'differs-from-base' },
      { name: 'layer.0.q.weight.flat', public: false, reason: 'differs-from-base' },
      { name: 'layer.0.q.lora_B', public: false, reason: 'lora-adapter' },
    ]);
    // The client's embedding lookup in a public table, and its product with a public
    // weight, are client work; anything touching a private weight is secret.
    const vis = (id: string) => out.values.get(id)!.visibility;
    expect([vis('e'), vis('q'), vis('v'), vis('qf2'), vis('qf'), vis('l')]).toEqual([
      'client',
      'client',
      'secret',
      'server',
      'secret',
      'secret',
    ]);
  });

  it('--private overrides a base match; --no-marill makes every weight private', () => {
    const g = loadMir(`${DIR}/base.in.mir`);
    const privateEmb = runProvenance(g, { base: baseModel(), privateGlobs: ['embeddings.*'] });
    expectTextFile(printGraph(privateEmb.out), `${DIR}/base.private-glob.out.mir`);
    expect(privateEmb.reasons['embeddings.word.weight']).toBe('private-glob');
    expect(privateEmb.publicNames).toEqual(['onnx::MatMul_21']);

    const baseline = runProvenance(g, { base: baseModel(), noMarill: true });
    expectTextFile(printGraph(baseline.out), `${DIR}/base.no-marill.out.mir`);
    expect(baseline.publicNames).toEqual([]);
    expect(new Set(Object.values(baseline.reasons))).toEqual(new Set(['no-marill']));
  });

  it('a weight parsed as public is made private again when the rules say so', () => {
    // Provenance decides every weight afresh; it does not trust a visibility already in the text.
    const text = printGraph(runProvenance(loadMir(`${DIR}/base.in.mir`), { base: baseModel() }).out);
    expect(text).toContain('public f32[3,2]');
    const { out } = runProvenance(loadMir(`${DIR}/base.out.mir`), {});
    expect([...out.values.values()].some((v) => v.visibility === 'public')).toBe(false);
  });
});

describe('provenance: the base model from an ONNX file', () => {
  it('hashes initializers by content: the external-data encoding of a base gives the same hashes', () => {
    const bert = loadExamplesManifest().families.find((f) => f.name === 'bert')!;
    const inline = loadBaseModel(examplePath(findVariant(bert, 'base').file));
    const external = loadBaseModel(examplePath(findVariant(bert, 'base-external').file));
    expect(inline.byHash.size).toBeGreaterThan(0);
    expect([...external.byHash.keys()].sort()).toEqual([...inline.byHash.keys()].sort());
  });
});

describe('glob patterns', () => {
  it('`*` is any run, `?` one character, everything else literal', () => {
    expect(matchesAny('encoder.layer.3.q.weight', ['encoder.*.weight'])).toBe(true);
    expect(matchesAny('encoderXlayer.3.q.weight', ['encoder.layer.*'])).toBe(false);
    expect(matchesAny('onnx::MatMul_7', ['onnx::MatMul_?'])).toBe(true);
    expect(matchesAny('onnx::MatMul_71', ['onnx::MatMul_?'])).toBe(false);
    expect(matchesAny('w(1)+[2]', ['w(1)+[2]'])).toBe(true);
    expect(matchesAny('w1', ['w(1)+[2]'])).toBe(false);
    // Anchored at both ends.
    expect(matchesAny('a.q.weight.extra', ['*.q.weight'])).toBe(false);
    expect(globToRegExp('*').test('')).toBe(true);
    expect(matchesAny('anything', [])).toBe(false);
  });
});

describe('LoRA adapter names', () => {
  it.each([
    'q.lora_A',
    'encoder.layer.0.attention.self.query.lora_B.default.weight',
    'transformer.h.0.attn.q_lora.lora_A',
    'model.layers.0.self_attn.q_proj.lora.lora_B',
    'q.lora-a.weight',
    'q.loraA',
    'q.lora_A_0',
    'unet.down.lora_up.weight',
    'unet.down.lora.down.weight',
  ])('%s is an adapter', (name) => {
    expect(isLoraAdapterName(name)).toBe(true);
  });

  it.each(['q.weight', 'decoder.lora_bias', 'flora.weight', 'layer.0.loraxb', 'onnx::MatMul_5'])(
    '%s is not an adapter',
    (name) => {
      expect(isLoraAdapterName(name)).toBe(false);
    },
  );
});

describe('options that match nothing', () => {
  const tensor = (shape: number[], values: number[]): Tensor => fromNumbers('f32', shape, values);
  function base(tensors: Record<string, Tensor>): BaseModel {
    const map = new Map(Object.entries(tensors));
    return { file: 'base.onnx', tensors: map, byHash: new Map([...map].map(([n, t]) => [tensorHash(t), n])) };
  }
  function run(file: string, options: Partial<CompileOptions>): string[] {
    const ctx = { options: { ...DEFAULT_OPTIONS, ...options }, notes: emptyNotes() };
    provenancePass.run(loadMir(`${DIR}/${file}`), ctx);
    return ctx.notes.warnings;
  }

  it('a --private glob that matches no weight is an error naming the glob', () => {
    expect(() => run('names.in.mir', { privateGlobs: ['encoder.*', 'decoder.*'] })).toThrow(
      /^--private 'decoder\.\*' matches no weight of the model \(weights: 'encoder\.layer\.0\.attn\.q\.weight'/,
    );
  });

  it('a --public glob that matches no weight is a warning; one that matches says nothing', () => {
    expect(run('names.in.mir', { publicGlobs: ['encoder.*', 'decoder.*'] })).toEqual([
      expect.stringMatching(/^--public 'decoder\.\*' matches no weight of the model/),
    ]);
  });

  it('a --base of another model (no equal bytes, no name and shape in common) is an error', () => {
    const other = base({ 'decoder.w': tensor([2, 3], [1, 2, 3, 4, 5, 6]) });
    expect(() => run('base.in.mir', { base: other })).toThrow(
      'shares no weight with the model: none of its 1 initializers equals one of the model',
    );
  });

  it('a --base of the same model, every weight fine-tuned, is a warning', () => {
    // The name and shape of a weight of base.in.mir, other values: nothing is equal.
    const same = base({ 'layer.0.v.weight': tensor([2, 2], [0, 0, 0, 1]) });
    expect(run('base.in.mir', { base: same })).toEqual([
      expect.stringMatching(/^--base base\.onnx: no weight of the model equals one of the base's/),
    ]);
  });

  it('a base sharing one weight, or --no-marill, says nothing', () => {
    const one = base({ x: tensor([3, 2], [0.5, -1, 2, 0.25, -3, 1.5]) });
    expect(run('base.in.mir', { base: one })).toEqual([]);
    const other = base({ 'decoder.w': tensor([2, 3], [1, 2, 3, 4, 5, 6]) });
    expect(run('base.in.mir', { base: other, noMarill: true })).toEqual([]);
  });
});
