/**
 * The cost model (docs/cost-model.md): for every protocol node of a placed graph,
 * the bytes each party sends (online, per inference), the dealer's
 * preprocessing bytes, the rounds, and an estimated time on a network profile.
 *
 * Bytes and rounds are not modelled separately from the runtime: they are the
 * `cost` of the very op protocol the runtime binds to the node (runtime
 * registry), so what is predicted is what runs, and a test holds the runtime's
 * measured counts to it op by op. Time is an estimate: rounds x latency +
 * transfer at the profile's bandwidth + local work from the calibration.
 *
 * Report conventions: bytes are summed over both parties (bytes sent);
 * offline bytes are what the dealer sends to both parties; setup bytes and
 * rounds (once per session, e.g. opening a masked server weight) are apart.
 * Without a dealer (setting '2pc') the offline bytes are zero and the parties
 * make the correlations themselves: preprocessing bytes and rounds per op (the
 * op's flights) and per plan (their sums: rounds add up op by op, as online
 * rounds do, which is what each party measures), its time apart from the
 * online estimate, and the session's base OTs apart again (`preprocess_setup_*`).
 */
import { MarillError } from '../../ir/errors.ts';
import type { Graph, Node } from '../../ir/graph.ts';
import { hasGroup, normalizeAttrs } from '../../ir/ops.ts';
import { numel } from '../../ir/types.ts';
import { bindInSetting, isProtocolNode, nodeLabel, nodeSpec } from '../../runtime/bound-plan.ts';
import type { PlaintextEngineName } from '../../runtime/plaintext/engine.ts';
import { DEFAULT_PLAINTEXT_ENGINE } from '../../runtime/plaintext/engine.ts';
import { onnxLowering } from '../../runtime/plaintext/onnx-ops.ts';
import type { Setting } from '../../runtime/plan.ts';
import { DEFAULT_SETTING } from '../../runtime/plan.ts';
import type { Cost } from '../../runtime/protocol.ts';
import { preprocessingCost } from '../../runtime/twopc/correlations.ts';
import type { PairCost } from '../../runtime/twopc/link.ts';
import { otSessionSetupCost } from '../../runtime/twopc/triples.ts';
import type { Calibration } from './calibration.ts';
import { DEFAULT_CALIBRATION } from './calibration.ts';
import type { NetworkProfile } from './network.ts';
import { transferSeconds } from './network.ts';
import { matmulMacs } from '../emit/summary.ts';

/** Op classes for reports and charts. */
export type OpClass = 'linear' | 'softmax' | 'gelu' | 'norm' | 'other';
export const OP_CLASSES: readonly OpClass[] = ['linear', 'softmax', 'gelu', 'norm', 'other'];

export function opClass(n: Node): OpClass {
  if (n.op === 'softmax' || n.op === 'log_softmax') return 'softmax';
  if (n.op === 'gelu' || n.op === 'silu' || n.op === 'relu' || n.op === 'sigmoid' || n.op === 'tanh')
    return 'gelu';
  if (n.op === 'layernorm' || n.op === 'rmsnorm') return 'norm';
  if (n.op === 'matmul' || (hasGroup(n.op, 'linear') && !hasGroup(n.op, 'nonlinear'))) return 'linear';
  return 'other';
}

/** What an op, or a whole plan, costs in communication per inference (predicted or measured). */
export interface TrafficCounts {
  /** Bytes sent by both parties, online, per inference. */
  readonly online_bytes: number;
  /** Dealer -> parties bytes per inference. */
  readonly offline_bytes: number;
  readonly rounds: number;
  readonly setup_bytes: number;
  readonly setup_rounds: number;
  /**
   * Setting '2pc' (no dealer): bytes both parties send making the correlations
   * of one inference before its input is known, and their flights (an op: its
   * own; a plan: the sum over its ops).
   * Zero with a dealer.
   */
  readonly preprocess_bytes: number;
  readonly preprocess_rounds: number;
}

export interface OpCost extends TrafficCounts {
  readonly id: string;
  readonly op: string;
  readonly protocol: string;
  readonly class: OpClass;
  /** Online: rounds, transfer and local work of the inference (docs/cost-model.md). */
  readonly est_seconds: number;
  /** Making this op's correlations (setting '2pc'; 0 with a dealer): transfer and local work. */
  readonly preprocess_seconds: number;
}

export interface CostTotals extends TrafficCounts {
  /** Online, per inference (plaintext work included). */
  readonly est_seconds: number;
  /** Of est_seconds: plaintext work at the client and server (not under MPC). */
  readonly plaintext_seconds: number;
  /** Preprocessing of one inference (setting '2pc'; 0 with a dealer), apart from est_seconds. */
  readonly preprocess_seconds: number;
  /** est_seconds + preprocess_seconds: one inference with its preprocessing. */
  readonly total_seconds: number;
  /**
   * Setting '2pc': the base OTs that set up the session's OT extension (both
   * directions), once per session before any preprocessing; 0 with a dealer.
   */
  readonly preprocess_setup_bytes: number;
  readonly preprocess_setup_rounds: number;
  readonly preprocess_setup_seconds: number;
}

export interface ClassCost {
  online_bytes: number;
  rounds: number;
  est_seconds: number;
  preprocess_bytes: number;
  preprocess_seconds: number;
}

export interface PlanCost {
  readonly setting: Setting;
  readonly network: string;
  readonly fracBits: number;
  readonly total: CostTotals;
  readonly by_class: Readonly<Record<OpClass, Readonly<ClassCost>>>;
  readonly ops: readonly OpCost[];
}

export interface CostOptions {
  readonly network: NetworkProfile;
  readonly fracBits: number;
  /** Where correlated randomness comes from (default '2pc-dealer'). */
  readonly setting?: Setting;
  readonly calibration?: Calibration;
  /** The engine the parties run plaintext nodes with (default: onnxruntime, as the runtime). */
  readonly plaintextEngine?: PlaintextEngineName;
}

/**
 * The exact communication of one protocol node under a given protocol in a
 * setting (throws, naming the node, if it cannot run it there): the cost, and
 * in '2pc' the traffic of making its correlations as a `PairCost` (who sends
 * first and last).
 */
export function protocolCost(
  g: Graph,
  n: Node,
  protocol: string | undefined,
  fracBits: number,
  setting: Setting = DEFAULT_SETTING,
): { name: string; cost: Cost; preprocess: PairCost } {
  try {
    const { name, bound, correlations } = bindInSetting(setting, nodeSpec(g, n), protocol, { fracBits });
    return { name, cost: bound.cost, preprocess: preprocessingCost(correlations) };
  } catch (e) {
    if (e instanceof MarillError) throw new MarillError(e.message, { ...e.location, what: nodeLabel(n) });
    throw e;
  }
}

/** Estimated online seconds of an MPC op: network time plus local work. */
export function mpcSeconds(g: Graph, n: Node, c: Cost, net: NetworkProfile, cal: Calibration): number {
  const network = transferSeconds(net, c.onlineBytes, c.rounds);
  const commBytes = c.onlineBytes[0] + c.onlineBytes[1] + c.offlineBytes[0] + c.offlineBytes[1];
  let local = commBytes / cal.protocolBytesPerSecond;
  if (n.op === 'matmul') {
    // Each party multiplies its share by the public matrix (local), or runs the
    // Beaver products (about two ring matmuls of the op's size).
    const publicOperand = n.inputs.some((i) => g.values.get(i)!.visibility === 'public');
    local += ((publicOperand ? 1 : 2) * matmulMacs(g, n)) / cal.ringMacsPerSecond;
  }
  return network + local;
}

/**
 * Estimated seconds of making correlations that send `bytes` (per party) in
 * `flights`: the flights' latency and transfer, plus the local work of the OT
 * extension and Gilboa products, which is proportional to the bytes they send
 * (calibration.ts `preprocessBytesPerSecond`).
 */
export function preprocessSeconds(
  bytes: readonly [number, number],
  flights: number,
  net: NetworkProfile,
  cal: Calibration,
): number {
  return transferSeconds(net, bytes, flights) + (bytes[0] + bytes[1]) / cal.preprocessBytesPerSecond;
}

/** The once-per-session base OTs of a dealer-free session (zero with a dealer). */
export function preprocessSetup(
  setting: Setting,
  net: NetworkProfile,
  cal: Calibration,
): { bytes: number; rounds: number; seconds: number } {
  if (setting !== '2pc') return { bytes: 0, rounds: 0, seconds: 0 };
  const c = otSessionSetupCost();
  return {
    bytes: c.bytes[0] + c.bytes[1],
    rounds: c.flights,
    seconds: transferSeconds(net, c.bytes, c.flights) + cal.baseOtSetupSeconds,
  };
}

/**
 * Estimated seconds of a plaintext op at its owner, at the rates of the engine
 * that runs it: onnxruntime for an op with an ONNX lowering (the runtime's own
 * test, runtime/plaintext/onnx-ops.ts) under the 'ort' engine, else the interpreter.
 */
export function plaintextSeconds(
  g: Graph,
  n: Node,
  cal: Calibration,
  engine: PlaintextEngineName = DEFAULT_PLAINTEXT_ENGINE,
): number {
  if (hasGroup(n.op, 'source')) return 0;
  const onOrt =
    engine === 'ort' &&
    onnxLowering(
      n.op,
      normalizeAttrs(n.op, n.attrs),
      n.inputs.map((v) => g.values.get(v)!.type),
    ) !== null;
  if (n.op === 'matmul') return matmulMacs(g, n) / (onOrt ? cal.ortMacsPerSecond : cal.floatMacsPerSecond);
  const elements = numel(g.values.get(n.outputs[0]!)!.type.shape);
  return elements / (onOrt ? cal.ortElementsPerSecond : cal.floatElementsPerSecond);
}

function emptyClasses(): Record<OpClass, ClassCost> {
  return Object.fromEntries(
    OP_CLASSES.map((c) => [
      c,
      { online_bytes: 0, rounds: 0, est_seconds: 0, preprocess_bytes: 0, preprocess_seconds: 0 },
    ]),
  ) as Record<OpClass, ClassCost>;
}

export function costPlan(g: Graph, opts: CostOptions): PlanCost {
  const cal = opts.calibration ?? DEFAULT_CALIBRATION;
  const setting = opts.setting ?? DEFAULT_SETTING;
  const ops: OpCost[] = [];
  const preprocessing: PairCost[] = [];
  const byClass = emptyClasses();
  let plaintext = 0;
  for (const n of g.nodes) {
    if (!isProtocolNode(n)) {
      const s = plaintextSeconds(g, n, cal, opts.plaintextEngine);
      plaintext += s;
      byClass[opClass(n)].est_seconds += s;
      continue;
    }
    const { name, cost, preprocess } = protocolCost(g, n, n.protocol, opts.fracBits, setting);
    preprocessing.push(preprocess);
    const entry: OpCost = {
      id: n.outputs[0]!,
      op: n.op,
      protocol: name,
      class: opClass(n),
      online_bytes: cost.onlineBytes[0] + cost.onlineBytes[1],
      offline_bytes: cost.offlineBytes[0] + cost.offlineBytes[1],
      rounds: cost.rounds,
      setup_bytes: cost.setupBytes[0] + cost.setupBytes[1],
      setup_rounds: cost.setupRounds,
      preprocess_bytes: cost.preprocessBytes[0] + cost.preprocessBytes[1],
      preprocess_rounds: cost.preprocessRounds,
      est_seconds: mpcSeconds(g, n, cost, opts.network, cal),
      preprocess_seconds: preprocessSeconds(cost.preprocessBytes, cost.preprocessRounds, opts.network, cal),
    };
    ops.push(entry);
    const cls = byClass[entry.class];
    cls.online_bytes += entry.online_bytes;
    cls.rounds += entry.rounds;
    cls.est_seconds += entry.est_seconds;
    cls.preprocess_bytes += entry.preprocess_bytes;
    cls.preprocess_seconds += entry.preprocess_seconds;
  }
  const sum = (f: (o: OpCost) => number) => ops.reduce((s, o) => s + f(o), 0);
  // Rounds add up op by op, as online (runtime/mpc/accounting.ts): each op's flights are its own.
  const pre = {
    bytes: [
      preprocessing.reduce((s, c) => s + c.bytes[0], 0),
      preprocessing.reduce((s, c) => s + c.bytes[1], 0),
    ] as const,
    flights: sum((o) => o.preprocess_rounds),
  };
  const preSeconds = preprocessSeconds(pre.bytes, pre.flights, opts.network, cal);
  const online = sum((o) => o.est_seconds) + plaintext;
  const setup = preprocessSetup(setting, opts.network, cal);
  return {
    setting,
    network: opts.network.name,
    fracBits: opts.fracBits,
    total: {
      online_bytes: sum((o) => o.online_bytes),
      offline_bytes: sum((o) => o.offline_bytes),
      rounds: sum((o) => o.rounds),
      setup_bytes: sum((o) => o.setup_bytes),
      setup_rounds: sum((o) => o.setup_rounds),
      preprocess_bytes: pre.bytes[0] + pre.bytes[1],
      preprocess_rounds: pre.flights,
      est_seconds: online,
      plaintext_seconds: plaintext,
      preprocess_seconds: preSeconds,
      total_seconds: online + preSeconds,
      preprocess_setup_bytes: setup.bytes,
      preprocess_setup_rounds: setup.rounds,
      preprocess_setup_seconds: setup.seconds,
    },
    by_class: byClass,
    ops,
  };
}
