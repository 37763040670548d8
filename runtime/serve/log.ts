/**
 * One log line per session, for the server and the dealer: text
 * (`session 7 from 127.0.0.1:50412: 3 inferences, 12.4 MiB, 2.1 s`, or
 * `session 7 from …: ended: <reason> (after 1 inference, 2.1 s)`) or, with
 * `--log-json`, one JSON object per line with the same fields.
 */

export interface SessionLogEntry {
  /** 'session' for each ended session; other events of the process ('listening', 'stopping', 'stopped'). */
  readonly event: string;
  readonly session?: number | string;
  readonly from?: string;
  readonly inferences?: number;
  readonly bytes?: number;
  readonly seconds?: number;
  /** Why the session ended early, when it did. */
  readonly ended?: string;
  readonly message?: string;
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function formatLogLine(e: SessionLogEntry, json: boolean): string {
  if (json) return JSON.stringify({ time: new Date().toISOString(), ...e });
  if (e.event !== 'session') return e.message ?? e.event;
  const who = `session ${e.session}${e.from !== undefined ? ` from ${e.from}` : ''}`;
  const counts = `${plural(e.inferences ?? 0, 'inference')}, ${mib(e.bytes ?? 0)}, ${(e.seconds ?? 0).toFixed(1)} s`;
  return e.ended !== undefined ? `${who}: ended: ${e.ended} (after ${counts})` : `${who}: ${counts}`;
}
