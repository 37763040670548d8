/**
 * Information-flow rules of a placed graph: what the compiler's last pass
 * (passes/verify-flow.ts) checks before a plan is written, and what the
 * runtime checks again on every plan it loads (runtime/plan.ts), so a plan
 * edited after compilation cannot reveal more than the rules allow.
 *
 * Precondition: the graph is structurally valid (ir/verify.ts) and placed.
 * Rules, each violation a MarillError naming the value and op:
 *   0. Sources carry a visibility their owner can give them: graph inputs are the
 *      client's (`client`: its input never leaves it in the clear), weights are
 *      `public` (equal to the base) or the server's (`server`). Rule 1 trusts
 *      source visibilities, so a weight labelled `client` (the client would compute
 *      with a private weight) or an input labelled `public`/`server` (the server
 *      would see the client's data) must be refused here.
 *   1. Every value's visibility is the join of its operands' (share -> secret,
 *      reveal -> its target); sources keep theirs. So server or secret data can
 *      reach the client only through a `reveal`.
 *   2. No `reveal` to the server.
 *   3. A reveal's result reaches nothing but declared graph outputs: used
 *      directly as an output, or through client-side post-processing that adds
 *      no information beyond the output — a bijective movement op (reshape,
 *      transpose) or an op the user declared as client post-processing
 *      (`--client-post`), each used only on that path.
 *   4. `share {from=P}` shares a value that P owns.
 *   5. Every node runs where its result visibility says (public -> both,
 *      client -> client, server -> server, secret -> mpc; share/reveal -> mpc).
 *   6. Every graph output is visible to the client (client or public), except
 *      carried state (generation, docs/generation.md): a state output stays where
 *      it was computed, so it has the visibility of the input it becomes at the
 *      next step, `client` (kept by the client) or `secret` (kept as shares), and
 *      no reveal reaches it (rule 3 counts only result outputs).
 *   0'. A graph input that a state output feeds may be `secret` as well: the
 *      parties' shares of the previous step's state.
 */
import { resultVisibility } from './builder.ts';
import { MarillError } from './errors.ts';
import type { Graph, Node, ValueId } from './graph.ts';
import { stateInputs, users } from './graph.ts';
import type { OpName } from './ops.ts';
import { placementOf } from './types.ts';

/**
 * Single-operand ops that are bijections: revealing their input reveals no
 * more than their output. One list for both uses: what passes/relocate.ts
 * moves behind a reveal is what is accepted after one.
 */
export const BIJECTIVE_OPS: ReadonlySet<OpName> = new Set(['reshape', 'transpose']);

function where(n: Node): string {
  return `%${n.outputs.join(', %')} = ${n.op}${n.origin ? ` (${n.origin})` : ''}`;
}

export function verifyFlow(g: Graph, clientPost: readonly string[] = []): void {
  const vis = (id: ValueId) => g.values.get(id)!.visibility;
  const fail = (n: Node, msg: string): never => {
    throw new MarillError(`information flow: ${msg}`, { what: where(n) });
  };
  const outputValues = new Set(g.outputs.filter((o) => o.state === undefined).map((o) => o.value));
  const useMap = users(g);
  const carried = stateInputs(g);

  for (const id of g.inputs) {
    if (vis(id) === 'client' || (carried.has(id) && vis(id) === 'secret')) continue;
    throw new MarillError(
      carried.has(id)
        ? `information flow: state input %${id} is ${vis(id)}; carried state is the client's (client) or shared (secret)`
        : `information flow: graph input %${id} is ${vis(id)}; inputs are the client's own data (client)`,
      { what: `graph @${g.name} inputs` },
    );
  }
  for (const n of g.nodes) {
    const v = vis(n.outputs[0]!);
    if (n.op === 'weight' && v !== 'public' && v !== 'server')
      fail(n, `a weight is public (equal to the base) or the server's, not ${v}`);
    if (n.op !== 'weight' && n.op !== 'const') {
      const expected = resultVisibility(n.op, n.inputs.map(vis), n.attrs);
      if (expected !== v) fail(n, `result is ${v} but its operands make it ${expected}`);
    }
    if (n.op === 'reveal' && n.attrs['to'] !== 'client') fail(n, 'reveal to the server is not allowed');
    if (n.op === 'share' && vis(n.inputs[0]!) !== n.attrs['from'])
      fail(n, `shares a ${vis(n.inputs[0]!)} value as if owned by ${String(n.attrs['from'])}`);
    const placement = n.placement;
    if (placement === undefined) fail(n, 'op is not placed');
    const expectedPlacement = n.op === 'share' || n.op === 'reveal' ? 'mpc' : placementOf(v);
    if (placement !== expectedPlacement) fail(n, `runs @${placement} but its result is ${v}`);
    if (n.op === 'reveal') checkRevealReachesOutputs(n, useMap, outputValues, clientPost, fail);
  }
  for (const o of g.outputs) {
    const v = vis(o.value);
    if (o.state !== undefined) {
      if (!g.inputs.includes(o.state) || vis(o.state) !== v)
        throw new MarillError(
          `information flow: state output '${o.name}' is ${v} but the input it becomes, %${o.state}, is ${g.inputs.includes(o.state) ? vis(o.state) : 'not a graph input'}`,
        );
      continue;
    }
    if (v !== 'client' && v !== 'public')
      throw new MarillError(`information flow: output '${o.name}' is ${v}, not revealed to the client`);
  }
}

function checkRevealReachesOutputs(
  reveal: Node,
  useMap: ReadonlyMap<ValueId, Node[]>,
  outputs: ReadonlySet<ValueId>,
  clientPost: readonly string[],
  fail: (n: Node, msg: string) => never,
): void {
  let value = reveal.outputs[0]!;
  for (;;) {
    const readers = useMap.get(value) ?? [];
    if (readers.length === 0) {
      if (!outputs.has(value)) fail(reveal, 'reveals a value that is not a declared output');
      return;
    }
    if (readers.length > 1 || outputs.has(value))
      fail(reveal, 'a revealed value may only be used as a declared output');
    const next = readers[0]!;
    if (!BIJECTIVE_OPS.has(next.op) && !clientPost.includes(next.op))
      fail(reveal, `revealed value is used by '${next.op}', which is not declared client post-processing`);
    if (next.inputs.length !== 1) fail(reveal, `revealed value is combined with other data by '${next.op}'`);
    value = next.outputs[0]!;
  }
}
