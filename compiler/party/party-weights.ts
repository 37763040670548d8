/**
 * The weights one party brings to a run, found in the model file it names:
 * the server needs every weight of the plan (its fine-tuned model, or the
 * server bundle when the compiler derived weights such as LoRA factors), the
 * client only the public ones (the base model, or the client bundle).
 *
 * A weight is found by name when the file's tensor under that name has the
 * plan's hash, else by hash under any name (exporters rename weights between
 * a base and a fine-tuned model). A private weight's hash in the plan is
 * keyed, so the server's plan must carry its weight key (./weight-key.ts).
 * The runtime checks the hashes again before the handshake.
 */
import { MarillError } from '../../ir/errors.ts';
import { stringAttr } from '../../ir/ops.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { tensorHash } from '../../ir/tensor.ts';
import type { Plan } from '../../runtime/plan.ts';
import { planWeightHash } from '../../runtime/plan.ts';
import type { Visibility } from '../../ir/types.ts';
import type { Party } from '../../runtime/protocol.ts';
import { bundlePaths } from '../emit/bundle.ts';
import { loadOnnx } from '../onnx/load.ts';
import type { OnnxModel } from '../onnx/model.ts';

interface NeededWeight {
  readonly name: string;
  readonly visibility: Visibility;
  /** The plan's hash of it (keyed for a private weight). */
  readonly hash: string;
}

export function weightsNeeded(plan: Plan, party: Party): NeededWeight[] {
  const out = new Map<string, NeededWeight>();
  for (const n of plan.graph.nodes) {
    if (n.op !== 'weight') continue;
    const visibility = plan.graph.values.get(n.outputs[0]!)!.visibility;
    if (visibility !== 'public' && visibility !== party) continue;
    const name = stringAttr(n.attrs, 'name');
    const hash = stringAttr(n.attrs, 'hash');
    out.set(`${name}\0${hash}`, { name, visibility, hash });
  }
  return [...out.values()];
}

function hint(party: Party, planFile: string | undefined): string {
  const bundle = planFile !== undefined ? bundlePaths(planFile)[party] : `<plan>.${party}.onnx`;
  return party === 'server'
    ? `pass the fine-tuned model, or the server bundle ${bundle} that holds the weights the compiler derived`
    : `pass the base model, or the client bundle ${bundle}`;
}

/** `W.lora_B` or `W.lora_A.0-64`: a factor lora-split derived from the merged weight `W` (passes/lora-split.ts). */
const DERIVED_FACTOR = /^(.+)\.lora_[AB](?:\.\d+-\d+)?$/;

/**
 * The merged weight whose derived LoRA factors `missing` are, when `file` holds
 * it: the file is then the fine-tuned model itself, and only the server bundle
 * has the factors (the fine-tuned model cannot: they were computed from it).
 */
function mergedWeightOf(missing: string, file: OnnxModel): string | undefined {
  const stem = DERIVED_FACTOR.exec(missing)?.[1];
  return stem !== undefined && file.initializers.has(stem) ? stem : undefined;
}

export function loadPartyWeights(
  plan: Plan,
  party: Party,
  modelPath: string | undefined,
  /** The plan module's path, to name the bundle written beside it in errors. */
  planFile?: string,
): Map<string, Tensor> {
  const needed = weightsNeeded(plan, party);
  const weights = new Map<string, Tensor>();
  if (needed.length === 0) return weights;
  if (modelPath === undefined)
    throw new MarillError(
      `the ${party} needs ${needed.length} weight(s) of this plan: --model is missing (${hint(party, planFile)})`,
    );
  const file = loadOnnx(modelPath);
  // The file's tensors by the plan's hash of them, for each kind of hash the plan uses.
  const kinds = [...new Set(needed.map((w) => w.visibility))];
  const byHash = new Map<string, Tensor>();
  const hashesOf = new Map<string, Set<string>>();
  for (const [name, init] of file.initializers) {
    const content = tensorHash(init.tensor);
    const hashes = new Set(kinds.map((v) => planWeightHash(plan, v, content)));
    hashesOf.set(name, hashes);
    for (const h of hashes) if (!byHash.has(h)) byHash.set(h, init.tensor);
  }
  const missing: { weight: NeededWeight; sameName: boolean }[] = [];
  for (const w of needed) {
    const sameName = file.initializers.get(w.name);
    const tensor = sameName && hashesOf.get(w.name)?.has(w.hash) ? sameName.tensor : byHash.get(w.hash);
    if (tensor) weights.set(w.name, tensor);
    else missing.push({ weight: w, sameName: sameName !== undefined });
  }
  if (missing.length === 0) return weights;
  // The server given the fine-tuned model of a plan that split merged weights:
  // the base weight is missing too (the file holds the merged one under its
  // name), so look for a derived factor among all that are missing.
  const derived =
    party === 'server'
      ? missing
          .map(({ weight }) => ({ factor: weight.name, merged: mergedWeightOf(weight.name, file) }))
          .find((m) => m.merged !== undefined)
      : undefined;
  if (derived) {
    const bundle = planFile !== undefined ? bundlePaths(planFile).server : 'the <plan>.server.onnx';
    throw new MarillError(
      `this is the fine-tuned model, but the plan runs '${derived.merged}' as its base weight plus LoRA factors the compiler derived ('${derived.factor}'), which only the server bundle holds: pass ${bundle} instead`,
      { file: modelPath },
    );
  }
  const { weight: w, sameName } = missing[0]!;
  const why = sameName ? 'has other content under that name' : 'is not in it';
  const kind = w.visibility === 'server' ? 'keyed hash' : 'sha256';
  throw new MarillError(
    `weight '${w.name}' (${kind} ${w.hash.slice(0, 12)}…) ${why}: ${hint(party, planFile)}`,
    {
      file: modelPath,
    },
  );
}
