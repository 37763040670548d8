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
  if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v)))
    throw new MarillError(`${name} expects ${integer ? 'an integer' : 'a number'} >= ${min}, got '${text}'`);
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
