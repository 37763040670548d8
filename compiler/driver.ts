/**
 * The compiler driver: the pipeline from a model file to IR (and, with later
 * stages, to a plan), stoppable after any stage.
 *
 *   load     .onnx -> ONNX frontend (decode, fold, lower)   |  .mir -> text parser
 *   passes   passes/pipeline.ts, in order (ending with information-flow verification)
 *   emit     --emit ir: the IR text; by default the summary of where the work runs
 */
import { extname } from 'node:path';
import type { Graph } from '../ir/graph.ts';
import { MarillError } from '../ir/errors.ts';
import { parseGraph } from '../ir/parse.ts';
import { verifyGraph } from '../ir/verify.ts';
import { loadOnnx } from './onnx/load.ts';
import { lowerOnnx } from './onnx/lower.ts';
import { readFileOrFail } from './fs-util.ts';
import type { CompileNotes, CompileOptions } from '../passes/context.ts';
import { emptyNotes } from '../passes/context.ts';
import type { RunOptions } from '../passes/manager.ts';
import { runPasses } from '../passes/manager.ts';
import { PIPELINE, pipelineWith } from '../passes/pipeline.ts';
import type { NetworkProfile } from './backend/network.ts';
import { selectProtocolsPass } from './backend/select.ts';

export interface LoadOptions {
  /** Fixed sizes for dynamic input dimensions, by input name or dimension name. */
  readonly shapes?: Readonly<Record<string, number[]>>;
  /** The shapes of the input data at hand, for dimensions still dynamic (eval). */
  readonly dataShapes?: Readonly<Record<string, number[]>>;
}

/** Loads a model file (.onnx or .mir) into a verified IR graph. */
export function loadModel(path: string, opts: LoadOptions = {}): Graph {
  const ext = extname(path).toLowerCase();
  try {
    let g: Graph;
    if (ext === '.mir') {
      g = parseGraph(readFileOrFail(path).toString('utf8'), path);
    } else if (ext === '.onnx') {
      g = lowerOnnx(loadOnnx(path), {
        file: path,
        shapes: opts.shapes ?? {},
        dataShapes: opts.dataShapes ?? {},
      });
    } else {
      throw new MarillError(`unknown model format '${ext || '(none)'}': expected .onnx or .mir`, {
        file: path,
      });
    }
    verifyGraph(g);
    return g;
  } catch (e) {
    if (e instanceof MarillError) throw e.inFile(path);
    throw e;
  }
}

export { parseShapeFlag } from './cli/shape-flag.ts';

export interface Compiled {
  readonly graph: Graph;
  readonly notes: CompileNotes;
}

/** What protocol selection needs: the network to optimise for and the fixed-point setting. */
export interface SelectionTarget {
  readonly network: NetworkProfile;
  readonly fracBits: number;
}

/**
 * Runs the pass pipeline on a loaded graph; with a target, protocol selection
 * too (before the final information-flow verification).
 */
export function runPipeline(
  g: Graph,
  options: CompileOptions,
  run: RunOptions = {},
  target?: SelectionTarget,
): Compiled {
  const notes = emptyNotes();
  const passes = target ? pipelineWith([selectProtocolsPass(target.network, target.fracBits)]) : PIPELINE;
  const graph = runPasses(g, passes, { options, notes }, run);
  return { graph, notes };
}
