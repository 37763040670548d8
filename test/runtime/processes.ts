/**
 * Starting ./party-main.ts roles as real OS processes (child_process.fork
 * with the tsx loader) and collecting what they report. Used by the
 * two-process end-to-end tests and the benchmark.
 */
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildConfig, ChildMessage } from './party-main.ts';

const ENTRY = fileURLToPath(new URL('./party-main.ts', import.meta.url));

export interface Child {
  readonly process: ChildProcess;
  /** Resolves with the port once the child listens. */
  readonly listening: Promise<number>;
  /** Resolves with the child's final report (result or error), or an error if it died without one. */
  readonly done: Promise<ChildMessage>;
}

export function startChild(config: ChildConfig, env: Record<string, string> = {}): Child {
  const child = fork(ENTRY, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  // The config goes over IPC: inputs can be larger than a command-line argument may be.
  child.send({ config });
  let onListening: (port: number) => void = () => {};
  let onFailure: (e: Error) => void = () => {};
  const listening = new Promise<number>((resolve, reject) => {
    onListening = resolve;
    onFailure = reject;
  });
  const done = new Promise<ChildMessage>((resolve) => {
    let final: ChildMessage | undefined;
    child.on('message', (m: ChildMessage) => {
      if ('listening' in m) onListening(m.listening);
      else final = m;
    });
    child.on('exit', (code, signal) => {
      const report = final ?? {
        error: `${config.role} process exited (${signal ?? `code ${code}`}) without a report`,
      };
      // A child that ends before listening fails whoever waits for its port.
      onFailure(new Error(`${config.role}: ${'error' in report ? report.error : 'ended before listening'}`));
      resolve(report);
    });
  });
  listening.catch(() => {});
  return { process: child, listening, done };
}
