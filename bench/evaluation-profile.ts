/**
 * The per-op profile of one run: for every MPC op, the measured online time
 * (the slower party) and bytes next to the cost model's prediction, and the
 * share of time and bytes per op class (linear, softmax, GeLU, norm, other).
 */
import type { OpClass, PlanCost } from '../compiler/backend/cost.ts';
import { OP_CLASSES } from '../compiler/backend/cost.ts';
import type { RunReport } from '../runtime/mpc/accounting.ts';

export interface ProfileOp {
  readonly id: string;
  readonly op: string;
  readonly protocol: string;
  readonly class: OpClass;
  readonly measured_seconds: number;
  readonly measured_online_bytes: number;
  readonly predicted_online_bytes: number;
  readonly predicted_rounds: number;
  readonly predicted_lan_seconds: number;
}

export interface ClassShare {
  readonly class: OpClass;
  readonly measured_seconds: number;
  readonly online_bytes: number;
  readonly time_share: number;
  readonly bytes_share: number;
  readonly predicted_lan_seconds: number;
}

export interface Profile {
  readonly plan: string;
  readonly ops: readonly ProfileOp[];
  readonly by_class: readonly ClassShare[];
}

export function profileRun(plan: string, report: RunReport, cost: PlanCost): Profile {
  const predicted = new Map(cost.ops.map((o) => [o.id, o]));
  const ops: ProfileOp[] = report.ops.map((m) => {
    const p = predicted.get(m.id);
    return {
      id: m.id,
      op: m.op,
      protocol: m.protocol,
      class: p?.class ?? 'other',
      measured_seconds: Math.max(m.seconds[0], m.seconds[1]),
      measured_online_bytes: m.onlineBytes[0] + m.onlineBytes[1],
      predicted_online_bytes: p?.online_bytes ?? 0,
      predicted_rounds: p?.rounds ?? 0,
      predicted_lan_seconds: p?.est_seconds ?? 0,
    };
  });
  const totalSeconds = ops.reduce((s, o) => s + o.measured_seconds, 0) || 1;
  const totalBytes = ops.reduce((s, o) => s + o.measured_online_bytes, 0) || 1;
  const by_class = OP_CLASSES.map((cls): ClassShare => {
    const mine = ops.filter((o) => o.class === cls);
    const seconds = mine.reduce((s, o) => s + o.measured_seconds, 0);
    const bytes = mine.reduce((s, o) => s + o.measured_online_bytes, 0);
    return {
      class: cls,
      measured_seconds: seconds,
      online_bytes: bytes,
      time_share: seconds / totalSeconds,
      bytes_share: bytes / totalBytes,
      predicted_lan_seconds: mine.reduce((s, o) => s + o.predicted_lan_seconds, 0),
    };
  });
  return { plan, ops, by_class };
}
