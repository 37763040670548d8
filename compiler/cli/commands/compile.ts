/**
 * `marillc MODEL [-o plan.ts] ...`: load, run the passes, select protocols,
 * and print the summary (default), the IR or the cost table; with -o, write the
 * plan module and its weight bundles.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Graph } from '../../../ir/graph.ts';
import { printGraph } from '../../../ir/print.ts';
import type { CompileOptions, GeluMode, SoftmaxMode } from '../../../passes/context.ts';
import { DEFAULT_OPTIONS } from '../../../passes/context.ts';
import type { MakePlanOptions } from '../../../runtime/plan.ts';
import { makePlan } from '../../../runtime/plan.ts';
import { loadBaseModel } from '../../onnx/base-model.ts';
import { planWeights, writeBundle } from '../../emit/bundle.ts';
import { generatePlanModule } from '../../emit/codegen.ts';
import { toDot } from '../../emit/dot.ts';
import { costPlan } from '../../backend/cost.ts';
import { formatClassTable, formatCostLine, formatCostTable } from '../../emit/cost-report.ts';
import { loadModel, runPipeline } from '../../driver.ts';
import { writeFileAtomic } from '../../fs-util.ts';
import { parseNetwork } from '../../backend/network.ts';
import { formatSummary, summarize } from '../../emit/summary.ts';
import { planStem, weightKeyPath, writeWeightKey } from '../../party/weight-key.ts';
import { emit, numberFlag, shapesFrom, writeJson } from './common.ts';

export interface CompileFlags {
  shape?: string[];
  emit: 'summary' | 'ir' | 'cost' | 'dot';
  output?: string;
  base?: string;
  private?: string[];
  public?: string[];
  marill: boolean;
  gelu: GeluMode;
  softmax: SoftmaxMode;
  clientPost?: string[];
  loraMaxRank: string;
  loraTolerance: string;
  dumpAfter?: string[];
  report?: string;
  network: string;
  setting: string;
  fracBits: string;
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
    loraMaxRank: numberFlag('--lora-max-rank', flags.loraMaxRank, 1, true),
    loraTolerance: numberFlag('--lora-tolerance', flags.loraTolerance, 0),
  };
}

/** `plan.ts` -> `plan.client.onnx` / `plan.server.onnx` beside it. */
export function bundlePaths(planFile: string): { client: string; server: string } {
  const stem = planStem(planFile);
  return { client: `${stem}.client.onnx`, server: `${stem}.server.onnx` };
}

export function compileCommand(model: string, flags: CompileFlags, argv: readonly string[]): void {
  const network = parseNetwork(flags.network);
  const fracBits = numberFlag('--frac-bits', flags.fracBits, 1, true);
  const options = compileOptions(flags);
  const loaded = loadModel(model, { shapes: shapesFrom(flags.shape) });
  const { graph, notes } = runPipeline(
    loaded,
    options,
    {
      dumpAfter: (flags.dumpAfter ?? []).flatMap((d) => d.split(',')),
      dump: (pass, g) => process.stderr.write(`// ----- IR after ${pass} -----\n${printGraph(g)}`),
    },
    { network, fracBits },
  );
  const cost = costPlan(graph, { network, fracBits, setting: flags.setting });
  const summary = summarize(graph, notes);

  // Everything that can fail is done; now write (each file atomically).
  const written =
    flags.output !== undefined
      ? writePlan(graph, { fracBits, clientPost: options.clientPost }, flags.output, model, argv)
      : [];
  if (flags.report) writeJson(flags.report, { ...summary, cost });
  if (flags.emit === 'ir') emit(printGraph(graph), undefined);
  else if (flags.emit === 'cost') emit(formatCostTable(cost), undefined);
  else if (flags.emit === 'dot') emit(toDot(graph), undefined);
  else emit(`${formatSummary(summary)}\n${formatClassTable(cost)}${formatCostLine(cost)}\n`, undefined);
  if (written.length > 0) process.stderr.write(`wrote ${written.join(', ')}\n`);
}

/**
 * The plan module, its weight bundles and (when it has private weights) the
 * server's weight key; returns the paths written.
 */
function writePlan(
  graph: Graph,
  planOptions: MakePlanOptions,
  out: string,
  model: string,
  argv: readonly string[],
): string[] {
  mkdirSync(dirname(out) || '.', { recursive: true });
  const plan = makePlan(graph, planOptions);
  const bundles = bundlePaths(out);
  const written: string[] = [];
  writeBundle(bundles.server, planWeights(graph, ['public', 'server']));
  written.push(bundles.server);
  if (Object.keys(plan.privateWeights).length > 0) {
    writeWeightKey(weightKeyPath(out), plan);
    written.push(weightKeyPath(out));
  }
  const publicWeights = planWeights(graph, ['public']);
  // With no public weight (e.g. --no-marill) the client needs no model at all.
  if (publicWeights.length > 0) {
    writeBundle(bundles.client, publicWeights);
    written.push(bundles.client);
  }
  const command = `marillc ${argv.join(' ')}`;
  writeFileAtomic(out, generatePlanModule(plan, { source: model, command }));
  return [out, ...written];
}
