/**
 * Rows of bench/results/evaluation-2pc.json: one plan in one setting, its
 * figures (measured, or from the cost model only) and its gains against the
 * standard plan of the same family, size and setting.
 *
 * What "communication" and "time" mean per setting (the issue's terms):
 *   2pc-dealer  communication = the parties' online bytes; the dealer's bytes
 *               are made ahead by a third party, off the inference's path,
 *               and are reported apart (`offline_bytes`), as in evaluation.json.
 *               Time = the online phase.
 *   2pc         communication = online + preprocessing bytes (the parties
 *               make every correlation themselves: "preprocessing included");
 *               time = online + preprocessing. The session's base OTs (once
 *               per session, the same for every plan) are reported apart
 *               (`preprocess_setup_bytes`) and are in neither.
 * Gains are standard / variant (the paper's "x better").
 */
import type { Setting } from '../runtime/plan.ts';
import type { FamilyName } from './models/spec.ts';

export interface MeasuredFigures {
  /** The larger party's summed protocol-op wall time, online. */
  readonly online_seconds: number;
  /** The larger party's summed preprocessing wall time ('2pc'; 0 with a dealer). */
  readonly preprocess_seconds: number;
  readonly max_abs_error: number;
  /** Whether the cost model's bytes and rounds (preprocessing included) equal the measured ones. */
  readonly prediction_exact: boolean;
  /** The whole run: handshakes, base OTs, plaintext work, all parties. */
  readonly wall_seconds: number;
}

/** Bytes and rounds (exact: measured, or predicted, which equal them) and the cost model's times. */
export interface SettingFigures {
  readonly online_bytes: number;
  readonly offline_bytes: number;
  readonly rounds: number;
  readonly preprocess_bytes: number;
  readonly preprocess_rounds: number;
  readonly preprocess_setup_bytes: number;
  /** Estimated online + preprocessing time on lan / wan (the cost model's total_seconds). */
  readonly est_lan_seconds: number;
  readonly est_wan_seconds: number;
  /** Null: not run, the figures are the cost model's. */
  readonly measured: MeasuredFigures | null;
}

export interface SettingEntry {
  readonly family: FamilyName;
  readonly size: string;
  readonly setting: Setting;
  /** The variant's id (bench/models/variants.ts: standard, lora-merged, marill, ...). */
  readonly variant: string;
  readonly figures: SettingFigures;
}

export interface SettingRow extends Omit<SettingEntry, 'figures'>, Omit<SettingFigures, 'measured'> {
  readonly source: 'measured' | 'predicted';
  readonly communication_bytes: number;
  readonly online_seconds: number | null;
  readonly preprocess_seconds: number | null;
  /** online_seconds + preprocess_seconds (measured). */
  readonly measured_seconds: number | null;
  readonly max_abs_error: number | null;
  readonly prediction_exact: boolean | null;
  readonly wall_seconds: number | null;
  readonly comm_gain_vs_standard: number;
  readonly lan_time_gain_vs_standard: number;
  readonly wan_time_gain_vs_standard: number;
  /** Null unless both this plan and the standard one were measured. */
  readonly measured_time_gain_vs_standard: number | null;
}

/** What a plan communicates per inference in its setting (see the module comment). */
export function communicationBytes(setting: Setting, f: SettingFigures): number {
  return setting === '2pc' ? f.online_bytes + f.preprocess_bytes : f.online_bytes;
}

function measuredSeconds(f: SettingFigures): number | null {
  return f.measured ? f.measured.online_seconds + f.measured.preprocess_seconds : null;
}

const gain = (standard: number, variant: number): number =>
  variant === 0 ? (standard === 0 ? 1 : Infinity) : standard / variant;

/** Rows with gains; the standard plan of each (family, size, setting) must be among `entries`. */
export function settingRows(entries: readonly SettingEntry[]): SettingRow[] {
  return entries.map((e) => {
    const std = entries.find(
      (s) =>
        s.variant === 'standard' && s.family === e.family && s.size === e.size && s.setting === e.setting,
    );
    if (!std) throw new Error(`no standard plan for ${e.family}/${e.size}/${e.setting}`);
    const { measured, ...f } = e.figures;
    const s = std.figures;
    const mine = measuredSeconds(e.figures);
    const theirs = measuredSeconds(s);
    return {
      family: e.family,
      size: e.size,
      setting: e.setting,
      variant: e.variant,
      source: measured ? 'measured' : 'predicted',
      ...f,
      communication_bytes: communicationBytes(e.setting, e.figures),
      online_seconds: measured?.online_seconds ?? null,
      preprocess_seconds: measured?.preprocess_seconds ?? null,
      measured_seconds: mine,
      max_abs_error: measured?.max_abs_error ?? null,
      prediction_exact: measured?.prediction_exact ?? null,
      wall_seconds: measured?.wall_seconds ?? null,
      comm_gain_vs_standard: gain(communicationBytes(e.setting, s), communicationBytes(e.setting, e.figures)),
      lan_time_gain_vs_standard: gain(s.est_lan_seconds, f.est_lan_seconds),
      wan_time_gain_vs_standard: gain(s.est_wan_seconds, f.est_wan_seconds),
      measured_time_gain_vs_standard: mine !== null && theirs !== null ? gain(theirs, mine) : null,
    };
  });
}

/** The targets for all techniques vs standard in '2pc' (the paper's lower bounds). */
export const TARGET_2PC = { time: 3.6, communication: 2.4 } as const;

export interface TargetCheck {
  readonly family: FamilyName;
  readonly size: string;
  readonly comm_gain: number;
  /** Every time gain available for the row: estimated lan and wan, and measured when run. */
  readonly time_gains: readonly number[];
  readonly communication_met: boolean;
  /** Met when every available time gain reaches the target. */
  readonly time_met: boolean;
}

/** The all-techniques ('marill') rows of the '2pc' setting against the targets. */
export function targetChecks(rows: readonly SettingRow[]): TargetCheck[] {
  return rows
    .filter((r) => r.setting === '2pc' && r.variant === 'marill')
    .map((r) => {
      const timeGains = [r.lan_time_gain_vs_standard, r.wan_time_gain_vs_standard];
      if (r.measured_time_gain_vs_standard !== null) timeGains.push(r.measured_time_gain_vs_standard);
      return {
        family: r.family,
        size: r.size,
        comm_gain: r.comm_gain_vs_standard,
        time_gains: timeGains,
        communication_met: r.comm_gain_vs_standard >= TARGET_2PC.communication,
        time_met: timeGains.every((g) => g >= TARGET_2PC.time),
      };
    });
}
