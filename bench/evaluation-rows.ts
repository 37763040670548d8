/**
 * Rows of bench/results/evaluation.json and their ratios against the standard
 * plan of the same family, size and approximation.
 *
 * Ratio conventions: `*_ratio_vs_standard` is variant / standard (the issue's
 * keys: below 1, the variant is cheaper); `*_gain_vs_standard` is the inverse,
 * the paper's "x better" factor. Communication is the parties' online bytes
 * (the dealer's preprocessing is reported apart, with its own ratio).
 */
import type { Approx, PlanMeasurement } from './evaluation-run.ts';
import type { FamilyName } from './models/spec.ts';
import type { LoraForm, VariantName } from './models/variants.ts';

export interface EvaluationRow {
  readonly family: FamilyName;
  readonly size: string;
  readonly variant: VariantName;
  readonly approx: Approx;
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
  readonly loopback_seconds: number;
  readonly est_lan_seconds: number;
  readonly est_wan_seconds: number;
  readonly max_abs_error: number;
  readonly comm_ratio_vs_standard: number;
  readonly lan_time_ratio_vs_standard: number;
  readonly wan_time_ratio_vs_standard: number;
  /** Extra keys. */
  readonly lora_form: LoraForm | null;
  readonly offline_ratio_vs_standard: number;
  readonly rounds_ratio_vs_standard: number;
  readonly loopback_ratio_vs_standard: number;
  readonly comm_gain_vs_standard: number;
  readonly lan_time_gain_vs_standard: number;
  readonly wan_time_gain_vs_standard: number;
  readonly wall_seconds: number;
  readonly prediction_exact: boolean;
  readonly by_class_lan: Readonly<Record<string, { online_bytes: number; est_seconds: number }>>;
}

export interface RowKey {
  readonly family: FamilyName;
  readonly size: string;
  readonly variant: VariantName;
  readonly loraForm: LoraForm | null;
  readonly approx: Approx;
}

export type Measured = RowKey & { readonly m: PlanMeasurement };

function byClass(m: PlanMeasurement): EvaluationRow['by_class_lan'] {
  return Object.fromEntries(
    Object.entries(m.lan.by_class).map(([cls, c]) => [
      cls,
      { online_bytes: c.online_bytes, est_seconds: c.est_seconds },
    ]),
  );
}

const ratio = (a: number, b: number): number => (b === 0 ? (a === 0 ? 1 : Infinity) : a / b);

/** Rows with ratios; the standard of each (family, size, approx) must be among `measured`. */
export function evaluationRows(measured: readonly Measured[]): EvaluationRow[] {
  return measured.map((r) => {
    const std = measured.find(
      (s) => s.variant === 'standard' && s.family === r.family && s.size === r.size && s.approx === r.approx,
    );
    if (!std) throw new Error(`no standard plan for ${r.family}/${r.size}/${r.approx}`);
    const { m } = r;
    const s = std.m;
    return {
      family: r.family,
      size: r.size,
      variant: r.variant,
      approx: r.approx,
      online_bytes: m.online_bytes,
      offline_bytes: m.offline_bytes,
      rounds: m.rounds,
      loopback_seconds: m.loopback_seconds,
      est_lan_seconds: m.est_lan_seconds,
      est_wan_seconds: m.est_wan_seconds,
      max_abs_error: m.max_abs_error,
      comm_ratio_vs_standard: ratio(m.online_bytes, s.online_bytes),
      lan_time_ratio_vs_standard: ratio(m.est_lan_seconds, s.est_lan_seconds),
      wan_time_ratio_vs_standard: ratio(m.est_wan_seconds, s.est_wan_seconds),
      lora_form: r.loraForm,
      offline_ratio_vs_standard: ratio(m.offline_bytes, s.offline_bytes),
      rounds_ratio_vs_standard: ratio(m.rounds, s.rounds),
      loopback_ratio_vs_standard: ratio(m.loopback_seconds, s.loopback_seconds),
      comm_gain_vs_standard: ratio(s.online_bytes, m.online_bytes),
      lan_time_gain_vs_standard: ratio(s.est_lan_seconds, m.est_lan_seconds),
      wan_time_gain_vs_standard: ratio(s.est_wan_seconds, m.est_wan_seconds),
      wall_seconds: m.wall_seconds,
      prediction_exact: m.prediction_exact,
      by_class_lan: byClass(m),
    };
  });
}
