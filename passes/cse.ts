/**
 * Pass `cse`: common-subexpression elimination.
 *
 * Preconditions: none (any well-typed graph; before or after placement).
 * Algorithm:
 *   1. Walk the nodes in order, first rewriting each node's operands to their
 *      representatives (so chains of duplicates collapse in one walk).
 *   2. A node's key is its op, operands, normalised attributes, result types
 *      and visibilities, placement and protocol. For a `weight` the attributes
 *      are its name and content hash, so the same initializer read twice is one
 *      node, while two initializers that happen to hold equal bytes under
 *      different names stay two (provenance reports weights by name). For a
 *      `const` they are its values, with its dtype and shape from the types.
 *   3. The first node with a key is kept; a later node with the same key is
 *      dropped and its results are replaced by the first one's everywhere,
 *      graph outputs included. IR ops have no side effects, so this is exact.
 */
import type { Graph, Node, ValueId } from '../ir/graph.ts';
import { withNodes } from '../ir/graph.ts';
import { formatType } from '../ir/types.ts';
import type { PassContext } from './context.ts';
import type { Pass } from './manager.ts';

/**
 * JSON writes NaN and both infinities as null and -0 as 0; constants holding
 * them must not merge with each other (or -0 with 0), so numbers JSON cannot
 * tell apart are spelled out. Strings cannot collide with them: an attribute's
 * kind is fixed by its op and name.
 */
function distinctNumbers(_key: string, value: unknown): unknown {
  if (typeof value !== 'number') return value;
  if (Object.is(value, -0)) return '-0';
  return Number.isFinite(value) ? value : String(value);
}

function nodeKey(g: Graph, n: Node): string {
  const results = n.outputs.map((o) => {
    const v = g.values.get(o)!;
    return `${v.visibility} ${formatType(v.type)}`;
  });
  return JSON.stringify(
    [n.op, n.inputs, n.attrs, results, n.placement ?? '', n.protocol ?? ''],
    distinctNumbers,
  );
}

export function eliminateCommonSubexpressions(g: Graph): Graph {
  const replace = new Map<ValueId, ValueId>();
  const resolve = (id: ValueId) => replace.get(id) ?? id;
  const seen = new Map<string, Node>();
  const nodes: Node[] = [];
  for (const original of g.nodes) {
    const n = original.inputs.some((i) => replace.has(i))
      ? { ...original, inputs: original.inputs.map(resolve) }
      : original;
    const key = nodeKey(g, n);
    const first = seen.get(key);
    if (first) {
      n.outputs.forEach((o, k) => replace.set(o, first.outputs[k]!));
      continue;
    }
    seen.set(key, n);
    nodes.push(n);
  }
  if (replace.size === 0) return g;
  const outputs = g.outputs.map((o) => ({ ...o, value: resolve(o.value) }));
  return withNodes({ ...g, outputs }, nodes);
}

export const csePass: Pass = {
  name: 'cse',
  summary: 'merge nodes with the same op, operands and attributes (weights: same name and hash)',
  run: (g: Graph, _ctx: PassContext) => eliminateCommonSubexpressions(g),
};
