/**
 * The schedule a client announces for a generation session: its prompt length
 * and the number of steps (at most the new tokens it asks for). The server
 * needs both to know each step's shape; the dealer to deal each step with its
 * plan. Both parties tell the dealer, which refuses the session when they
 * disagree. (What this tells the server and the dealer: docs/security.md.)
 */
import { MarillError } from '../../ir/errors.ts';

export interface Announced {
  readonly prompt: number;
  readonly steps: number;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

/** The schedule as a party sends it to the dealer. */
export function encodeAnnounced(a: Announced): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ schedule: { prompt: a.prompt, steps: a.steps } }));
}

/** The schedule in `bytes`; a MarillError naming `from` when it is not one. */
export function decodeAnnounced(bytes: Uint8Array, from: string): Announced {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    v = undefined;
  }
  const s = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)['schedule'] : undefined;
  const o = typeof s === 'object' && s !== null ? (s as Record<string, unknown>) : {};
  if (!isCount(o['prompt']) || !isCount(o['steps']))
    throw new MarillError(`the ${from} sent no generation schedule ({prompt, steps}) where one was due`);
  return { prompt: o['prompt'], steps: o['steps'] };
}

export function formatAnnounced(a: Announced): string {
  return `a prompt of ${a.prompt} token(s), ${a.steps} step(s)`;
}

export function sameAnnounced(a: Announced, b: Announced): boolean {
  return a.prompt === b.prompt && a.steps === b.steps;
}
