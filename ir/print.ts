/**
 * Printer for the `.mir` text form. Deterministic: nodes in graph order, one
 * per line; attributes in the op table's declared order, defaults left out;
 * numbers in the shortest form that reads back to the same value. The parser
 * (ir/parse.ts) reads this text back to an equal graph, so
 * print(parse(print(g))) === print(g).
 *
 *   graph @name(%in: client i64[1,16]) -> (logits: f32[1,2]) {
 *   (a state output, carried to the next step as input %past: `present: f32[1,4] state %past`)
 *     %0 = weight "w" : server f32[4,4] #sha256:<64 hex>
 *     %1 = const [0.5] : public f32[]
 *     %2, %3 = split %x {axis = 1, sizes = [2, 2]} : client f32[1,2], client f32[1,2] @client
 *     %4 = matmul %s, %0 : secret f32[1,4] @mpc(beaver.weight)
 *     return %4
 *   }
 */
import type { AttrValue, Graph, Node, ValueId } from './graph.ts';
import { valueInfo } from './graph.ts';
import type { AttrSpec, OpDef } from './ops.ts';
import { OPS } from './ops.ts';
import type { DType } from './types.ts';
import { formatType } from './types.ts';
import {
  formatElement,
  formatGraphName,
  formatNumber,
  formatOutputName,
  formatValueName,
  formatVisibleType,
} from './mir-text.ts';

const INDENT = '  ';

export function printGraph(g: Graph): string {
  const lines = [
    printHeader(g),
    ...g.nodes.map((n) => INDENT + printNode(g, n)),
    INDENT + printReturn(g),
    '}',
  ];
  return lines.join('\n') + '\n';
}

function printHeader(g: Graph): string {
  const inputs = g.inputs.map((id) => {
    const v = valueInfo(g, id);
    return `${formatValueName(id)}: ${formatVisibleType(v.visibility, v.type)}`;
  });
  const outputs = g.outputs.map(
    (o) =>
      `${formatOutputName(o.name)}: ${formatType(valueInfo(g, o.value).type)}` +
      (o.state === undefined ? '' : ` state ${formatValueName(o.state)}`),
  );
  return `graph ${formatGraphName(g.name)}(${inputs.join(', ')}) -> (${outputs.join(', ')}) {`;
}

function printReturn(g: Graph): string {
  return g.outputs.length === 0
    ? 'return'
    : `return ${g.outputs.map((o) => formatValueName(o.value)).join(', ')}`;
}

/** One node line without indentation. */
export function printNode(g: Graph, n: Node): string {
  const results = n.outputs.map(formatValueName).join(', ');
  const types = n.outputs.map((id) => {
    const v = valueInfo(g, id);
    return formatVisibleType(v.visibility, v.type);
  });
  const parts = [`${results} =`, n.op];
  if (n.op === 'weight') {
    parts.push(JSON.stringify(n.attrs['name']), ':', types.join(', '), `#sha256:${String(n.attrs['hash'])}`);
  } else if (n.op === 'const') {
    parts.push(printConstValues(g, n), ':', types.join(', '));
  } else {
    if (n.inputs.length > 0) parts.push(n.inputs.map(formatValueName).join(', '));
    const attrs = printAttrs(n);
    if (attrs !== '') parts.push(attrs);
    parts.push(':', types.join(', '));
  }
  const placement = printPlacement(n);
  if (placement !== '') parts.push(placement);
  return parts.join(' ');
}

function printConstValues(g: Graph, n: Node): string {
  const dtype: DType = valueInfo(g, n.outputs[0]!).type.dtype;
  const value = n.attrs['value'];
  const elements = Array.isArray(value) ? (value as readonly number[]) : [];
  return `[${elements.map((x) => formatElement(dtype, x)).join(', ')}]`;
}

/** `@mpc(beaver.weight)`, `@client`, or nothing before placement. */
export function printPlacement(n: Node): string {
  if (n.placement === undefined) return '';
  return n.protocol === undefined ? `@${n.placement}` : `@${n.placement}(${n.protocol})`;
}

function attrEquals(a: AttrValue, b: AttrValue): boolean {
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
  return Object.is(a, b);
}

export function formatAttrValue(v: AttrValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return formatNumber(v);
  return `[${v.map(formatNumber).join(', ')}]`;
}

/**
 * `{k = v, ...}` with the attributes that differ from their defaults, in the op
 * table's order. Keys the op table does not know are printed last, sorted, so
 * the text shows them (and the parser rejects them) instead of hiding them.
 */
function printAttrs(n: Node): string {
  const spec: Readonly<Record<string, AttrSpec>> = (OPS[n.op] as OpDef).attrs;
  const declared = Object.keys(spec);
  const unknown = Object.keys(n.attrs)
    .filter((k) => !(k in spec))
    .sort();
  const shown: string[] = [];
  for (const key of [...declared, ...unknown]) {
    const value = n.attrs[key];
    if (value === undefined) continue;
    const dflt = spec[key]?.default;
    if (dflt !== undefined && attrEquals(value, dflt)) continue;
    shown.push(`${key} = ${formatAttrValue(value)}`);
  }
  return shown.length === 0 ? '' : `{${shown.join(', ')}}`;
}

/** `%a = op` for messages: the results and op of a node, as the text form spells them. */
export function describeNode(n: Node): string {
  return `${n.outputs.map((id: ValueId) => formatValueName(id)).join(', ')} = ${n.op}`;
}
