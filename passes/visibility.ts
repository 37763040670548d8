/**
 * Visibility re-derivation, shared by the passes that change a source's
 * visibility (provenance) or insert boundary ops (place).
 *
 * Sources keep the visibility they are given (graph inputs: client; weights:
 * as provenance decided; consts: public); every other value gets the join of
 * its operands (share -> secret, reveal -> its target), in topological order.
 */
import type { Graph, ValueId, ValueInfo } from '../ir/graph.ts';
import { resultVisibility } from '../ir/builder.ts';
import type { Visibility } from '../ir/types.ts';

export function rederiveVisibility(
  g: Graph,
  sourceVisibility: ReadonlyMap<ValueId, Visibility> = new Map(),
): Graph {
  const values = new Map<ValueId, ValueInfo>(g.values);
  const vis = (id: ValueId): Visibility => values.get(id)!.visibility;
  for (const [id, v] of sourceVisibility) values.set(id, { ...values.get(id)!, visibility: v });
  for (const n of g.nodes) {
    if (n.op === 'weight' || n.op === 'const') continue;
    const v = resultVisibility(n.op, n.inputs.map(vis), n.attrs);
    for (const o of n.outputs) values.set(o, { ...values.get(o)!, visibility: v });
  }
  return { ...g, values };
}
