/**
 * `marillc MODEL.onnx --base BASE.onnx -o plan.ts [--max-context N]` for a
 * decoder exported with a KV cache (docs/generation.md): one step plan per
 * step shape, written as one generation plan. Prints the summary (default),
 * the per-token cost table (`--emit cost`), the plan text (`--emit plan`), or
 * the final IR of the decode step at --prompt-length (`--emit ir|verified|dot`).
 */
import { MarillError } from '../../../ir/errors.ts';
import { printGraph } from '../../../ir/print.ts';
import type { CompileOptions } from '../../../passes/context.ts';
import { makeGenerationPlan, stepKey } from '../../../runtime/generate/plan.ts';
import { contextNeeded } from '../../../runtime/generate/schedule.ts';
import { generateGenerationPlanModule } from '../../emit/codegen.ts';
import { toDot } from '../../emit/dot.ts';
import type { GenerationCost } from '../../emit/generation-cost.ts';
import { costGeneration, formatGenerationCost, formatGenerationLine } from '../../emit/generation-cost.ts';
import { formatSummary, summarize } from '../../emit/summary.ts';
import type { CompiledGeneration } from '../../generate/compile-steps.ts';
import { compileGeneration } from '../../generate/compile-steps.ts';
import type { DecoderCache } from '../../generate/decoder-cache.ts';
import type { OnnxModel } from '../../onnx/model.ts';
import { STAGES, completesPipeline } from '../../driver.ts';
import type { CompileFlags } from './compile.ts';
import { emit, writeJson, writePlanFiles } from './common.ts';

/** The generation shape costs and IR are shown for: the flags, else defaults that fit the plan. */
export function costShape(
  maxContext: number,
  flags: Pick<CompileFlags, 'promptLength' | 'maxNewTokens'>,
): { promptLength: number; newTokens: number } {
  const promptLength = flags.promptLength ?? Math.min(8, Math.ceil(maxContext / 2));
  const newTokens = flags.maxNewTokens ?? Math.max(1, Math.min(8, maxContext - promptLength + 1));
  return { promptLength, newTokens };
}

function checkCostShape(
  file: string,
  maxContext: number,
  s: { promptLength: number; newTokens: number },
): void {
  const needed = contextNeeded(s.promptLength, s.newTokens);
  if (needed > maxContext)
    throw new MarillError(
      `--prompt-length ${s.promptLength} with --max-new-tokens ${s.newTokens} needs a context of ${needed} tokens, beyond --max-context ${maxContext}`,
      { file },
    );
}

function describeCache(c: CompiledGeneration): string[] {
  const secret = new Set(c.secretState);
  const client = c.layout.pairs.filter((p) => !secret.has(p.input)).map((p) => p.input);
  const limit = c.positionLimit === undefined ? 'no position table' : `position table ${c.positionLimit}`;
  const times = [...c.stepSeconds].sort((a, b) => a - b);
  return [
    `generation plan: ${c.steps.length} step plans (prefill of 1..${c.maxContext} tokens, decode at past 1..${c.maxContext - 1}); max context ${c.maxContext} (${limit})`,
    `revealed to the client per step: '${c.layout.logits}' of the last position only`,
    `cache at the client (layers it runs in plaintext): ${client.join(', ') || 'none'}`,
    `cache shared by the parties (layers under MPC, never revealed): ${c.secretState.join(', ') || 'none'}`,
    `compiled in ${c.seconds.toFixed(1)} s (per step ${times[0]!.toFixed(2)}..${times.at(-1)!.toFixed(2)} s, median ${times[Math.floor(times.length / 2)]!.toFixed(2)} s)`,
  ];
}

export function compileGenerationCommand(
  model: OnnxModel,
  layout: DecoderCache,
  options: CompileOptions,
  flags: CompileFlags,
  argv: readonly string[],
): void {
  const { network, fracBits, setting } = flags;
  const prints = STAGES.find((s) => s.name === flags.emit)!.prints;
  if (!completesPipeline(flags.emit))
    throw new MarillError(
      `--emit ${flags.emit}: a generation compile prints the final stages (verified, ir, dot, cost, plan, summary); give --shape to compile one shape as an ordinary plan`,
      { file: model.file },
    );
  // An explicit context is checked against the cost shape before the (long) compile.
  if (flags.maxContext !== undefined)
    checkCostShape(model.file, flags.maxContext, costShape(flags.maxContext, flags));
  const compiled = compileGeneration(model, layout, {
    options,
    target: { network, fracBits, setting },
    ...(flags.maxContext !== undefined ? { maxContext: flags.maxContext } : {}),
  });
  const { promptLength, newTokens } = costShape(compiled.maxContext, flags);
  checkCostShape(model.file, compiled.maxContext, { promptLength, newTokens });
  for (const warning of compiled.notes.warnings) process.stderr.write(`marillc: warning: ${warning}\n`);
  const plan = makeGenerationPlan(compiled.steps, {
    maxContext: compiled.maxContext,
    tokens: layout.tokens,
    logits: layout.logits,
    fracBits,
    clientPost: options.clientPost,
    setting,
  });
  const cost = costGeneration(plan, { network, fracBits, promptLength, newTokens });
  const decode = compiled.steps.find(
    (s) => stepKey(s.shape) === stepKey({ sequence: 1, past: promptLength }),
  );
  const shown = (decode ?? compiled.steps.find((s) => s.shape.sequence === promptLength)!).graph;
  const summary = summarize(shown, compiled.notes);
  const planText =
    flags.output !== undefined || prints === 'plan'
      ? generateGenerationPlanModule(plan, { source: model.file, command: `marillc ${argv.join(' ')}` })
      : '';

  const written =
    flags.output !== undefined ? writePlanFiles(compiled.steps[0]!.graph, plan, planText, flags.output) : [];
  if (flags.report) writeJson(flags.report, generationReport(compiled, summary, cost));
  if (prints === 'ir') emit(printGraph(shown), undefined);
  else if (prints === 'dot') emit(toDot(shown), undefined);
  else if (prints === 'cost') emit(formatGenerationCost(cost), undefined);
  else if (prints === 'plan') emit(planText, undefined);
  else
    emit(
      `${describeCache(compiled).join('\n')}\n${formatSummary(summary)}${formatGenerationLine(cost)}\n`,
      undefined,
    );
  if (written.length > 0) process.stderr.write(`wrote ${written.join(', ')}\n`);
}

function generationReport(
  c: CompiledGeneration,
  summary: ReturnType<typeof summarize>,
  cost: GenerationCost,
) {
  const secret = new Set(c.secretState);
  return {
    generation: {
      max_context: c.maxContext,
      position_limit: c.positionLimit ?? null,
      steps: c.steps.length,
      state: c.layout.pairs.map((p) => ({
        output: p.output,
        input: p.input,
        visibility: secret.has(p.input) ? 'secret' : 'client',
      })),
      compile_seconds: c.seconds,
      step_compile_seconds: c.stepSeconds,
    },
    ...summary,
    cost,
  };
}
