/**
 * The JSON reports the end-to-end tests read: `marillc --report` (predicted
 * costs, `cost.*`) and `marillc run --report` (one party's measured costs,
 * `measured.*`), checked field by field on reading so a renamed key fails with
 * its name; and the comparison of a prediction with the two parties' measures,
 * written here from the report definitions (docs/cost-model.md, issue 5 item 7)
 * rather than with the compiler's own comparison.
 */
import { readFileSync } from 'node:fs';

/** The per-op counters both reports share. */
export interface OpCounts {
  readonly id: string;
  readonly op: string;
  readonly protocol: string;
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
  readonly setup_bytes: number;
  readonly setup_rounds: number;
  readonly preprocess_bytes: number;
  readonly preprocess_rounds: number;
}

export interface CountTotals {
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
  readonly setup_bytes: number;
  readonly setup_rounds: number;
  /** Without a dealer: what the parties send making the correlations, and their flights. */
  readonly preprocess_bytes: number;
  readonly preprocess_rounds: number;
}

export interface PredictedCost {
  readonly setting: string;
  readonly network: unknown;
  readonly total: CountTotals & { readonly est_seconds: number };
  readonly ops: readonly OpCounts[];
}

/** One party's report: online and setup bytes it sent, offline bytes the dealer sent it. */
export interface PartyMeasured {
  readonly party: string;
  readonly total: CountTotals & { readonly seconds: number };
  readonly ops: readonly OpCounts[];
}

export interface CompileReport {
  readonly cost: PredictedCost;
  /** Each initializer of the compiled model and whether the plan made it public. */
  readonly weights: readonly { readonly name: string; readonly public: boolean }[];
}

type Json = Record<string, unknown>;

function record(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what}: expected an object`);
  return v as Json;
}

function numberAt(o: Json, key: string, what: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${what}.${key}: expected a number`);
  return v;
}

function stringAt(o: Json, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Error(`${what}.${key}: expected a string`);
  return v;
}

function arrayAt(o: Json, key: string, what: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new Error(`${what}.${key}: expected an array`);
  return v;
}

const COUNT_KEYS = [
  'online_bytes',
  'offline_bytes',
  'rounds',
  'setup_bytes',
  'setup_rounds',
  'preprocess_bytes',
  'preprocess_rounds',
] as const;
/** Counted by the sender (summed over the parties) and by both parties (equal at each). */
const BYTE_KEYS = ['online_bytes', 'offline_bytes', 'setup_bytes', 'preprocess_bytes'] as const;
const ROUND_KEYS = ['rounds', 'setup_rounds', 'preprocess_rounds'] as const;

function counts(o: Json, what: string): CountTotals {
  return Object.fromEntries(COUNT_KEYS.map((k) => [k, numberAt(o, k, what)])) as unknown as CountTotals;
}

function opCounts(v: unknown, what: string): OpCounts {
  const o = record(v, what);
  return {
    id: stringAt(o, 'id', what),
    op: stringAt(o, 'op', what),
    protocol: stringAt(o, 'protocol', what),
    ...counts(o, what),
  };
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

export function readCompileReport(path: string): CompileReport {
  const root = record(readJson(path), path);
  const cost = record(root['cost'], 'cost');
  const total = record(cost['total'], 'cost.total');
  return {
    cost: {
      setting: stringAt(cost, 'setting', 'cost'),
      network: cost['network'],
      total: { ...counts(total, 'cost.total'), est_seconds: numberAt(total, 'est_seconds', 'cost.total') },
      ops: arrayAt(cost, 'ops', 'cost').map((op, i) => opCounts(op, `cost.ops[${i}]`)),
    },
    weights: arrayAt(root, 'weights', 'report').map((w, i) => {
      const o = record(w, `weights[${i}]`);
      const isPublic = o['public'];
      if (typeof isPublic !== 'boolean') throw new Error(`weights[${i}].public: expected a boolean`);
      return { name: stringAt(o, 'name', `weights[${i}]`), public: isPublic };
    }),
  };
}

export function readPartyReport(path: string): PartyMeasured {
  const root = record(readJson(path), path);
  const measured = record(root['measured'], 'measured');
  const total = record(measured['total'], 'measured.total');
  return {
    party: stringAt(root, 'party', 'report'),
    total: { ...counts(total, 'measured.total'), seconds: numberAt(total, 'seconds', 'measured.total') },
    ops: arrayAt(measured, 'ops', 'measured').map((op, i) => opCounts(op, `measured.ops[${i}]`)),
  };
}

const ZERO: Omit<OpCounts, 'id' | 'op' | 'protocol'> = {
  online_bytes: 0,
  offline_bytes: 0,
  rounds: 0,
  setup_bytes: 0,
  setup_rounds: 0,
  preprocess_bytes: 0,
  preprocess_rounds: 0,
};

/**
 * Where the prediction and the two parties' measures disagree, one line each
 * (empty when they agree exactly). Bytes are the sum over both parties (each
 * counts what it sent, and the offline bytes the dealer sent it); rounds are
 * counted by each party and must equal the prediction at both.
 */
export function costDisagreements(
  predicted: PredictedCost,
  server: PartyMeasured,
  client: PartyMeasured,
): string[] {
  const out: string[] = [];
  const serverOps = new Map(server.ops.map((o) => [o.id, o]));
  const clientOps = new Map(client.ops.map((o) => [o.id, o]));
  const predictedIds = new Set(predicted.ops.map((o) => o.id));
  for (const id of new Set([...serverOps.keys(), ...clientOps.keys()]))
    if (!predictedIds.has(id)) out.push(`%${id}: measured but not predicted`);
  for (const p of predicted.ops) {
    const s = serverOps.get(p.id);
    const c = clientOps.get(p.id);
    if (s === undefined && c === undefined) {
      out.push(`%${p.id} ${p.op}: predicted but measured by neither party`);
      continue;
    }
    const sv = s ?? { ...p, ...ZERO };
    const cv = c ?? { ...p, ...ZERO };
    const what = `%${p.id} ${p.op} (${p.protocol})`;
    for (const m of [sv, cv])
      if (m.protocol !== p.protocol) out.push(`${what}: ran with protocol ${m.protocol}`);
    for (const key of BYTE_KEYS)
      if (sv[key] + cv[key] !== p[key])
        out.push(`${what}: ${key} predicted ${p[key]}, measured ${sv[key]} + ${cv[key]}`);
    for (const key of ROUND_KEYS)
      if (sv[key] !== p[key] || cv[key] !== p[key])
        out.push(`${what}: ${key} predicted ${p[key]}, server ${sv[key]}, client ${cv[key]}`);
  }
  const t = predicted.total;
  for (const key of BYTE_KEYS)
    if (server.total[key] + client.total[key] !== t[key])
      out.push(`total ${key} predicted ${t[key]}, measured ${server.total[key]} + ${client.total[key]}`);
  for (const key of ROUND_KEYS)
    if (server.total[key] !== t[key] || client.total[key] !== t[key])
      out.push(`total ${key} predicted ${t[key]}, server ${server.total[key]}, client ${client.total[key]}`);
  return out;
}
