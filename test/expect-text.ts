/**
 * Expected-text checks for tests that compare printed output with a file
 * (`.mir` in, expected `.mir` out). Run with `UPDATE_SNAPSHOTS=1 npx vitest run`
 * to (re)write the expected files from the actual output instead of comparing;
 * review the diff before committing it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { expect } from 'vitest';

export function updatingSnapshots(): boolean {
  return process.env['UPDATE_SNAPSHOTS'] === '1';
}

/** Asserts `actual` equals the text in `path` (relative paths from the working directory), or writes it when updating. */
export function expectTextFile(actual: string, path: string): void {
  const file = resolve(path);
  if (updatingSnapshots()) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  if (!existsSync(file))
    throw new Error(`expected-text file ${path} does not exist; run with UPDATE_SNAPSHOTS=1 to create it`);
  expect(actual, `text differs from ${path} (UPDATE_SNAPSHOTS=1 rewrites it)`).toBe(
    readFileSync(file, 'utf8'),
  );
}
