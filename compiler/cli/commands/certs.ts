/** `marillc certs --out DIR [--parties server,client,dealer] [--days N]`: a session's TLS certificates. */
import { makeCertificates, parseRoles, writeCertificates } from '../../party/certs.ts';
import { numberFlag } from './common.ts';

export interface CertsFlags {
  out: string;
  parties: string;
  days: string;
}

export async function certsCommand(flags: CertsFlags): Promise<void> {
  const roles = parseRoles(flags.parties);
  const days = numberFlag('--days', flags.days, 1, true);
  const written = writeCertificates(flags.out, await makeCertificates(roles, days));
  process.stderr.write(
    `certs: wrote ${written.join(', ')}\ncerts: give each party only its own key; the CA's key was not kept\n`,
  );
}
