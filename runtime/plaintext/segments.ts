/**
 * Plaintext segments: a party's maximal runs of consecutive plaintext nodes
 * placed at it, in plan order, each run as one unit of work for a plaintext
 * engine. Per node, the executor says what it is to this party:
 *   'local'   a plaintext node this party computes, with an ONNX lowering;
 *   'source'  weight or const: its value is baked into the segment that reads
 *             it when this party knows it (`baked`), and does not end a run;
 *   'idle'    a plaintext node placed at the other party (nothing to do here);
 *   'barrier' anything else: a protocol node (communication, material order),
 *             or a local node without a faithful lowering (the interpreter runs it).
 * A run also ends before a node that reads a value computed in the run's span
 * by a node outside the segment (so every live-in exists when the segment
 * starts), and before a node whose baked values would take the run's
 * initializers past `maxBakedBytes` (an ONNX model is one protobuf message,
 * which cannot exceed 2 GiB). Live-ins: values the segment reads and neither computes nor bakes;
 * live-outs: values it computes that a later node or a graph output reads.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Graph, ValueId } from '../../ir/graph.ts';
import { withNodes } from '../../ir/graph.ts';

export type NodeRole = 'local' | 'source' | 'idle' | 'barrier';

export interface Segment {
  /** Node indices in plan order; the segment runs when the executor reaches the first. */
  readonly nodes: readonly number[];
  /** Values read from the executor's environment, in order of first use. */
  readonly inputs: readonly ValueId[];
  /** Source values (weights, consts this party knows) the segment holds as initializers. */
  readonly baked: readonly ValueId[];
  /** Values the segment gives back to the environment. */
  readonly outputs: readonly ValueId[];
}

function producerIndex(g: Graph): Map<ValueId, number> {
  const at = new Map<ValueId, number>();
  g.nodes.forEach((n, i) => n.outputs.forEach((o) => at.set(o, i)));
  return at;
}

/** Room for the weights of a segment's model: well under protobuf's 2 GiB message limit. */
export const MAX_BAKED_BYTES = 1.5 * 2 ** 30;

const ELEMENT_BYTES = { f32: 4, i64: 8, bool: 1 } as const;

function valueBytes(g: Graph, v: ValueId): number {
  const { dtype, shape } = g.values.get(v)!.type;
  return shape.reduce((p, d) => p * d, 1) * ELEMENT_BYTES[dtype];
}

function runsOf(
  g: Graph,
  role: (index: number) => NodeRole,
  baked: (v: ValueId) => boolean,
  maxBakedBytes: number,
): number[][] {
  const producedAt = producerIndex(g);
  const runs: number[][] = [];
  let run: number[] = [];
  let members = new Set<number>();
  let bakedHere = new Set<ValueId>();
  let bakedBytes = 0;
  const close = () => {
    if (run.length > 0) runs.push(run);
    run = [];
    members = new Set();
    bakedHere = new Set();
    bakedBytes = 0;
  };
  g.nodes.forEach((node, i) => {
    const r = role(i);
    if (r === 'barrier') return close();
    if (r !== 'local') return;
    const start = run[0];
    const readsSpanValue =
      start !== undefined &&
      node.inputs.some((v) => {
        const p = producedAt.get(v);
        return p !== undefined && p > start && !members.has(p) && !baked(v);
      });
    const fresh = () => [...new Set(node.inputs)].filter((v) => baked(v) && !bakedHere.has(v));
    const bytes = (vs: ValueId[]) => vs.reduce((s, v) => s + valueBytes(g, v), 0);
    let newBaked = fresh();
    if (readsSpanValue || (run.length > 0 && bakedBytes + bytes(newBaked) > maxBakedBytes)) {
      close();
      newBaked = fresh();
    }
    run.push(i);
    members.add(i);
    newBaked.forEach((v) => bakedHere.add(v));
    bakedBytes += bytes(newBaked);
  });
  close();
  return runs;
}

function segmentOf(g: Graph, nodes: number[], baked: (v: ValueId) => boolean): Segment {
  const members = new Set(nodes);
  const computed = new Set(nodes.flatMap((i) => g.nodes[i]!.outputs));
  const inputs: ValueId[] = [];
  const bakedHere: ValueId[] = [];
  for (const i of nodes)
    for (const v of g.nodes[i]!.inputs) {
      if (computed.has(v) || inputs.includes(v) || bakedHere.includes(v)) continue;
      (baked(v) ? bakedHere : inputs).push(v);
    }
  const readOutside = new Set(g.outputs.map((o) => o.value));
  g.nodes.forEach((n, i) => {
    if (!members.has(i)) n.inputs.forEach((v) => readOutside.add(v));
  });
  const outputs = [...computed].filter((v) => readOutside.has(v));
  return { nodes, inputs, baked: bakedHere, outputs };
}

/**
 * A graph of one segment alone: its nodes and the sources it bakes, its
 * live-ins as inputs (they must be graph inputs) and its live-outs as outputs
 * (named live_out_0, ...): to check or time a segment by itself.
 */
export function segmentGraph(g: Graph, s: Segment): Graph {
  const keep = new Set(s.nodes);
  const inputs = new Set(g.inputs);
  const outside = s.inputs.filter((v) => !inputs.has(v));
  if (outside.length > 0)
    throw new MarillError(`the segment reads values computed outside it (%${outside.join(', %')})`, {
      what: g.name,
    });
  // withNodes keeps the value table to what the remaining nodes and inputs define.
  return withNodes(
    {
      ...g,
      inputs: g.inputs.filter((v) => s.inputs.includes(v)),
      outputs: s.outputs.map((value, k) => ({ name: `live_out_${k}`, value })),
    },
    g.nodes.filter((n, i) => keep.has(i) || s.baked.includes(n.outputs[0]!)),
  );
}

/** The segments of a plan for one party (`role` and `baked` as in the module comment). */
export function planSegments(
  g: Graph,
  role: (index: number) => NodeRole,
  baked: (v: ValueId) => boolean,
  maxBakedBytes: number = MAX_BAKED_BYTES,
): Segment[] {
  return runsOf(g, role, baked, maxBakedBytes).map((nodes) => segmentOf(g, nodes, baked));
}
