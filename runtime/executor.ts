/**
 * Runs ONE party's side of a plan, one inference at a time.
 *
 * Per node, in plan order:
 *  - weight: the party loads it if it may know it (public: both; server/client:
 *    the owner), checked against the plan's hash (a private weight's is keyed:
 *    the server checks it with the plan's weight key, runtime/plan.ts);
 *  - const: both parties (constants are public);
 *  - plaintext nodes (placement client/server/both): computed by the party(ies)
 *    placed; the other party holds nothing for the result. With the 'ort'
 *    engine (the default) each maximal run of them becomes a segment that
 *    onnxruntime runs as one model (./plaintext/), created once in `prepare`;
 *    nodes without a faithful ONNX lowering, and every node with the
 *    'interpreter' engine, run on the interpreter's evalOp (the reference);
 *  - protocol nodes (share, reveal, mpc): the bound protocol, with this party's
 *    dealer frame for the op, in a context that accounts the op.
 * Values are dropped after their last use. Errors carry the node.
 *
 * Carried state (a generation's steps, ir/graph.ts `GraphOutput.state`): a
 * step takes, beside the client's inputs, the state operands the previous
 * step left (a secret state: this party's share; a client state: the tensor
 * at the client, nothing at the server) and returns its state outputs as
 * operands the session keeps for the next step, never revealed. At the first
 * step a state input of zero elements (a prefill's empty past) starts empty.
 */
import { MarillError } from '../ir/errors.ts';
import type { Graph, Node, ValueId } from '../ir/graph.ts';
import { stateInputs } from '../ir/graph.ts';
import { evalOp } from '../ir/interpret.ts';
import { normalizeAttrs } from '../ir/ops.ts';
import type { Tensor } from '../ir/tensor.ts';
import { makeTensor, tensorHash } from '../ir/tensor.ts';
import type { TensorType } from '../ir/types.ts';
import { formatType, numel, shapeEquals } from '../ir/types.ts';
import type { BoundPlanOp } from './bound-plan.ts';
import { bindPlan, nodeLabel } from './bound-plan.ts';
import type { MaterialFeed } from './dealer/feeds.ts';
import { MaterialSource } from './dealer/streams.ts';
import { PartyAccounting } from './mpc/accounting.ts';
import type { SessionState } from './mpc/context.ts';
import { opContext } from './mpc/context.ts';
import type { Plan } from './plan.ts';
import { planWeightHash } from './plan.ts';
import type { PlaintextEngineName } from './plaintext/engine.ts';
import { DEFAULT_PLAINTEXT_ENGINE } from './plaintext/engine.ts';
import { onnxLowering } from './plaintext/onnx-ops.ts';
import type { SegmentRunner } from './plaintext/ort-engine.ts';
import { ortRunners } from './plaintext/ort-engine.ts';
import { segmentModel } from './plaintext/segment-model.ts';
import type { NodeRole, Segment } from './plaintext/segments.ts';
import { planSegments } from './plaintext/segments.ts';
import type { Operand, Party } from './protocol.ts';

/** Weights by name (the server's model, or the client's public weights). */
export type WeightSource = ReadonlyMap<string, Tensor>;

function knows(party: Party, visibility: string): boolean {
  return visibility === 'public' || visibility === party;
}

function runsAt(party: Party, node: Node, visibility: string): boolean {
  const placement = node.placement ?? (visibility === 'public' ? 'both' : visibility);
  return placement === 'both' || placement === party;
}

function sameType(t: Tensor, want: TensorType): boolean {
  return t.dtype === want.dtype && shapeEquals(t.shape, want.shape);
}

/** Index of the last node reading each value; outputs live to the end. */
function lastUses(g: Graph): Map<ValueId, number> {
  const last = new Map<ValueId, number>();
  g.nodes.forEach((n, i) => n.inputs.forEach((v) => last.set(v, i)));
  for (const o of g.outputs) last.set(o.value, Infinity);
  return last;
}

/** Carried state between steps, by the graph input it feeds: this party's operands. */
export type StepState = ReadonlyMap<ValueId, Operand>;

/** What one step (an inference of a plan with state outputs) gives this party. */
export interface StepResult {
  /** The graph's result outputs this party learns, by output name. */
  readonly outputs: Map<string, Tensor>;
  /** The state for the next step: shares of secret state, the client's own state at the client. */
  readonly state: Map<ValueId, Operand>;
}

/**
 * A state input at its first step: empty (a prefill's past of length 0) as a
 * share, or as the client's tensor; a state of any other size must come from
 * a previous step.
 */
function initialState(party: Party, id: ValueId, type: TensorType, visibility: string): Operand {
  if (numel(type.shape) !== 0)
    throw new MarillError(
      `is carried state of ${formatType(type)}, but no previous step left it (only an empty state starts a generation)`,
      { what: `state input '${id}'` },
    );
  if (visibility === 'secret')
    return { kind: 'share', share: { shape: [...type.shape], data: new BigInt64Array(0) } };
  return knows(party, visibility)
    ? { kind: 'plain', tensor: makeTensor(type.dtype, type.shape) }
    : { kind: 'hidden', type };
}

/** Checks a carried state operand against the state input it feeds. */
function stateOperand(party: Party, id: ValueId, type: TensorType, visibility: string, o: Operand): Operand {
  const what = `state input '${id}'`;
  const shape = o.kind === 'share' ? o.share.shape : o.kind === 'plain' ? o.tensor.shape : o.type.shape;
  if (!shapeEquals(shape, type.shape))
    throw new MarillError(
      `the previous step left [${shape.join(',')}], this step needs ${formatType(type)}`,
      {
        what,
      },
    );
  const want = visibility === 'secret' ? 'share' : knows(party, visibility) ? 'plain' : 'hidden';
  if (o.kind !== want)
    throw new MarillError(`is ${visibility} state, but the ${party} holds a ${o.kind} operand for it`, {
      what,
    });
  return o;
}

export interface ExecutorOptions {
  /** What runs the plaintext nodes placed at this party (default 'ort'). */
  readonly plaintextEngine?: PlaintextEngineName;
  /** The most initializer bytes one segment's model holds (default MAX_BAKED_BYTES). */
  readonly maxSegmentBytes?: number;
  /** Where to count (a generation's step executors share one; default: the executor's own). */
  readonly accounting?: PartyAccounting;
}

interface ReadySegment {
  readonly segment: Segment;
  readonly runner: SegmentRunner;
}

/**
 * A party's weights checked against a plan (type and content hash of every
 * weight it may know), by value id. Checked once; sessions share it read-only
 * (a server serving many sessions hashes its model once, not per session).
 */
export class CheckedWeights {
  private constructor(
    readonly plan: Plan,
    readonly party: Party,
    readonly byValue: ReadonlyMap<ValueId, Tensor>,
  ) {}

  /**
   * `hashes` remembers each tensor's content hash across calls (a generation
   * checks one model against each of its step plans, hashing it once).
   */
  static check(
    plan: Plan,
    party: Party,
    source: WeightSource,
    hashes: Map<Tensor, string> = new Map(),
  ): CheckedWeights {
    const byValue = new Map<ValueId, Tensor>();
    for (const node of plan.graph.nodes) {
      if (node.op !== 'weight') continue;
      const id = node.outputs[0]!;
      const info = plan.graph.values.get(id)!;
      if (!knows(party, info.visibility)) continue;
      const name = String(node.attrs['name']);
      const t = source.get(name);
      const what = `weight '${name}'`;
      if (!t) throw new MarillError(`is missing from the ${party}'s weights`, { what });
      if (!sameType(t, info.type))
        throw new MarillError(
          `is ${t.dtype}[${t.shape.join(',')}], the plan needs ${formatType(info.type)}`,
          { what },
        );
      const want = String(node.attrs['hash']);
      let content = hashes.get(t);
      if (content === undefined) hashes.set(t, (content = tensorHash(t)));
      if (planWeightHash(plan, info.visibility, content) !== want)
        throw new MarillError(
          `differs from the plan's (${info.visibility} weight hash ${want.slice(0, 12)}…): not the model the plan was compiled for`,
          { what },
        );
      byValue.set(id, t);
    }
    return new CheckedWeights(plan, party, byValue);
  }
}

export class PartyExecutor {
  readonly accounting: PartyAccounting;
  private readonly ops: Map<number, BoundPlanOp>;
  private readonly weights: ReadonlyMap<ValueId, Tensor>;
  private readonly material: MaterialSource;
  private readonly last: Map<ValueId, number>;
  private session: SessionState | undefined;
  readonly plaintextEngine: PlaintextEngineName;
  /** This party's plaintext segments (ort engine; empty with the interpreter). */
  readonly segments: readonly Segment[];
  private ready: Promise<Map<number, ReadySegment>> | undefined;
  /** Node indices a segment computes (skipped when the executor reaches them). */
  private readonly inSegment: Set<number>;
  private readonly consts: Map<ValueId, Node>;
  /** Called after each node of an inference (progress display on long runs). */
  onProgress: ((done: number, total: number, node: Node) => void) | undefined;

  /** Binds the plan and takes this party's weights, checked (no communication yet). */
  constructor(
    private readonly plan: Plan,
    readonly party: Party,
    private readonly feed: MaterialFeed,
    weights: WeightSource | CheckedWeights,
    opts: ExecutorOptions = {},
  ) {
    this.accounting = opts.accounting ?? new PartyAccounting(party);
    this.ops = new Map(bindPlan(plan).map((b) => [b.index, b]));
    this.material = new MaterialSource(party, feed.seeds);
    this.last = lastUses(plan.graph);
    const checked = weights instanceof CheckedWeights ? weights : CheckedWeights.check(plan, party, weights);
    if (checked.plan !== plan || checked.party !== party)
      throw new MarillError(`weights checked for the ${checked.party} of another plan`);
    this.weights = checked.byValue;
    this.plaintextEngine = opts.plaintextEngine ?? DEFAULT_PLAINTEXT_ENGINE;
    this.consts = new Map(plan.graph.nodes.filter((n) => n.op === 'const').map((n) => [n.outputs[0]!, n]));
    this.segments =
      this.plaintextEngine === 'ort'
        ? planSegments(
            plan.graph,
            (i) => this.role(i),
            (v) => this.baked(v),
            opts.maxSegmentBytes,
          ).filter((s) => s.outputs.length > 0)
        : [];
    this.inSegment = new Set(this.segments.flatMap((s) => s.nodes));
  }

  /**
   * Creates the plaintext engine's sessions, once (session setup: the party
   * session calls it beside the handshake; `infer` awaits it too).
   */
  prepare(): Promise<void> {
    this.ready ??= this.createRunners();
    return this.ready.then(() => undefined);
  }

  private async createRunners(): Promise<Map<number, ReadySegment>> {
    const { graph } = this.plan;
    const models = this.segments.map((s) => segmentModel(graph, s, (v) => this.sourceTensor(v)));
    const runners = await ortRunners(models, this.party);
    return new Map(this.segments.map((segment, i) => [segment.nodes[0]!, { segment, runner: runners[i]! }]));
  }

  /** What node `index` is to this party's plaintext segments. */
  private role(index: number): NodeRole {
    const { graph } = this.plan;
    const node = graph.nodes[index]!;
    if (this.ops.has(index)) return 'barrier';
    if (node.op === 'weight' || node.op === 'const') return 'source';
    if (!runsAt(this.party, node, graph.values.get(node.outputs[0]!)!.visibility)) return 'idle';
    const inTypes = node.inputs.map((v) => graph.values.get(v)!.type);
    return onnxLowering(node.op, normalizeAttrs(node.op, node.attrs), inTypes) ? 'local' : 'barrier';
  }

  /** A weight this party loaded, or a const: a segment holds it as an initializer. */
  private baked(v: ValueId): boolean {
    return this.weights.has(v) || this.consts.has(v);
  }

  private sourceTensor(v: ValueId): Tensor {
    const w = this.weights.get(v);
    if (w) return w;
    const n = this.consts.get(v)!;
    return evalOp('const', [], n.attrs, [this.plan.graph.values.get(v)!.type])[0]!;
  }

  /** Releases the plaintext engine's sessions. */
  async release(): Promise<void> {
    const ready = this.ready;
    this.ready = undefined;
    if (ready) for (const { runner } of (await ready).values()) await runner.release();
  }

  /** Connects the executor to a session (after the handshake). */
  attach(session: SessionState): void {
    if (session.party !== this.party)
      throw new MarillError(`a ${session.party} session for the ${this.party}'s executor`);
    this.session = session;
  }

  /**
   * Runs one inference on the dealer material of inference `materialIndex`
   * (reserved from the feed by the caller; by default the feed's next);
   * returns the graph outputs this party learns (by output name).
   */
  async infer(inputs: ReadonlyMap<string, Tensor>, materialIndex?: number): Promise<Map<string, Tensor>> {
    return (await this.step(inputs, materialIndex)).outputs;
  }

  /**
   * One step: `infer` with carried state in (`state`, by the state input it
   * feeds; absent at the first step) and out.
   */
  async step(
    inputs: ReadonlyMap<string, Tensor>,
    materialIndex?: number,
    state: StepState = new Map(),
  ): Promise<StepResult> {
    if (!this.session) throw new MarillError('the executor has no session (attach it after the handshake)');
    await this.prepare();
    const segmentsAt = (await this.ready)!;
    const { graph } = this.plan;
    const env = new Map<ValueId, Operand>();
    const carried = stateInputs(graph);
    for (const id of graph.inputs) {
      const info = graph.values.get(id)!;
      if (carried.has(id) && info.visibility !== 'secret' && !knows(this.party, info.visibility)) {
        env.set(id, { kind: 'hidden', type: info.type }); // the client's state: nothing here
        continue;
      }
      if (carried.has(id)) {
        const o = state.get(id);
        env.set(
          id,
          o
            ? stateOperand(this.party, id, info.type, info.visibility, o)
            : initialState(this.party, id, info.type, info.visibility),
        );
        continue;
      }
      if (!knows(this.party, info.visibility)) {
        env.set(id, { kind: 'hidden', type: info.type });
        continue;
      }
      const t = inputs.get(id);
      const what = `input '${id}'`;
      if (!t)
        throw new MarillError(`is missing (the ${this.party} must give ${formatType(info.type)})`, { what });
      if (!sameType(t, info.type))
        throw new MarillError(
          `is ${t.dtype}[${t.shape.join(',')}], the plan needs ${formatType(info.type)}`,
          { what },
        );
      env.set(id, { kind: 'plain', tensor: t });
    }
    const index = materialIndex ?? this.feed.reserve();
    await this.feed.begin(index, { session: this.session, accounting: this.accounting });
    this.material.startInference(index);
    for (let index = 0; index < graph.nodes.length; index++) {
      const node = graph.nodes[index]!;
      try {
        const ready = segmentsAt.get(index);
        if (ready) await this.runSegment(ready, env);
        else if (!this.inSegment.has(index)) {
          const results = await this.runNode(index, node, env);
          node.outputs.forEach((o, k) => env.set(o, results[k]!));
        }
      } catch (e) {
        if (e instanceof MarillError && e.location.what === undefined)
          throw new MarillError(e.message, { ...e.location, what: nodeLabel(node) });
        if (e instanceof MarillError) throw e;
        throw new MarillError(e instanceof Error ? e.message : String(e), { what: nodeLabel(node) });
      }
      for (const v of new Set([...node.inputs, ...node.outputs]))
        if ((this.last.get(v) ?? -1) <= index) env.delete(v);
      this.onProgress?.(index + 1, graph.nodes.length, node);
    }
    const out = new Map<string, Tensor>();
    const next = new Map<ValueId, Operand>();
    for (const o of graph.outputs) {
      const v = env.get(o.value);
      if (o.state !== undefined) {
        // Kept where it was computed: shares stay shares, the client's state stays at the client.
        if (v && v.kind !== 'hidden') next.set(o.state, v);
        continue;
      }
      if (v?.kind === 'plain') out.set(o.name, v.tensor);
      // Every output is the client's (ir/flow.ts); one it did not learn is a failed run, not an empty result.
      else if (this.party === 'client')
        throw new MarillError(`the client did not learn output '${o.name}' (%${o.value})`);
    }
    return { outputs: out, state: next };
  }

  private async runNode(index: number, node: Node, env: Map<ValueId, Operand>): Promise<Operand[]> {
    const { graph } = this.plan;
    const outTypes = node.outputs.map((o) => graph.values.get(o)!.type);
    const hidden = (): Operand[] => outTypes.map((type) => ({ kind: 'hidden', type }));
    const operands = node.inputs.map((v) => {
      const o = env.get(v);
      if (!o) throw new MarillError(`operand %${v} has no value here`);
      return o;
    });
    const bound = this.ops.get(index);
    if (bound) return this.runProtocol(bound, operands);
    const visibility = graph.values.get(node.outputs[0]!)!.visibility;
    if (node.op === 'weight') {
      const t = this.weights.get(node.outputs[0]!);
      return t ? [{ kind: 'plain', tensor: t }] : hidden();
    }
    if (node.op === 'const')
      return evalOp('const', [], node.attrs, outTypes).map((tensor) => ({ kind: 'plain', tensor }));
    if (!runsAt(this.party, node, visibility)) return hidden();
    const tensors = operands.map((o, i) => {
      if (o.kind !== 'plain')
        throw new MarillError(
          `the ${this.party} computes this node in plaintext but does not know operand %${node.inputs[i]}`,
        );
      return o.tensor;
    });
    return evalOp(node.op, tensors, node.attrs, outTypes).map((tensor) => ({ kind: 'plain', tensor }));
  }

  /** A segment on onnxruntime: its live-ins from the environment, its live-outs back into it. */
  private async runSegment({ segment, runner }: ReadySegment, env: Map<ValueId, Operand>): Promise<void> {
    const { graph } = this.plan;
    const tensors = segment.inputs.map((v) => {
      const o = env.get(v);
      if (o?.kind === 'plain') return o.tensor;
      const reader = segment.nodes.map((i) => graph.nodes[i]!).find((n) => n.inputs.includes(v))!;
      throw new MarillError(
        `the ${this.party} computes this node in plaintext but does not know operand %${v}`,
        { what: nodeLabel(reader) },
      );
    });
    const results = await runner.run(tensors);
    segment.outputs.forEach((v, k) => env.set(v, { kind: 'plain', tensor: results[k]! }));
  }

  private async runProtocol(op: BoundPlanOp, operands: readonly Operand[]): Promise<Operand[]> {
    const frame = await this.feed.next();
    const stats = this.accounting.op(op.spec.id, op.node.op, op.protocol);
    stats.offlineBytes += frame.byteLength;
    stats.runs += 1;
    const stream = this.material.forOp(op.spec.id, frame, op.sessionKey, this.feed.preprocessed?.());
    const run = op.bound.prepare(stream);
    stream.finish();
    const t0 = performance.now();
    const results = await run(opContext(this.session!, stats, op.sessionKey), operands);
    stats.seconds += (performance.now() - t0) / 1000;
    return results;
  }
}
