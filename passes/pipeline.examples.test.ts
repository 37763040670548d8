/**
 * The whole pass pipeline on every example family (examples/manifest.json), compiled as
 * `marillc VARIANT.onnx --base BASE.onnx` and as the `--no-marill` baseline, held to the
 * placement properties of the Marill paper. The oracles are independent of the compiler:
 *  - the manifest: which layers each variant fine-tuned, the head counts, the LoRA rank and
 *    targets, how many weights are byte-equal to the base (computed by the generator);
 *  - MAC counts derived by hand from the manifest config (layers, hidden, ffn, vocab, seq)
 *    and the architecture each family's README entry describes;
 *  - examples/gen/onnx-weights.ts, which reads the ONNX files directly, for which layer
 *    weights a merged LoRA changed;
 *  - the plaintext interpreter on the graph as loaded, before any pass, for outputs.
 */
import { describe, expect, it } from 'vitest';
import { loadBaseModel } from '../compiler/onnx/base-model.ts';
import type { Compiled } from '../compiler/driver.ts';
import { loadModel, runPipeline } from '../compiler/driver.ts';
import type { CompileSummary } from '../compiler/emit/summary.ts';
import { summarize } from '../compiler/emit/summary.ts';
import { readWeights, sameWeight } from '../examples/gen/onnx-weights.ts';
import type { ExampleFamily } from '../examples/manifest.ts';
import {
  FINE_TUNE_STYLES,
  examplePath,
  findVariant,
  loadExamplesManifest,
  readSampleInput,
} from '../examples/manifest.ts';
import type { Graph, Node, ValueId } from '../ir/graph.ts';
import { producers } from '../ir/graph.ts';
import { interpret } from '../ir/interpret.ts';
import { hasGroup } from '../ir/ops.ts';
import { parseGraph } from '../ir/parse.ts';
import type { Tensor } from '../ir/tensor.ts';
import { fromNumbers, toNumbers } from '../ir/tensor.ts';
import type { CompileOptions } from './context.ts';
import { DEFAULT_OPTIONS } from './context.ts';
import { verifyFlow } from './verify-flow.ts';

const manifest = loadExamplesManifest();

/** The base and its fine-tuned variants (base-external is base.onnx re-encoded: the loader's tests cover it). */
const VARIANTS = FINE_TUNE_STYLES;

interface Config {
  layers: number;
  hidden: number;
  heads: number;
  ffn: number;
  vocab: number;
  seq: number;
  /** Classifier outputs (BERT); 0 for the language models. */
  labels: number;
}

/**
 * What the hand-derived MAC counts need to know about each architecture (examples/README.md,
 * examples/gen/variants.py): how many matmuls an MLP has (LLaMA's SiLU-gated MLP: gate, up,
 * down), and the MACs of the head above the last layer in the LoRA variants. BERT: the tanh
 * pooler on the first token ([1,h] x [h,h]) is kept, so public; the classifier
 * ([1,h] x [h,labels]) is retrained with the adapters, so private. GPT-2: lm_head tied to
 * the kept wte, public. LLaMA: the untied lm_head, kept by LoRA, public.
 */
const ARCHITECTURE: Record<
  string,
  { mlpMatmuls: number; publicHeadMacs: (c: Config) => number; privateHeadMacs: (c: Config) => number }
> = {
  bert: {
    mlpMatmuls: 2,
    publicHeadMacs: (c) => c.hidden * c.hidden,
    privateHeadMacs: (c) => c.hidden * c.labels,
  },
  gpt2: { mlpMatmuls: 2, publicHeadMacs: (c) => c.seq * c.hidden * c.vocab, privateHeadMacs: () => 0 },
  llama: { mlpMatmuls: 3, publicHeadMacs: (c) => c.seq * c.hidden * c.vocab, privateHeadMacs: () => 0 },
};

function configOf(family: ExampleFamily): Config {
  const c = family.config;
  const get = (k: string) => {
    const v = c[k];
    if (v === undefined) throw new Error(`${family.name}: manifest config has no '${k}'`);
    return v;
  };
  return {
    layers: get('layers'),
    hidden: get('hidden'),
    heads: get('heads'),
    ffn: get('ffn'),
    vocab: get('vocab'),
    seq: get('seq'),
    labels: c['labels'] ?? 0,
  };
}

/** One family's compiler inputs, loaded once: the base model, the loaded graphs, the sample input. */
function familyFixture(family: ExampleFamily) {
  const shapes = Object.fromEntries(family.inputs.map((t) => [t.name, [...t.shape]]));
  const base = loadBaseModel(examplePath(findVariant(family, 'base').file));
  const graphs = new Map<string, Graph>();
  const loaded = (variant: string): Graph => {
    let g = graphs.get(variant);
    if (g === undefined) {
      g = loadModel(examplePath(findVariant(family, variant).file), { shapes });
      graphs.set(variant, g);
    }
    return g;
  };
  const sample = readSampleInput(family);
  const inputs = new Map<string, Tensor>(
    family.inputs.map((spec) => {
      const t = sample[spec.name];
      if (t === undefined) throw new Error(`${family.inputFile} has no '${spec.name}'`);
      return [spec.name, fromNumbers(spec.dtype === 'int64' ? 'i64' : 'f32', t.shape, t.values)];
    }),
  );
  const compile = (variant: string, options: Partial<CompileOptions> = {}): Compiled & CompileSummary => {
    const compiled = runPipeline(loaded(variant), { ...DEFAULT_OPTIONS, base, ...options });
    return { ...compiled, ...summarize(compiled.graph, compiled.notes) };
  };
  return { loaded, inputs, compile };
}

function maxDifference(a: ReadonlyMap<string, Tensor>, b: ReadonlyMap<string, Tensor>): number {
  let worst = 0;
  for (const [name, t] of a) {
    const u = b.get(name);
    if (u === undefined) throw new Error(`output '${name}' is missing`);
    const x = toNumbers(t);
    const y = toNumbers(u);
    expect(y).toHaveLength(x.length);
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  }
  return worst;
}

/** Transformer layer of an ONNX node name: `/bert/encoder/layer.3/...`, `/transformer/h.3/...`, `/model/layers.3/...`. */
function layerOf(n: Node): number | undefined {
  const m = /\/(?:layer|layers|h)\.(\d+)\//.exec(n.origin ?? '');
  return m ? Number(m[1]) : undefined;
}

function computing(g: Graph): Node[] {
  return g.nodes.filter((n) => !hasGroup(n.op, 'source'));
}

const isMatmul = (n: Node) => n.op === 'matmul';

/** The weight a value is (through single-operand movement such as a transpose), if any. */
function weightBehind(v: ValueId, defs: ReadonlyMap<ValueId, Node>): Node | undefined {
  let p = defs.get(v);
  while (p && hasGroup(p.op, 'movement') && p.inputs.length === 1) p = defs.get(p.inputs[0]!);
  return p?.op === 'weight' ? p : undefined;
}

describe.each(manifest.families.map((f) => [f.name, f] as const))(
  'pipeline on examples/%s',
  (name, family) => {
    const fx = familyFixture(family);
    const config = configOf(family);
    const arch = ARCHITECTURE[name];
    if (arch === undefined) throw new Error(`no architecture facts for family '${name}'`);
    const { layers, hidden: h, ffn, seq: s } = config;
    const allLayers = [...Array(layers).keys()];

    it('frozen: embeddings and the kept bottom layers run on the client; MPC starts at the first tuned layer', () => {
      const variant = findVariant(family, 'frozen');
      const tuned = variant.privateLayers;
      const kept = allLayers.filter((l) => !tuned.includes(l));
      expect(kept.length).toBeGreaterThan(0);
      expect(variant.embeddingsChanged).toBe(false);
      const { graph, attention } = fx.compile('frozen');
      const ops = computing(graph);
      // The origin names identify every layer (else the checks below would hold vacuously).
      expect(new Set(ops.map(layerOf).filter((l) => l !== undefined))).toEqual(new Set(allLayers));

      for (const n of ops.filter((n) => kept.includes(layerOf(n) ?? -1)))
        expect(n.placement, `${n.op} from ${n.origin}`).toBe('client');
      const firstTuned = ops.findIndex((n) => layerOf(n) === Math.min(...tuned));
      expect(firstTuned).toBeGreaterThan(0);
      // Before it: the embeddings (client data, public tables: @client, or @both for public
      // position lookups) and the kept layers. No MPC, nothing on the server alone.
      for (const n of ops.slice(0, firstTuned))
        expect(['client', 'both'], `${n.op} from ${n.origin}`).toContain(n.placement);
      // Attention is under MPC exactly in the tuned layers.
      expect(attention.map((a) => a.placement)).toEqual(
        allLayers.map((l) => (tuned.includes(l) ? 'mpc' : 'client')),
      );
    });

    it.each(['lora-merged', 'lora-explicit'])(
      '%s: the base projections of the tuned layers are local MPC matmuls, the adapters secure',
      (variantName) => {
        const lora = findVariant(family, variantName).lora!;
        const r = lora.rank;
        const { graph, summary, lora: notes, notes: compileNotes } = fx.compile(variantName);
        const m = arch.mlpMatmuls;
        // Layer 0 reads the client's own embeddings: its Q, K and V base projections (public
        // weights) run on the client. Its Q and V adapters make q and v secret, so from the
        // attention on every matmul is in MPC; those with a public weight are local:
        // layer 0's output projection and MLP, every projection and MLP of layers 1..L-1, and the
        // public head.
        const layerLocal = 4 * s * h * h + m * s * h * ffn;
        const expectedLocal =
          s * h * h + m * s * h * ffn + (layers - 1) * layerLocal + arch.publicHeadMacs(config);
        expect(summary.client.macs).toBe(3 * s * h * h);
        expect(summary.mpc.local_macs).toBeGreaterThan(0);
        expect(summary.mpc.local_macs).toBe(expectedLocal);
        // Secure: per layer, x@A and (x@A)@B for each adapted projection, q@k^T and p@v
        // (s*s*h each), and a retrained head.
        const adapters = lora.targets.length * 2 * s * h * r;
        expect(summary.mpc.secure_macs).toBe(
          layers * (adapters + 2 * s * s * h) + arch.privateHeadMacs(config),
        );

        // The base Q/V projections themselves: the matmuls whose weight a LoRA note names
        // (GPT-2's fused c_attn carries both the Q and the V adapter: one matmul, two notes).
        const baseNames = new Set(notes.map((n) => n.weight));
        const defs = producers(graph);
        const baseProjections = graph.nodes.filter(
          (n) =>
            isMatmul(n) &&
            n.inputs.some((i) => {
              const w = weightBehind(i, defs);
              return w !== undefined && baseNames.has(String(w.attrs['name']));
            }),
        );
        expect(baseProjections.length).toBe(baseNames.size);
        expect(baseNames.size).toBeGreaterThanOrEqual(layers);
        for (const n of baseProjections) {
          const weightOperand = n.inputs.find((i) => weightBehind(i, defs) !== undefined)!;
          expect(graph.values.get(weightOperand)!.visibility).toBe('public');
          expect(n.placement).toBe(layerOf(n) === 0 ? 'client' : 'mpc');
        }
        // Every public weight is one the base has, byte for byte (the generator's count).
        const publicWeights = compileNotes.weights.filter((w) => w.public);
        expect(publicWeights).toHaveLength(findVariant(family, variantName).weights.equalToBase);
      },
    );

    it('lora-merged: one LoRA entry per split matmul (each changed layer weight), of the manifest rank', () => {
      const rank = findVariant(family, 'lora-merged').lora!.rank;
      const baseWeights = readWeights(examplePath(findVariant(family, 'base').file));
      const tuned = readWeights(examplePath(findVariant(family, 'lora-merged').file));
      const layerKey = new RegExp(family.weightKeys.layer);
      const changed = [...tuned.values()].filter(
        (w) => layerKey.test(w.key) && !sameWeight(w, baseWeights.get(w.key)!),
      );
      const { lora } = fx.compile('lora-merged');
      expect(lora).toHaveLength(changed.length);
      for (const note of lora) {
        expect(note.kind).toBe('merged');
        // A fused QKV weight (GPT-2's c_attn) is split per column block: Q and V of the rank, K unchanged.
        const ranks = note.blocks ? note.blocks.map((b) => b.rank).filter((x) => x > 0) : [note.rank];
        expect(ranks.length).toBeGreaterThan(0);
        for (const x of ranks) expect(x).toBe(rank);
      }
    });

    it('lora-explicit: one LoRA entry per adapter pair (layers x targets), of the manifest rank', () => {
      const lora = findVariant(family, 'lora-explicit').lora!;
      const { lora: notes } = fx.compile('lora-explicit');
      expect(notes).toHaveLength(layers * lora.targets.length);
      for (const note of notes) {
        expect(note.kind).toBe('explicit');
        expect(note.rank).toBe(lora.rank);
      }
    });

    it('head-merged: half the softmax rows of the base compiled with --no-marill', () => {
      const rows = (a: CompileSummary['attention']) => a.reduce((sum, e) => sum + e.rows, 0);
      const baseline = fx.compile('base', { noMarill: true }).attention;
      const merged = fx.compile('head-merged').attention;
      expect(rows(baseline)).toBe(layers * findVariant(family, 'base').heads * s);
      expect(rows(merged) * 2).toBe(rows(baseline));
      expect(merged.every((a) => a.heads === findVariant(family, 'head-merged').heads)).toBe(true);
    });

    it('full: every matmul runs in MPC, no weight is public', () => {
      const { graph, weights } = fx.compile('full');
      const matmuls = graph.nodes.filter(isMatmul);
      expect(matmuls.length).toBeGreaterThan(0);
      for (const n of matmuls) expect(n.placement, n.origin).toBe('mpc');
      expect(weights.filter((w) => w.public)).toEqual([]);
    });

    it.each(VARIANTS)('%s --no-marill: no public weight, every matmul in MPC, nothing local', (variant) => {
      const { graph, weights, summary } = fx.compile(variant, { noMarill: true });
      expect(weights.length).toBeGreaterThan(0);
      expect(weights.filter((w) => w.public)).toEqual([]);
      for (const n of graph.nodes.filter(isMatmul)) expect(n.placement, n.origin).toBe('mpc');
      expect(summary.client.macs).toBe(0);
      expect(summary.mpc.local_macs).toBe(0);
      expect(() => verifyFlow(graph)).not.toThrow();
    });

    it.each(VARIANTS)('%s: public weights are exactly those byte-equal to the base', (variant) => {
      const { weights } = fx.compile(variant);
      expect(weights.filter((w) => w.public)).toHaveLength(findVariant(family, variant).weights.equalToBase);
    });

    it.each(VARIANTS)(
      '%s: the placed graph computes what the loaded graph computes (within 1e-4)',
      (variant) => {
        const reference = interpret(fx.loaded(variant), fx.inputs);
        for (const options of [{}, { noMarill: true }]) {
          const { graph } = fx.compile(variant, options);
          expect(() => verifyFlow(graph)).not.toThrow();
          expect(maxDifference(reference, interpret(graph, fx.inputs))).toBeLessThan(1e-4);
        }
      },
    );

    it('MPC-friendly approximations change the output, each only through the ops it replaces', () => {
      const reference = interpret(fx.loaded('lora-merged'), fx.inputs);
      const run = (options: Partial<CompileOptions>) =>
        maxDifference(reference, interpret(fx.compile('lora-merged', options).graph, fx.inputs));
      expect(run({ softmax: '2quad' })).toBeGreaterThan(1e-3);
      expect(run({ gelu: 'quad', softmax: '2quad' })).toBeGreaterThan(1e-3);
      // Only the families with a GeLU (per the manifest's description) are changed by --gelu.
      const geluDiff = run({ gelu: 'quad' });
      if (/gelu/i.test(family.summary)) expect(geluDiff).toBeGreaterThan(1e-3);
      else expect(geluDiff).toBeLessThan(1e-4);
    });
  },
);

describe('pipeline: --no-marill hoists nothing out of MPC', () => {
  // Logits reshaped and transposed before the output: with Marill the two bijective
  // movement ops move behind the reveal onto the client (relocate); the baseline keeps them.
  const text = `graph @movement(%x: client f32[1,4]) -> (y: f32[3,2]) {
  %w = weight "head.weight" : server f32[4,6] #sha256:${'ab'.repeat(32)}
  %m = matmul %x, %w : secret f32[1,6]
  %r = reshape %m {shape = [2, 3]} : secret f32[2,3]
  %y = transpose %r {perm = [1, 0]} : secret f32[3,2]
  return %y
}
`;
  const placementsOf = (options: Partial<CompileOptions>) => {
    const { graph } = runPipeline(parseGraph(text), { ...DEFAULT_OPTIONS, ...options });
    return Object.fromEntries(
      graph.nodes.filter((n) => n.op === 'reshape' || n.op === 'transpose').map((n) => [n.op, n.placement]),
    );
  };

  it('keeps the movement ops in MPC under --no-marill, relocates them otherwise', () => {
    expect(placementsOf({})).toEqual({ reshape: 'client', transpose: 'client' });
    expect(placementsOf({ noMarill: true })).toEqual({ reshape: 'mpc', transpose: 'mpc' });
  });
});
