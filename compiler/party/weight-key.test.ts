/**
 * The server's weight key file: written by -o for a plan with private
 * weights, private to its owner (mode 0600), read back only for the plan it
 * was written for, and required by the server of such a plan.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makePlan } from '../../runtime/plan.ts';
import { SMALL_LAYER, bertEncoderLayer } from '../../test/runtime/layers.ts';
import { readWeightKey, serverPlan, weightKeyPath, writeWeightKey } from './weight-key.ts';

const dir = mkdtempSync(join(tmpdir(), 'marillc-weight-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const layer = bertEncoderLayer({ ...SMALL_LAYER, seed: 9, nonlinear: false });

describe('the weight key file', () => {
  it('round-trips for its plan, readable by its owner only', () => {
    const plan = makePlan(layer);
    const path = weightKeyPath(join(dir, 'a.ts'));
    expect(path).toBe(join(dir, 'a.server.key'));
    writeWeightKey(path, plan);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readWeightKey(path, plan))).toEqual(Buffer.from(plan.weightKey!));
  });

  it('the key of another plan is refused, naming both plans', () => {
    const [mine, other] = [makePlan(layer), makePlan(layer)];
    expect(other.hash).not.toBe(mine.hash); // fresh keys: the keyed hashes, so the plans, differ
    const path = join(dir, 'other.server.key');
    writeWeightKey(path, other);
    expect(() => readWeightKey(path, mine)).toThrow(/is the weight key of another plan/);
  });

  it('a server plan with private weights needs the key file; a missing one says where it was looked for', () => {
    const plan = makePlan(layer);
    const { weightKey: _key, ...loaded } = plan; // what a party gets from the plan file
    expect(() => serverPlan(loaded, join(dir, 'missing.ts'), undefined)).toThrow(
      /missing\.server\.key is missing \(give --weight-key FILE\)/,
    );
    const keyFile = join(dir, 'given.key');
    writeWeightKey(keyFile, plan);
    expect(serverPlan(loaded, join(dir, 'missing.ts'), keyFile).weightKey).toEqual(plan.weightKey);
    writeFileSync(keyFile, '{"format": "marill-weight-key/1", "plan": "x", "key": "zz"}');
    expect(() => serverPlan(loaded, join(dir, 'missing.ts'), keyFile)).toThrow(/not 64 lowercase hex digits/);
  });
});
