/**
 * Loading a generated plan.ts: the TypeScript loader (tsx) that bin/marillc.js
 * registers lets it be imported as it is. A module that is not a plan, or a
 * plan edited after generation (its content no longer matches its hash), is a
 * one-line error naming the file.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MarillError } from '../ir/errors.ts';
import type { Plan } from '../runtime/plan.ts';

function isPlan(v: unknown): v is Plan {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Plan).hash === 'string' &&
    typeof (v as Plan).graph === 'object' &&
    typeof (v as Plan).fracBits === 'number'
  );
}

export async function loadPlanModule(path: string): Promise<Plan> {
  if (!existsSync(path)) throw new MarillError('cannot read file (no such file)', { file: path });
  let mod: { plan?: unknown; default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as { plan?: unknown; default?: unknown };
  } catch (e) {
    if (e instanceof MarillError) throw e.inFile(path);
    const first = String((e as Error).message ?? e).split('\n')[0];
    throw new MarillError(`cannot load the plan module (${first})`, { file: path });
  }
  const plan = mod.plan ?? mod.default;
  if (!isPlan(plan)) throw new MarillError('not a marillc plan (it exports no `plan`)', { file: path });
  return plan;
}
