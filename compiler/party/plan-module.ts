/**
 * Loading a generated plan.ts: the TypeScript loader (tsx) that bin/marillc.js
 * registers lets it be imported as it is. A module that is not a plan, or a
 * plan edited after generation (its content no longer matches its hash), is a
 * one-line error naming the file.
 *
 * The plan is imported with tsx's `tsImport`, not a bare `import()`: a plan
 * written outside a `"type": "module"` package (e.g. `-o /tmp/x/plan.ts`) is
 * otherwise treated as CommonJS, and its `require` of the (ESM) runtime fails
 * with Node's "require() of ES Module in a cycle". tsImport loads it as a
 * module wherever it lies, in its own namespace, so the runtime modules the
 * plan imports are a second copy: errors it raises are recognised by name.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { tsImport } from 'tsx/esm/api';
import type { Location } from '../../ir/errors.ts';
import { MarillError } from '../../ir/errors.ts';
import type { Plan } from '../../runtime/plan.ts';

function isPlan(v: unknown): v is Plan {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Plan).hash === 'string' &&
    typeof (v as Plan).graph === 'object' &&
    typeof (v as Plan).fracBits === 'number'
  );
}

/** A MarillError from this module's copy of ir/errors.ts or from the plan's own copy. */
function asMarillError(e: unknown): MarillError | undefined {
  if (e instanceof MarillError) return e;
  if (!(e instanceof Error) || e.name !== 'MarillError') return undefined;
  const location = (e as Error & { location?: Location }).location ?? {};
  const copy = new MarillError(e.message, location);
  copy.stack = e.stack;
  return copy;
}

export async function loadPlanModule(path: string): Promise<Plan> {
  if (!existsSync(path)) throw new MarillError('cannot read file (no such file)', { file: path });
  let mod: { plan?: unknown; default?: unknown };
  try {
    mod = (await tsImport(resolve(path), import.meta.url)) as { plan?: unknown; default?: unknown };
  } catch (e) {
    const marill = asMarillError(e);
    if (marill) throw marill.inFile(path);
    const first = String((e as Error).message ?? e).split('\n')[0];
    throw new MarillError(`cannot load the plan module (${first})`, { file: path });
  }
  const plan = mod.plan ?? mod.default;
  if (!isPlan(plan)) throw new MarillError('not a marillc plan (it exports no `plan`)', { file: path });
  return plan;
}
