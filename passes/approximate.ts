/**
 * Pass `approximate`: the MPC-friendly approximations of MPCFormer, opt-in.
 *
 * Preconditions: `fuse` has run, so every GeLU is a `gelu` node and every
 * softmax a `softmax` node (an unfused erf-GeLU would be left exact).
 * Algorithm:
 *   1. --gelu tanh|relu|quad sets `approx` on every gelu node:
 *        tanh  0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))
 *        relu  max(x, 0)
 *        quad  0.125x^2 + 0.25x + 0.5
 *      --gelu exact leaves every gelu as it is (an exported tanh-GeLU stays tanh).
 *   2. --softmax 2quad sets `approx = "2quad"` on every softmax node:
 *      (x + mask + c)^2 normalised by its row sum, c = 5, masked positions
 *      (mask <= -1e4) excluded. log_softmax has no 2quad form and is left alone.
 *      --softmax exact leaves them as they are. A 2quad softmax whose mask is
 *      data (BERT's padding mask, not a public constant) is then spelled out in
 *      primitive ops (passes/masked-2quad.ts), so masked positions get weight 0
 *      under MPC as well.
 * The approximation applies to every such op, on the client as well as in MPC:
 * it is a property of the model (MPCFormer distils the model into it), not of
 * where an op runs. The plaintext interpreter evaluates the approximated forms,
 * so `marillc eval` on the compiled IR shows their effect on outputs before any
 * MPC run.
 */
import type { Graph, Node } from '../ir/graph.ts';
import type { GeluMode, PassContext, SoftmaxMode } from './context.ts';
import type { Pass } from './manager.ts';
import { expandMasked2Quad } from './masked-2quad.ts';

/** The gelu/softmax `approx` attribute each option selects; undefined leaves the op as it is. */
function geluApprox(mode: GeluMode): string | undefined {
  return mode === 'exact' ? undefined : mode;
}

function softmaxApprox(mode: SoftmaxMode): string | undefined {
  return mode === 'exact' ? undefined : mode;
}

function withApprox(n: Node, approx: string): Node {
  return n.attrs['approx'] === approx ? n : { ...n, attrs: { ...n.attrs, approx } };
}

export function approximate(g: Graph, gelu: GeluMode, softmax: SoftmaxMode): Graph {
  const geluAttr = geluApprox(gelu);
  const softmaxAttr = softmaxApprox(softmax);
  let changed = false;
  const nodes = g.nodes.map((n) => {
    const approx = n.op === 'gelu' ? geluAttr : n.op === 'softmax' ? softmaxAttr : undefined;
    const next = approx === undefined ? n : withApprox(n, approx);
    if (next !== n) changed = true;
    return next;
  });
  if (!changed) return g;
  const approximated = { ...g, nodes };
  return softmaxAttr === '2quad' ? expandMasked2Quad(approximated) : approximated;
}

export const approximatePass: Pass = {
  name: 'approximate',
  summary: 'opt-in MPC-friendly forms: --gelu tanh|relu|quad, --softmax 2quad (MPCFormer)',
  run: (g: Graph, ctx: PassContext) => approximate(g, ctx.options.gelu, ctx.options.softmax),
};
