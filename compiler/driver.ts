/**
 * The compiler driver: the pipeline from a model file to IR (and, with later
 * stages, to a plan), stoppable after any stage.
 *
 *   load     .onnx -> ONNX frontend (decode, fold, lower)   |  .mir -> text parser
 *   passes   passes/pipeline.ts, in order, with protocol selection inserted before
 *            the information-flow verification, which stays last
 *   stages   the passes grouped into named stages (compiler/stages.ts, one table);
 *            `runPipeline(..., stopAfter)` runs the passes up to the end of a stage,
 *            and `marillc --emit STAGE` prints that stage's result
 */
import { extname } from 'node:path';
import type { Graph } from '../ir/graph.ts';
import { MarillError } from '../ir/errors.ts';
import { parseGraph } from '../ir/parse.ts';
import { verifyGraph } from '../ir/verify.ts';
import { loadOnnx } from './onnx/load.ts';
import { lowerOnnx } from './onnx/lower.ts';
import type { OnnxModel } from './onnx/model.ts';
import { readFileOrFail } from './fs-util.ts';
import type { CompileNotes, CompileOptions } from '../passes/context.ts';
import { emptyNotes } from '../passes/context.ts';
import type { Pass, RunOptions } from '../passes/manager.ts';
import { runPasses } from '../passes/manager.ts';
import { PIPELINE, pipelineWith } from '../passes/pipeline.ts';
import type { Setting } from '../runtime/plan.ts';
import type { NetworkProfile } from './backend/network.ts';
import { selectProtocolsPass } from './backend/select.ts';
import type { StageName } from './stages.ts';
import { STAGES, stageIndex } from './stages.ts';

export type { Stage, StageName, StageOutput } from './stages.ts';
export { STAGES, STAGE_NAMES, completesPipeline } from './stages.ts';

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
      return lowerLoadedOnnx(loadOnnx(path), path, opts);
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

/**
 * Lowers an ONNX model already read from `path` into a verified IR graph: what loadModel
 * does after reading, for callers that lower one model at several shapes (generation steps).
 */
export function lowerLoadedOnnx(model: OnnxModel, path: string, opts: LoadOptions = {}): Graph {
  try {
    const g = lowerOnnx(model, { file: path, shapes: opts.shapes ?? {}, dataShapes: opts.dataShapes ?? {} });
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

/**
 * What protocol selection needs: the network to optimise for, the fixed-point
 * setting, and where correlated randomness comes from (default '2pc-dealer';
 * in '2pc' only protocols that run without a dealer are candidates).
 */
export interface SelectionTarget {
  readonly network: NetworkProfile;
  readonly fracBits: number;
  readonly setting?: Setting;
}

/**
 * Each pass of a pipeline with the index of its stage in STAGES. The stages'
 * pass lists, in order, must name the pipeline's passes in order; a stage pass
 * the pipeline leaves out (protocol selection, without a target) is skipped.
 * A pass no stage names is a bug in the table, thrown at once.
 */
export function stagesOf(passes: readonly Pass[]): { pass: Pass; stage: number }[] {
  const expected = STAGES.flatMap((s, stage) => s.passes.map((name) => ({ name, stage })));
  let k = 0;
  return passes.map((pass) => {
    while (k < expected.length && expected[k]!.name !== pass.name) k++;
    if (k === expected.length)
      throw new Error(`pass '${pass.name}' is in no stage of compiler/stages.ts, or out of its order`);
    return { pass, stage: expected[k++]!.stage };
  });
}

/** The whole pipeline: passes/pipeline.ts, with a target also protocol selection. */
export function pipelineFor(target?: SelectionTarget): readonly Pass[] {
  return target
    ? pipelineWith([selectProtocolsPass(target.network, target.fracBits, undefined, target.setting)])
    : PIPELINE;
}

/**
 * Runs the pass pipeline on a loaded graph; with a target, protocol selection
 * too (before the final information-flow verification). With `stopAfter`, only
 * the passes up to the end of that stage run (`onnx`: none).
 */
export function runPipeline(
  g: Graph,
  options: CompileOptions,
  run: RunOptions = {},
  target?: SelectionTarget,
  stopAfter?: StageName,
): Compiled {
  const notes = emptyNotes();
  const all = pipelineFor(target);
  const last = stopAfter === undefined ? STAGES.length : stageIndex(stopAfter);
  const passes = stagesOf(all)
    .filter((p) => p.stage <= last)
    .map((p) => p.pass);
  // --dump-after may name a pass the stop leaves out: it is known, just not reached.
  const ran = new Set(passes.map((p) => p.name));
  const known = new Set(all.map((p) => p.name));
  const dumpAfter = run.dumpAfter?.filter((d) => ran.has(d) || !known.has(d));
  const graph = runPasses(g, passes, { options, notes }, { ...run, ...(dumpAfter && { dumpAfter }) });
  return { graph, notes };
}
