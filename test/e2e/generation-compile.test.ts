/**
 * Compiling the KV-cache examples (examples/manifest.json `cache`) into
 * generation plans (docs/generation.md), each variant once with a small
 * max context:
 *   - the cache stays where the placement says: a layer the manifest lists as
 *     changed from the base (privateLayers, from the generator scripts) runs under
 *     MPC and keeps a shared cache, the others keep theirs at the client;
 *   - every step plan passes the flow checks and reveals only [1, 1, vocab];
 *   - each step's graph computes what onnxruntime computes on the export at that
 *     shape: the last position's logits and every present (the oracle);
 *   - the plan file round-trips through the strict reader, and edits are refused;
 *   - negative cases: no cache, an unpaired cache input, a context beyond the
 *     position table, a step the plan does not hold.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETWORKS } from '../../compiler/backend/network.ts';
import { generateGenerationPlanModule } from '../../compiler/emit/codegen.ts';
import { costGeneration } from '../../compiler/emit/generation-cost.ts';
import type { CompiledGeneration } from '../../compiler/generate/compile-steps.ts';
import { compileGeneration } from '../../compiler/generate/compile-steps.ts';
import { decoderCache } from '../../compiler/generate/decoder-cache.ts';
import { loadBaseModel } from '../../compiler/onnx/base-model.ts';
import { loadOnnx } from '../../compiler/onnx/load.ts';
import { loadAnyPlanModule, readAnyPlanSpec } from '../../compiler/party/plan-module.ts';
import { costPlan } from '../../compiler/backend/cost.ts';
import type { CacheFamily, CacheVariant } from '../../examples/manifest.ts';
import { examplePath, loadExamplesManifest } from '../../examples/manifest.ts';
import { MarillError } from '../../ir/errors.ts';
import { verifyFlow } from '../../ir/flow.ts';
import { interpret } from '../../ir/interpret.ts';
import { seededUniform } from '../../ir/random.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { fromNumbers, tensorMaxAbsDiff } from '../../ir/tensor.ts';
import { DEFAULT_OPTIONS } from '../../passes/context.ts';
import type { GenerationPlan, GenerationPlanSpec } from '../../runtime/generate/plan.ts';
import {
  defineGenerationPlan,
  generationHash,
  generationPlanSpec,
  makeGenerationPlan,
  stepKey,
  stepPlan,
} from '../../runtime/generate/plan.ts';
import type { PlanSpec } from '../../runtime/plan.ts';
import { specHash } from '../../runtime/plan.ts';
import { runOrt } from '../fixtures/ort.ts';

const MAX_CONTEXT = 6;
/** Float32 differences from another evaluation order, plus the exact low-rank split of merged LoRA weights. */
const TOL = 1e-3;
const target = { network: NETWORKS.lan, fracBits: 16 };
const caches = loadExamplesManifest().cache;

function compile(cache: CacheFamily, variant: CacheVariant, maxContext = MAX_CONTEXT): CompiledGeneration {
  const model = loadOnnx(examplePath(variant.file));
  const base = loadBaseModel(examplePath(cache.variants.find((v) => v.name === 'cache-base')!.file));
  return compileGeneration(model, decoderCache(model)!, {
    options: { ...DEFAULT_OPTIONS, base },
    target,
    maxContext,
  });
}

function planOf(c: CompiledGeneration): GenerationPlan {
  return makeGenerationPlan(c.steps, {
    maxContext: c.maxContext,
    tokens: c.layout.tokens,
    logits: c.layout.logits,
    fracBits: target.fracBits,
  });
}

function feeds(cache: CacheFamily, sequence: number, past: number, seed: number): Map<string, Tensor> {
  const next = seededUniform(seed);
  const ids = Array.from({ length: sequence }, () => Math.floor(next() * cache.vocab));
  const out = new Map<string, Tensor>([['input_ids', fromNumbers('i64', [1, sequence], ids)]]);
  const n = cache.heads * past * cache.headDim;
  for (const input of cache.inputs.filter((i) => i.name !== 'input_ids'))
    out.set(
      input.name,
      fromNumbers(
        'f32',
        [1, cache.heads, past, cache.headDim],
        Array.from({ length: n }, () => 2 * next() - 1),
      ),
    );
  return out;
}

/** The last position of ORT's logits [1, S, V]. */
function lastRow(t: Tensor): Tensor {
  const [, s, v] = t.shape as [number, number, number];
  return fromNumbers('f32', [1, 1, v], Array.from((t.data as Float32Array).subarray((s - 1) * v, s * v)));
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe.each(caches.flatMap((c) => c.variants.map((v) => [`${c.family} ${v.name}`, c, v] as const)))(
  '%s compiles to a generation plan',
  (_label, cache, variant) => {
    let compiled: CompiledGeneration;
    let plan: GenerationPlan;
    beforeAll(() => {
      compiled = compile(cache, variant);
      plan = planOf(compiled);
    }, 120_000);

    it('keeps the cache of changed layers shared and of the others at the client', () => {
      const layer = (input: string) => Number(/^past_key_values\.(\d+)\./.exec(input)![1]);
      const secret = new Set(compiled.secretState);
      expect(plan.state.map((s) => [s.input, s.visibility])).toEqual(
        compiled.layout.pairs.map((p) => [p.input, secret.has(p.input) ? 'secret' : 'client']),
      );
      for (let l = 0; l < cache.layers; l++) {
        const vis = plan.state.filter((s) => layer(s.input) === l).map((s) => s.visibility);
        expect(vis).toHaveLength(2);
        if (!variant.privateLayers.includes(l)) expect(vis, `layer ${l}`).toEqual(['client', 'client']);
        // A changed layer computes at least its value projection under MPC (LoRA may leave the key public).
        else expect(vis, `layer ${l}`).toContain('secret');
        if (variant.name === 'cache-frozen' && variant.privateLayers.includes(l))
          expect(vis, `layer ${l}`).toEqual(['secret', 'secret']);
      }
      if (variant.name === 'cache-base') expect(compiled.secretState).toEqual([]);
    });

    it('has every step shape, each passing the flow checks and revealing only [1, 1, vocab]', () => {
      expect(plan.steps.size).toBe(2 * MAX_CONTEXT - 1);
      for (const s of compiled.steps) {
        expect(() => verifyFlow(s.graph)).not.toThrow();
        const p = stepPlan(plan, s.shape);
        const results = p.graph.outputs.filter((o) => o.state === undefined);
        expect(results.map((o) => p.graph.values.get(o.value)!.type.shape)).toEqual([[1, 1, cache.vocab]]);
        // Nothing is revealed but the logits: one reveal, to the client.
        const reveals = p.graph.nodes.filter((n) => n.op === 'reveal');
        expect(reveals.every((n) => n.attrs['to'] === 'client')).toBe(true);
        expect(reveals.flatMap((n) => p.graph.values.get(n.outputs[0]!)!.type.shape)).toEqual(
          variant.name === 'cache-base' ? [] : [1, 1, cache.vocab],
        );
      }
    });

    it.each([
      [MAX_CONTEXT, 0],
      [3, 0],
      [1, 3],
      [1, MAX_CONTEXT - 1],
    ])(
      'step {sequence: %i, past: %i} computes what onnxruntime computes on the export',
      async (sequence, past) => {
        const step = compiled.steps.find((s) => stepKey(s.shape) === stepKey({ sequence, past }))!;
        const inputs = feeds(cache, sequence, past, 7 * sequence + past);
        const ours = interpret(step.graph, inputs);
        const theirs = await runOrt(examplePath(variant.file), inputs);
        expect(tensorMaxAbsDiff(ours.get('logits')!, lastRow(theirs.get('logits')!))).toBeLessThan(TOL);
        for (const pair of compiled.layout.pairs)
          expect(
            tensorMaxAbsDiff(ours.get(pair.output)!, theirs.get(pair.output)!),
            pair.output,
          ).toBeLessThan(TOL);
      },
    );

    it('round-trips through the plan file', () => {
      const dir = mkdtempSync(join(tmpdir(), 'marill-gen-'));
      dirs.push(dir);
      const file = join(dir, 'plan.ts');
      writeFileSync(file, generateGenerationPlanModule(plan, { source: variant.file, command: 'test' }));
      const loaded = loadAnyPlanModule(file);
      expect(loaded.kind).toBe('generation');
      const back = loaded.plan as GenerationPlan;
      expect(back.hash).toBe(plan.hash);
      expect(back.weightsDigest).toBe(plan.weightsDigest);
      expect(back.state).toEqual(plan.state);
      expect([...back.steps.keys()].sort()).toEqual([...plan.steps.keys()].sort());
      expect(generationPlanSpec(back)).toEqual(generationPlanSpec(plan));
    });

    it('costs each step as the cost model costs that step plan', () => {
      const c = costGeneration(plan, { ...target, promptLength: 3, newTokens: 3 });
      expect(c.steps.map((s) => [s.sequence, s.past])).toEqual([
        [3, 0],
        [1, 3],
        [1, 4],
      ]);
      c.steps.forEach((s) => {
        const direct = costPlan(stepPlan(plan, s).graph, target).total;
        expect([s.online_bytes, s.rounds]).toEqual([direct.online_bytes, direct.rounds]);
      });
      expect(c.total.online_bytes).toBe(c.steps.reduce((a, s) => a + s.online_bytes, 0));
    });
  },
);

describe('generation plan files refuse edits', () => {
  const cache = caches.find((c) => c.family === 'gpt2')!;
  let spec: GenerationPlanSpec;
  let file: string;
  beforeAll(() => {
    const compiled = compile(
      cache,
      cache.variants.find((v) => v.name === 'cache-frozen')!,
      2,
    );
    const plan = planOf(compiled);
    const dir = mkdtempSync(join(tmpdir(), 'marill-gen-'));
    dirs.push(dir);
    file = join(dir, 'plan.ts');
    const text = generateGenerationPlanModule(plan, { source: 'test', command: 'test' });
    writeFileSync(file, text);
    spec = readAnyPlanSpec(text, file).spec as GenerationPlanSpec;
  }, 60_000);

  const copy = (): GenerationPlanSpec => JSON.parse(JSON.stringify(spec)) as GenerationPlanSpec;
  /** Rehash an edited step plan and the generation, as an attacker editing the file would. */
  const rehashed = (s: GenerationPlanSpec): GenerationPlanSpec => {
    const steps = s.steps.map((st) => ({ ...st, plan: { ...st.plan, hash: specHash(st.plan) } as PlanSpec }));
    return { ...s, steps, hash: generationHash(s, steps) };
  };
  const refusal = (s: GenerationPlanSpec): string => {
    try {
      defineGenerationPlan(s);
    } catch (e) {
      if (e instanceof MarillError) return e.format();
      throw e;
    }
    throw new Error('the edited plan was accepted');
  };

  it('accepts the plan as written', () => {
    expect(defineGenerationPlan(copy()).hash).toBe(spec.hash);
  });

  it('refuses a changed step (its plan hash no longer matches)', () => {
    const s = copy();
    (s.steps[0]!.plan as { name: string }).name = 'other';
    expect(refusal(s)).toMatch(/step \{sequence: 1, past: 0\}.*states hash .* but its content hashes to/);
  });

  it('refuses a changed setting (the generation hash no longer matches)', () => {
    const s = copy();
    (s as { logits: string }).logits = 'present.0.key';
    expect(refusal(s)).toMatch(/generation plan 'torch_jit' states hash/);
  });

  // Its input is then a secret input that nothing feeds (and the output a secret result).
  it('refuses a shared cache retargeted to be revealed, even rehashed', () => {
    const s = copy();
    const secret = s.state.find((p) => p.visibility === 'secret')!;
    for (const st of s.steps)
      (st.plan as { outputs: unknown }).outputs = st.plan.outputs.map((o) =>
        o.name === secret.output ? { name: o.name, value: o.value } : o,
      );
    expect(refusal(rehashed(s))).toMatch(
      /information flow: graph input %past_key_values\.\d\.(key|value) is secret; inputs are the client's own data/,
    );
  });

  it('refuses a shared cache declared as kept by the client, even rehashed', () => {
    const s = copy();
    const secret = s.state.find((p) => p.visibility === 'secret')! as { visibility: string };
    secret.visibility = 'client';
    expect(refusal(rehashed(s))).toMatch(/state pairs or their visibilities differ/);
  });

  it('refuses a missing step and a step beyond maxContext', () => {
    const s = copy();
    const fewer = { ...s, steps: s.steps.slice(1) };
    expect(refusal(rehashed(fewer))).toMatch(/step \{sequence: 1, past: 0\}: the plan has no such step/);
    const plan = defineGenerationPlan(copy());
    expect(() => stepPlan(plan, { sequence: 1, past: 2 })).toThrow(
      /a context of 3 tokens is beyond the plan's maxContext 2/,
    );
    expect(() => stepPlan(plan, { sequence: 2, past: 0 })).not.toThrow();
  });

  it('a plan reader that runs single plans refuses it by name', async () => {
    const { loadPlanModule } = await import('../../compiler/party/plan-module.ts');
    expect(() => loadPlanModule(file)).toThrow(/this is a generation plan/);
  });
});

describe('what is not a decoder with a cache, or does not fit', () => {
  const cache = caches.find((c) => c.family === 'gpt2')!;
  const frozen = () => loadOnnx(examplePath(cache.variants.find((v) => v.name === 'cache-frozen')!.file));

  it('a model without cache tensors is no generation model', () => {
    const family = loadExamplesManifest().families.find((f) => f.name === 'gpt2')!;
    expect(decoderCache(loadOnnx(examplePath(family.variants.find((v) => v.name === 'frozen')!.file)))).toBe(
      undefined,
    );
  });

  it('a cache input without its present output', () => {
    const m = frozen();
    const unpaired = { ...m, outputs: m.outputs.filter((o) => o.name !== 'present.1.value') };
    expect(() => decoderCache(unpaired)).toThrow(
      /past_key_values\.1\.value' has no output 'present\.1\.value'/,
    );
  });

  it('a present output without its cache input', () => {
    const m = frozen();
    const unpaired = { ...m, inputs: m.inputs.filter((i) => i.name !== 'past_key_values.3.key') };
    expect(() => decoderCache(unpaired)).toThrow(/no input 'past_key_values\.3\.key'/);
  });

  it('a max context beyond the position table', () => {
    const m = frozen();
    const limit = cache.maxPositions!;
    const e = (() => {
      try {
        compileGeneration(m, decoderCache(m)!, { options: DEFAULT_OPTIONS, target, maxContext: limit + 1 });
      } catch (err) {
        return err as MarillError;
      }
      throw new Error('compiled');
    })();
    expect(e.format()).toContain(
      `cache-frozen.onnx: --max-context ${limit + 1} is beyond the model's position table of ${limit} rows`,
    );
  });
});
