/**
 * File helpers for the CLI: reading with a clear error, and writing atomically
 * (write a temporary file beside the target, then rename) so a failed run
 * never leaves a half-written output behind.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MarillError } from '../ir/errors.ts';

export function readFileOrFail(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(e);
    throw new MarillError(`cannot read file (${why})`, { file: path });
  }
}

export function readJsonOrFail(path: string): unknown {
  const text = readFileOrFail(path).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new MarillError(`not valid JSON (${(e as Error).message})`, { file: path });
  }
}

/**
 * Writes `path` whole or not at all, creating its folder if missing (as `-o out/plan.ts` does);
 * `mode` (e.g. 0o600 for a secret) applies from the moment the file exists.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode?: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, data, mode !== undefined ? { mode } : {});
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new MarillError(`cannot write file (${(e as Error).message})`, { file: path });
  }
}

/** Creates a directory and its parents (nothing if it exists); a failure names the directory. */
export function makeDirectory(path: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MarillError(`cannot create directory (${code ?? (e as Error).message})`, { file: path });
  }
}
