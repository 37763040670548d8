// `marillc certs`: the files, their modes, each certificate's role and CA (checked with node:crypto's
// X509Certificate, not with the library that made them).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { marillc, scratchDir } from '../../test/cli-harness.ts';
import { certificateRole } from '../../runtime/net/identity.ts';
import { makeCertificates } from './certs.ts';

const root = scratchDir('marillc-certs-test-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('marillc certs', () => {
  it('writes a CA and, per party, a 0600 key and a certificate naming its role, signed by the CA', () => {
    const dir = join(root, 'two');
    const r = marillc(['certs', '--out', dir, '--parties', 'server,client']);
    expect(r.code, r.stderr).toBe(0);
    const ca = new X509Certificate(readFileSync(join(dir, 'ca.pem')));
    expect(ca.ca).toBe(true);
    for (const role of ['server', 'client'] as const) {
      const pem = readFileSync(join(dir, `${role}.pem`));
      const cert = new X509Certificate(pem);
      expect(certificateRole(pem, `${role}.pem`)).toBe(role);
      expect(cert.subject).toContain(`CN=marillc-${role}`);
      expect(cert.ca).toBe(false);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
      // The key file belongs to this certificate.
      expect(cert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, `${role}-key.pem`))))).toBe(true);
      expect(statSync(join(dir, `${role}-key.pem`)).mode & 0o777).toBe(0o600);
    }
    expect(existsSync(join(dir, 'dealer.pem'))).toBe(false);
  });

  it('never overwrites: a second run into the same folder fails and leaves the files', () => {
    const dir = join(root, 'again');
    expect(marillc(['certs', '--out', dir]).code).toBe(0);
    const before = readFileSync(join(dir, 'server-key.pem'), 'utf8');
    const r = marillc(['certs', '--out', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^marillc: error: .*ca\.pem: cannot write: already exists/m);
    expect(readFileSync(join(dir, 'server-key.pem'), 'utf8')).toBe(before);
  });

  it('an unknown party is refused', () => {
    const r = marillc(['certs', '--out', join(root, 'bad'), '--parties', 'server,eve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--parties: 'eve' is not one of server, client, dealer/);
  });

  it('two sessions have different CAs: neither signs the other’s parties', async () => {
    const [a, b] = await Promise.all([makeCertificates(['server']), makeCertificates(['server'])]);
    const caA = new X509Certificate(a.ca);
    expect(new X509Certificate(b.parties[0]!.cert).verify(caA.publicKey)).toBe(false);
    expect(new X509Certificate(a.parties[0]!.cert).verify(caA.publicKey)).toBe(true);
  });
});
