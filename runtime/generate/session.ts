/**
 * A generation session at one party: ONE channel, ONE handshake (the
 * generation plan's hash and weights digest), ONE dealer feed and ONE setup
 * cache for all the steps of a schedule (a prefill of P tokens, then one token
 * per step), each step running its own step plan (one ordinary checked plan
 * per step shape).
 *
 *  - The carried state (a KV cache) stays where the plan puts it between steps:
 *    shares of secret state at each party, the client's state at the client
 *    (runtime/executor.ts `step`).
 *  - Step k runs on the dealer material of inference k; the dealer deals it
 *    with step k's plan (`scheduleOps`), so both parties and the dealer must
 *    agree on the schedule (the server and the dealer learn P and the number
 *    of steps: docs/security.md).
 *  - Each step plan's executor is created when its step comes (its plaintext
 *    engine sessions with it) and released when the next step runs another
 *    plan: a schedule uses each step shape once.
 *  - Once-per-session work (masked server weights) is keyed by the op's
 *    session key (runtime/bound-plan.ts), which is the same in every step plan
 *    for the same weight, so it is done once per session, not once per step.
 */
import { MarillError } from '../../ir/errors.ts';
import type { Node, ValueId } from '../../ir/graph.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { makeTensor } from '../../ir/tensor.ts';
import type { BoundPlanOp } from '../bound-plan.ts';
import { bindPlan, planMessageBound } from '../bound-plan.ts';
import type { MaterialFeed, OpsAt } from '../dealer/feeds.ts';
import type { ExecutorOptions, WeightSource } from '../executor.ts';
import { CheckedWeights, PartyExecutor } from '../executor.ts';
import type { OpStats } from '../mpc/accounting.ts';
import { PartyAccounting, statsTotals } from '../mpc/accounting.ts';
import type { SessionState } from '../mpc/context.ts';
import type { Plan } from '../plan.ts';
import type { PlaintextEngineName } from '../plaintext/engine.ts';
import type { Operand, Party } from '../protocol.ts';
import type { GenerationPlan } from './plan.ts';
import { stepPlan } from './plan.ts';
import type { StepShape } from './schedule.ts';
import { contextNeeded, stepShape } from './schedule.ts';

/**
 * The steps of one generation session: a generation plan bound to the
 * schedule the client announced (prompt length, number of steps).
 */
export interface StepSchedule {
  /** The generation plan's hash and weights digest (what the handshake compares). */
  readonly hash: string;
  readonly weightsDigest: string;
  readonly fracBits: number;
  /** The client's token input (a graph input of every step plan). */
  readonly tokens: ValueId;
  /** The output revealed to the client: the last position's logits. */
  readonly logits: string;
  /** Prompt tokens and steps (the number of tokens to generate at most). */
  readonly prompt: number;
  readonly steps: number;
  /** The plan of a step shape (the same object for the same shape). */
  plan(shape: StepShape): Plan;
}

/**
 * A generation plan bound to a schedule of `steps` steps from a prompt of
 * `prompt` tokens; refused when it does not fit the plan's maxContext.
 */
export function scheduleOf(g: GenerationPlan, prompt: number, steps: number): StepSchedule {
  const context = contextNeeded(prompt, steps);
  if (context > g.maxContext)
    throw new MarillError(
      `a prompt of ${prompt} token(s) and ${steps} new token(s) need a context of ${context}, beyond the plan's maxContext ${g.maxContext}`,
    );
  return {
    hash: g.hash,
    weightsDigest: g.weightsDigest,
    fracBits: g.fracBits,
    tokens: g.tokens,
    logits: g.logits,
    prompt,
    steps,
    plan: (shape) => stepPlan(g, shape),
  };
}

/** The plan of step `index`. */
export function schedulePlan(s: StepSchedule, index: number): Plan {
  if (!Number.isInteger(index) || index < 0 || index >= s.steps)
    throw new MarillError(`step ${index} is outside the announced schedule of ${s.steps} step(s)`);
  return s.plan(stepShape(s.prompt, index));
}

/** The dealer's view of a schedule: step k's bound ops (bound once per step plan). */
export function scheduleOps(s: StepSchedule): OpsAt {
  const bound = new Map<Plan, readonly BoundPlanOp[]>();
  return (index) => {
    const plan = schedulePlan(s, index);
    let ops = bound.get(plan);
    if (!ops) bound.set(plan, (ops = bindPlan(plan)));
    return ops;
  };
}

/** The largest message of any step of the schedule (the channel refuses larger ones). */
export function scheduleMessageBound(s: StepSchedule): number {
  let most = 0;
  for (let k = 0; k < s.steps; k++) most = Math.max(most, planMessageBound(schedulePlan(s, k)));
  return most;
}

/**
 * A party's weights checked against a generation plan's step plans: one
 * model, checked against each step plan when that step first comes, each
 * tensor hashed once. Built once (a server serving many sessions shares it);
 * the first step plan is checked at once, so a wrong model fails before any
 * connection.
 */
export class GenerationWeights {
  private readonly hashes = new Map<Tensor, string>();
  private readonly checked = new Map<Plan, CheckedWeights>();

  constructor(
    readonly plan: GenerationPlan,
    readonly party: Party,
    private readonly source: WeightSource,
  ) {
    const first = plan.steps.values().next().value;
    if (first) this.for(first);
  }

  /** This party's weights checked against one step plan. */
  for(step: Plan): CheckedWeights {
    let c = this.checked.get(step);
    if (!c) this.checked.set(step, (c = CheckedWeights.check(step, this.party, this.source, this.hashes)));
    return c;
  }
}

/** One step as a party measured it: online bytes both ways, dealer bytes received, rounds, seconds. */
export interface StepMeasure {
  /** Tokens already in the cache before this step (0 for the prefill). */
  readonly position: number;
  /** Tokens this step feeds. */
  readonly sequence: number;
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
  /** Without a dealer: the step's preprocessing, both directions, and its flights. */
  readonly preprocess_bytes: number;
  readonly preprocess_rounds: number;
  /** Wall seconds of the step, once-per-session setup excluded. */
  readonly seconds: number;
}

/** Setup apart from the steps: the once-per-session work (masked server weights). */
export interface GenerationSetup {
  readonly seconds: number;
  readonly bytes: number;
  readonly rounds: number;
}

export interface GenerationPartyOptions {
  readonly schedule: StepSchedule;
  readonly party: Party;
  readonly feed: MaterialFeed;
  readonly weights: GenerationWeights;
  /** The session after the handshake (its channel, common seed and once cache serve every step). */
  readonly session: SessionState;
  readonly plaintextEngine?: PlaintextEngineName;
  readonly onProgress?: (done: number, total: number, node: Node) => void;
}

/** One party's side of a generation session, step by step. */
export class GenerationParty {
  /** Shared by the steps' executors: the session's accounting. */
  readonly accounting: PartyAccounting;
  private state = new Map<ValueId, Operand>();
  private index = 0;
  private current: { plan: Plan; executor: PartyExecutor } | undefined;
  /** The next step's executor, made ahead (`prepareNext`). */
  private next: { plan: Plan; executor: PartyExecutor } | undefined;
  private readonly measures: StepMeasure[] = [];

  constructor(private readonly o: GenerationPartyOptions) {
    if (o.session.party !== o.party || o.weights.party !== o.party)
      throw new MarillError(`a ${o.session.party} session for the ${o.party}'s generation`);
    this.accounting = new PartyAccounting(o.party);
  }

  get party(): Party {
    return this.o.party;
  }

  /** Steps run so far. */
  get done(): number {
    return this.index;
  }

  private makeExecutor(plan: Plan): PartyExecutor {
    const opts: ExecutorOptions = {
      accounting: this.accounting,
      ...(this.o.plaintextEngine ? { plaintextEngine: this.o.plaintextEngine } : {}),
    };
    const executor = new PartyExecutor(plan, this.o.party, this.o.feed, this.o.weights.for(plan), opts);
    executor.onProgress = this.o.onProgress;
    executor.attach(this.o.session);
    return executor;
  }

  private executorFor(plan: Plan): PartyExecutor {
    if (this.current?.plan === plan) return this.current.executor;
    // Each step shape comes once per schedule: the previous step's engine sessions are not needed again.
    this.current?.executor.release().catch(() => {});
    const next = this.next?.plan === plan ? this.next.executor : this.makeExecutor(plan);
    this.next = undefined;
    this.current = { plan, executor: next };
    return next;
  }

  /**
   * Creates the next step's executor and starts its plaintext engine sessions
   * (onnxruntime builds them off the main thread) while this party waits for
   * the next step: measured 8-28 ms per decode step plan on the examples,
   * 3-10% of a decode step.
   */
  private prepareNext(): void {
    if (this.index >= this.o.schedule.steps) return;
    const plan = schedulePlan(this.o.schedule, this.index);
    if (plan === this.current?.plan || plan === this.next?.plan) return;
    const executor = this.makeExecutor(plan);
    executor.prepare().catch(() => {}); // a failure surfaces when the step runs
    this.next = { plan, executor };
  }

  /**
   * Runs the next step of the schedule on the material of inference
   * `materialIndex` (default: the feed's next). The client gives the step's
   * token ids (the prompt, then the token it picked) and gets the last
   * position's logits; the server gives nothing and gets nothing.
   */
  async step(ids?: readonly number[], materialIndex?: number): Promise<Float32Array | undefined> {
    const { schedule, party } = this.o;
    const index = this.index;
    const shape = stepShape(schedule.prompt, index);
    const plan = schedulePlan(schedule, index);
    const inputs = new Map<string, Tensor>();
    if (party === 'client') {
      if (!ids || ids.length !== shape.sequence)
        throw new MarillError(
          `step ${index} feeds ${shape.sequence} token(s), the client gave ${ids?.length ?? 0}`,
        );
      inputs.set(
        schedule.tokens,
        makeTensor(
          'i64',
          [1, shape.sequence],
          BigInt64Array.from(ids, (t) => BigInt(t)),
        ),
      );
    }
    const executor = this.executorFor(plan);
    const before = statsTotals(this.accounting.list());
    const t0 = performance.now();
    const { outputs, state } = await executor.step(inputs, materialIndex, this.state);
    const after = statsTotals(this.accounting.list());
    this.state = state;
    this.index++;
    this.measures.push({
      position: shape.past,
      sequence: shape.sequence,
      online_bytes: after.online - before.online,
      offline_bytes: after.offline - before.offline,
      rounds: after.rounds - before.rounds,
      preprocess_bytes: after.preprocessBytes - before.preprocessBytes,
      preprocess_rounds: after.preprocessRounds - before.preprocessRounds,
      seconds: (performance.now() - t0) / 1000 - (after.setupSeconds - before.setupSeconds),
    });
    this.prepareNext();
    if (party !== 'client') return undefined;
    const logits = outputs.get(schedule.logits);
    if (!logits || logits.dtype !== 'f32')
      throw new MarillError(`step ${index} revealed no f32 output '${schedule.logits}' to the client`);
    return logits.data as Float32Array;
  }

  /** The operands this party holds for the carried state now (tests check what each party holds). */
  heldState(): ReadonlyMap<ValueId, Operand> {
    return this.state;
  }

  stats(): OpStats[] {
    return this.accounting.list();
  }

  /** Each step's measures, in order. */
  steps(): readonly StepMeasure[] {
    return this.measures;
  }

  setup(): GenerationSetup {
    const t = statsTotals(this.stats());
    return { seconds: t.setupSeconds, bytes: t.setupBytes, rounds: t.setupRounds };
  }

  /** Releases the current step's plaintext engine sessions. */
  async release(): Promise<void> {
    const { current, next } = this;
    this.current = undefined;
    this.next = undefined;
    await current?.executor.release();
    await next?.executor.release();
  }
}
