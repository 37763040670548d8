/**
 * lora-split on the example models (examples/manifest.json), against independent oracles:
 *  - which weights a LoRA fine-tune changed: examples/gen/onnx-weights.ts reads the ONNX
 *    files directly and keys each weight by its module, so lora-merged's changed layer
 *    weights (the Q and V projections, GPT-2's fused c_attn) are known without the compiler;
 *  - the adapter rank: the manifest;
 *  - outputs: the plaintext interpreter on the unsplit graph (within 1e-4);
 *  - cost: the explicit-adapter export of the same fine-tune needs exactly as many
 *    local and secure MACs as the split merged weights.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { summarize } from '../compiler/emit/summary.ts';
import { readWeights, sameWeight } from '../examples/gen/onnx-weights.ts';
import type { ExampleFamily } from '../examples/manifest.ts';
import { examplePath, findVariant, loadExamplesManifest } from '../examples/manifest.ts';
import type { Graph } from '../ir/graph.ts';
import { interpret } from '../ir/interpret.ts';
import { toNumbers } from '../ir/tensor.ts';
import { readInputs } from '../ir/tensor-json.ts';
import type { CompileOptions, PassContext } from './context.ts';
import { DEFAULT_OPTIONS, emptyNotes } from './context.ts';
import { loraSplit } from './lora-split.ts';
import { place } from './place.ts';
import { provenancePass } from './provenance.ts';
import { baseModelOfGraph } from '../test/fixtures/base-model.ts';
import { loadExampleVariant } from '../test/fixtures/examples.ts';

const manifest = loadExamplesManifest();

function compile(g: Graph, base: CompileOptions['base']): { graph: Graph; ctx: PassContext } {
  const ctx: PassContext = { options: { ...DEFAULT_OPTIONS, base }, notes: emptyNotes() };
  return { graph: loraSplit(provenancePass.run(g, ctx), ctx), ctx };
}

/** Initializer names of the layer weights a variant changed relative to the base (read from the files). */
function changedLayerWeights(family: ExampleFamily, variant: string): string[] {
  const base = readWeights(examplePath(findVariant(family, 'base').file));
  const tuned = readWeights(examplePath(findVariant(family, variant).file));
  const layer = new RegExp(family.weightKeys.layer);
  return [...tuned.values()]
    .filter((w) => layer.test(w.key) && !/lora_[AB]/.test(w.key))
    .filter((w) => !base.has(w.key) || !sameWeight(w, base.get(w.key)!))
    .map((w) => w.name)
    .sort();
}

function maxDiff(a: Graph, b: Graph, family: ExampleFamily): number {
  const file = examplePath(family.inputFile);
  const inputs = readInputs(a, JSON.parse(readFileSync(file, 'utf8')), file);
  const ra = interpret(a, inputs);
  const rb = interpret(b, inputs);
  let m = 0;
  for (const [name, t] of ra) {
    const x = toNumbers(t);
    const y = toNumbers(rb.get(name)!);
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  }
  return m;
}

describe.each(manifest.families.map((f) => [f.name, f] as const))(
  'lora-split on examples/%s',
  (_name, family) => {
    const base = baseModelOfGraph(loadExampleVariant(family, 'base'));
    const rank = findVariant(family, 'lora-merged').lora!.rank;

    it('lora-merged: splits exactly the changed Q/V weights, every adapter block of the LoRA rank', () => {
      const g = loadExampleVariant(family, 'lora-merged');
      const { graph, ctx } = compile(g, base);
      const expected = changedLayerWeights(family, 'lora-merged');
      expect(expected.length).toBeGreaterThan(0);
      expect(ctx.notes.lora.map((n) => n.weight).sort()).toEqual(expected);
      for (const note of ctx.notes.lora) {
        expect(note.kind).toBe('merged');
        const ranks = note.blocks ? note.blocks.map((b) => b.rank).filter((r) => r > 0) : [note.rank];
        expect(ranks.every((r) => r === rank)).toBe(true);
        expect(note.relativeError).toBeLessThan(1e-4);
      }
      expect(maxDiff(g, graph, family)).toBeLessThan(1e-4);
    });

    it('lora-merged costs what lora-explicit costs: the same local and secure MACs', () => {
      const merged = compile(loadExampleVariant(family, 'lora-merged'), base);
      const explicit = compile(loadExampleVariant(family, 'lora-explicit'), base);
      const m = summarize(place(merged.graph), merged.ctx.notes).summary;
      const e = summarize(place(explicit.graph), explicit.ctx.notes).summary;
      expect(m.mpc.local_macs).toBeGreaterThan(0);
      expect(m.mpc.local_macs).toBe(e.mpc.local_macs);
      expect(m.mpc.secure_macs).toBe(e.mpc.secure_macs);
      expect(m.client.macs).toBe(e.client.macs);
      // Explicit adapters are recognised: one per adapted projection, of the LoRA rank.
      const targets = findVariant(family, 'lora-explicit').lora!.targets.length;
      expect(explicit.ctx.notes.lora).toHaveLength(Number(family.config['layers']) * targets);
      expect(explicit.ctx.notes.lora.every((n) => n.kind === 'explicit' && n.rank === rank)).toBe(true);
    });

    it.each(['full', 'frozen', 'head-merged'])('%s: full-rank changes, nothing split', (variant) => {
      const g = loadExampleVariant(family, variant);
      const { graph, ctx } = compile(g, base);
      expect(ctx.notes.lora).toEqual([]);
      expect(graph.nodes.length).toBe(g.nodes.length);
    });
  },
);
