/**
 * core/tls-options.ts: RabbitMQ's ssl_options onto Node's TLS server options (versions, verify,
 * fail_if_no_peer_cert) and the errors that name the bad file before anything is replaced.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTlsContext, loadTlsServerOptions, TlsConfigError, type TlsSettings } from '../../../src/core/tls-options.js';
import { makeTestPki } from '../../helpers/certificates.js';

const pki = makeTestPki();
afterAll(() => pki.remove());
const base = (): TlsSettings => ({ certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca, verify: 'none', failIfNoPeerCert: false });

describe('loadTlsServerOptions', () => {
  it('TLS 1.2 and 1.3 by default, or only the versions asked for', () => {
    expect(loadTlsContext(base())).toMatchObject({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
    expect(loadTlsContext({ ...base(), versions: ['tlsv1.3'] })).toMatchObject({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
    expect(loadTlsContext({ ...base(), versions: ['tlsv1.2'] })).toMatchObject({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    expect(() => loadTlsContext({ ...base(), versions: ['tlsv1.1' as 'tlsv1.2'] })).toThrow(/unsupported TLS version 'tlsv1.1'/);
  });

  it('verify none asks for no certificate; verify peer asks, and only fail_if_no_peer_cert lets OpenSSL refuse', () => {
    expect(loadTlsServerOptions(base())).toMatchObject({ requestCert: false, rejectUnauthorized: false });
    expect(loadTlsServerOptions({ ...base(), verify: 'peer' })).toMatchObject({ requestCert: true, rejectUnauthorized: false });
    expect(loadTlsServerOptions({ ...base(), verify: 'peer', failIfNoPeerCert: true })).toMatchObject({ requestCert: true, rejectUnauthorized: true });
    expect(() => loadTlsServerOptions({ ...base(), verify: 'always' as 'peer' })).toThrow(TlsConfigError);
  });

  it('names the unreadable file, or the files that do not go together', () => {
    expect(() => loadTlsContext({ ...base(), caFile: `${pki.dir}/nope.pem` })).toThrow(`cannot read TLS CA certificate file ${pki.dir}/nope.pem: ENOENT`);
    expect(() => loadTlsContext({ ...base(), keyFile: pki.client('x').key })).toThrow(/key values mismatch/);
    const garbage = `${pki.dir}/garbage.pem`;
    writeFileSync(garbage, 'not a certificate');
    expect(() => loadTlsContext({ ...base(), certFile: garbage })).toThrow(new RegExp(`TLS certificate ${garbage}`));
  });
});
