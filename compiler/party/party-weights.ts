/**
 * The weights one party brings to a run, found in the model file it names:
 * the server needs every weight of the plan (its fine-tuned model, or the
 * server bundle when the compiler derived weights such as LoRA factors), the
 * client only the public ones (the base model, or the client bundle).
 *
 * A weight is found by name when the file's tensor under that name has the
 * plan's hash, else by content hash under any name (exporters rename weights
 * between a base and a fine-tuned model). The runtime checks the hashes again
 * before the handshake.
 */
import { MarillError } from '../../ir/errors.ts';
import { stringAttr } from '../../ir/ops.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { tensorHash } from '../../ir/tensor.ts';
import type { Plan } from '../../runtime/plan.ts';
import type { Party } from '../../runtime/protocol.ts';
import { loadOnnx } from '../onnx/load.ts';

interface NeededWeight {
  readonly name: string;
  readonly hash: string;
}

export function weightsNeeded(plan: Plan, party: Party): NeededWeight[] {
  const out = new Map<string, NeededWeight>();
  for (const n of plan.graph.nodes) {
    if (n.op !== 'weight') continue;
    const visibility = plan.graph.values.get(n.outputs[0]!)!.visibility;
    if (visibility !== 'public' && visibility !== party) continue;
    const name = stringAttr(n.attrs, 'name');
    out.set(`${name}\0${stringAttr(n.attrs, 'hash')}`, { name, hash: stringAttr(n.attrs, 'hash') });
  }
  return [...out.values()];
}

const HINT: Record<Party, string> = {
  server:
    'pass the fine-tuned model, or the server bundle (<plan>.server.onnx) that holds the weights the compiler derived',
  client: 'pass the base model, or the client bundle (<plan>.client.onnx)',
};

export function loadPartyWeights(
  plan: Plan,
  party: Party,
  modelPath: string | undefined,
): Map<string, Tensor> {
  const needed = weightsNeeded(plan, party);
  const weights = new Map<string, Tensor>();
  if (needed.length === 0) return weights;
  if (modelPath === undefined)
    throw new MarillError(
      `the ${party} needs ${needed.length} weight(s) of this plan: --model is missing (${HINT[party]})`,
    );
  const file = loadOnnx(modelPath);
  const byHash = new Map<string, Tensor>();
  const hashOf = new Map<string, string>();
  for (const [name, init] of file.initializers) {
    const h = tensorHash(init.tensor);
    hashOf.set(name, h);
    if (!byHash.has(h)) byHash.set(h, init.tensor);
  }
  for (const w of needed) {
    const sameName = file.initializers.get(w.name);
    const tensor = sameName && hashOf.get(w.name) === w.hash ? sameName.tensor : byHash.get(w.hash);
    if (!tensor) {
      const why = sameName ? 'has other content under that name' : 'is not in it';
      throw new MarillError(`weight '${w.name}' (sha256 ${w.hash.slice(0, 12)}…) ${why}: ${HINT[party]}`, {
        file: modelPath,
      });
    }
    weights.set(w.name, tensor);
  }
  return weights;
}
