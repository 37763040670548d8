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
import type { Graph } from '../../ir/graph.ts';
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

export interface Advice {
  readonly model: string;
  readonly network: string;
  readonly layers: number;
  readonly headMerge: readonly HeadMergeSupport[];
  readonly points: readonly AdvicePoint[];
}

export interface AdviseOptions extends LoadOptions {
  readonly network: NetworkProfile;
  readonly fracBits: number;
  readonly factors?: readonly number[];
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
