/**
 * The control frames of a served session: small JSON messages on the
 * party-to-party channel, between the handshake and the inferences and
 * between inferences, so that the client decides how many inferences a
 * session runs and the server learns it one at a time.
 *
 *   server -> client  {"control":"welcome","session":7}      after the handshake
 *   client -> server  {"control":"generate","prompt":5,"steps":16}
 *                                                            a generation session's schedule, after
 *                                                            the welcome (answered by go or refused)
 *   client -> server  {"control":"infer"}                    before each inference
 *   server -> client  {"control":"go","material":12}         the dealer material index to use
 *   client -> server  {"control":"end"}                      the session is over
 *   server -> client  {"control":"refused","reason":"..."}   instead of welcome or go
 *
 * Anything else where a control frame is due ends the session with an error
 * naming the peer (a confused or hostile peer never reaches the protocols).
 */
import { MarillError } from '../../ir/errors.ts';
import type { Channel } from '../net/channel.ts';

export type Control =
  | { readonly control: 'welcome'; readonly session: number }
  | { readonly control: 'generate'; readonly prompt: number; readonly steps: number }
  | { readonly control: 'infer' }
  | { readonly control: 'go'; readonly material: number }
  | { readonly control: 'end' }
  | { readonly control: 'refused'; readonly reason: string };

/** Control frames are small: a longer message where one is due is not one. */
const MAX_CONTROL_BYTES = 4096;

export function encodeControl(c: Control): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(c));
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** The control frame in `bytes`, or undefined when it is not a well-formed one. */
export function decodeControl(bytes: Uint8Array): Control | undefined {
  if (bytes.byteLength > MAX_CONTROL_BYTES) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  switch (o['control']) {
    case 'welcome':
      return isCount(o['session']) ? { control: 'welcome', session: o['session'] } : undefined;
    case 'generate':
      return isCount(o['prompt']) && isCount(o['steps']) && o['prompt'] > 0 && o['steps'] > 0
        ? { control: 'generate', prompt: o['prompt'], steps: o['steps'] }
        : undefined;
    case 'infer':
      return { control: 'infer' };
    case 'go':
      return isCount(o['material']) ? { control: 'go', material: o['material'] } : undefined;
    case 'end':
      return { control: 'end' };
    case 'refused':
      return typeof o['reason'] === 'string' ? { control: 'refused', reason: o['reason'] } : undefined;
    default:
      return undefined;
  }
}

export function sendControl(channel: Channel, c: Control): void {
  channel.send(encodeControl(c));
}

/** The next message, which must be one of the `expected` control frames. */
export async function recvControl<K extends Control['control']>(
  channel: Channel,
  expected: readonly K[],
): Promise<Extract<Control, { control: K }>> {
  const c = decodeControl(await channel.recv());
  if (c === undefined || !(expected as readonly string[]).includes(c.control))
    throw new MarillError(
      `the ${channel.peer} sent something other than a control frame (${expected.join(' or ')})`,
    );
  return c as Extract<Control, { control: K }>;
}
