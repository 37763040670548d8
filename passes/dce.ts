/**
 * Pass `dce`: dead-code elimination.
 *
 * Preconditions: none.
 * Algorithm: IR ops have no side effects, so a node is live exactly when one of
 * its results reaches a graph output. One backward walk over the topologically
 * ordered nodes marks the live ones (`removeDeadNodes` in ir/graph.ts); the
 * value table keeps only what the remaining nodes and the graph inputs define.
 * Graph inputs stay even when unused: they are the model's interface.
 */
import type { Graph } from '../ir/graph.ts';
import { removeDeadNodes } from '../ir/graph.ts';
import type { PassContext } from './context.ts';
import type { Pass } from './manager.ts';

export const dcePass: Pass = {
  name: 'dce',
  summary: 'remove nodes whose results reach no graph output',
  run: (g: Graph, _ctx: PassContext) => removeDeadNodes(g),
};
