/**
 * A segment's ONNX model from its IR nodes: live-ins as graph inputs, live-outs
 * as graph outputs, the weights and consts it reads as initializers (the
 * tensors the executor loaded and checked against the plan's hashes), and
 * each node through its lowering (./onnx-ops.ts). IR value ids become ONNX
 * names v0, v1, ... so any id spelling is a valid name.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Graph, ValueId } from '../../ir/graph.ts';
import { normalizeAttrs } from '../../ir/ops.ts';
import type { Tensor } from '../../ir/tensor.ts';
import type { OnnxNode, SegmentModel } from './onnx-model.ts';
import { onnxLowering } from './onnx-ops.ts';
import type { Segment } from './segments.ts';

export function segmentModel(g: Graph, seg: Segment, source: (v: ValueId) => Tensor): SegmentModel {
  const names = new Map<ValueId, string>();
  const name = (v: ValueId): string => {
    let n = names.get(v);
    if (n === undefined) names.set(v, (n = `v${names.size}`));
    return n;
  };
  const type = (v: ValueId) => g.values.get(v)!.type;
  const initializers = seg.baked.map((v) => ({ name: name(v), tensor: source(v) }));
  const nodes: OnnxNode[] = [];
  let temps = 0;
  for (const index of seg.nodes) {
    const n = g.nodes[index]!;
    const attrs = normalizeAttrs(n.op, n.attrs);
    const inTypes = n.inputs.map(type);
    const lowering = onnxLowering(n.op, attrs, inTypes);
    if (!lowering) throw new MarillError(`op '${n.op}' has no ONNX lowering for a plaintext segment`);
    lowering({
      inputs: n.inputs.map(name),
      outputs: n.outputs.map(name),
      inTypes,
      outTypes: n.outputs.map(type),
      attrs,
      temp: () => `t${temps++}`,
      constant: (tensor: Tensor) => {
        const c = `c${initializers.length}`;
        initializers.push({ name: c, tensor });
        return c;
      },
      node: (o) => nodes.push(o),
    });
  }
  return {
    inputs: seg.inputs.map((v) => ({ name: name(v), type: type(v) })),
    outputs: seg.outputs.map((v) => ({ name: name(v), type: type(v) })),
    initializers,
    nodes,
  };
}
