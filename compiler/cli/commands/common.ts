/** Small helpers shared by the command implementations. */
import { MarillError } from '../../../ir/errors.ts';
import type { TlsFiles } from '../../../runtime/net/tcp.ts';
import { parseShapeFlag } from '../shape-flag.ts';
import { writeFileAtomic } from '../../fs-util.ts';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function shapesFrom(flags: readonly string[] | undefined): Record<string, number[]> {
  return Object.fromEntries((flags ?? []).map(parseShapeFlag));
}

/** Writes text to a file (atomically) or to stdout. */
export function emit(text: string, out: string | undefined): void {
  if (out) writeFileAtomic(out, text);
  else process.stdout.write(text);
}

export function numberFlag(name: string, text: string, min: number, integer = false): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v)))
    throw new MarillError(`${name} expects ${integer ? 'an integer' : 'a number'} >= ${min}, got '${text}'`);
  return v;
}

/**
 * The fractional bits the compiler supports. Above 24 the layer-norm/RMSNorm
 * rsqrt (domain [2^-8, 2^24], the widest of the non-linear protocols) has no
 * Newton scale that keeps its products below 2^62 (runtime/protocols/nonlinear/
 * newton.ts), so every example model fails protocol selection; and a product at
 * 2f bits leaves only |x*y| < 2^(62-2f), 2^14 at f = 24. At 0 values would be
 * integers.
 */
export const FRAC_BITS_RANGE = { min: 1, max: 24 } as const;

export function fracBitsFlag(text: string): number {
  const v = Number(text);
  const { min, max } = FRAC_BITS_RANGE;
  if (text.trim() === '' || !Number.isInteger(v) || v < min || v > max)
    throw new MarillError(`--frac-bits expects an integer from ${min} to ${max}, got '${text}'`);
  return v;
}

export interface TlsFlags {
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

/** TLS files: all three or none. */
export function tlsFrom(flags: TlsFlags): TlsFiles | undefined {
  const given = [flags.tlsCert, flags.tlsKey, flags.tlsCa].filter((x) => x !== undefined).length;
  if (given === 0) return undefined;
  if (given !== 3) throw new MarillError('TLS needs all of --tls-cert, --tls-key and --tls-ca');
  return { cert: flags.tlsCert!, key: flags.tlsKey!, ca: flags.tlsCa! };
}

export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
