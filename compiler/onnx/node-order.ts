/**
 * The order in which the frontend lowers an ONNX graph's nodes.
 *
 * The ONNX spec asks for nodes in topological order, and every exporter we
 * have seen writes them so; but graph-editing tools (node surgery, merges of
 * two graphs) can leave a consumer before its producer. Lowering needs each
 * operand bound first, so:
 *  1. if file order already defines every tensor before it is read, keep it
 *     (the IR then follows the file, and printing it is stable);
 *  2. else build the dataflow graph (node -> node for each tensor one produces
 *     and the other reads) with @dagrejs/graphlib and lower in its
 *     topological order;
 *  3. a cycle has no such order: a located error naming the nodes on it.
 * Tensors that no node produces (graph inputs, initializers, '' for an omitted
 * optional input, or a name that is simply missing) add no edge: a missing
 * tensor is reported by lowering, at the node that reads it.
 */
import { Graph as Digraph, alg } from '@dagrejs/graphlib';
import { MarillError } from '../../ir/errors.ts';
import type { OnnxNode } from './model.ts';

/** Node index per output tensor name. */
function producers(nodes: readonly OnnxNode[]): Map<string, number> {
  const byTensor = new Map<string, number>();
  nodes.forEach((node, i) => node.outputs.forEach((t) => t !== '' && byTensor.set(t, i)));
  return byTensor;
}

function inFileOrder(nodes: readonly OnnxNode[], byTensor: ReadonlyMap<string, number>): boolean {
  return nodes.every((node, i) => node.inputs.every((t) => (byTensor.get(t) ?? -1) < i));
}

/** The nodes in an order that defines every tensor before it is read (see the header). */
export function loweringOrder(nodes: readonly OnnxNode[], file: string): readonly OnnxNode[] {
  const byTensor = producers(nodes);
  if (inFileOrder(nodes, byTensor)) return nodes;

  const g = new Digraph({ directed: true });
  nodes.forEach((_, i) => g.setNode(String(i)));
  nodes.forEach((node, i) =>
    node.inputs.forEach((t) => {
      const from = byTensor.get(t);
      if (from !== undefined) g.setEdge(String(from), String(i));
    }),
  );
  const cycles = alg.findCycles(g);
  if (cycles.length > 0) {
    const names = cycles[0]!.map((id) => `'${nodes[Number(id)]!.name}'`).sort();
    throw new MarillError(`the graph has a cycle through nodes ${names.join(', ')}`, { file });
  }
  return alg.topsort(g).map((id) => nodes[Number(id)]!);
}
