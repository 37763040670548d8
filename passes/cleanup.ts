/**
 * Pass `cleanup`: constant folding (with identities), CSE and DCE in one pass,
 * for the pipeline's two cleanup points (passes/pipeline.ts): first, on the
 * graph as the frontend produced it, and again right after fusion, which
 * leaves one copy of each constant per layer for CSE to merge. (After
 * relocation the pipeline runs `dce` alone.) Each part is also a pass of its
 * own (`fold-constants`, `cse`, `dce`), which tests run separately.
 *
 * Preconditions: none.
 * Algorithm:
 *   1. fold-constants (passes/fold-constants.ts): consts in, const out; identity ops dropped.
 *   2. cse (passes/cse.ts): duplicates merged, so equal folded constants become one.
 *   3. dce (passes/dce.ts): what no output needs is removed.
 *   Repeat 1-3 while the node count drops (CSE can make a node's operands
 *   identical consts, which folding then evaluates); a few rounds at most.
 */
import type { Graph } from '../ir/graph.ts';
import { removeDeadNodes } from '../ir/graph.ts';
import type { PassContext } from './context.ts';
import { eliminateCommonSubexpressions } from './cse.ts';
import { foldConstants } from './fold-constants.ts';
import type { Pass } from './manager.ts';

const MAX_ROUNDS = 8;

export function cleanup(g: Graph): Graph {
  let cur = g;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const next = removeDeadNodes(eliminateCommonSubexpressions(foldConstants(cur)));
    const done = next.nodes.length === cur.nodes.length;
    cur = next;
    if (done) break;
  }
  return cur;
}

export const cleanupPass: Pass = {
  name: 'cleanup',
  summary: 'fold-constants, cse and dce together, repeated while the graph shrinks',
  run: (g: Graph, _ctx: PassContext) => cleanup(g),
};
