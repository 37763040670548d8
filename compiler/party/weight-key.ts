/**
 * The server's weight key file, `<plan>.server.key`, written by `marillc -o`
 * beside the plan (mode 0600) and given to the server only: the HMAC key under
 * which the plan names the private weights (runtime/plan.ts keyedWeightHash).
 * Neither plan.ts nor the client bundle holds it, so their holders cannot
 * test a guessed tensor against the plan. JSON:
 *   { "format": "marill-weight-key/1", "plan": "<plan hash>", "key": "<64 hex digits>" }
 * The plan hash lets the server refuse the key of another plan with a clear
 * message rather than a weight mismatch.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MarillError } from '../../ir/errors.ts';
import type { GenerationPlan } from '../../runtime/generate/plan.ts';
import { withGenerationWeightKey } from '../../runtime/generate/plan.ts';
import type { Plan } from '../../runtime/plan.ts';
import { WEIGHT_KEY_BYTES, withWeightKey } from '../../runtime/plan.ts';
import { readJsonOrFail, writeFileAtomic } from '../fs-util.ts';

const KEY_FORMAT = 'marill-weight-key/1';

/** `dir/plan.ts` (or `.mts`) -> `dir/plan`: the stem its bundles and key file share. */
export function planStem(planFile: string): string {
  return join(dirname(planFile), basename(planFile).replace(/\.m?ts$/, ''));
}

/** Where `marillc -o` writes a plan's weight key. */
export function weightKeyPath(planFile: string): string {
  return `${planStem(planFile)}.server.key`;
}

/** What a key file binds to: a plan or a generation plan (one key for all its steps). */
type KeyedPlan = Pick<Plan, 'hash' | 'weightKey'>;

export function writeWeightKey(path: string, plan: KeyedPlan): void {
  if (!plan.weightKey) throw new MarillError('the plan carries no weight key to write', { file: path });
  const json = { format: KEY_FORMAT, plan: plan.hash, key: Buffer.from(plan.weightKey).toString('hex') };
  writeFileAtomic(path, `${JSON.stringify(json, null, 2)}\n`, 0o600);
}

export function readWeightKey(path: string, plan: KeyedPlan): Uint8Array {
  const json = readJsonOrFail(path) as { format?: unknown; plan?: unknown; key?: unknown };
  const hex = `^[0-9a-f]{${2 * WEIGHT_KEY_BYTES}}$`;
  if (json === null || typeof json !== 'object' || json.format !== KEY_FORMAT || typeof json.key !== 'string')
    throw new MarillError(`not a ${KEY_FORMAT} file`, { file: path });
  if (!new RegExp(hex).test(json.key))
    throw new MarillError(`the key is not ${2 * WEIGHT_KEY_BYTES} lowercase hex digits`, { file: path });
  if (json.plan !== plan.hash)
    throw new MarillError(
      `is the weight key of another plan (${String(json.plan).slice(0, 12)}…, this plan ${plan.hash.slice(0, 12)}…)`,
      { file: path },
    );
  return new Uint8Array(Buffer.from(json.key, 'hex'));
}

/**
 * The server's copy of a plan: with its weight key when the plan has private
 * weights (from `keyFile`, by default the key file beside the plan).
 */
export function serverPlan(plan: Plan, planFile: string, keyFile: string | undefined): Plan {
  const key = serverKey(plan, planFile, keyFile);
  return key === undefined ? plan : withWeightKey(plan, key);
}

/** The server's copy of a generation plan: every step plan with the one weight key (as serverPlan). */
export function serverGenerationPlan(
  plan: GenerationPlan,
  planFile: string,
  keyFile: string | undefined,
): GenerationPlan {
  const key = serverKey(plan, planFile, keyFile);
  return key === undefined ? plan : withGenerationWeightKey(plan, key);
}

function serverKey(
  plan: KeyedPlan & Pick<Plan, 'privateWeights'>,
  planFile: string,
  keyFile: string | undefined,
): Uint8Array | undefined {
  if (Object.keys(plan.privateWeights).length === 0) return undefined;
  const path = keyFile ?? weightKeyPath(planFile);
  if (keyFile === undefined && !existsSync(path))
    throw new MarillError(
      `the server needs the plan's weight key for its private weights: ${path} is missing (give --weight-key FILE)`,
      { file: planFile },
    );
  return readWeightKey(path, plan);
}
