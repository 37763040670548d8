import { describe, expect, it } from 'vitest';
import type { SettingEntry, SettingFigures } from './evaluation-setting-rows.ts';
import { communicationBytes, settingRows, targetChecks } from './evaluation-setting-rows.ts';

function figures(parts: Partial<SettingFigures>): SettingFigures {
  return {
    online_bytes: 0,
    offline_bytes: 0,
    rounds: 0,
    preprocess_bytes: 0,
    preprocess_rounds: 0,
    preprocess_setup_bytes: 0,
    est_lan_seconds: 1,
    est_wan_seconds: 1,
    measured: null,
    ...parts,
  };
}

const measured = (online: number, pre: number) => ({
  online_seconds: online,
  preprocess_seconds: pre,
  max_abs_error: 0.01,
  prediction_exact: true,
  wall_seconds: online + pre + 1,
});

function entry(setting: SettingEntry['setting'], variant: string, f: Partial<SettingFigures>): SettingEntry {
  return { family: 'bert', size: 'tiny', setting, variant, figures: figures(f) };
}

describe('rows of the evaluation in both settings', () => {
  it('counts preprocessing in 2pc communication, never the dealer bytes or the base OTs', () => {
    const f = figures({
      online_bytes: 10,
      offline_bytes: 1000,
      preprocess_bytes: 90,
      preprocess_setup_bytes: 7,
    });
    expect(communicationBytes('2pc', f)).toBe(100);
    expect(communicationBytes('2pc-dealer', f)).toBe(10);
  });

  it('gives gains against the standard plan of the same setting', () => {
    const rows = settingRows([
      entry('2pc-dealer', 'standard', { online_bytes: 40, offline_bytes: 500, est_lan_seconds: 2 }),
      entry('2pc-dealer', 'marill', { online_bytes: 10, offline_bytes: 100, est_lan_seconds: 1 }),
      entry('2pc', 'standard', {
        online_bytes: 40,
        preprocess_bytes: 960,
        est_lan_seconds: 9,
        est_wan_seconds: 30,
        measured: measured(1, 8),
      }),
      entry('2pc', 'marill', {
        online_bytes: 10,
        preprocess_bytes: 90,
        est_lan_seconds: 2,
        est_wan_seconds: 5,
        measured: measured(0.5, 2.5),
      }),
    ]);
    const [dStd, dMarill, tStd, tMarill] = rows;
    expect(dStd!.comm_gain_vs_standard).toBe(1);
    expect(dMarill!.comm_gain_vs_standard).toBe(4);
    expect(dMarill!.lan_time_gain_vs_standard).toBe(2);
    expect(dMarill!.source).toBe('predicted');
    expect(dMarill!.measured_time_gain_vs_standard).toBeNull();
    expect(tMarill!.communication_bytes).toBe(100);
    expect(tMarill!.comm_gain_vs_standard).toBe(10);
    expect(tMarill!.lan_time_gain_vs_standard).toBe(4.5);
    expect(tMarill!.wan_time_gain_vs_standard).toBe(6);
    expect(tMarill!.measured_seconds).toBe(3);
    expect(tMarill!.measured_time_gain_vs_standard).toBe(3);
    expect(tMarill!.source).toBe('measured');
    expect(tStd!.prediction_exact).toBe(true);
  });

  it('refuses a setting without its standard plan', () => {
    expect(() => settingRows([entry('2pc', 'marill', {})])).toThrow(/no standard plan for bert\/tiny\/2pc/);
  });

  it('checks the 2pc targets on every available time gain', () => {
    const rows = settingRows([
      entry('2pc', 'standard', {
        online_bytes: 25,
        est_lan_seconds: 10,
        est_wan_seconds: 10,
        measured: measured(1, 9),
      }),
      entry('2pc', 'marill', {
        online_bytes: 10,
        est_lan_seconds: 2,
        est_wan_seconds: 2,
        measured: measured(1, 3),
      }),
      entry('2pc-dealer', 'standard', { online_bytes: 100 }),
      entry('2pc-dealer', 'marill', { online_bytes: 1 }),
    ]);
    const [check, ...others] = targetChecks(rows);
    expect(others).toEqual([]);
    expect(check!.comm_gain).toBe(2.5);
    expect(check!.communication_met).toBe(true);
    // Estimated 5x, measured 2.5x: the measured gain misses 3.6x.
    expect(check!.time_gains).toEqual([5, 5, 2.5]);
    expect(check!.time_met).toBe(false);
  });
});
