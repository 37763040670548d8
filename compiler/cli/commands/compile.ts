/**
 * `marillc MODEL [-o plan.ts] ...`: load, run the passes, select protocols,
 * and print the summary (default) or what `--emit STAGE` names (compiler/stages.ts):
 * an IR stage stops the pipeline after that stage and prints its IR; `ir`, `cost`,
 * `dot` and `plan` print the whole compile's result. With -o, write the plan module
 * and its weight bundles (only when the whole pipeline runs: cli.ts refuses -o with
 * an earlier stage).
 */
import { extname } from 'node:path';
import { MarillError } from '../../../ir/errors.ts';
import { printGraph } from '../../../ir/print.ts';
import type { CompileOptions, GeluMode, SoftmaxMode } from '../../../passes/context.ts';
import { DEFAULT_OPTIONS } from '../../../passes/context.ts';
import type { Setting } from '../../../runtime/plan.ts';
import { makePlan } from '../../../runtime/plan.ts';
import { loadBaseModel } from '../../onnx/base-model.ts';
import { generatePlanModule } from '../../emit/codegen.ts';
import { toDot } from '../../emit/dot.ts';
import { costPlan } from '../../backend/cost.ts';
import { formatClassTable, formatCostLine, formatCostTable } from '../../emit/cost-report.ts';
import type { StageName } from '../../driver.ts';
import { STAGES, completesPipeline, loadModel, lowerLoadedOnnx, runPipeline } from '../../driver.ts';
import { decoderCache } from '../../generate/decoder-cache.ts';
import { loadOnnx } from '../../onnx/load.ts';
import type { OnnxModel } from '../../onnx/model.ts';
import { compileGenerationCommand } from './compile-generation.ts';
import type { NetworkProfile } from '../../backend/network.ts';
import { formatSummary, summarize } from '../../emit/summary.ts';
import { emit, shapesFrom, writeJson, writePlanFiles } from './common.ts';

export interface CompileFlags {
  shape?: string[];
  emit: StageName;
  output?: string;
  base?: string;
  private?: string[];
  public?: string[];
  marill: boolean;
  gelu: GeluMode;
  softmax: SoftmaxMode;
  clientPost?: string[];
  loraMaxRank: number;
  loraTolerance: number;
  dumpAfter?: string[];
  report?: string;
  network: NetworkProfile;
  setting: Setting;
  fracBits: number;
  /** Generation plans (a decoder with a KV cache): the longest context, and the shape costs are shown for. */
  maxContext?: number;
  promptLength?: number;
  maxNewTokens?: number;
}

function compileOptions(flags: CompileFlags): CompileOptions {
  return {
    ...DEFAULT_OPTIONS,
    ...(flags.base !== undefined ? { base: loadBaseModel(flags.base) } : {}),
    privateGlobs: flags.private ?? [],
    publicGlobs: flags.public ?? [],
    noMarill: !flags.marill,
    gelu: flags.gelu,
    softmax: flags.softmax,
    clientPost: flags.clientPost ?? [],
    loraMaxRank: flags.loraMaxRank,
    loraTolerance: flags.loraTolerance,
  };
}

/** The ONNX file read once (a generation compile lowers it once per step shape); errors name it. */
function readOnnx(path: string): OnnxModel {
  try {
    return loadOnnx(path);
  } catch (e) {
    throw e instanceof MarillError ? e.inFile(path) : e;
  }
}

/**
 * A decoder with a KV cache compiles to a generation plan (./compile-generation.ts)
 * unless --shape fixes one shape; any other model to a plan.
 */
export function compileCommand(model: string, flags: CompileFlags, argv: readonly string[]): void {
  const { network, fracBits, setting } = flags;
  const options = compileOptions(flags);
  const onnx = extname(model).toLowerCase() === '.onnx' ? readOnnx(model) : undefined;
  const cache = onnx !== undefined && (flags.shape ?? []).length === 0 ? decoderCache(onnx) : undefined;
  if (onnx !== undefined && cache !== undefined) {
    compileGenerationCommand(onnx, cache, options, flags, argv);
    return;
  }
  const generationFlag = (['maxContext', 'promptLength', 'maxNewTokens'] as const).find(
    (k) => flags[k] !== undefined,
  );
  if (generationFlag !== undefined)
    throw new MarillError(
      `--${generationFlag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for a decoder with a KV cache (inputs past_key_values.{i}.key|value paired with outputs present.{i}.key|value), compiled without --shape`,
      { file: model },
    );
  const shapes = { shapes: shapesFrom(flags.shape) };
  const loaded = onnx !== undefined ? lowerLoadedOnnx(onnx, model, shapes) : loadModel(model, shapes);
  const { graph, notes } = runPipeline(
    loaded,
    options,
    {
      dumpAfter: (flags.dumpAfter ?? []).flatMap((d) => d.split(',')),
      dump: (pass, g) => process.stderr.write(`// ----- IR after ${pass} -----\n${printGraph(g)}`),
    },
    { network, fracBits, setting },
    flags.emit,
  );
  for (const warning of notes.warnings) process.stderr.write(`marillc: warning: ${warning}\n`);
  if (!completesPipeline(flags.emit)) {
    emit(printGraph(graph), undefined); // stopped early: there is no plan to cost or write
    return;
  }
  const prints = STAGES.find((s) => s.name === flags.emit)!.prints;
  const cost = costPlan(graph, { network, fracBits, setting });
  const summary = summarize(graph, notes);
  // One plan (one weight key) for both the printed and the written module.
  const plan =
    flags.output !== undefined || prints === 'plan'
      ? makePlan(graph, { fracBits, clientPost: options.clientPost, setting })
      : undefined;
  const planText = plan
    ? generatePlanModule(plan, { source: model, command: `marillc ${argv.join(' ')}` })
    : '';

  // Everything that can fail is done; now write (each file atomically).
  const written = flags.output !== undefined ? writePlanFiles(graph, plan!, planText, flags.output) : [];
  if (flags.report) writeJson(flags.report, { ...summary, cost });
  if (prints === 'ir') emit(printGraph(graph), undefined);
  else if (prints === 'cost') emit(formatCostTable(cost), undefined);
  else if (prints === 'dot') emit(toDot(graph), undefined);
  else if (prints === 'plan') emit(planText, undefined);
  else emit(`${formatSummary(summary)}\n${formatClassTable(cost)}${formatCostLine(cost)}\n`, undefined);
  if (written.length > 0) process.stderr.write(`wrote ${written.join(', ')}\n`);
}
