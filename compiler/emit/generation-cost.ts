/**
 * Costs per token of a generation plan (docs/generation.md): a generation of
 * N new tokens from a prompt of P tokens runs the steps of
 * runtime/generate/schedule.ts (the prefill {sequence: P, past: 0}, then
 * {sequence: 1, past: P + k - 1} for k = 1 .. N - 1), and each step costs what
 * the cost model predicts for that step's plan (`costPlan` of its graph), so
 * the prediction per step is exactly the one a single plan of that shape gets.
 * The once-per-session setup (opening the weights under MPC) is paid once for
 * the whole generation, with the first step.
 */
import type { GenerationPlan } from '../../runtime/generate/plan.ts';
import type { Setting } from '../../runtime/plan.ts';
import { stepPlan } from '../../runtime/generate/plan.ts';
import { generationSchedule } from '../../runtime/generate/schedule.ts';
import type { CostOptions, PlanCost } from '../backend/cost.ts';
import { costPlan } from '../backend/cost.ts';
import { formatBytes } from './cost-report.ts';

/** Defaults of --prompt-length and --max-new-tokens: the benchmark shape, within the plan's context. */
export const DEFAULT_PROMPT_LENGTH = 8;
export const DEFAULT_NEW_TOKENS = 8;

export interface StepCost {
  /** 0: the prefill; k >= 1: the k-th decode step. */
  readonly step: number;
  readonly sequence: number;
  readonly past: number;
  /** Tokens in the context after this step (past + sequence). */
  readonly position: number;
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
  readonly est_seconds: number;
  /** Setting '2pc': the step plan's preprocessing (compiler/backend/cost.ts); 0 with a dealer. */
  readonly preprocess_bytes: number;
  readonly preprocess_rounds: number;
  readonly preprocess_seconds: number;
}

export interface GenerationCost {
  readonly setting: Setting;
  readonly network: string;
  readonly fracBits: number;
  readonly prompt_length: number;
  readonly new_tokens: number;
  readonly steps: readonly StepCost[];
  readonly prefill: StepCost;
  /** Over the decode steps (none when new_tokens = 1). */
  readonly per_token: { readonly median: StepCost | undefined; readonly last: StepCost | undefined };
  readonly total: {
    readonly online_bytes: number;
    readonly offline_bytes: number;
    readonly rounds: number;
    readonly est_seconds: number;
    readonly setup_bytes: number;
    readonly setup_rounds: number;
    readonly preprocess_bytes: number;
    readonly preprocess_rounds: number;
    readonly preprocess_seconds: number;
    /** est_seconds + preprocess_seconds. */
    readonly total_seconds: number;
    /** Setting '2pc': the session's base OTs, once for the whole generation. */
    readonly preprocess_setup_bytes: number;
    readonly preprocess_setup_rounds: number;
    readonly preprocess_setup_seconds: number;
  };
}

/** The cost of each step shape's plan (in the plan's setting), computed once per shape. */
function stepCosts(
  g: GenerationPlan,
  opts: CostOptions,
): (s: { sequence: number; past: number }) => PlanCost {
  const memo = new Map<string, PlanCost>();
  return (s) => {
    const key = `${s.sequence}/${s.past}`;
    let c = memo.get(key);
    if (c === undefined) {
      c = costPlan(stepPlan(g, s).graph, { ...opts, setting: g.setting });
      memo.set(key, c);
    }
    return c;
  };
}

export function costGeneration(
  g: GenerationPlan,
  opts: CostOptions & { readonly promptLength: number; readonly newTokens: number },
): GenerationCost {
  const cost = stepCosts(g, opts);
  const schedule = generationSchedule(opts.promptLength, opts.newTokens);
  const plans = schedule.map((s) => ({ shape: s, cost: cost(s) }));
  const steps: StepCost[] = plans.map(({ shape, cost: c }, step) => ({
    step,
    sequence: shape.sequence,
    past: shape.past,
    position: shape.past + shape.sequence,
    online_bytes: c.total.online_bytes,
    offline_bytes: c.total.offline_bytes,
    rounds: c.total.rounds,
    est_seconds: c.total.est_seconds,
    preprocess_bytes: c.total.preprocess_bytes,
    preprocess_rounds: c.total.preprocess_rounds,
    preprocess_seconds: c.total.preprocess_seconds,
  }));
  const decode = steps.slice(1);
  const byBytes = [...decode].sort((a, b) => a.online_bytes - b.online_bytes || a.step - b.step);
  const sum = (f: (s: StepCost) => number) => steps.reduce((acc, s) => acc + f(s), 0);
  const first = plans[0]!.cost;
  return {
    setting: first.setting,
    network: first.network,
    fracBits: first.fracBits,
    prompt_length: opts.promptLength,
    new_tokens: opts.newTokens,
    steps,
    prefill: steps[0]!,
    per_token: { median: byBytes[Math.floor((byBytes.length - 1) / 2)], last: decode.at(-1) },
    total: {
      online_bytes: sum((s) => s.online_bytes),
      offline_bytes: sum((s) => s.offline_bytes),
      rounds: sum((s) => s.rounds),
      est_seconds: sum((s) => s.est_seconds),
      setup_bytes: first.total.setup_bytes,
      setup_rounds: first.total.setup_rounds,
      // Each step's preprocessing runs before that step (its input is the previous step's token).
      preprocess_bytes: sum((s) => s.preprocess_bytes),
      preprocess_rounds: sum((s) => s.preprocess_rounds),
      preprocess_seconds: sum((s) => s.preprocess_seconds),
      total_seconds: sum((s) => s.est_seconds + s.preprocess_seconds),
      preprocess_setup_bytes: first.total.preprocess_setup_bytes,
      preprocess_setup_rounds: first.total.preprocess_setup_rounds,
      preprocess_setup_seconds: first.total.preprocess_setup_seconds,
    },
  };
}

/**
 * One line per step: position, bytes, rounds, est. time, and the preprocessing
 * (the dealer's bytes; without a dealer the parties' bytes, rounds and time); then the totals.
 */
export function formatGenerationCost(c: GenerationCost): string {
  const dealerFree = c.setting === '2pc';
  const rows = c.steps.map((s) =>
    [
      s.step === 0 ? 'prefill' : `decode ${s.step}`,
      `${s.sequence}`,
      `${s.past}`,
      `${s.position}`,
      formatBytes(s.online_bytes),
      `${s.rounds}`,
      ...(dealerFree
        ? [formatBytes(s.preprocess_bytes), `${s.preprocess_rounds}`, s.preprocess_seconds.toFixed(4)]
        : [formatBytes(s.offline_bytes)]),
      s.est_seconds.toFixed(4),
    ].join('\t'),
  );
  const preprocessing = dealerFree ? ['preproc', 'p. rounds', 'p. est. s'] : ['preproc'];
  return (
    [
      `generation cost (${c.setting}, ${c.network}): prompt ${c.prompt_length} tokens + ${c.new_tokens} new tokens`,
      ['step', 'seq', 'past', 'position', 'online', 'rounds', ...preprocessing, 'est. s'].join('\t'),
      ...rows,
      formatGenerationLine(c),
    ].join('\n') + '\n'
  );
}

/** The totals in one line: prefill, a decode step (median), the whole generation. */
export function formatGenerationLine(c: GenerationCost): string {
  const t = c.total;
  const med = c.per_token.median;
  const perToken = med
    ? `; per new token (median) ${formatBytes(med.online_bytes)} in ${med.rounds} rounds, est. ${med.est_seconds.toFixed(4)} s`
    : '';
  const setup =
    t.setup_bytes > 0 ? `; once per session ${formatBytes(t.setup_bytes)}, ${t.setup_rounds} rounds` : '';
  const preprocessing =
    c.setting === '2pc'
      ? `preprocessing by the parties ${formatBytes(t.preprocess_bytes)} in ${t.preprocess_rounds} rounds, est. ${t.preprocess_seconds.toFixed(3)} s${setup}; ` +
        `base OTs once per session ${formatBytes(t.preprocess_setup_bytes)} in ${t.preprocess_setup_rounds} rounds, est. ${t.preprocess_setup_seconds.toFixed(3)} s; ` +
        `est. ${t.est_seconds.toFixed(3)} s online, ${t.total_seconds.toFixed(3)} s with preprocessing`
      : `preprocessing ${formatBytes(t.offline_bytes)}${setup}; est. ${t.est_seconds.toFixed(3)} s`;
  return (
    `predicted (${c.setting}, ${c.network}): prefill of ${c.prompt_length} tokens ${formatBytes(c.prefill.online_bytes)} in ${c.prefill.rounds} rounds, est. ${c.prefill.est_seconds.toFixed(4)} s` +
    `${perToken}; total for ${c.new_tokens} new tokens ${formatBytes(t.online_bytes)} online in ${t.rounds} rounds, ` +
    preprocessing
  );
}
