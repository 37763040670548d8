/**
 * Weight bundles written next to a plan:
 *   <plan>.client.onnx  the public weights the plan uses, and nothing private
 *                       (what a client may load instead of the base model);
 *   <plan>.server.onnx  every weight the plan uses, including those the
 *                       compiler derived (LoRA factors of merged weights), which
 *                       the fine-tuned ONNX file does not hold.
 * A bundle is a valid ONNX model: one initializer per weight, each passed
 * through an Identity node to a graph output, so ONNX tools can open it.
 */
import { basename, dirname, join } from 'node:path';
import type { Graph } from '../../ir/graph.ts';
import { stringAttr } from '../../ir/ops.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { MarillError } from '../../ir/errors.ts';
import type { Visibility } from '../../ir/types.ts';
import { encodeOnnx, makeModel } from '../onnx/write.ts';
import { onnxNameOfIrDtype } from '../onnx/dtypes.ts';
import { writeFileAtomic } from '../fs-util.ts';

/** `plan.ts` -> `plan.client.onnx` / `plan.server.onnx` beside it. */
export function bundlePaths(planFile: string): { client: string; server: string } {
  const stem = basename(planFile).replace(/\.m?ts$/, '');
  return {
    client: join(dirname(planFile), `${stem}.client.onnx`),
    server: join(dirname(planFile), `${stem}.server.onnx`),
  };
}

export interface BundleWeight {
  readonly name: string;
  readonly tensor: Tensor;
}

/** The plan's weights of the given visibilities, by name (each once). */
export function planWeights(g: Graph, visibilities: readonly Visibility[]): BundleWeight[] {
  const out = new Map<string, Tensor>();
  for (const n of g.nodes) {
    if (n.op !== 'weight') continue;
    if (!visibilities.includes(g.values.get(n.outputs[0]!)!.visibility)) continue;
    const name = stringAttr(n.attrs, 'name');
    if (!n.tensor)
      throw new MarillError(`weight '${name}' has no data (a .mir input names weights by hash only)`);
    out.set(name, n.tensor);
  }
  return [...out].map(([name, tensor]) => ({ name, tensor }));
}

export function encodeBundle(weights: readonly BundleWeight[]): Uint8Array {
  const outputs = weights.map((w, i) => ({ name: `weight_${i}`, type: onnxNameOfIrDtype(w.tensor.dtype) }));
  return encodeOnnx(
    makeModel({
      opset: 17,
      graphName: 'marillc_weight_bundle',
      inputs: [],
      outputs: outputs.map((o, i) => ({ ...o, shape: [...weights[i]!.tensor.shape] })),
      initializers: weights.map((w) => ({
        name: w.name,
        type: onnxNameOfIrDtype(w.tensor.dtype),
        dims: [...w.tensor.shape],
        values: w.tensor.data as ArrayLike<number>,
      })),
      nodes: weights.map((w, i) => ({
        op: 'Identity',
        name: `bundle_${i}`,
        inputs: [w.name],
        outputs: [outputs[i]!.name],
      })),
    }),
  );
}

export function writeBundle(path: string, weights: readonly BundleWeight[]): void {
  writeFileAtomic(path, encodeBundle(weights));
}
