/**
 * The example models are what manifest.json says, and they compute what their
 * architecture promises, checked with onnxruntime-node against properties that follow
 * from the math rather than from recorded outputs:
 *   - LoRA: x(W + AB·s) = xW + (xA)B·s, so lora-merged and lora-explicit agree;
 *   - BERT's additive mask: tokens under attention_mask = 0 cannot move the logits;
 *   - causal decoders: logits at position i ignore tokens after i, at any sequence length;
 *   - fine-tuning changed something: every variant's output differs from the base's.
 */
import { existsSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ExampleFamily, SampleTensor } from './manifest.ts';
import {
  FINE_TUNE_STYLES,
  examplePath,
  findVariant,
  loadExamplesManifest,
  readSampleInput,
  shapeFlags,
} from './manifest.ts';
import type { OrtOutput } from './gen/ort-run.ts';
import { runWithOrt } from './gen/ort-run.ts';
import { maxAbsDiff } from '../ir/tensor.ts';

const manifest = loadExamplesManifest();
const MAX_TOTAL_BYTES = 5 * 1024 * 1024;

async function logits(
  family: ExampleFamily,
  variant: string,
  inputs?: Record<string, SampleTensor>,
): Promise<OrtOutput> {
  const out = await runWithOrt(family, findVariant(family, variant).file, inputs ?? readSampleInput(family));
  return out['logits']!;
}

/** The first `length` positions of every input. */
function prefix(inputs: Record<string, SampleTensor>, length: number): Record<string, SampleTensor> {
  const out: Record<string, SampleTensor> = {};
  for (const [name, t] of Object.entries(inputs)) {
    out[name] = { shape: [t.shape[0]!, length], values: t.values.slice(0, length) };
  }
  return out;
}

function withValue(t: SampleTensor, index: number, value: number): SampleTensor {
  const values = [...t.values];
  values[index] = value;
  return { shape: t.shape, values };
}

/** Logits rows [0, rows) of a [1, S, V] output. */
function rows(out: OrtOutput, count: number): Float32Array {
  return out.values.slice(0, count * out.shape[2]!);
}

describe('examples manifest', () => {
  it('lists three families with the six fine-tuning styles, files present at their sizes, under 5 MB', () => {
    expect(manifest.families.map((f) => f.name)).toEqual(['bert', 'gpt2', 'llama']);
    let total = 0;
    for (const family of manifest.families) {
      for (const style of FINE_TUNE_STYLES)
        expect(findVariant(family, style).file).toBe(`${family.name}/${style}.onnx`);
      for (const v of family.variants) {
        const files = [v.file, ...(v.externalData ? [v.externalData] : [])].map(examplePath);
        const bytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
        expect(bytes, v.file).toBe(v.bytes);
        total += bytes;
      }
    }
    expect(total).toBeLessThan(MAX_TOTAL_BYTES);
  });

  it('uses different opsets in 13..17 and has dynamic and static exports', () => {
    const opsets = manifest.families.map((f) => f.opset);
    expect(new Set(opsets).size).toBe(opsets.length);
    for (const o of opsets) expect(o >= 13 && o <= 17).toBe(true);
    expect(manifest.families.some((f) => f.dynamic)).toBe(true);
    expect(manifest.families.some((f) => !f.dynamic)).toBe(true);
  });

  it('has an external-data variant whose data file exists', () => {
    const ext = manifest.families.flatMap((f) => f.variants).filter((v) => v.externalData !== undefined);
    expect(ext.length).toBeGreaterThan(0);
    for (const v of ext) expect(existsSync(examplePath(v.externalData!))).toBe(true);
  });

  it.each(manifest.families.map((f) => [f.name, f] as const))(
    '%s: input.json matches the declared inputs; dynamic iff the file has a symbolic axis',
    (_name, family) => {
      const inputs = readSampleInput(family);
      expect(Object.keys(inputs).sort()).toEqual(family.inputs.map((t) => t.name).sort());
      for (const spec of family.inputs) {
        expect(inputs[spec.name]!.shape).toEqual(spec.shape);
        expect(spec.shape).toEqual([1, family.config['seq']]);
        for (const v of inputs[spec.name]!.values) expect(Number.isInteger(v) && v >= 0).toBe(true);
      }
      const symbolic = family.inputs.some((t) => t.onnxShape.some((d) => typeof d === 'string'));
      expect(symbolic).toBe(family.dynamic);
      expect(shapeFlags(family)).toContain(`input_ids=1x${family.config['seq']}`);
      const ids = inputs['input_ids']!.values;
      for (const id of ids) expect(id).toBeLessThan(family.config['vocab']!);
    },
  );

  it('bert: the sample attention_mask pads the tail with zeros', () => {
    const mask = readSampleInput(findFamily('bert'))['attention_mask']!.values;
    expect(mask[0]).toBe(1);
    expect(mask[mask.length - 1]).toBe(0);
  });
});

function findFamily(name: string): ExampleFamily {
  const f = manifest.families.find((x) => x.name === name);
  if (!f) throw new Error(`no family ${name}`);
  return f;
}

describe.each(manifest.families.map((f) => [f.name, f] as const))('%s under onnxruntime', (_name, family) => {
  it('every variant runs and gives finite logits of the declared shape, different from the base', async () => {
    const base = await logits(family, 'base');
    for (const v of family.variants) {
      const out = await logits(family, v.name);
      expect(out.shape, v.name).toEqual(family.outputs[0]!.shape);
      expect(out.values.every(Number.isFinite), v.name).toBe(true);
      if (v.sameWeightsAs === undefined && v.name !== 'base') {
        expect(maxAbsDiff(out.values, base.values), v.name).toBeGreaterThan(1e-3);
      }
    }
  });

  it('lora-merged and lora-explicit compute the same function', async () => {
    const merged = await logits(family, 'lora-merged');
    const explicit = await logits(family, 'lora-explicit');
    expect(maxAbsDiff(merged.values, explicit.values)).toBeLessThan(1e-4);
  });

  it('variants that re-encode another one give identical outputs', async () => {
    for (const v of family.variants.filter((x) => x.sameWeightsAs !== undefined)) {
      const same = await logits(family, v.sameWeightsAs!);
      expect(maxAbsDiff((await logits(family, v.name)).values, same.values)).toBe(0);
    }
  });
});

describe('bert attention mask', () => {
  const bert = findFamily('bert');

  it('tokens under attention_mask = 0 do not change the logits; unmasking them does', async () => {
    const inputs = readSampleInput(bert);
    const mask = inputs['attention_mask']!;
    const padded = mask.values.lastIndexOf(0);
    const reference = await logits(bert, 'full', inputs);
    const otherToken = await logits(bert, 'full', {
      ...inputs,
      input_ids: withValue(inputs['input_ids']!, padded, 7),
    });
    expect(maxAbsDiff(reference.values, otherToken.values)).toBeLessThan(1e-6);
    const unmasked = await logits(bert, 'full', { ...inputs, attention_mask: withValue(mask, padded, 1) });
    expect(maxAbsDiff(reference.values, unmasked.values)).toBeGreaterThan(1e-4);
  });

  it('the dynamic sequence axis accepts a shorter input', async () => {
    const out = await logits(bert, 'base', prefix(readSampleInput(bert), 8));
    expect(out.shape).toEqual([1, 2]);
  });
});

describe.each([['gpt2'], ['llama']])('%s causal masking', (name) => {
  const family = findFamily(name);

  it('logits at earlier positions ignore a change to the last token', async () => {
    const inputs = readSampleInput(family);
    const ids = inputs['input_ids']!;
    const last = ids.values.length - 1;
    const a = await logits(family, 'frozen', inputs);
    const b = await logits(family, 'frozen', {
      input_ids: withValue(ids, last, (ids.values[last]! + 1) % 50),
    });
    expect(maxAbsDiff(rows(a, last), rows(b, last))).toBeLessThan(1e-5);
    expect(maxAbsDiff(a.values, b.values)).toBeGreaterThan(1e-3);
  });

  if (family.dynamic)
    it('a shorter sequence gives the same logits on the shared prefix', async () => {
      const inputs = readSampleInput(family);
      const full = await logits(family, 'head-merged', inputs);
      const short = await logits(family, 'head-merged', prefix(inputs, 5));
      expect(short.shape).toEqual([1, 5, family.config['vocab']]);
      expect(maxAbsDiff(short.values, rows(full, 5))).toBeLessThan(1e-5);
    });
});

describe('KV-cache exports (manifest.cache)', () => {
  it('exist for the decoder families, three variants each, with the cache layout declared', () => {
    expect(manifest.cache.map((c) => c.family).sort()).toEqual(['gpt2', 'llama']);
    for (const cache of manifest.cache) {
      expect(cache.variants.map((v) => v.name)).toEqual(['cache-base', 'cache-frozen', 'cache-lora-merged']);
      for (const v of cache.variants) expect(existsSync(examplePath(v.file))).toBe(true);
      const names = cache.inputs.map((t) => t.name);
      expect(names[0]).toBe('input_ids');
      expect(names).toHaveLength(1 + 2 * cache.layers);
      const past = cache.inputs.find((t) => t.name === 'past_key_values.0.key')!;
      expect(past.onnxShape).toEqual([1, cache.heads, 'past_sequence', cache.headDim]);
      const present = cache.outputs.find((t) => t.name === `present.${cache.layers - 1}.value`)!;
      expect(present.onnxShape).toEqual([1, cache.heads, 'past_sequence + sequence', cache.headDim]);
    }
  });

  it('split public/private against cache-base as their sources do against base', () => {
    for (const cache of manifest.cache) {
      const family = manifest.families.find((f) => f.name === cache.family)!;
      for (const v of cache.variants) {
        const source = findVariant(family, v.sameWeightsAs);
        expect(v.privateLayers, v.file).toEqual(source.privateLayers);
        expect(v.headChanged, v.file).toBe(source.headChanged);
        expect(v.embeddingsChanged, v.file).toBe(source.embeddingsChanged);
        expect(v.weights.equalToBase, v.file).toBe(source.weights.equalToBase);
        expect(v.weights.total, v.file).toBe(source.weights.total);
      }
    }
  });
});
