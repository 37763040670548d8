/**
 * TLS certificates for tests, made with the `marillc certs` module once per
 * test file into a temporary folder: the session's CA and a key and
 * certificate per role (and, for tests of refusals, a second "rogue" session
 * whose CA the first does not trust).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificates, writeCertificates } from '../../compiler/party/certs.ts';
import type { Role } from '../../runtime/net/identity.ts';
import { ROLES, certificateFilesIn } from '../../runtime/net/identity.ts';
import type { TlsFiles } from '../../runtime/net/tcp.ts';

export interface TestCertificates {
  /** The folder to pass as `--certs`. */
  readonly dir: string;
  files(role: Role): TlsFiles;
  remove(): void;
}

export async function testCertificates(prefix = 'marillc-certs-'): Promise<TestCertificates> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeCertificates(dir, await makeCertificates(ROLES, 1));
  return {
    dir,
    files: (role) => certificateFilesIn(dir, role),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
