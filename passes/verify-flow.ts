/**
 * Pass `verify-flow`: information-flow verification, always last. A plan that
 * fails it is never emitted. The rules themselves are in ir/flow.ts, where the
 * runtime checks every plan it loads with the same code.
 *
 * Preconditions: the graph is placed (every node has a placement).
 */
import type { Graph } from '../ir/graph.ts';
import { verifyFlow } from '../ir/flow.ts';
import type { PassContext } from './context.ts';
import type { Pass } from './manager.ts';

export { verifyFlow };

export const verifyFlowPass: Pass = {
  name: 'verify-flow',
  summary: 'information-flow verification: only declared outputs are revealed, only to the client',
  run(g: Graph, ctx: PassContext): Graph {
    verifyFlow(g, ctx.options.clientPost);
    return g;
  },
};
