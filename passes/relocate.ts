/**
 * Pass `relocate`: plaintext-safe work after the last MPC op on the way to an output
 * moves behind the reveal and runs on the client:
 *
 *     reveal(f(s))  ->  f(reveal(s))        (s secret, f @mpc  =>  f @client)
 *
 * Preconditions: the graph is placed (`place` revealed each declared output).
 *
 * Why this is safe only for some f. The rewrite reveals s instead of f(s). That
 * tells the client nothing more than the declared output exactly when s is a function
 * of f(s), i.e. f is injective on its secret operand:
 *   - reshape, transpose: bijections (the same elements, relabelled); always safe, so
 *     always relocated.
 *   - anything else is NOT injective in general (softmax forgets a shift of its input,
 *     argmax keeps one index of many, slice drops elements): revealing s would leak the
 *     logits / the dropped elements. Such an f is relocated only when the user declares
 *     its op as client post-processing (ctx.options.clientPost, `--client-post softmax`):
 *     the user accepts that the client learns f's input (e.g. the logits before the final
 *     softmax or argmax) in exchange for not computing f under MPC.
 * Only single-operand ops move, so the client needs no other data to compute f; this
 * is also exactly what the information-flow verifier (passes/verify-flow.ts) accepts
 * after a reveal, and the two lists must agree.
 *
 * Algorithm, repeated to a fixpoint (a chain reshape -> transpose -> reveal moves
 * step by step):
 *   1. Find a client `reveal` whose operand v is the only result of an `@mpc` node f
 *      with one operand s that is secret, where f's op is bijective or declared, the
 *      reveal is v's only reader, and s is not revealed already: one reveal per value,
 *      so that cleanup's CSE never merges two reveals into one with several readers
 *      (which the verifier rejects). Two outputs f(s) and g(s) thus move one of them;
 *      the other stays in MPC (movement ops cost nothing there).
 *   2. Replace f and the reveal by `r = reveal s` (at f's position, with the old reveal's
 *      placement and attributes) and `f r @client` (at the reveal's position, keeping the
 *      reveal's result id, so graph outputs and later readers are unchanged).
 */
import { MarillError } from '../ir/errors.ts';
import { BIJECTIVE_OPS } from '../ir/flow.ts';
import type { Graph, Node } from '../ir/graph.ts';
import { IdSource, producers, users, withNodes } from '../ir/graph.ts';
import type { OpName } from '../ir/ops.ts';
import { hasGroup, isOpName } from '../ir/ops.ts';
import type { PassContext } from './context.ts';
import type { Pass } from './manager.ts';

function relocatableOp(op: OpName, clientPost: readonly string[]): boolean {
  return BIJECTIVE_OPS.has(op) || clientPost.includes(op);
}

/** The reveal whose operand's producer can move behind it, if any. */
function findCandidate(g: Graph, clientPost: readonly string[]): { reveal: Node; f: Node } | undefined {
  const defs = producers(g);
  const readers = users(g);
  const outputs = new Set(g.outputs.map((o) => o.value));
  for (const reveal of g.nodes) {
    if (reveal.op !== 'reveal' || reveal.attrs['to'] !== 'client') continue;
    const v = reveal.inputs[0]!;
    const f = defs.get(v);
    if (!f || f.placement !== 'mpc' || f.outputs.length !== 1 || f.inputs.length !== 1) continue;
    if (!relocatableOp(f.op, clientPost)) continue;
    if (g.values.get(f.inputs[0]!)!.visibility !== 'secret') continue;
    if ((readers.get(v) ?? []).length !== 1 || outputs.has(v)) continue;
    if ((readers.get(f.inputs[0]!) ?? []).some((r) => r.op === 'reveal')) continue;
    return { reveal, f };
  }
  return undefined;
}

/** reveal(f(s)) -> f(reveal(s)) for one candidate. */
function moveBehindReveal(g: Graph, reveal: Node, f: Node): Graph {
  const s = f.inputs[0]!;
  const revealed = new IdSource(g.values.keys()).fresh();
  const newReveal: Node = {
    op: 'reveal',
    inputs: [s],
    outputs: [revealed],
    attrs: reveal.attrs,
    ...(reveal.placement !== undefined ? { placement: reveal.placement } : {}),
    ...(reveal.protocol !== undefined ? { protocol: reveal.protocol } : {}),
    ...(reveal.origin !== undefined ? { origin: reveal.origin } : {}),
  };
  const clientF: Node = {
    op: f.op,
    inputs: [revealed],
    outputs: reveal.outputs,
    attrs: f.attrs,
    placement: 'client',
    ...(f.origin !== undefined ? { origin: f.origin } : {}),
  };
  const nodes = g.nodes.map((n) => (n === f ? newReveal : n === reveal ? clientF : n));
  const revealedInfo = { id: revealed, type: g.values.get(s)!.type, visibility: 'client' as const };
  return withNodes(g, nodes, [revealedInfo]);
}

export function relocate(g: Graph, clientPost: readonly string[]): Graph {
  let cur = g;
  for (let c = findCandidate(cur, clientPost); c; c = findCandidate(cur, clientPost))
    cur = moveBehindReveal(cur, c.reveal, c.f);
  return cur;
}

/**
 * `--client-post OP` that does nothing. An OP that is no op of the IR (a typo,
 * or the ONNX spelling `Softmax`) is an error: the user asked for something that
 * cannot exist. An OP the model lacks, or has only where it cannot move, is a
 * warning: the plan is still correct and secure, just with OP left in MPC.
 */
export function checkClientPost(
  before: Graph,
  after: Graph,
  clientPost: readonly string[],
  warnings: string[],
): void {
  const onClient = (g: Graph, op: string) =>
    g.nodes.filter((n) => n.op === op && n.placement === 'client').length;
  for (const op of clientPost) {
    if (!isOpName(op)) {
      const movable = before.nodes.filter(
        (n) => n.inputs.length === 1 && n.outputs.length === 1 && !hasGroup(n.op, 'boundary'),
      );
      const present = [...new Set(movable.map((n) => n.op))].sort();
      const lower = op.toLowerCase();
      const hint = isOpName(lower) ? `did you mean '${lower}'? ` : '';
      throw new MarillError(
        `--client-post '${op}' is not an op of the IR (${hint}single-operand ops of this model: ${present.join(', ')})`,
      );
    }
    if (!before.nodes.some((n) => n.op === op))
      warnings.push(`--client-post ${op}: the model has no '${op}' op; nothing moved to the client`);
    else if (onClient(after, op) === onClient(before, op))
      warnings.push(
        `--client-post ${op}: no '${op}' lies between the last MPC op and an output (on a secret value, read only there), so it stays in MPC`,
      );
  }
}

export const relocatePass: Pass = {
  name: 'relocate',
  summary:
    'move bijective movement ops and declared client post-processing after the reveal, onto the client',
  run(g: Graph, ctx: PassContext): Graph {
    const out = relocate(g, ctx.options.clientPost);
    checkClientPost(g, out, ctx.options.clientPost, ctx.notes.warnings);
    return out;
  },
};
