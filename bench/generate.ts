/**
 * `npm run bench -- generate`: secure text generation on the evaluation's larger GPT-2- and
 * LLaMA-style decoders (4 layers, hidden 128, 4 heads, FFN 512, vocabulary 512) exported with a KV
 * cache: a prompt of 32 tokens and 32 new tokens (greedy), for the standard plan (every weight
 * private, `--no-marill`) and the Marill plans (frozen, lora, headmerge2, all techniques).
 *
 * Per plan: the generation plan is compiled for a context of 63 tokens (every prefill and decode step
 * shape, as `marillc -o` compiles it), then run with both parties and the dealer in this process
 * (`simulateGeneration`, real protocols over an in-process channel; both parties share one thread, so
 * times are the sum of both parties' work). Measured per step: online bytes (both directions), rounds
 * and seconds; predicted per step by the cost model (`costGeneration`), with lan and wan estimates.
 * The greedy tokens are compared with the plaintext interpreter's (`generatePlaintext`).
 *
 * Models are generated into $TMPDIR/marillc-eval (MARILL_EVAL_CACHE overrides), never committed.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NETWORKS } from '../compiler/backend/network.ts';
import { planWeights } from '../compiler/emit/bundle.ts';
import { costGeneration } from '../compiler/emit/generation-cost.ts';
import { CacheModel } from '../compiler/generate/cache-model.ts';
import { compileGeneration } from '../compiler/generate/compile-steps.ts';
import { decoderCache } from '../compiler/generate/decoder-cache.ts';
import { generatePlaintext } from '../compiler/generate/plaintext.ts';
import { loadBaseModel } from '../compiler/onnx/base-model.ts';
import { loadOnnx } from '../compiler/onnx/load.ts';
import type { Tensor } from '../ir/tensor.ts';
import { DEFAULT_OPTIONS } from '../passes/context.ts';
import { makeGenerationPlan } from '../runtime/generate/plan.ts';
import { simulateGeneration } from '../runtime/generate/simulate.ts';
import { DEFAULT_FRAC_BITS } from '../runtime/ring/fixed.ts';
import { generateCacheFamily } from './models/generate.ts';
import { GPT2 } from './models/gpt2.ts';
import { LLAMA } from './models/llama.ts';
import type { Family } from './models/spec.ts';
import { SIZES } from './models/spec.ts';
import { VARIANTS } from './models/variants.ts';

const PROMPT = 32;
const NEW_TOKENS = 32;
const MAX_CONTEXT = PROMPT + NEW_TOKENS - 1;
const VARIANT_IDS = ['standard', 'frozen', 'lora-merged', 'headmerge2', 'marill'] as const;

interface StepFigures {
  readonly online_bytes: number;
  readonly rounds: number;
  readonly seconds: number;
}

export interface GenerateRow {
  readonly family: string;
  readonly variant: string;
  readonly compile_seconds: number;
  readonly step_plans: number;
  readonly setup: { seconds: number; bytes: number; rounds: number };
  readonly prefill: { measured: StepFigures; predicted: { online_bytes: number; rounds: number } };
  /** Decode steps: medians over the 31 steps that feed a generated token back. */
  readonly per_token: {
    measured: StepFigures;
    predicted: { online_bytes: number; rounds: number; est_lan_seconds: number; est_wan_seconds: number };
  };
  readonly total: { online_bytes: number; rounds: number; est_lan_seconds: number; est_wan_seconds: number };
  /** Every step's measured bytes and rounds equal the prediction for that step. */
  readonly exact: boolean;
  readonly tokens_equal_plaintext: boolean;
  readonly per_token_gain_vs_standard?: { bytes: number; lan: number; measured_seconds: number };
}

function log(text: string): void {
  process.stderr.write(`generate: ${text}\n`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function measure(family: Family, variantId: string, file: string, base: string): Promise<GenerateRow> {
  const variant = VARIANTS.find((v) => v.id === variantId)!;
  const onnx = loadOnnx(file);
  const layout = decoderCache(onnx)!;
  const target = { network: NETWORKS.lan, fracBits: DEFAULT_FRAC_BITS };
  const options = { ...DEFAULT_OPTIONS, base: loadBaseModel(base), noMarill: variant.noMarill };
  const compiled = compileGeneration(onnx, layout, { options, target, maxContext: MAX_CONTEXT });
  const plan = makeGenerationPlan(compiled.steps, {
    maxContext: compiled.maxContext,
    tokens: layout.tokens,
    logits: layout.logits,
    fracBits: DEFAULT_FRAC_BITS,
  });
  log(`${family.name}/${variantId}: ${compiled.steps.length} step plans in ${compiled.seconds.toFixed(1)} s`);
  const graph = compiled.steps[0]!.graph;
  const weights = (v: ('public' | 'server')[]): Map<string, Tensor> =>
    new Map(planWeights(graph, v).map((w) => [w.name, w.tensor]));
  const prompt = Array.from({ length: PROMPT }, (_, i) => (i * 37 + 11) % 512);
  const options2 = { maxNewTokens: NEW_TOKENS };
  const run = await simulateGeneration(
    plan,
    { server: weights(['public', 'server']), client: weights(['public']) },
    { promptIds: prompt, options: options2 },
  );
  const plaintext = await generatePlaintext(CacheModel.open(file), prompt, options2);
  const costs = (network: keyof typeof NETWORKS) =>
    costGeneration(plan, {
      network: NETWORKS[network],
      fracBits: DEFAULT_FRAC_BITS,
      promptLength: PROMPT,
      newTokens: NEW_TOKENS,
    });
  const lan = costs('lan');
  const wan = costs('wan');
  const measuredSteps = run.steps;
  const exact = measuredSteps.every(
    (m, i) => m.online_bytes === lan.steps[i]?.online_bytes && m.rounds === lan.steps[i]?.rounds,
  );
  const decode = measuredSteps.slice(1);
  const decodeCost = lan.steps.slice(1);
  const prefill = measuredSteps[0]!;
  return {
    family: family.name,
    variant: variantId,
    compile_seconds: compiled.seconds,
    step_plans: compiled.steps.length,
    setup: run.setup,
    prefill: {
      measured: { online_bytes: prefill.online_bytes, rounds: prefill.rounds, seconds: prefill.seconds },
      predicted: { online_bytes: lan.steps[0]!.online_bytes, rounds: lan.steps[0]!.rounds },
    },
    per_token: {
      measured: {
        online_bytes: median(decode.map((s) => s.online_bytes)),
        rounds: median(decode.map((s) => s.rounds)),
        seconds: median(decode.map((s) => s.seconds)),
      },
      predicted: {
        online_bytes: median(decodeCost.map((s) => s.online_bytes)),
        rounds: median(decodeCost.map((s) => s.rounds)),
        est_lan_seconds: median(decodeCost.map((s) => s.est_seconds)),
        est_wan_seconds: median(wan.steps.slice(1).map((s) => s.est_seconds)),
      },
    },
    total: {
      online_bytes: lan.total.online_bytes,
      rounds: lan.total.rounds,
      est_lan_seconds: lan.total.est_seconds,
      est_wan_seconds: wan.total.est_seconds,
    },
    exact,
    tokens_equal_plaintext:
      run.tokens.length === plaintext.length && run.tokens.every((t, i) => t === plaintext[i]),
  };
}

export async function runGenerateBench(): Promise<{
  prompt: number;
  new_tokens: number;
  rows: GenerateRow[];
}> {
  const cache = process.env['MARILL_EVAL_CACHE'] ?? join(tmpdir(), 'marillc-eval');
  const rows: GenerateRow[] = [];
  for (const family of [GPT2, LLAMA]) {
    const variants = VARIANTS.filter((v) => (VARIANT_IDS as readonly string[]).includes(v.id));
    const set = generateCacheFamily(family, SIZES.larger, variants, cache, 64);
    const familyRows: GenerateRow[] = [];
    for (const id of VARIANT_IDS) {
      const row = await measure(family, id, set.variants.get(id)!, set.base);
      log(
        `${family.name}/${id}: per token ${(row.per_token.measured.online_bytes / 1024).toFixed(0)} KiB, ${row.per_token.measured.rounds} rounds, ${row.per_token.measured.seconds.toFixed(3)} s; exact ${row.exact}; tokens = plaintext ${row.tokens_equal_plaintext}`,
      );
      familyRows.push(row);
    }
    const standard = familyRows[0]!;
    for (const r of familyRows)
      rows.push({
        ...r,
        per_token_gain_vs_standard: {
          bytes: standard.per_token.predicted.online_bytes / r.per_token.predicted.online_bytes,
          lan: standard.per_token.predicted.est_lan_seconds / r.per_token.predicted.est_lan_seconds,
          measured_seconds: standard.per_token.measured.seconds / r.per_token.measured.seconds,
        },
      });
  }
  return { prompt: PROMPT, new_tokens: NEW_TOKENS, rows };
}
