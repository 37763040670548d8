/**
 * Certificates for a session's parties (`marillc certs`): a fresh CA and, per
 * role, an ECDSA P-256 key and a certificate signed by the CA that names the
 * role (runtime/net/identity.ts: subjectAltName `urn:marillc:role:<role>`,
 * CN=marillc-<role>). Built with @peculiar/x509 on Node's WebCrypto; nothing
 * here encodes ASN.1 by hand.
 *
 * The CA's private key is never written: nobody can issue another party
 * certificate for the session later (make a new folder to re-key). Private
 * keys are written with mode 0600; existing files are never overwritten.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MarillError } from '../../ir/errors.ts';
import type { CertificateFiles, Role } from '../../runtime/net/identity.ts';
import { ROLES, certificateFilesIn, roleCommonName, roleUri } from '../../runtime/net/identity.ts';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Certificates start an hour early: clocks of the parties' machines may differ a little. */
const SKEW_MS = 3_600_000;

export interface PartyCertificate {
  readonly role: Role;
  /** PEM certificate and PKCS#8 private key. */
  readonly cert: string;
  readonly key: string;
}

export interface SessionCertificates {
  readonly ca: string;
  readonly parties: readonly PartyCertificate[];
}

const crypto = webcrypto;

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

function serial(): string {
  // Positive 16-byte serial numbers (the top bit clear), random as RFC 5280 asks.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f;
  return Buffer.from(b).toString('hex');
}

/** A CA and one certificate per role, valid for `days` days. */
export async function makeCertificates(roles: readonly Role[], days = 365): Promise<SessionCertificates> {
  const notBefore = new Date(Date.now() - SKEW_MS);
  const notAfter = new Date(Date.now() + days * DAY_MS);
  const caKeys = await newKeys();
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: 'CN=marillc session CA',
      notBefore,
      notAfter,
      keys: caKeys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const parties: PartyCertificate[] = [];
  for (const role of roles) {
    const keys = await newKeys();
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject: `CN=${roleCommonName(role)}, OU=${role}`,
        issuer: ca.subject,
        notBefore,
        notAfter,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        signingAlgorithm: ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          // Every party may be either end of a TLS connection (the server listens and dials the dealer).
          new x509.ExtendedKeyUsageExtension([
            x509.ExtendedKeyUsage.serverAuth,
            x509.ExtendedKeyUsage.clientAuth,
          ]),
          new x509.SubjectAlternativeNameExtension([{ type: 'url', value: roleUri(role) }]),
          await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        ],
      },
      crypto,
    );
    const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
    parties.push({ role, cert: cert.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') });
  }
  return { ca: ca.toString('pem'), parties };
}

/** Parses `--parties server,client,dealer`. */
export function parseRoles(text: string): Role[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const roles: Role[] = [];
  for (const name of names) {
    const role = ROLES.find((r) => r === name);
    if (!role) throw new MarillError(`--parties: '${name}' is not one of ${ROLES.join(', ')}`);
    if (!roles.includes(role)) roles.push(role);
  }
  if (roles.length === 0) throw new MarillError('--parties names no party');
  return roles;
}

function writeNew(path: string, text: string, mode: number): void {
  try {
    writeFileSync(path, text, { mode, flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' ? 'already exists (certificates are never overwritten)' : String(e);
    throw new MarillError(`cannot write: ${why}`, { file: path });
  }
}

/** Writes a session's certificates into `dir` (see runtime/net/identity.ts for the names). */
export function writeCertificates(dir: string, certs: SessionCertificates): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const ca = join(dir, 'ca.pem');
  writeNew(ca, certs.ca, 0o644);
  written.push(ca);
  for (const p of certs.parties) {
    const files = certificateFilesIn(dir, p.role);
    writeNew(files.key, p.key, 0o600);
    writeNew(files.cert, p.cert, 0o644);
    written.push(files.cert, files.key);
  }
  return written;
}

/**
 * Throwaway certificates for every role in a fresh temporary folder (for
 * `marillc simulate`, whose parties share one process): the files, and a
 * function that deletes them.
 */
export async function temporaryCertificates(): Promise<{
  files: (role: Role) => CertificateFiles;
  remove: () => void;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'marillc-certs-'));
  try {
    writeCertificates(dir, await makeCertificates(ROLES, 1));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    files: (role) => certificateFilesIn(dir, role),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
