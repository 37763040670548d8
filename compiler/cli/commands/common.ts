/** Small helpers shared by the command implementations. */
import { MarillError } from '../../../ir/errors.ts';
import type { Role } from '../../../runtime/net/identity.ts';
import { certificateFilesIn, checkOwnCertificate } from '../../../runtime/net/identity.ts';
import type { LinkOptions } from '../../../runtime/net/tcp.ts';
import { parseShapeFlag } from '../shape-flag.ts';
import { dirname } from 'node:path';
import type { Graph } from '../../../ir/graph.ts';
import type { Plan, Setting } from '../../../runtime/plan.ts';
import type { Party } from '../../../runtime/protocol.ts';
import { bundlePaths, planWeights, writeBundle } from '../../emit/bundle.ts';
import { makeDirectory, writeFileAtomic } from '../../fs-util.ts';
import { weightKeyPath, writeWeightKey } from '../../party/weight-key.ts';

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

/** Bad usage (a missing or conflicting option): printed as one line, exit code 2. */
export class UsageError extends Error {}

/**
 * The dealer flags of `run` and `serve` against the plan's setting, which is
 * known once the plan is read: with a dealer ('2pc-dealer') the server and the
 * client each need one source of dealer material; a '2pc' plan runs without a
 * dealer, so a dealer process and the flags that name one are refused.
 */
export function checkDealerFlags(
  plan: { readonly setting: Setting },
  planFile: string,
  party: Party | 'dealer',
  flags: { readonly dealer?: string | undefined; readonly dealerDir?: string | undefined },
): void {
  if (plan.setting === '2pc') {
    const named = [
      ...(party === 'dealer' ? ['--party dealer'] : []),
      ...(flags.dealer !== undefined ? ['--dealer'] : []),
      ...(flags.dealerDir !== undefined ? ['--dealer-dir'] : []),
    ];
    if (named.length > 0)
      throw new UsageError(
        `plan ${planFile} is compiled for setting 2pc: it runs without a dealer (drop ${named.join(', ')})`,
      );
    return;
  }
  if (party !== 'dealer' && flags.dealer === undefined && flags.dealerDir === undefined)
    throw new UsageError(
      `the ${party} needs exactly one of --dealer HOST:PORT (a live dealer) or --dealer-dir DIR (material made ahead)`,
    );
}

export interface TlsFlags {
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  certs?: string;
  insecurePlaintext?: boolean;
}

const HOW_TO_CERTIFY =
  'make certificates with `marillc certs --out DIR` and pass --certs DIR (or --tls-cert, --tls-key and --tls-ca); --insecure-plaintext runs without encryption';

/**
 * How this party's links are protected: TLS with the files of --certs DIR or
 * --tls-*, after checking that its certificate is its own role's, or plain
 * TCP when --insecure-plaintext asks for it (with a warning on stderr).
 */
export function linkFrom(flags: TlsFlags, role: Role): LinkOptions {
  const files = [flags.tlsCert, flags.tlsKey, flags.tlsCa].filter((x) => x !== undefined).length;
  const ways = [files > 0, flags.certs !== undefined, flags.insecurePlaintext === true].filter(
    Boolean,
  ).length;
  if (ways > 1)
    throw new UsageError('give one of --certs, --tls-cert/--tls-key/--tls-ca or --insecure-plaintext');
  if (ways === 0) throw new UsageError(`the links need TLS certificates: ${HOW_TO_CERTIFY}`);
  if (flags.insecurePlaintext) {
    process.stderr.write(
      `marillc: warning: --insecure-plaintext: the ${role}'s links are neither encrypted nor authenticated; anyone on the network can read the dealer's seeds, masked weights and inputs, and pose as a party\n`,
    );
    return { insecurePlaintext: true };
  }
  if (files > 0 && files !== 3) throw new UsageError('TLS needs all of --tls-cert, --tls-key and --tls-ca');
  const tls =
    flags.certs !== undefined
      ? certificateFilesIn(flags.certs, role)
      : { cert: flags.tlsCert!, key: flags.tlsKey!, ca: flags.tlsCa! };
  checkOwnCertificate(tls.cert, role);
  return { tls };
}

export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * The plan module, its weight bundles and (when it has private weights) the
 * server's weight key; returns the paths written. A generation plan writes them
 * once for all its steps (every step reads the same weights): `graph` is any step's.
 */
export function writePlanFiles(
  graph: Graph,
  plan: Pick<Plan, 'hash' | 'weightKey' | 'privateWeights'>,
  planText: string,
  out: string,
): string[] {
  makeDirectory(dirname(out) || '.');
  const bundles = bundlePaths(out);
  const written: string[] = [];
  writeBundle(bundles.server, planWeights(graph, ['public', 'server']));
  written.push(bundles.server);
  if (Object.keys(plan.privateWeights).length > 0) {
    writeWeightKey(weightKeyPath(out), plan);
    written.push(weightKeyPath(out));
  }
  const publicWeights = planWeights(graph, ['public']);
  // With no public weight (e.g. --no-marill) the client needs no model at all.
  if (publicWeights.length > 0) {
    writeBundle(bundles.client, publicWeights);
    written.push(bundles.client);
  }
  writeFileAtomic(out, planText);
  return [out, ...written];
}
