/**
 * Test PKI made with Debian's openssl in a temp dir, fresh for every suite (no key material is
 * checked in): a CA, a server certificate for localhost/127.0.0.1, client certificates (valid,
 * expired, signed by an untrusted CA) and a second server certificate for reload tests. EC P-256
 * keys: generating them takes milliseconds.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface TestPki {
  readonly dir: string;
  /** The CA that signs the server and the trusted client certificates. */
  readonly ca: string;
  /** CN=localhost, SAN DNS:localhost, IP:127.0.0.1. */
  readonly server: CertFiles;
  /** Another server certificate from the same CA (CN=localhost, O=reloaded), for reload tests. */
  readonly server2: CertFiles;
  /** A client certificate with CN=`cn` from the trusted CA (made on demand). */
  client(cn: string): CertFiles;
  /** Expired one day ago, trusted CA, CN=`cn`. */
  expiredClient(cn: string): CertFiles;
  /** CN=`cn`, signed by a CA the broker does not trust. */
  untrustedClient(cn: string): CertFiles;
  /** PEM text of a file. */
  read(file: string): Buffer;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function serial(): string {
  return `0x${randomBytes(8).toString('hex')}`;
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'warren-pki-'));
  const ca = (name: string, cn: string) => {
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`,
      '-out', `${name}.pem`, '-subj', `/CN=${cn}`, '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  };
  ca('ca', 'Warren Test CA');
  ca('rogue-ca', 'Rogue CA');
  let n = 0;
  const issue = (subject: string, signer: string, days: number, ext: string): CertFiles => {
    const name = `leaf-${n++}`;
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`,
      '-out', `${name}.csr`, '-subj', subject], dir);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}.key`, '-set_serial', serial(),
      '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };
  const serverExt = 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n';
  const clientExt = 'extendedKeyUsage=clientAuth\n';
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    server: issue('/CN=localhost', 'ca', 30, serverExt),
    server2: issue('/O=reloaded/CN=localhost', 'ca', 30, serverExt),
    client: (cn) => issue(`/O=clients/CN=${cn}`, 'ca', 30, clientExt),
    // openssl 3.0 has no -not_after: negative days put notAfter before notBefore (= now), which
    // every verifier reports as expired.
    expiredClient: (cn) => issue(`/CN=${cn}`, 'ca', -1, clientExt),
    untrustedClient: (cn) => issue(`/CN=${cn}`, 'rogue-ca', 30, clientExt),
    read: (file) => readFileSync(file),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
