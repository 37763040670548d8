/**
 * The summary's attention analysis on the example models, against the manifest (heads per
 * variant, which layers a variant fine-tuned) as the independent oracle.
 */
import { describe, expect, it } from 'vitest';
import { findVariant, loadExamplesManifest } from '../../examples/manifest.ts';
import type { Graph } from '../../ir/graph.ts';
import type { CompileOptions } from '../../passes/context.ts';
import { DEFAULT_OPTIONS, emptyNotes } from '../../passes/context.ts';
import { place } from '../../passes/place.ts';
import { provenancePass } from '../../passes/provenance.ts';
import { baseModelOfGraph } from '../../test/fixtures/base-model.ts';
import { loadExampleVariant } from '../../test/fixtures/examples.ts';
import type { CompileSummary } from './summary.ts';
import { summarize } from './summary.ts';

const manifest = loadExamplesManifest();

function summaryOf(g: Graph, options: Partial<CompileOptions>): CompileSummary {
  const ctx = { options: { ...DEFAULT_OPTIONS, ...options }, notes: emptyNotes() };
  return summarize(place(provenancePass.run(g, ctx)), ctx.notes);
}

describe.each(manifest.families.map((f) => [f.name, f] as const))(
  'summary of examples/%s',
  (_name, family) => {
    const layers = Number(family.config['layers']);
    const seq = family.inputs[0]!.shape[1]!;
    const baseGraph = loadExampleVariant(family, 'base');
    const base = baseModelOfGraph(baseGraph);
    const baseRows = summaryOf(baseGraph, { noMarill: true }).attention.reduce((s, a) => s + a.rows, 0);

    it.each(['full', 'frozen', 'head-merged'])(
      '%s: one attention per layer with the variant heads',
      (variant) => {
        const v = findVariant(family, variant);
        const s = summaryOf(loadExampleVariant(family, variant), { base });
        expect(s.attention).toHaveLength(layers);
        for (const a of s.attention) {
          expect(a.heads).toBe(v.heads);
          expect(a.seq).toBe(seq);
          expect(a.head_dim).toBe(Number(family.config['hidden']) / v.heads);
        }
        // Attention runs under MPC exactly in the layers the variant fine-tuned (the rest is frozen).
        expect(s.attention.filter((a) => a.placement === 'mpc')).toHaveLength(v.privateLayers.length);
      },
    );

    it('head-merged has half the softmax rows of its base', () => {
      const rows = summaryOf(loadExampleVariant(family, 'head-merged'), { noMarill: true }).attention.reduce(
        (s, a) => s + a.rows,
        0,
      );
      expect(baseRows).toBe(layers * family.variants[0]!.heads * seq);
      expect(rows * 2).toBe(baseRows);
    });

    it('--no-marill keeps every matmul in MPC and the base model entirely on the client with its weights public', () => {
      const baseline = summaryOf(baseGraph, { noMarill: true }).summary;
      const marill = summaryOf(baseGraph, { base }).summary;
      expect(baseline.client.macs).toBe(0);
      expect(baseline.mpc.local_macs).toBe(0);
      expect(marill.mpc.ops).toBe(0);
      expect(marill.client.macs).toBe(baseline.mpc.secure_macs);
    });
  },
);
