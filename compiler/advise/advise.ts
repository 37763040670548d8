/**
 * `marillc advise`: what a fine-tuning choice will cost under MPC, before
 * training. For k = 0..L fine-tuned top layers (the rest frozen) and head-merge
 * factors m (1, 2, 4 where the heads divide), the base model is compiled with
 * the weights a k-layer fine-tune would change marked private and the head
 * split rewritten (passes/head-merge.ts), and the cost model gives online
 * bytes, rounds and estimated time on the network profile.
 *
 * What a k-layer fine-tune changes: the weights of the top k layers and the
 * head (final norm, pooler, classifier; k >= 1); embeddings stay public.
 * k = L is standard fine-tuning: every weight private and nothing hoisted
 * (the --no-marill compile), so the table's last row is the baseline.
 */
import { extname } from 'node:path';
import { MarillError } from '../../ir/errors.ts';
import type { Graph } from '../../ir/graph.ts';
import { stepKey } from '../../runtime/generate/plan.ts';
import { contextNeeded, generationSchedule } from '../../runtime/generate/schedule.ts';
import { compileSteps, positionLimit, stepGraph } from '../generate/compile-steps.ts';
import type { DecoderCache } from '../generate/decoder-cache.ts';
import { decoderCache } from '../generate/decoder-cache.ts';
import { loadOnnx } from '../onnx/load.ts';
import type { OnnxModel } from '../onnx/model.ts';
import type { CompileOptions } from '../../passes/context.ts';
import { DEFAULT_OPTIONS } from '../../passes/context.ts';
import type { LayerMap } from './advise-layers.ts';
import { mapLayers } from './advise-layers.ts';
import { costPlan } from '../backend/cost.ts';
import type { LoadOptions } from '../driver.ts';
import { loadModel, runPipeline } from '../driver.ts';
import { mergeHeads } from '../../passes/head-merge.ts';
import type { NetworkProfile } from '../backend/network.ts';

export interface AdvicePoint {
  /** Fine-tuned top layers. */
  readonly layers: number;
  readonly headMerge: number;
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
  readonly est_seconds: number;
  readonly softmax_online_bytes: number;
}

export interface HeadMergeSupport {
  readonly factor: number;
  readonly supported: boolean;
  readonly reason?: string;
}

/** A generation of `prompt_length` + `new_tokens` tokens with a fine-tune of the top `layers`. */
export interface GenerationAdvicePoint {
  readonly layers: number;
  readonly headMerge: number;
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
  readonly est_seconds: number;
  readonly prefill_online_bytes: number;
  /** The median decode step's (0 when new_tokens = 1). */
  readonly per_token_online_bytes: number;
}

export interface Advice {
  readonly model: string;
  readonly network: string;
  readonly layers: number;
  readonly headMerge: readonly HeadMergeSupport[];
  /** Per inference; for a decoder with a KV cache, per prefill of prompt_length tokens. */
  readonly points: readonly AdvicePoint[];
  /** A decoder with a KV cache (docs/generation.md): the cost of a whole generation. */
  readonly generation?: {
    readonly prompt_length: number;
    readonly new_tokens: number;
    readonly points: readonly GenerationAdvicePoint[];
  };
}

export interface AdviseOptions extends LoadOptions {
  readonly network: NetworkProfile;
  readonly fracBits: number;
  readonly factors?: readonly number[];
  /** A decoder with a KV cache: the generation costed (defaults 8 + 8, within the position table). */
  readonly promptLength?: number;
  readonly newTokens?: number;
}

/** Compile options of a fine-tune of the top `k` layers (k = L: the standard baseline). */
export function fineTuneOptions(map: LayerMap, k: number): CompileOptions {
  if (k >= map.layers) return { ...DEFAULT_OPTIONS, noMarill: true };
  const first = map.layers - k;
  const privateNames = [...map.places]
    .filter(([, p]) => ('layer' in p ? p.layer >= first : p.part === 'head' && k > 0))
    .map(([name]) => name.replace(/[*?]/g, '?'));
  return { ...DEFAULT_OPTIONS, publicGlobs: ['*'], privateGlobs: privateNames };
}

function point(g: Graph, options: CompileOptions, opts: AdviseOptions, k: number, m: number): AdvicePoint {
  const target = { network: opts.network, fracBits: opts.fracBits };
  const cost = costPlan(runPipeline(g, options, {}, target).graph, target);
  return {
    layers: k,
    headMerge: m,
    online_bytes: cost.total.online_bytes,
    offline_bytes: cost.total.offline_bytes,
    rounds: cost.total.rounds,
    est_seconds: cost.total.est_seconds,
    softmax_online_bytes: cost.by_class.softmax.online_bytes,
  };
}

export function advise(model: string, opts: AdviseOptions): Advice {
  if (
    extname(model).toLowerCase() === '.onnx' &&
    (opts.shapes === undefined || Object.keys(opts.shapes).length === 0)
  ) {
    const onnx = loadOnnx(model);
    const cache = decoderCache(onnx);
    if (cache !== undefined) return adviseGeneration(model, onnx, cache, opts);
  }
  const loaded = loadModel(model, opts);
  const map = mapLayers(loaded, model);
  const headMerge: HeadMergeSupport[] = [];
  const points: AdvicePoint[] = [];
  for (const m of opts.factors ?? [1, 2, 4]) {
    const merged = mergeHeads(loaded, m);
    if (!merged.ok) {
      headMerge.push({ factor: m, supported: false, reason: merged.reason });
      continue;
    }
    headMerge.push({ factor: m, supported: true });
    for (let k = 0; k <= map.layers; k++)
      points.push(point(merged.graph, fineTuneOptions(map, k), opts, k, m));
  }
  return { model, network: opts.network.name, layers: map.layers, headMerge, points };
}

/**
 * A decoder with a KV cache: for each fine-tune and head-merge factor, the step
 * plans of a generation of P + N tokens (compiled as `marillc -o` compiles them,
 * the cache kept where the placement says) and their costs: the prefill is the
 * table's per-inference cost, the whole generation its generation column.
 */
function adviseGeneration(model: string, onnx: OnnxModel, cache: DecoderCache, opts: AdviseOptions): Advice {
  const target = { network: opts.network, fracBits: opts.fracBits };
  const probe = stepGraph(onnx, cache, { sequence: 1, past: 0 }, new Set());
  const limit = positionLimit(probe) ?? Infinity;
  const promptLength = opts.promptLength ?? Math.min(8, Math.ceil(limit / 2));
  const newTokens = opts.newTokens ?? Math.max(1, Math.min(8, limit - promptLength + 1));
  if (contextNeeded(promptLength, newTokens) > limit)
    throw new MarillError(
      `a prompt of ${promptLength} tokens and ${newTokens} new tokens needs a context of ${contextNeeded(promptLength, newTokens)} tokens, beyond the model's position table of ${limit} rows`,
      { file: model },
    );
  const schedule = generationSchedule(promptLength, newTokens);
  const map = mapLayers(probe, model);
  const headMerge: HeadMergeSupport[] = [];
  const points: AdvicePoint[] = [];
  const generation: GenerationAdvicePoint[] = [];
  for (const m of opts.factors ?? [1, 2, 4]) {
    const merged = mergeHeads(probe, m);
    if (!merged.ok) {
      headMerge.push({ factor: m, supported: false, reason: merged.reason });
      continue;
    }
    headMerge.push({ factor: m, supported: true });
    const transform = (g: Graph): Graph => {
      const r = mergeHeads(g, m);
      if (!r.ok) throw new MarillError(`head merging by ${m}: ${r.reason}`, { file: model });
      return r.graph;
    };
    for (let k = 0; k <= map.layers; k++) {
      const distinct = [...new Map(schedule.map((s) => [stepKey(s), s])).values()];
      const { steps } = compileSteps(onnx, cache, distinct, {
        options: fineTuneOptions(map, k),
        target,
        transform,
      });
      const costs = new Map(steps.map((s) => [stepKey(s.shape), costPlan(s.graph, target)]));
      const prefill = costs.get(stepKey(schedule[0]!))!;
      points.push({
        layers: k,
        headMerge: m,
        online_bytes: prefill.total.online_bytes,
        offline_bytes: prefill.total.offline_bytes,
        rounds: prefill.total.rounds,
        est_seconds: prefill.total.est_seconds,
        softmax_online_bytes: prefill.by_class.softmax.online_bytes,
      });
      const each = schedule.map((s) => costs.get(stepKey(s))!.total);
      const sum = (f: (t: (typeof each)[number]) => number) => each.reduce((a, t) => a + f(t), 0);
      const decode = each
        .slice(1)
        .map((t) => t.online_bytes)
        .sort((a, b) => a - b);
      generation.push({
        layers: k,
        headMerge: m,
        online_bytes: sum((t) => t.online_bytes),
        offline_bytes: sum((t) => t.offline_bytes),
        rounds: sum((t) => t.rounds),
        est_seconds: sum((t) => t.est_seconds),
        prefill_online_bytes: prefill.total.online_bytes,
        per_token_online_bytes: decode.length > 0 ? decode[Math.floor((decode.length - 1) / 2)]! : 0,
      });
    }
  }
  return {
    model,
    network: opts.network.name,
    layers: map.layers,
    headMerge,
    points,
    generation: { prompt_length: promptLength, new_tokens: newTokens, points: generation },
  };
}
