/**
 * Generation plans: what the parties run to generate text with a KV cache
 * (docs/generation.md). A generation plan is one ordinary checked Plan per
 * step shape (runtime/plan.ts), compiled from the same decoder at fixed
 * shapes: the prefill {sequence: P, past: 0} for 1 <= P <= maxContext and the
 * decode step {sequence: 1, past: p} for 1 <= p <= maxContext - 1. Each step
 * plan reads the tokens (the client's) and the cache of the previous step
 * (state inputs), reveals only the last position's logits [1, 1, vocab] to the
 * client, and hands its cache on as state outputs that are never revealed:
 * kept by the client for layers it runs in plaintext, shared between the
 * parties for layers under MPC.
 *
 *   makeGenerationPlan(steps, opts)   from placed step graphs (the compiler), one weight key for all
 *   defineGenerationPlan(spec)        from the spec a plan file states
 *   generationPlanSpec(plan)          that spec
 *   stepPlan(plan, shape)             the Plan of one step
 *
 * Either way every step plan is checked as definePlan checks a plan (hash,
 * structure, information flow), and the steps are checked to fit together:
 * the same tokens input, logits output, state pairs with the same
 * visibilities and the same weights in every step, and each step's state
 * outputs of exactly the type the step after it reads. The plan hash covers
 * the settings and every step's plan hash; the parties compare it (and the
 * weights digest) in their hellos, as for a single plan.
 */
import { createHash } from 'node:crypto';
import { MarillError } from '../../ir/errors.ts';
import type { Graph, ValueId } from '../../ir/graph.ts';
import { formatType, shapeEquals } from '../../ir/types.ts';
import type { MakePlanOptions, Plan, PlanSpec, Setting } from '../plan.ts';
import { canonicalJson, definePlan, freshWeightKey, makePlan, planSpec, withWeightKey } from '../plan.ts';
import type { StepShape } from './schedule.ts';

export const GENERATION_PLAN_FORMAT = 'marill-generation-plan/1';

/** A cache pair: the step output carried to the next step as the graph input it names. */
export interface StatePair {
  readonly output: string;
  readonly input: ValueId;
  /** `client`: the client keeps it in plaintext; `secret`: the parties keep shares, never revealed. */
  readonly visibility: 'client' | 'secret';
}

export interface GenerationPlan {
  readonly kind: 'generation';
  readonly name: string;
  /** SHA-256 over the settings and every step's plan hash. */
  readonly hash: string;
  readonly fracBits: number;
  /** Every step plan's setting (each step's hash covers it, and so this plan's). */
  readonly setting: Setting;
  /** The longest context (tokens) a step may hold: past + sequence <= maxContext. */
  readonly maxContext: number;
  /** Each step's token input, i64 [1, sequence], the client's. */
  readonly tokens: ValueId;
  /** Each step's one result output: the last position's logits [1, 1, vocab]. */
  readonly logits: string;
  readonly state: readonly StatePair[];
  /** By stepKey(shape): an ordinary checked Plan per step shape. */
  readonly steps: ReadonlyMap<string, Plan>;
  /** As Plan's, identical in every step. */
  readonly publicWeights: Readonly<Record<string, string>>;
  readonly privateWeights: Readonly<Record<string, string>>;
  readonly weightsDigest: string;
  /** The key of the private weights' hashes: only on the server's copy (every step plan holds it too). */
  readonly weightKey?: Uint8Array;
}

export interface GenerationStepSpec {
  readonly sequence: number;
  readonly past: number;
  readonly plan: PlanSpec;
}

/** The spec a generation plan file states (JSON-compatible). */
export interface GenerationPlanSpec {
  readonly format: typeof GENERATION_PLAN_FORMAT;
  readonly hash: string;
  readonly name: string;
  readonly fracBits: number;
  readonly maxContext: number;
  readonly tokens: ValueId;
  readonly logits: string;
  readonly state: readonly StatePair[];
  readonly steps: readonly GenerationStepSpec[];
}

/** The key of a step shape in GenerationPlan.steps. */
export function stepKey(s: StepShape): string {
  return `sequence=${s.sequence},past=${s.past}`;
}

function describeShape(s: StepShape): string {
  return `step {sequence: ${s.sequence}, past: ${s.past}}`;
}

/** The step shapes a plan of this maxContext holds: every prefill length, then every decode position. */
export function generationShapes(maxContext: number): StepShape[] {
  const shapes: StepShape[] = [];
  for (let p = 1; p <= maxContext; p++) shapes.push({ sequence: p, past: 0 });
  for (let p = 1; p < maxContext; p++) shapes.push({ sequence: 1, past: p });
  return shapes;
}

/** The Plan of one step; a MarillError naming the shape when the plan has none for it. */
export function stepPlan(g: GenerationPlan, s: StepShape): Plan {
  const plan = g.steps.get(stepKey(s));
  if (plan !== undefined) return plan;
  const where = { what: `generation plan '${g.name}': ${describeShape(s)}` };
  if (s.sequence + s.past > g.maxContext)
    throw new MarillError(
      `a context of ${s.sequence + s.past} tokens is beyond the plan's maxContext ${g.maxContext} (recompile with a larger --max-context)`,
      where,
    );
  throw new MarillError(
    'the plan has no such step (it holds prefills {sequence: P, past: 0} and decode steps {sequence: 1, past: p})',
    where,
  );
}

/** Whether a loaded plan is a generation plan (the discriminant of the union plan readers return). */
export function isGenerationPlan(p: Plan | GenerationPlan): p is GenerationPlan {
  return 'kind' in p && p.kind === 'generation';
}

// ---- hashing --------------------------------------------------------------------------------------

type UnhashedSettings = Omit<GenerationPlanSpec, 'hash' | 'steps'>;

/** SHA-256 over the settings and each step's shape and plan hash (each step plan hashes its content). */
export function generationHash(settings: UnhashedSettings, steps: readonly GenerationStepSpec[]): string {
  const content = {
    format: GENERATION_PLAN_FORMAT,
    name: settings.name,
    fracBits: settings.fracBits,
    maxContext: settings.maxContext,
    tokens: settings.tokens,
    logits: settings.logits,
    state: settings.state.map((s) => ({ output: s.output, input: s.input, visibility: s.visibility })),
    // In one order whatever order the steps were compiled or stated in.
    steps: [...steps]
      .sort((a, b) => a.past - b.past || a.sequence - b.sequence)
      .map((s) => ({ sequence: s.sequence, past: s.past, plan: s.plan.hash })),
  };
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

// ---- checking that the steps fit together -----------------------------------------------------------

function fail(g: Pick<GenerationPlan, 'name'>, s: StepShape | undefined, msg: string): never {
  throw new MarillError(msg, {
    what:
      s === undefined ? `generation plan '${g.name}'` : `generation plan '${g.name}': ${describeShape(s)}`,
  });
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** The state pairs a step graph declares, with the visibility of each input. */
function graphState(graph: Graph): StatePair[] {
  return graph.outputs.flatMap((o) => {
    if (o.state === undefined) return [];
    const v = graph.values.get(o.state)?.visibility;
    return [{ output: o.name, input: o.state, visibility: v === 'secret' ? 'secret' : 'client' }];
  });
}

/** One step plan against the plan's settings: inputs, outputs, types, weights. */
function checkStep(g: GenerationPlan, s: StepShape, plan: Plan, vocab: { n?: number }): void {
  const graph = plan.graph;
  const bad = (msg: string): never => fail(g, s, msg);
  if (plan.fracBits !== g.fracBits) bad(`fracBits ${plan.fracBits} is not the plan's ${g.fracBits}`);
  if (plan.setting !== g.setting) bad(`setting ${plan.setting} is not the other steps' ${g.setting}`);
  const wantInputs = [g.tokens, ...g.state.map((p) => p.input)].sort();
  if (canonicalJson([...graph.inputs].sort()) !== canonicalJson(wantInputs))
    bad(
      `inputs ${graph.inputs.join(', ')} are not the tokens and the state inputs (${wantInputs.join(', ')})`,
    );
  const tokens = graph.values.get(g.tokens)!;
  if (
    tokens.visibility !== 'client' ||
    tokens.type.dtype !== 'i64' ||
    !shapeEquals(tokens.type.shape, [1, s.sequence])
  )
    bad(
      `tokens %${g.tokens} is ${tokens.visibility} ${formatType(tokens.type)}, not client i64[1,${s.sequence}]`,
    );
  const results = graph.outputs.filter((o) => o.state === undefined);
  if (results.length !== 1 || results[0]!.name !== g.logits)
    bad(
      `the one result output is '${g.logits}', not ${results.map((o) => `'${o.name}'`).join(', ') || 'none'}`,
    );
  const logits = graph.values.get(results[0]!.value)!.type;
  const v = logits.shape[2];
  if (logits.dtype !== 'f32' || logits.shape.length !== 3 || logits.shape[0] !== 1 || logits.shape[1] !== 1)
    bad(`logits '${g.logits}' is ${formatType(logits)}, not the last position's f32[1,1,vocab]`);
  if (vocab.n === undefined) vocab.n = v;
  else if (v !== vocab.n) bad(`logits '${g.logits}' has ${v} entries per position, another step ${vocab.n}`);
  if (canonicalJson(graphState(graph)) !== canonicalJson(g.state))
    bad("its state pairs or their visibilities differ from the plan's (every step carries the same cache)");
  if (!sameRecord(plan.publicWeights, g.publicWeights) || !sameRecord(plan.privateWeights, g.privateWeights))
    bad("its weights differ from the other steps' (every step reads the same weights)");
}

/**
 * The steps are exactly generationShapes(maxContext), each fits the settings,
 * and each step's state outputs have the types of the state inputs of the
 * decode step that follows it (the cache it hands on is the one that step reads).
 */
function checkGeneration(g: GenerationPlan): void {
  if (!Number.isInteger(g.maxContext) || g.maxContext < 1)
    fail(g, undefined, `maxContext ${g.maxContext} is not a positive integer`);
  const shapes = generationShapes(g.maxContext);
  const want = new Set(shapes.map(stepKey));
  for (const key of g.steps.keys())
    if (!want.has(key))
      fail(g, undefined, `step '${key}' is not a prefill or decode step of maxContext ${g.maxContext}`);
  const vocab: { n?: number } = {};
  for (const s of shapes) {
    const plan = g.steps.get(stepKey(s));
    if (plan === undefined) fail(g, s, `the plan has no such step, which maxContext ${g.maxContext} needs`);
    checkStep(g, s, plan, vocab);
  }
  for (const s of shapes) {
    const context = s.sequence + s.past;
    if (context >= g.maxContext) continue;
    const here = g.steps.get(stepKey(s))!.graph;
    const next = g.steps.get(stepKey({ sequence: 1, past: context }))!.graph;
    for (const pair of g.state) {
      const out = here.values.get(here.outputs.find((o) => o.name === pair.output)!.value)!.type;
      const inp = next.values.get(pair.input)!.type;
      if (out.dtype !== inp.dtype || !shapeEquals(out.shape, inp.shape))
        fail(
          g,
          s,
          `state output '${pair.output}' is ${formatType(out)} but the next step {sequence: 1, past: ${context}} reads %${pair.input} as ${formatType(inp)}`,
        );
    }
  }
}

// ---- making one -----------------------------------------------------------------------------------

export interface GenerationStepGraph {
  readonly shape: StepShape;
  /** The placed, protocol-selected, flow-checked graph of this step. */
  readonly graph: Graph;
}

export interface MakeGenerationPlanOptions extends Omit<MakePlanOptions, 'weightKey'> {
  readonly maxContext: number;
  readonly tokens: ValueId;
  readonly logits: string;
  /** One key for the private weights' hashes of every step (fresh when absent). */
  readonly weightKey?: Uint8Array;
}

function assemble(
  settings: Omit<
    GenerationPlan,
    'kind' | 'hash' | 'steps' | 'setting' | 'publicWeights' | 'privateWeights' | 'weightsDigest' | 'weightKey'
  >,
  steps: readonly { shape: StepShape; plan: Plan }[],
  weightKey: Uint8Array | undefined,
): GenerationPlan {
  const first = steps[0];
  if (first === undefined) throw new MarillError(`generation plan '${settings.name}' has no steps`);
  const specSteps = steps.map((s) => ({
    sequence: s.shape.sequence,
    past: s.shape.past,
    plan: { hash: s.plan.hash } as PlanSpec,
  }));
  const g: GenerationPlan = {
    kind: 'generation',
    ...settings,
    setting: first.plan.setting,
    hash: generationHash({ format: GENERATION_PLAN_FORMAT, ...settings }, specSteps),
    steps: new Map(
      steps.map((s) => [stepKey(s.shape), weightKey ? withWeightKey(s.plan, weightKey) : s.plan]),
    ),
    publicWeights: first.plan.publicWeights,
    privateWeights: first.plan.privateWeights,
    weightsDigest: first.plan.weightsDigest,
    ...(weightKey ? { weightKey } : {}),
  };
  checkGeneration(g);
  return g;
}

/**
 * A generation plan from the placed graphs of its steps (the compiler's): each
 * becomes a Plan under one weight key; the state pairs and their visibilities
 * are read off the first step and required of all.
 */
export function makeGenerationPlan(
  steps: readonly GenerationStepGraph[],
  opts: MakeGenerationPlanOptions,
): GenerationPlan {
  const weightKey = opts.weightKey ?? freshWeightKey();
  const planOpts: MakePlanOptions = {
    weightKey,
    ...(opts.fracBits !== undefined ? { fracBits: opts.fracBits } : {}),
    ...(opts.clientPost !== undefined ? { clientPost: opts.clientPost } : {}),
    ...(opts.setting !== undefined ? { setting: opts.setting } : {}),
  };
  const plans = steps.map((s) => ({ shape: s.shape, plan: makePlan(s.graph, planOpts) }));
  const first = plans[0];
  if (first === undefined) throw new MarillError('a generation plan needs at least one step');
  return assemble(
    {
      name: first.plan.name,
      fracBits: first.plan.fracBits,
      maxContext: opts.maxContext,
      tokens: opts.tokens,
      logits: opts.logits,
      state: graphState(first.plan.graph),
    },
    plans,
    weightKey,
  );
}

/** The server's copy: the plan and every step plan with the key of the private weights' hashes. */
export function withGenerationWeightKey(g: GenerationPlan, weightKey: Uint8Array): GenerationPlan {
  return {
    ...g,
    steps: new Map([...g.steps].map(([k, p]) => [k, withWeightKey(p, weightKey)])),
    weightKey,
  };
}

// ---- the spec of a plan file ------------------------------------------------------------------------

/** The spec of a generation plan, with its hash (what codegen writes). Never holds the weight key. */
export function generationPlanSpec(g: GenerationPlan): GenerationPlanSpec {
  const steps = generationShapes(g.maxContext).map((s) => ({
    sequence: s.sequence,
    past: s.past,
    plan: planSpec(stepPlan(g, s)),
  }));
  return {
    format: GENERATION_PLAN_FORMAT,
    hash: g.hash,
    name: g.name,
    fracBits: g.fracBits,
    maxContext: g.maxContext,
    tokens: g.tokens,
    logits: g.logits,
    state: g.state.map((s) => ({ output: s.output, input: s.input, visibility: s.visibility })),
    steps,
  };
}

type Fields = Record<string, unknown>;

function isObject(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function badSpec(what: string): never {
  throw new MarillError(`not a ${GENERATION_PLAN_FORMAT} plan: ${what}`);
}

const isCount = (v: unknown, min: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min;

/** Refuses a value that does not have the shape of a GenerationPlanSpec (step plans are checked by definePlan). */
function checkGenerationSpecShape(spec: unknown): asserts spec is GenerationPlanSpec {
  if (!isObject(spec)) badSpec('the spec is not an object');
  if (spec['format'] !== GENERATION_PLAN_FORMAT)
    throw new MarillError(`plan format ${JSON.stringify(spec['format'])} is not ${GENERATION_PLAN_FORMAT}`);
  if (typeof spec['hash'] !== 'string' || !/^[0-9a-f]{64}$/.test(spec['hash']))
    throw new MarillError('the plan states no hash (a plan is refused without one: recompile it)');
  for (const key of ['name', 'tokens', 'logits'])
    if (typeof spec[key] !== 'string') badSpec(`${key} is not a string`);
  if (typeof spec['fracBits'] !== 'number') badSpec('fracBits is not a number');
  if (!isCount(spec['maxContext'], 1)) badSpec('maxContext is not a positive integer');
  const state = spec['state'];
  if (
    !Array.isArray(state) ||
    !state.every(
      (s) =>
        isObject(s) &&
        typeof s['output'] === 'string' &&
        typeof s['input'] === 'string' &&
        (s['visibility'] === 'client' || s['visibility'] === 'secret'),
    )
  )
    badSpec("state is not a list of {output, input, visibility: 'client' | 'secret'}");
  const steps = spec['steps'];
  if (
    !Array.isArray(steps) ||
    !steps.every(
      (s) => isObject(s) && isCount(s['sequence'], 1) && isCount(s['past'], 0) && isObject(s['plan']),
    )
  )
    badSpec('steps is not a list of {sequence, past, plan}');
}

/**
 * A generation plan from the spec a plan file states: refused when any step
 * plan is (definePlan: hash, structure, information flow), when the stated
 * hash does not match the settings and the step hashes, or when the steps do
 * not fit together (the error names the step).
 */
export function defineGenerationPlan(spec: GenerationPlanSpec): GenerationPlan {
  checkGenerationSpecShape(spec);
  const steps = spec.steps.map((s) => {
    const shape = { sequence: s.sequence, past: s.past };
    try {
      return { shape, plan: definePlan(s.plan) };
    } catch (e) {
      if (!(e instanceof MarillError)) throw e;
      const what = [`generation plan '${spec.name}': ${describeShape(shape)}`, e.location.what]
        .filter(Boolean)
        .join(': ');
      throw new MarillError(e.message, { ...e.location, what });
    }
  });
  const keys = new Set<string>();
  for (const s of steps) {
    if (keys.has(stepKey(s.shape))) fail(spec, s.shape, 'the step is stated twice');
    keys.add(stepKey(s.shape));
  }
  const hash = generationHash(spec, spec.steps);
  if (spec.hash !== hash)
    throw new MarillError(
      `generation plan '${spec.name}' states hash ${spec.hash.slice(0, 12)}… but its content hashes to ${hash.slice(0, 12)}…`,
    );
  const g = assemble(
    {
      name: spec.name,
      fracBits: spec.fracBits,
      maxContext: spec.maxContext,
      tokens: spec.tokens,
      logits: spec.logits,
      state: spec.state,
    },
    steps,
    undefined,
  );
  return g;
}
