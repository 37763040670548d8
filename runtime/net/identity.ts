/**
 * Who a party is on the network: its role (server, client or dealer), named
 * in its TLS certificate. A certificate made by `marillc certs` names one role
 * as the subjectAltName URI `urn:marillc:role:<role>` (and, for people reading
 * it, CN=marillc-<role>); the runtime trusts the URI only, and only in a
 * certificate signed by the session's CA (TLS checks that first). A party's
 * role is therefore bound to its key: a client holding the client's key
 * cannot be served as the server.
 *
 * A certificate folder (`--certs DIR`) holds `ca.pem` and, per role,
 * `<role>.pem` and `<role>-key.pem`.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MarillError } from '../../ir/errors.ts';

export type Role = 'server' | 'client' | 'dealer';
export const ROLES: readonly Role[] = ['server', 'client', 'dealer'];

const ROLE_URI = 'urn:marillc:role:';

/** The subjectAltName URI that names `role`. */
export function roleUri(role: Role): string {
  return `${ROLE_URI}${role}`;
}

/** The common name a role's certificate carries (for people; the runtime reads the URI). */
export function roleCommonName(role: Role): string {
  return `marillc-${role}`;
}

/** The PEM files of one party in a certificate folder. */
export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export function certificateFilesIn(dir: string, role: Role): CertificateFiles {
  return { cert: join(dir, `${role}.pem`), key: join(dir, `${role}-key.pem`), ca: join(dir, 'ca.pem') };
}

/**
 * The role named by a subjectAltName text as Node prints it
 * ("URI:urn:marillc:role:server, DNS:…"): exactly one role URI, or undefined.
 */
export function roleInSubjectAltName(subjectAltName: string | undefined): Role | undefined {
  const named = (subjectAltName ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith(`URI:${ROLE_URI}`))
    .map((entry) => entry.slice(`URI:${ROLE_URI}`.length));
  if (named.length !== 1) return undefined;
  return ROLES.find((r) => r === named[0]);
}

/** The role a PEM certificate names; a clear error when it names none. */
export function certificateRole(pem: Buffer | string, file: string): Role {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (e) {
    throw new MarillError(`not a PEM certificate: ${(e as Error).message}`, { file });
  }
  const role = roleInSubjectAltName(cert.subjectAltName);
  if (role === undefined)
    throw new MarillError(`the certificate names no marillc role (make certificates with 'marillc certs')`, {
      file,
    });
  return role;
}

/** Checks that this party's own certificate is its role's (a server started with the client's files fails here). */
export function checkOwnCertificate(certFile: string, role: Role): void {
  let pem: Buffer;
  try {
    pem = readFileSync(certFile);
  } catch (e) {
    throw new MarillError(`cannot read TLS certificate '${certFile}': ${(e as Error).message}`);
  }
  const named = certificateRole(pem, certFile);
  if (named !== role)
    throw new MarillError(`is the ${named}'s certificate, but this party is the ${role}`, { file: certFile });
}
