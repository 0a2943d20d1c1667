/**
 * TLS settings shared by every listener that can speak TLS (amqps, management HTTPS, Prometheus
 * HTTPS) and the one place that turns them into Node's TLS server options. The fields are
 * RabbitMQ's `ssl_options.*` (and `management.ssl.*`, `prometheus.ssl.*`): certfile, keyfile,
 * cacertfile, password, verify (verify_none | verify_peer), fail_if_no_peer_cert, versions, so a
 * rabbitmq.conf maps onto them key for key.
 *
 * Rules kept here:
 * - TLS 1.2 and 1.3 only (RabbitMQ's recommendation; TLS 1.0/1.1 are refused by the handshake).
 * - verify none: no client certificate is asked for (Erlang's verify_none sends no
 *   CertificateRequest). verify peer: one is asked for and must chain to the CA file; a client
 *   that sends none is let in unless failIfNoPeerCert (then OpenSSL answers with the
 *   certificate_required alert). An invalid certificate is refused either way: Node closes the
 *   socket after the handshake (rejectUnauthorized), or the listener does (see peerVerdict).
 * - Loading reads the files and builds a secure context once, so a bad file, a key that does not
 *   match the certificate or a wrong password is reported (with the file names) before anything is
 *   replaced: at start-up the start fails, on reload the old context stays.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

export type TlsVerify = 'none' | 'peer';
export type TlsVersion = 'tlsv1.2' | 'tlsv1.3';

export interface TlsSettings {
  /** PEM server certificate (chain), RabbitMQ's certfile. */
  certFile: string;
  /** PEM private key, RabbitMQ's keyfile. */
  keyFile: string;
  /** PEM CA bundle that client certificates must chain to (cacertfile); Node's roots when absent. */
  caFile?: string;
  /** The private key's passphrase (RabbitMQ's ssl_options.password). */
  password?: string;
  /** verify_none / verify_peer. */
  verify: TlsVerify;
  /** Refuse clients without a certificate (only with verify peer). */
  failIfNoPeerCert: boolean;
  /** Protocol versions accepted; both when absent. */
  versions?: readonly TlsVersion[];
}

/** A TLS listener: where it listens and with what. */
export interface TlsListenerSettings extends TlsSettings {
  /** 0 picks a free port (tests); the CLI defaults to the protocol's well-known TLS port. */
  port: number;
  /** Listen address; the plain listener's when absent. */
  host?: string;
}

/** The parts of the options that a reload can replace (tls.Server#setSecureContext). */
export type TlsContextOptions = tls.SecureContextOptions;

/** What a TLS server is created with: the secure context options plus the peer verification flags. */
export interface TlsServerOptions extends tls.TlsOptions {
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

/** Read the files and check them; throws TlsConfigError naming the file or the mismatch. */
export function loadTlsContext(s: TlsSettings): TlsContextOptions {
  const versions = s.versions === undefined || s.versions.length === 0 ? ['tlsv1.2', 'tlsv1.3'] : s.versions;
  for (const v of versions) {
    if (v !== 'tlsv1.2' && v !== 'tlsv1.3') throw new TlsConfigError(`unsupported TLS version '${String(v)}' (tlsv1.2 and tlsv1.3 are)`);
  }
  const options: TlsContextOptions = {
    cert: readPem(s.certFile, 'certificate'),
    key: readPem(s.keyFile, 'key'),
    minVersion: versions.includes('tlsv1.2') ? 'TLSv1.2' : 'TLSv1.3',
    maxVersion: versions.includes('tlsv1.3') ? 'TLSv1.3' : 'TLSv1.2',
  };
  if (s.caFile !== undefined) options.ca = readPem(s.caFile, 'CA certificate');
  if (s.password !== undefined) options.passphrase = s.password;
  try {
    tls.createSecureContext(options);
  } catch (err: unknown) {
    const why = err instanceof Error ? err.message : String(err);
    throw new TlsConfigError(`TLS certificate ${s.certFile}, key ${s.keyFile}${s.caFile === undefined ? '' : `, CA ${s.caFile}`}: ${why}`);
  }
  return options;
}

/** loadTlsContext plus the verification flags, for tls.createServer / https.createServer. */
export function loadTlsServerOptions(s: TlsSettings): TlsServerOptions {
  if (s.verify !== 'none' && s.verify !== 'peer') throw new TlsConfigError(`TLS verify must be none or peer, not '${String(s.verify)}'`);
  const peer = s.verify === 'peer';
  return {
    ...loadTlsContext(s),
    requestCert: peer,
    // With fail_if_no_peer_cert OpenSSL itself refuses a client without a certificate; without
    // it the listener checks the certificate after the handshake (peerVerdict), since Node would
    // refuse the certificate-less client too.
    rejectUnauthorized: peer && s.failIfNoPeerCert,
  };
}

/**
 * After the handshake of a socket on a `verify` listener: 'verified' (a client certificate that
 * chains to the CA and is in its validity period), 'none' (no certificate, allowed), or
 * 'refused' (a certificate that failed verification: wrong CA, expired, not yet valid).
 */
export function peerVerdict(socket: tls.TLSSocket, verify: TlsVerify): 'verified' | 'none' | 'refused' {
  if (verify === 'none') return 'none';
  if (socket.authorized) return 'verified';
  const cert = socket.getPeerCertificate();
  return cert === null || Object.keys(cert).length === 0 ? 'none' : 'refused';
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new TlsConfigError(`cannot read TLS ${what} file ${file}: ${code}`);
  }
}
