/**
 * `marillc inspect PLAN`: what a plan makes each party send and learn, for a
 * user deciding whether to trust it. Read from the checked plan (the loader
 * has already refused a plan that breaks the information-flow rules), so the
 * report states what the runtime will enforce:
 *  - the client's inputs (what it gives; secret-shared before anything leaves it);
 *  - each declared output: its shape, the reveal it comes from and the
 *    client-side ops between (what the client learns);
 *  - reveals to the server (always none in a checked plan);
 *  - the weights each party loads, by visibility (public: plain SHA-256, both
 *    parties; private: keyed hash, the server only);
 *  - where the ops run, the ops under MPC by op and protocol, and the predicted
 *    bytes each party sends per inference (runtime/bound-plan.ts planCosts).
 */
import type { Graph, Node, ValueId } from '../../ir/graph.ts';
import { producers } from '../../ir/graph.ts';
import { formatType } from '../../ir/types.ts';
import type { Placement, TensorType, Visibility } from '../../ir/types.ts';
import { planCosts } from '../../runtime/bound-plan.ts';
import type { GenerationPlan, StatePair } from '../../runtime/generate/plan.ts';
import { GENERATION_PLAN_FORMAT, generationShapes, stepPlan } from '../../runtime/generate/plan.ts';
import type { Plan, Setting } from '../../runtime/plan.ts';
import { PLAN_FORMAT } from '../../runtime/plan.ts';
import { formatBytes } from './cost-report.ts';

export interface InspectedValue {
  readonly name: string;
  readonly type: string;
}

export interface InspectedOutput extends InspectedValue {
  /** How the client gets it: `reveal` of an MPC value, or computed from data it already knows. */
  readonly via: 'reveal' | 'client data' | 'public data';
  /** The op that revealed it (`%id = reveal`), when via reveal. */
  readonly reveal?: string;
  /** The revealed value's type, when via reveal. */
  readonly revealedType?: string;
  /** Ops the client applies between the reveal and the output, in order. */
  readonly clientOps: readonly string[];
}

export interface InspectedWeight extends InspectedValue {
  readonly visibility: 'public' | 'server';
  readonly hash: string;
}

export interface PartyTraffic {
  readonly onlineBytes: number;
  readonly setupBytes: number;
  /** Correlated randomness the dealer sends this party (independent of inputs and weights). */
  readonly dealerBytes: number;
  /** Setting '2pc': what this party sends making the correlations with its peer, per inference. */
  readonly preprocessBytes: number;
}

export interface PlanInspection {
  readonly name: string;
  readonly format: string;
  readonly hash: string;
  readonly fracBits: number;
  /** Who makes the correlated randomness: a dealer ('2pc-dealer') or the two parties ('2pc'). */
  readonly setting: Setting;
  readonly clientPost: readonly string[];
  readonly clientInputs: readonly InspectedValue[];
  readonly clientLearns: readonly InspectedOutput[];
  /** Values revealed to the server (empty in every plan the runtime accepts). */
  readonly serverLearns: readonly InspectedValue[];
  readonly weights: readonly InspectedWeight[];
  readonly opsAt: Readonly<Record<Placement, number>>;
  /** `op (protocol)` -> count, for the nodes under MPC. */
  readonly mpcOps: Readonly<Record<string, number>>;
  readonly rounds: number;
  readonly setupRounds: number;
  readonly server: PartyTraffic;
  readonly client: PartyTraffic;
}

const typeText = (t: TensorType) => formatType(t);

function label(n: Node): string {
  return `%${n.outputs.join(', %')} = ${n.op}`;
}

/** From an output back to the reveal it comes from, through the client's single-operand ops. */
function traceOutput(
  g: Graph,
  defs: ReadonlyMap<ValueId, Node>,
  name: string,
  value: ValueId,
): InspectedOutput {
  const info = g.values.get(value)!;
  const clientOps: string[] = [];
  let v = value;
  for (;;) {
    const n = defs.get(v);
    if (n?.op === 'reveal') {
      return {
        name,
        type: typeText(info.type),
        via: 'reveal',
        reveal: label(n),
        revealedType: typeText(g.values.get(n.inputs[0]!)!.type),
        clientOps: clientOps.reverse(),
      };
    }
    if (!n || n.placement !== 'client' || n.inputs.length !== 1) break;
    clientOps.push(n.op);
    v = n.inputs[0]!;
  }
  const via = info.visibility === 'public' ? 'public data' : 'client data';
  return { name, type: typeText(info.type), via, clientOps: [] };
}

function weightsOf(g: Graph): InspectedWeight[] {
  const seen = new Map<string, InspectedWeight>();
  for (const n of g.nodes) {
    if (n.op !== 'weight') continue;
    const info = g.values.get(n.outputs[0]!)!;
    const name = String(n.attrs['name']);
    if (seen.has(name)) continue;
    seen.set(name, {
      name,
      type: typeText(info.type),
      visibility: info.visibility === 'server' ? 'server' : 'public',
      hash: String(n.attrs['hash']),
    });
  }
  return [...seen.values()];
}

export function inspectPlan(plan: Plan): PlanInspection {
  const g = plan.graph;
  const defs = producers(g);
  const vis = (id: ValueId): Visibility => g.values.get(id)!.visibility;
  const opsAt: Record<Placement, number> = { client: 0, server: 0, both: 0, mpc: 0 };
  const mpcOps: Record<string, number> = {};
  for (const n of g.nodes) {
    if (n.placement) opsAt[n.placement] += 1;
    if (n.placement !== 'mpc') continue;
    const key = `${n.op} (${n.protocol ?? 'default'})`;
    mpcOps[key] = (mpcOps[key] ?? 0) + 1;
  }
  const costs = planCosts(plan);
  const sum = (f: (c: (typeof costs)[number]) => number) => costs.reduce((s, c) => s + f(c), 0);
  const traffic = (k: 0 | 1): PartyTraffic => ({
    onlineBytes: sum((c) => c.cost.onlineBytes[k]),
    setupBytes: sum((c) => c.cost.setupBytes[k]),
    dealerBytes: sum((c) => c.cost.offlineBytes[k]),
    preprocessBytes: sum((c) => c.cost.preprocessBytes[k]),
  });
  return {
    name: plan.name,
    format: PLAN_FORMAT,
    hash: plan.hash,
    fracBits: plan.fracBits,
    setting: plan.setting,
    clientPost: plan.clientPost,
    clientInputs: g.inputs.map((id) => ({ name: id, type: typeText(g.values.get(id)!.type) })),
    // Carried state (generation) is not learned: it stays where it was computed.
    clientLearns: g.outputs
      .filter((o) => o.state === undefined)
      .map((o) => traceOutput(g, defs, o.name, o.value)),
    serverLearns: g.nodes
      .filter((n) => n.op === 'reveal' && vis(n.outputs[0]!) === 'server')
      .map((n) => ({ name: label(n), type: typeText(g.values.get(n.outputs[0]!)!.type) })),
    weights: weightsOf(g),
    opsAt,
    mpcOps,
    rounds: sum((c) => c.cost.rounds),
    setupRounds: sum((c) => c.cost.setupRounds),
    server: traffic(0),
    client: traffic(1),
  };
}

function outputLine(o: InspectedOutput): string {
  if (o.via !== 'reveal') return `  ${o.name}: ${o.type}, computed by the client from ${o.via} (no reveal)`;
  const post = o.clientOps.length > 0 ? `, then ${o.clientOps.join(', ')} at the client` : '';
  return `  ${o.name}: ${o.type}, revealed by ${o.reveal} (of ${o.revealedType})${post}`;
}

function weightLines(ws: readonly InspectedWeight[]): string[] {
  return ws.map((w) => `    ${w.name}: ${w.type}`);
}

function trafficLine(who: string, t: PartyTraffic, setting: Setting): string {
  const setup = t.setupBytes > 0 ? ` (+ ${formatBytes(t.setupBytes)} once per session)` : '';
  const randomness =
    setting === '2pc'
      ? `${formatBytes(t.preprocessBytes)} more making the correlations before each inference (no dealer)`
      : `the dealer sends it ${formatBytes(t.dealerBytes)}`;
  return `  the ${who} sends ${formatBytes(t.onlineBytes)} per inference${setup}; ${randomness}`;
}

const noDealer = (setting: Setting): string => (setting === '2pc' ? ', setting 2pc (no dealer)' : '');

/** Who makes the correlated randomness, and what they learn. */
function randomnessLine(setting: Setting): string {
  return setting === '2pc'
    ? 'No dealer (setting 2pc): the server and the client make the correlated randomness together (oblivious transfer), before the input is known; neither learns the other’s part.'
    : 'The dealer learns no input, weight or output: it sends correlated randomness, independent of them.';
}

export function formatInspection(r: PlanInspection): string {
  const pub = r.weights.filter((w) => w.visibility === 'public');
  const priv = r.weights.filter((w) => w.visibility === 'server');
  const mpcRows = Object.entries(r.mpcOps).sort(([a], [b]) => (a < b ? -1 : 1));
  const lines = [
    `plan '${r.name}' (${r.format}), ${r.fracBits} fractional bits${noDealer(r.setting)}`,
    `hash ${r.hash}`,
    '',
    'The client gives (never sent in the clear: it computes on them itself or secret-shares them):',
    ...(r.clientInputs.length > 0 ? r.clientInputs.map((i) => `  ${i.name}: ${i.type}`) : ['  no input']),
    '',
    'The client learns (the declared outputs, nothing else is revealed):',
    ...(r.clientLearns.length > 0 ? r.clientLearns.map(outputLine) : ['  no output']),
    ...(r.clientPost.length > 0
      ? [`  declared client post-processing after a reveal: ${r.clientPost.join(', ')}`]
      : []),
    '',
    'The server learns:',
    ...(r.serverLearns.length === 0
      ? ['  no value: nothing is revealed to the server; it sees only shares and masked openings']
      : r.serverLearns.map((v) => `  ${v.name}: ${v.type}`)),
    '',
    randomnessLine(r.setting),
    '',
    `Weights (${pub.length} public, ${priv.length} private):`,
    `  both parties load ${pub.length} public weight(s), each checked by its SHA-256:`,
    ...weightLines(pub),
    `  the server loads ${priv.length} private weight(s), named in the plan by a keyed hash that only the server can check:`,
    ...weightLines(priv),
    '',
    `Ops: ${Object.values(r.opsAt).reduce((a, b) => a + b, 0)} in all; ${r.opsAt.mpc} under MPC, ${r.opsAt.client} at the client, ${r.opsAt.server} at the server, ${r.opsAt.both} at both (public data)`,
    'Ops under MPC (op, protocol: count):',
    ...mpcRows.map(([k, n]) => `  ${k}: ${n}`),
    '',
    `Communication, predicted (${r.rounds} rounds per inference, ${r.setupRounds} once per session):`,
    trafficLine('server', r.server, r.setting),
    trafficLine('client', r.client, r.setting),
  ];
  return `${lines.join('\n')}\n`;
}

// ---- generation plans -------------------------------------------------------------------------------

export interface InspectedStep {
  readonly sequence: number;
  readonly past: number;
  readonly hash: string;
  readonly clientLearns: readonly InspectedOutput[];
  readonly opsAt: Readonly<Record<Placement, number>>;
  readonly rounds: number;
  readonly server: PartyTraffic;
  readonly client: PartyTraffic;
}

export interface GenerationInspection {
  readonly name: string;
  readonly format: string;
  readonly hash: string;
  readonly fracBits: number;
  readonly setting: Setting;
  readonly maxContext: number;
  readonly tokens: string;
  /** Each cache pair and who keeps it between steps. */
  readonly state: readonly StatePair[];
  /** Values revealed to the server in any step (empty in every plan the runtime accepts). */
  readonly serverLearns: readonly InspectedValue[];
  readonly weights: readonly InspectedWeight[];
  readonly setupRounds: number;
  readonly steps: readonly InspectedStep[];
}

/** A generation plan described as `inspect` describes a plan: per step what is revealed and sent. */
export function inspectGenerationPlan(g: GenerationPlan): GenerationInspection {
  const shapes = generationShapes(g.maxContext);
  const inspected = shapes.map((s) => ({ s, r: inspectPlan(stepPlan(g, s)) }));
  const first = inspected[0]!.r;
  return {
    name: g.name,
    format: GENERATION_PLAN_FORMAT,
    hash: g.hash,
    fracBits: g.fracBits,
    setting: g.setting,
    maxContext: g.maxContext,
    tokens: g.tokens,
    state: g.state,
    serverLearns: inspected.flatMap(({ s, r }) =>
      r.serverLearns.map((v) => ({
        ...v,
        name: `step {sequence: ${s.sequence}, past: ${s.past}}: ${v.name}`,
      })),
    ),
    weights: first.weights,
    setupRounds: first.setupRounds,
    steps: inspected.map(({ s, r }) => ({
      sequence: s.sequence,
      past: s.past,
      hash: r.hash,
      clientLearns: r.clientLearns,
      opsAt: r.opsAt,
      rounds: r.rounds,
      server: r.server,
      client: r.client,
    })),
  };
}

export function formatGenerationInspection(r: GenerationInspection): string {
  const pub = r.weights.filter((w) => w.visibility === 'public');
  const priv = r.weights.filter((w) => w.visibility === 'server');
  const kept = (v: 'client' | 'secret') => r.state.filter((p) => p.visibility === v);
  const learns = r.steps[0]!.clientLearns;
  const stepRows = r.steps.map((s) =>
    [
      s.past === 0 ? `prefill ${s.sequence}` : `decode @${s.past}`,
      `${s.opsAt.mpc}`,
      `${s.opsAt.client}`,
      `${s.rounds}`,
      formatBytes(s.client.onlineBytes),
      formatBytes(s.server.onlineBytes),
      r.setting === '2pc'
        ? formatBytes(s.client.preprocessBytes + s.server.preprocessBytes)
        : formatBytes(s.client.dealerBytes + s.server.dealerBytes),
    ].join('\t'),
  );
  const lines = [
    `generation plan '${r.name}' (${r.format}), ${r.fracBits} fractional bits${noDealer(r.setting)}, max context ${r.maxContext} tokens`,
    `hash ${r.hash}`,
    `${r.steps.length} steps: the prefill of a prompt of P tokens {sequence: P, past: 0}, then one token per step {sequence: 1, past: p}`,
    '',
    'The client gives (never sent in the clear: it computes on them itself or secret-shares them):',
    `  ${r.tokens}: i64[1,sequence], the prompt, then each token it picked`,
    '',
    'The client learns, at each step (nothing else is revealed):',
    ...learns.map(outputLine),
    '  (the last position only; the other positions are never revealed)',
    '',
    'The cache carried from step to step:',
    `  kept by the client in plaintext (layers it runs itself): ${
      kept('client')
        .map((p) => p.input)
        .join(', ') || 'none'
    }`,
    `  kept as the parties' shares, never revealed to anyone (layers under MPC): ${
      kept('secret')
        .map((p) => p.input)
        .join(', ') || 'none'
    }`,
    '',
    'The server learns:',
    ...(r.serverLearns.length === 0
      ? ['  no value in any step: it sees only shares and masked openings']
      : r.serverLearns.map((v) => `  ${v.name}: ${v.type}`)),
    '',
    randomnessLine(r.setting),
    '',
    `Weights (${pub.length} public, ${priv.length} private; the same in every step):`,
    `  both parties load ${pub.length} public weight(s), each checked by its SHA-256:`,
    ...weightLines(pub),
    `  the server loads ${priv.length} private weight(s), named in the plan by a keyed hash that only the server can check:`,
    ...weightLines(priv),
    '',
    `Steps, predicted (${r.setupRounds} rounds once per session):`,
    [
      'step',
      'mpc ops',
      'client ops',
      'rounds',
      'client sends',
      'server sends',
      r.setting === '2pc' ? 'preprocessing' : 'dealer sends',
    ].join('\t'),
    ...stepRows,
  ];
  return `${lines.join('\n')}\n`;
}
