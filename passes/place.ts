/**
 * Pass `place`: visibility inference and placement (docs/ir.md). Layer
 * freezing falls out of it: ops fed only by client data and public weights get
 * client visibility and run on the client in plaintext.
 *
 * Preconditions: weight visibilities decided (provenance).
 * Algorithm:
 *   1. Re-derive every value's visibility by the join rule.
 *   2. For each op with a secret result, each operand that is client-owned is
 *      secret-shared by the client (`share {from="client"}`, one share per value).
 *      Two kinds of plaintext operand stay as they are, because their protocols
 *      take them in the clear at their owner:
 *        - server-owned operands (private weights and what the server computes
 *          from them): `x @ W` with W server-private is the weight-masked Beaver
 *          protocol; bias adds and norm scales are local at the server;
 *        - the client's integer indices of a `gather` (embedding lookup: the
 *          client builds the one-hot of its own indices).
 *      Public operands are known to both parties and stay public.
 *   3. Each graph output that is not client- or public-visible is revealed to
 *      the client (a server-owned output is shared first, then revealed).
 *   4. Every node gets its placement: the placement of its result visibility
 *      (public -> both, client -> client, server -> server, secret -> mpc);
 *      share and reveal run as `mpc` (they are communication between parties).
 */
import { GraphBuilder } from '../ir/builder.ts';
import type { Graph, Node, ValueId } from '../ir/graph.ts';
import { placementOf } from '../ir/types.ts';
import type { Placement } from '../ir/types.ts';
import type { PassContext } from './context.ts';
import type { Pass } from './manager.ts';
import { rederiveVisibility } from './visibility.ts';

/** Whether operand `index` of an MPC node may stay a client-owned plaintext value. */
function keepsClientOperand(n: Node, index: number): boolean {
  return n.op === 'gather' && index === 1;
}

function copyOptions(n: Node, placement: Placement) {
  return {
    outputIds: n.outputs,
    placement,
    ...(n.origin !== undefined ? { origin: n.origin } : {}),
    ...(n.protocol !== undefined ? { protocol: n.protocol } : {}),
  };
}

export function place(input: Graph): Graph {
  const g = rederiveVisibility(input);
  const vis = (id: ValueId) => g.values.get(id)!.visibility;
  const b = new GraphBuilder(g.name, g.values.keys());
  for (const id of g.inputs) b.addInput(id, g.values.get(id)!.type, vis(id));

  const shared = new Map<ValueId, ValueId>();
  const shareOf = (v: ValueId, origin: string | undefined): ValueId => {
    let s = shared.get(v);
    if (s === undefined) {
      const from = vis(v);
      s = b.add1('share', [v], { from }, { placement: 'mpc', ...(origin !== undefined ? { origin } : {}) });
      shared.set(v, s);
    }
    return s;
  };

  for (const n of g.nodes) {
    const resultVis = vis(n.outputs[0]!);
    if (n.op === 'weight') {
      const t = g.values.get(n.outputs[0]!)!.type;
      const hash = String(n.attrs['hash']);
      const source = n.tensor ? { tensor: n.tensor } : { type: t, hash };
      b.addWeight(String(n.attrs['name']), resultVis, source, copyOptions(n, placementOf(resultVis)));
      continue;
    }
    if (n.op === 'const') {
      b.addConst(n.tensor!, { ...copyOptions(n, placementOf(resultVis)), visibility: resultVis });
      continue;
    }
    if (n.op === 'share' || n.op === 'reveal') {
      b.add(n.op, n.inputs, n.attrs, copyOptions(n, 'mpc'));
      continue;
    }
    let inputs = n.inputs;
    if (resultVis === 'secret') {
      inputs = n.inputs.map((v, i) =>
        vis(v) === 'client' && !keepsClientOperand(n, i) ? shareOf(v, n.origin) : v,
      );
    }
    b.add(n.op, inputs, n.attrs, copyOptions(n, placementOf(resultVis)));
  }

  const outputs = g.outputs.map((o) => {
    const v = vis(o.value);
    if (v === 'client' || v === 'public') return o;
    // Carried state is never revealed: secret state stays shared for the next step,
    // server-owned state is shared so that neither party holds it (ir/flow.ts).
    if (o.state !== undefined) return v === 'secret' ? o : { ...o, value: shareOf(o.value, undefined) };
    const secret = v === 'secret' ? o.value : shareOf(o.value, undefined);
    const revealed = b.add1('reveal', [secret], { to: 'client' }, { placement: 'mpc' });
    return { name: o.name, value: revealed };
  });
  b.setOutputs(outputs);
  return b.build();
}

export const placePass: Pass = {
  name: 'place',
  summary: 'derive visibility, insert share/reveal, place each op on client, server, both or mpc',
  run: (g: Graph, _ctx: PassContext) => place(g),
};
