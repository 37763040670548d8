/**
 * Fusion on the example models: every GeLU, LayerNorm, RMSNorm, SiLU and
 * masked softmax of the three families is fused, the head count stays visible
 * in the softmax shape, and the fused graph computes what the ONNX graph does.
 * Expected counts come from each family's architecture and its manifest config.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { interpret } from '../ir/interpret.ts';
import { readInputs } from '../ir/tensor-json.ts';
import { toNumbers } from '../ir/tensor.ts';
import { examplePath, loadExamplesManifest } from '../examples/manifest.ts';
import { loadExampleFile } from '../test/fixtures/examples.ts';
import { opCounts } from '../test/passes/pass-harness.ts';
import { cleanup } from './cleanup.ts';
import { fuse } from './fuse.ts';

interface Expected {
  /** Fused op -> count, from the number of layers L. */
  readonly fused: (layers: number) => Record<string, number>;
  /** Ops of the decomposed forms that must all be gone. */
  readonly gone: readonly string[];
  readonly gelu?: string;
}

const EXPECTED: Record<string, Expected> = {
  // Post-LN encoder: embedding LayerNorm + 2 per layer; one erf-GeLU per layer.
  bert: {
    fused: (l) => ({ layernorm: 2 * l + 1, gelu: l, softmax: l }),
    gone: ['erf', 'pow', 'sqrt', 'rsqrt', 'reduce_mean'],
    gelu: 'erf',
  },
  // Pre-LN decoder: 2 per layer + final LayerNorm; one tanh-GeLU per layer; causal where-mask.
  gpt2: {
    fused: (l) => ({ layernorm: 2 * l + 1, gelu: l, softmax: l }),
    gone: ['tanh', 'pow', 'sqrt', 'rsqrt', 'reduce_mean', 'where'],
    gelu: 'tanh',
  },
  // LLaMA: 2 RMSNorms per layer + final; one SiLU per gated MLP; additive causal mask.
  llama: {
    fused: (l) => ({ rmsnorm: 2 * l + 1, silu: l, softmax: l }),
    gone: ['sigmoid', 'pow', 'sqrt', 'rsqrt', 'reduce_mean'],
  },
};

const manifest = loadExamplesManifest();
const cases = manifest.families.flatMap((family) =>
  family.variants.map((variant) => ({ family, variant, id: `${family.name}/${variant.name}` })),
);

describe('fuse on the example models', () => {
  it.each(cases)('$id', ({ family, variant }) => {
    const expected = EXPECTED[family.name];
    if (!expected) throw new Error(`no expectations for family '${family.name}'`);
    const g = loadExampleFile(family, variant.file);
    const fused = fuse(cleanup(g));
    const counts = opCounts(fused);

    const layers = family.config['layers']!;
    for (const [op, n] of Object.entries(expected.fused(layers))) expect(counts.get(op) ?? 0, op).toBe(n);
    for (const op of expected.gone) expect(counts.get(op) ?? 0, `${op} left`).toBe(0);
    if (expected.gelu !== undefined)
      for (const n of fused.nodes.filter((x) => x.op === 'gelu'))
        expect(n.attrs['approx']).toBe(expected.gelu);

    // Every softmax has its mask apart, and scores shaped [b, heads, s, s].
    const seq = family.inputs[0]!.shape[1]!;
    for (const n of fused.nodes.filter((x) => x.op === 'softmax')) {
      expect(n.inputs).toHaveLength(2);
      expect(fused.values.get(n.inputs[0]!)!.type.shape).toEqual([1, variant.heads, seq, seq]);
    }

    // The fused graph computes what the loaded ONNX graph computes.
    const input = JSON.parse(readFileSync(examplePath(family.inputFile), 'utf8')) as unknown;
    const inputs = readInputs(g, input, family.inputFile);
    const before = interpret(g, inputs);
    const after = interpret(fused, inputs);
    for (const [name, t] of before) {
      const a = toNumbers(t);
      const b = toNumbers(after.get(name)!);
      const worst = a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
      expect(worst, name).toBeLessThan(1e-4);
    }
  });
});
