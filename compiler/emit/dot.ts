/**
 * `--emit dot`: the placed graph in Graphviz DOT, one box per op coloured by
 * where it runs (client, server, both, MPC), edges labelled with the value's
 * type; weights and constants are left out to keep the picture readable.
 *   marillc model.onnx --base base.onnx --emit dot | dot -Tsvg > plan.svg
 */
import type { Graph, Node } from '../../ir/graph.ts';
import { hasGroup } from '../../ir/ops.ts';
import { formatType } from '../../ir/types.ts';
import type { Placement } from '../../ir/types.ts';

const FILL: Record<Placement, string> = {
  client: '#cfe8ff',
  server: '#ffe0c2',
  both: '#e8e8e8',
  mpc: '#f6c6d0',
};

function quote(s: string): string {
  return JSON.stringify(s);
}

function label(n: Node): string {
  const protocol = n.protocol !== undefined ? `\n${n.protocol}` : '';
  return `${n.op} %${n.outputs.join(', %')}${protocol}`;
}

export function toDot(g: Graph): string {
  const lines = [`digraph ${quote(g.name)} {`, '  node [shape=box, style=filled, fontname="monospace"];'];
  const producer = new Map<string, string>();
  for (const id of g.inputs) {
    const node = `in:${id}`;
    lines.push(
      `  ${quote(node)} [label=${quote(`input ${id}`)}, shape=ellipse, fillcolor=${quote(FILL.client)}];`,
    );
    producer.set(id, node);
  }
  g.nodes.forEach((n, i) => {
    if (hasGroup(n.op, 'source')) return;
    const node = `n${i}`;
    const fill = FILL[n.placement ?? 'both'];
    lines.push(`  ${node} [label=${quote(label(n))}, fillcolor=${quote(fill)}];`);
    for (const o of n.outputs) producer.set(o, node);
    for (const v of n.inputs) {
      const from = producer.get(v);
      if (from !== undefined)
        lines.push(`  ${quote(from)} -> ${node} [label=${quote(formatType(g.values.get(v)!.type))}];`);
    }
  });
  for (const o of g.outputs) {
    const node = `out:${o.name}`;
    lines.push(
      `  ${quote(node)} [label=${quote(`output ${o.name}`)}, shape=ellipse, fillcolor=${quote(FILL.client)}];`,
    );
    const from = producer.get(o.value);
    if (from !== undefined) lines.push(`  ${quote(from)} -> ${quote(node)};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
