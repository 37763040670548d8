/**
 * The pass manager: runs a named list of graph-to-graph passes, optionally
 * printing the IR after any of them (`--dump-after NAME|all`), and re-verifying
 * the graph's structure after each so a broken rewrite is caught at its source.
 */
import type { Graph } from '../ir/graph.ts';
import { MarillError } from '../ir/errors.ts';
import { verifyGraph } from '../ir/verify.ts';
import type { PassContext } from './context.ts';

export interface Pass {
  readonly name: string;
  readonly summary: string;
  run(g: Graph, ctx: PassContext): Graph;
}

export interface RunOptions {
  /** Pass names to dump after, or ['all']. */
  readonly dumpAfter?: readonly string[];
  /** Receives (pass name, graph) after each selected pass. */
  readonly dump?: (passName: string, g: Graph) => void;
}

export function runPasses(g: Graph, passes: readonly Pass[], ctx: PassContext, run: RunOptions = {}): Graph {
  const known = new Set(passes.map((p) => p.name));
  for (const name of run.dumpAfter ?? [])
    if (name !== 'all' && !known.has(name))
      throw new MarillError(`--dump-after: unknown pass '${name}' (passes: ${[...known].join(', ')})`);
  let cur = g;
  for (const pass of passes) {
    cur = pass.run(cur, ctx);
    try {
      verifyGraph(cur);
    } catch (e) {
      if (e instanceof MarillError)
        throw new MarillError(`after pass '${pass.name}': ${e.message}`, e.location);
      throw e;
    }
    const selected = run.dumpAfter?.includes('all') || run.dumpAfter?.includes(pass.name);
    if (run.dump && selected) run.dump(pass.name, cur);
  }
  return cur;
}
