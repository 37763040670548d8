import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { expectTextFile } from './expect-text.ts';

describe('expectTextFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'expect-text-'));
    // Comparing is what most cases test, also when the whole suite runs with UPDATE_SNAPSHOTS=1.
    vi.stubEnv('UPDATE_SNAPSHOTS', '0');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes on equal text and fails on different text', () => {
    const file = join(dir, 'a.mir');
    writeFileSync(file, 'graph\n');
    expectTextFile('graph\n', file);
    expect(() => expectTextFile('graph \n', file)).toThrow(/text differs/);
  });

  it('fails when the expected file is missing', () => {
    expect(() => expectTextFile('x', join(dir, 'missing.mir'))).toThrow(/UPDATE_SNAPSHOTS=1/);
  });

  it('writes the file (creating folders) when UPDATE_SNAPSHOTS=1', () => {
    vi.stubEnv('UPDATE_SNAPSHOTS', '1');
    const file = join(dir, 'sub', 'b.mir');
    expectTextFile('new text\n', file);
    expect(readFileSync(file, 'utf8')).toBe('new text\n');
  });
});
