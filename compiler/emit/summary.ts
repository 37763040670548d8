/**
 * The compile summary: where the work of a placed graph runs, printed after every
 * compilation and written to `--report FILE.json` (keys fixed by the Marill passes issue;
 * later stages add keys, these keep their meaning).
 *
 * Definitions (per node; `weight` and `const` are data, not ops, and are not counted):
 *   where      node.placement, or for an unplaced node placementOf(its result visibility).
 *              `both` (public data, computed by each party) counts for the client AND the
 *              server. `share` and `reveal` are communication between the parties and
 *              count as MPC ops whatever their placement.
 *   ops        number of nodes.
 *   macs       multiply-accumulates of `matmul`: (result elements) x (inner dimension k).
 *              Elementwise arithmetic is not counted as MACs.
 *   local_macs   MPC matmul MACs with a public operand: each party multiplies its own share
 *                by the public matrix, no communication (x @ W_base after a LoRA split,
 *                frozen-weight layers fed by secret data).
 *   secure_macs  every other MPC matmul: secret x secret, or secret x a party's private
 *                plaintext (a server weight, Beaver-style); these cost communication.
 *   nonlinear  elements through non-linear ops: for an op in group 'nonlinear' (ir/ops.ts),
 *              the larger of its first operand's and its result's element counts (softmax
 *              and the norms: their input; reductions and argmax: their input, every element
 *              goes through a comparison or division; elementwise ops: their broadcast result).
 *              Under MPC also comparisons (group 'logic') and `div` by a non-public divisor,
 *              which need the same kind of secure protocols.
 *   attention  every softmax over scores s = f(q @ k^T) where q and k both come from
 *              activations (not weights): scores [b, h, s_q, s_k] give heads = h (rank 3
 *              [h, s_q, s_k]: heads = the first dim), seq = s_q, head_dim = the inner dim of
 *              the q @ k^T matmul; `rows` = softmax rows (b h s_q), what head merging halves.
 */
import type { Graph, Node, ValueId } from '../../ir/graph.ts';
import { producers } from '../../ir/graph.ts';
import { hasGroup } from '../../ir/ops.ts';
import type { Placement } from '../../ir/types.ts';
import { numel, placementOf } from '../../ir/types.ts';
import type { CompileNotes, LoraNote, WeightReason } from '../../passes/context.ts';

export interface PartyFigures {
  ops: number;
  macs: number;
  nonlinear: number;
}

export interface MpcFigures {
  ops: number;
  local_macs: number;
  secure_macs: number;
  nonlinear: number;
}

export interface AttentionEntry {
  /** The softmax's result value (`%id`). */
  readonly node: string;
  readonly origin?: string;
  readonly heads: number;
  readonly seq: number;
  readonly head_dim: number;
  readonly rows: number;
  readonly placement: Placement;
}

export interface CompileSummary {
  readonly summary: {
    readonly client: PartyFigures;
    readonly server: PartyFigures;
    readonly mpc: MpcFigures;
  };
  readonly weights: readonly {
    readonly name: string;
    readonly public: boolean;
    readonly reason: WeightReason;
  }[];
  readonly lora: readonly LoraNote[];
  readonly attention: readonly AttentionEntry[];
}

function placementOfNode(g: Graph, n: Node): Placement {
  if (n.op === 'share' || n.op === 'reveal') return 'mpc';
  return n.placement ?? placementOf(g.values.get(n.outputs[0]!)!.visibility);
}

function elements(g: Graph, id: ValueId): number {
  return numel(g.values.get(id)!.type.shape);
}

export function matmulMacs(g: Graph, n: Node): number {
  const a = g.values.get(n.inputs[0]!)!.type.shape;
  return elements(g, n.outputs[0]!) * a[a.length - 1]!;
}

/** Elements through a non-linear protocol, 0 for linear work (see the definitions above). */
export function nonlinearElements(g: Graph, n: Node, where: Placement): number {
  const vis = (id: ValueId) => g.values.get(id)!.visibility;
  const securelyNonlinear =
    where === 'mpc' && (hasGroup(n.op, 'logic') || (n.op === 'div' && vis(n.inputs[1]!) !== 'public'));
  if (!hasGroup(n.op, 'nonlinear') && !securelyNonlinear) return 0;
  return Math.max(elements(g, n.inputs[0]!), elements(g, n.outputs[0]!));
}

function emptyParty(): PartyFigures {
  return { ops: 0, macs: 0, nonlinear: 0 };
}

function workSummary(g: Graph): CompileSummary['summary'] {
  const client = emptyParty();
  const server = emptyParty();
  const mpc: MpcFigures = { ops: 0, local_macs: 0, secure_macs: 0, nonlinear: 0 };
  for (const n of g.nodes) {
    if (hasGroup(n.op, 'source')) continue;
    const where = placementOfNode(g, n);
    const macs = n.op === 'matmul' ? matmulMacs(g, n) : 0;
    const nonlinear = nonlinearElements(g, n, where);
    if (where === 'mpc') {
      mpc.ops++;
      mpc.nonlinear += nonlinear;
      const publicOperand = n.inputs.some((i) => g.values.get(i)!.visibility === 'public');
      if (publicOperand) mpc.local_macs += macs;
      else mpc.secure_macs += macs;
      continue;
    }
    for (const party of where === 'both' ? [client, server] : where === 'client' ? [client] : [server]) {
      party.ops++;
      party.macs += macs;
      party.nonlinear += nonlinear;
    }
  }
  return { client, server, mpc };
}

/** Whether a value is (a relabelling of) a weight or constant. */
function fromSource(v: ValueId, defs: ReadonlyMap<ValueId, Node>): boolean {
  let p = defs.get(v);
  while (p && hasGroup(p.op, 'movement') && p.inputs.length === 1) p = defs.get(p.inputs[0]!);
  return p !== undefined && hasGroup(p.op, 'source');
}

/** The q @ k^T matmul behind softmax scores: back through masks, scales and reshapes. */
function scoresMatmul(g: Graph, scores: ValueId, defs: ReadonlyMap<ValueId, Node>): Node | undefined {
  let cur = scores;
  for (let steps = 0; steps < 8; steps++) {
    const p = defs.get(cur);
    if (!p) return undefined;
    if (p.op === 'matmul') return p.inputs.some((i) => fromSource(i, defs)) ? undefined : p;
    const size = elements(g, cur);
    // The score operand: same size as the scores, not a weight or constant (mask, scale).
    const next = p.inputs.find((i) => elements(g, i) === size && !fromSource(i, defs));
    const passes = hasGroup(p.op, 'elementwise') || p.op === 'reshape' || p.op === 'transpose';
    if (!passes || next === undefined) return undefined;
    cur = next;
  }
  return undefined;
}

function attentionEntries(g: Graph): AttentionEntry[] {
  const defs = producers(g);
  const out: AttentionEntry[] = [];
  for (const n of g.nodes) {
    if (n.op !== 'softmax') continue;
    const shape = g.values.get(n.inputs[0]!)!.type.shape;
    if (shape.length < 3) continue;
    const mm = scoresMatmul(g, n.inputs[0]!, defs);
    if (!mm) continue;
    const q = g.values.get(mm.inputs[0]!)!.type.shape;
    out.push({
      node: `%${n.outputs[0]}`,
      ...(n.origin !== undefined ? { origin: n.origin } : {}),
      heads: shape.length === 3 ? shape[0]! : shape[shape.length - 3]!,
      seq: shape[shape.length - 2]!,
      head_dim: q[q.length - 1]!,
      rows: numel(shape) / shape[shape.length - 1]!,
      placement: placementOfNode(g, n),
    });
  }
  return out;
}

export function summarize(g: Graph, notes: CompileNotes): CompileSummary {
  return {
    summary: workSummary(g),
    weights: notes.weights.map((w) => ({ name: w.name, public: w.public, reason: w.reason })),
    lora: notes.lora.map((l) => ({ ...l })),
    attention: attentionEntries(g),
  };
}

/** 1234567 -> "1,234,567": exact figures, readable. */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

/** The short table printed after compilation. */
export function formatSummary(s: CompileSummary): string {
  const { client, server, mpc } = s.summary;
  const rows = [
    ['', 'ops', 'MACs', 'local MACs', 'secure MACs', 'non-linear'],
    ['client', count(client.ops), count(client.macs), '-', '-', count(client.nonlinear)],
    ['server', count(server.ops), count(server.macs), '-', '-', count(server.nonlinear)],
    [
      'mpc',
      count(mpc.ops),
      count(mpc.local_macs + mpc.secure_macs),
      count(mpc.local_macs),
      count(mpc.secure_macs),
      count(mpc.nonlinear),
    ],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => row(r, widths).trimEnd());
  const publicWeights = s.weights.filter((w) => w.public).length;
  lines.push(`weights: ${publicWeights} public, ${s.weights.length - publicWeights} private`);
  if (s.lora.length > 0) {
    // A block split (fused QKV) shows its blocks' ranks, e.g. 4+4.
    const rankText = (l: LoraNote) =>
      l.blocks
        ? l.blocks
            .filter((b) => b.rank > 0)
            .map((b) => b.rank)
            .join('+')
        : String(l.rank);
    const ranks = [...new Set(s.lora.map(rankText))].join(', ');
    const kinds = [...new Set(s.lora.map((l) => l.kind))].join(' and ');
    lines.push(`lora: ${s.lora.length} ${kinds} adapter matmul(s), rank ${ranks}`);
  }
  if (s.attention.length > 0) {
    const rowsTotal = s.attention.reduce((a, e) => a + e.rows, 0);
    const heads = [...new Set(s.attention.map((e) => e.heads))].join(', ');
    const inMpc = s.attention.filter((e) => e.placement === 'mpc').length;
    lines.push(
      `attention: ${s.attention.length} softmax(es), ${heads} head(s), ${count(rowsTotal)} rows; ${inMpc} under MPC`,
    );
  }
  return `${lines.join('\n')}\n`;
}
