/**
 * Runs the real `marillc` command (bin/marillc.js) in a child process, as a
 * user would, and returns its exit code and output: marillc() waits for it,
 * spawnMarillc() starts it alongside others (parties talking to each other).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function marillc(args: readonly string[], opts: { timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/marillc.js'), ...args], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function scratchDir(prefix = 'marillc-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A `marillc` child process started with spawnMarillc, running alongside the test. */
export interface RunningMarillc {
  readonly child: ChildProcess;
  /** What the process printed so far. */
  stdout(): string;
  stderr(): string;
  /**
   * The first match of `pattern` in stderr (now or later); fails if the process
   * exits without printing it, or after `timeoutMs`.
   */
  waitForStderr(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Settles when the process has exited (never rejects); killed by its hard timeout if need be. */
  readonly done: Promise<SpawnedResult>;
  /** SIGKILL (no effect once it has exited). */
  kill(): void;
}

export interface SpawnedResult extends CliResult {
  /** The signal that ended it (e.g. 'SIGKILL' after kill() or the hard timeout), or null. */
  readonly signal: NodeJS.Signals | null;
  /** True when the hard timeout killed it. */
  readonly timedOut: boolean;
  /** Wall time from spawn to exit. */
  readonly seconds: number;
}

const running = new Set<RunningMarillc>();

/**
 * Starts `marillc ARGS` without waiting for it (for several communicating
 * processes), with `stdin` as its standard input if given. Every process gets a hard timeout (SIGKILL); killAllSpawned()
 * ends whatever a test left running.
 */
export function spawnMarillc(
  args: readonly string[],
  opts: { timeoutMs: number; stdin?: string },
): RunningMarillc {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(REPO, 'bin/marillc.js'), ...args], {
    cwd: REPO,
    stdio: [opts.stdin !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
  let out = '';
  let err = '';
  let exited = false;
  let timedOut = false;
  const watchers: (() => void)[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    for (const w of [...watchers]) w();
  });
  const hardTimeout = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs);
  const done = new Promise<SpawnedResult>((resolve) => {
    // 'close' (not 'exit'): the output pipes are drained by then.
    child.on('close', (code, signal) => {
      exited = true;
      clearTimeout(hardTimeout);
      running.delete(handle);
      for (const w of [...watchers]) w();
      resolve({
        code: code ?? -1,
        signal,
        stdout: out,
        stderr: err,
        timedOut,
        seconds: (performance.now() - t0) / 1000,
      });
    });
  });

  const waitForStderr = (pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const stop = (): void => {
        clearTimeout(timer);
        const i = watchers.indexOf(check);
        if (i >= 0) watchers.splice(i, 1);
      };
      const check = (): void => {
        const m = pattern.exec(err);
        if (m) {
          stop();
          resolve(m);
        } else if (exited) {
          stop();
          reject(new Error(`marillc ${args[0]} exited before printing ${pattern}; stderr:\n${err}`));
        }
      };
      const timer = setTimeout(() => {
        stop();
        reject(
          new Error(`marillc ${args[0]} did not print ${pattern} within ${timeoutMs} ms; stderr:\n${err}`),
        );
      }, timeoutMs);
      watchers.push(check);
      check();
    });

  const handle: RunningMarillc = {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForStderr,
    done,
    kill: () => {
      if (!exited) child.kill('SIGKILL');
    },
  };
  running.add(handle);
  return handle;
}

/** SIGKILLs every process spawnMarillc started that is still running (for afterAll). */
export function killAllSpawned(): void {
  for (const r of running) r.kill();
}

/** Peak resident memory of a running process so far (Linux /proc VmHWM), in MiB. */
export function peakRssMib(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM for process ${pid}`);
  return Number(m[1]) / 1024;
}
