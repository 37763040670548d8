/**
 * Compiling a decoder with a KV cache into the step graphs of a generation
 * plan (docs/generation.md).
 *
 * Specialised per step shape: the prefill {sequence: P, past: 0} for every
 * prompt length 1 <= P <= maxContext and the decode step {sequence: 1, past: p}
 * for 1 <= p <= maxContext - 1, each lowered from the ONNX at its static shapes
 * (the IR has no symbolic dimensions) and run through the whole pipeline. A
 * step then costs what its length costs, never that of the maximum context.
 * The ONNX file and the base model are read once; each step lowers, passes and
 * selects on its own.
 *
 * Each step graph, before the passes:
 *   - the `logits` output keeps only the last position (passes/last-position.ts),
 *     so only [1, 1, vocab] is ever revealed;
 *   - every present.{i}.x output becomes a state output carried to the next step
 *     as past_key_values.{i}.x.
 * State visibility by fixed point: with every cache input the client's, a layer
 * whose present comes out secret (it runs under MPC) gets a secret cache input
 * (the parties' shares of the previous step's present), and the steps are
 * compiled again, until no present is secret whose input is not. Frozen layers,
 * which the client runs in plaintext, keep their cache at the client. The
 * information-flow check of every step then requires each state output to have
 * its input's visibility.
 */
import { MarillError } from '../../ir/errors.ts';
import { verifyFlow } from '../../ir/flow.ts';
import type { Graph, ValueId } from '../../ir/graph.ts';
import { verifyGraph } from '../../ir/verify.ts';
import type { CompileNotes, CompileOptions } from '../../passes/context.ts';
import type { BlockFactors } from '../../passes/numeric/lowrank.ts';
import { sliceLastPosition } from '../../passes/last-position.ts';
import { rederiveVisibility } from '../../passes/visibility.ts';
import type { GenerationStepGraph } from '../../runtime/generate/plan.ts';
import { generationShapes } from '../../runtime/generate/plan.ts';
import type { StepShape } from '../../runtime/generate/schedule.ts';
import type { SelectionTarget } from '../driver.ts';
import { runPipeline } from '../driver.ts';
import type { OnnxModel } from '../onnx/model.ts';
import { lowerOnnx } from '../onnx/lower.ts';
import type { DecoderCache } from './decoder-cache.ts';

/**
 * The default longest context: 32 tokens, or the model's position table when
 * shorter. Compile time and plan size grow with it (2 * maxContext - 1 step
 * plans), so the default stays moderate; --max-context raises it up to the
 * position table.
 */
export const DEFAULT_MAX_CONTEXT = 32;

export interface GenerationCompileOptions {
  readonly options: CompileOptions;
  readonly target: SelectionTarget;
  /** --max-context; the default when absent. */
  readonly maxContext?: number;
  /** A rewrite of each step graph before the passes (advise: head merging). */
  readonly transform?: (g: Graph) => Graph;
}

export interface CompiledGeneration {
  readonly layout: DecoderCache;
  readonly maxContext: number;
  /** Rows of the position table when the model has one (a static limit on the context). */
  readonly positionLimit: number | undefined;
  /** In generationShapes(maxContext) order. */
  readonly steps: readonly GenerationStepGraph[];
  /** The cache inputs kept as shares (layers under MPC); the others stay at the client. */
  readonly secretState: readonly ValueId[];
  /** The notes of the last step compiled (the same decisions in every step). */
  readonly notes: CompileNotes;
  /** Wall-clock seconds of the whole compile, and of each step's lowering and passes. */
  readonly seconds: number;
  readonly stepSeconds: readonly number[];
}

/** A lowered step graph with state outputs, the logits' last position and the given secret cache inputs. */
export function stepGraph(
  model: OnnxModel,
  layout: DecoderCache,
  shape: StepShape,
  secret: ReadonlySet<ValueId>,
): Graph {
  const lowered = lowerOnnx(model, { file: model.file, shapes: layout.shapesAt(shape) });
  verifyGraph(lowered);
  const state = new Map(layout.pairs.map((p) => [p.output, p.input]));
  const withState: Graph = {
    ...lowered,
    outputs: lowered.outputs.map((o) => {
      const input = state.get(o.name);
      return input === undefined ? o : { ...o, state: input };
    }),
  };
  const last = sliceLastPosition(withState, layout.logits);
  return secret.size === 0
    ? last
    : rederiveVisibility(last, new Map([...secret].map((id) => [id, 'secret' as const])));
}

/**
 * Rows of the model's position table: a gather from a weight at constant
 * indices (with static shapes, positions derived from the past length fold to
 * constants; the token embedding is gathered at the client's ids instead).
 * Undefined when there is none (rotary positions).
 */
export function positionLimit(g: Graph): number | undefined {
  const defs = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  let limit: number | undefined;
  for (const n of g.nodes) {
    if (n.op !== 'gather') continue;
    if (defs.get(n.inputs[0]!)?.op !== 'weight' || defs.get(n.inputs[1]!)?.op !== 'const') continue;
    const shape = g.values.get(n.inputs[0]!)!.type.shape;
    const axis = Number(n.attrs['axis'] ?? 0);
    const rows = shape[axis < 0 ? axis + shape.length : axis]!;
    limit = limit === undefined ? rows : Math.min(limit, rows);
  }
  return limit;
}

/** The cache inputs whose present comes out secret (or the server's) while the input is not secret yet. */
function newlySecret(g: Graph, secret: ReadonlySet<ValueId>): ValueId[] {
  return g.outputs.flatMap((o) => {
    if (o.state === undefined || secret.has(o.state)) return [];
    const v = g.values.get(o.value)!.visibility;
    return v === 'secret' || v === 'server' ? [o.state] : [];
  });
}

export function compileGeneration(
  model: OnnxModel,
  layout: DecoderCache,
  opts: GenerationCompileOptions,
): CompiledGeneration {
  const start = performance.now();
  const probeShape: StepShape = { sequence: 1, past: 0 };
  const limit = positionLimit(stepGraph(model, layout, probeShape, new Set()));
  const maxContext = opts.maxContext ?? Math.min(DEFAULT_MAX_CONTEXT, limit ?? DEFAULT_MAX_CONTEXT);
  if (limit !== undefined && maxContext > limit)
    throw new MarillError(
      `--max-context ${maxContext} is beyond the model's position table of ${limit} rows (a context holds at most ${limit} tokens)`,
      { file: model.file },
    );

  const compiled = compileSteps(model, layout, generationShapes(maxContext), opts);
  return {
    layout,
    maxContext,
    positionLimit: limit,
    steps: compiled.steps.map((s) => ({ shape: s.shape, graph: s.graph })),
    secretState: compiled.secretState,
    notes: compiled.notes,
    seconds: (performance.now() - start) / 1000,
    stepSeconds: compiled.steps.map((s) => s.seconds),
  };
}

export interface CompiledStep extends GenerationStepGraph {
  readonly notes: CompileNotes;
  readonly seconds: number;
}

/**
 * The step graphs of the given shapes (in their order) with the cache
 * visibilities of the fixed point; a step graph that breaks an information-flow
 * rule is an error naming the step.
 */
export function compileSteps(
  model: OnnxModel,
  layout: DecoderCache,
  shapes: readonly StepShape[],
  opts: GenerationCompileOptions,
): { steps: CompiledStep[]; secretState: ValueId[]; notes: CompileNotes } {
  // Every step factors the same merged LoRA weights: once is enough.
  const options = { ...opts.options, factorMemo: new Map<string, BlockFactors | undefined>() };
  const compileStep = (shape: StepShape, secret: ReadonlySet<ValueId>) => {
    const t = performance.now();
    const g = stepGraph(model, layout, shape, secret);
    const { graph, notes } = runPipeline(
      opts.transform ? opts.transform(g) : g,
      options,
      {},
      opts.target,
      'selected',
    );
    return { shape, graph, notes, seconds: (performance.now() - t) / 1000 };
  };

  // The fixed point on one step (a decode step when there is one), then all steps;
  // a step that still finds a secret present restarts them with its cache input secret too.
  const secret = new Set<ValueId>();
  const probe = shapes.find((s) => s.past > 0) ?? shapes[0]!;
  for (let found = newlySecret(compileStep(probe, secret).graph, secret); found.length > 0;) {
    found.forEach((id) => secret.add(id));
    found = newlySecret(compileStep(probe, secret).graph, secret);
  }
  for (;;) {
    const steps: CompiledStep[] = [];
    let grew = false;
    for (const shape of shapes) {
      const step = compileStep(shape, secret);
      const found = newlySecret(step.graph, secret);
      if (found.length > 0) {
        found.forEach((id) => secret.add(id));
        grew = true;
        break;
      }
      try {
        verifyFlow(step.graph, opts.options.clientPost);
      } catch (e) {
        if (!(e instanceof MarillError)) throw e;
        throw new MarillError(e.message, {
          ...e.location,
          file: model.file,
          what: [`step {sequence: ${shape.sequence}, past: ${shape.past}}`, e.location.what]
            .filter(Boolean)
            .join(': '),
        });
      }
      steps.push(step);
    }
    if (grew) continue;
    return {
      steps,
      secretState: layout.pairs.map((p) => p.input).filter((id) => secret.has(id)),
      notes: steps.at(-1)!.notes,
    };
  }
}
