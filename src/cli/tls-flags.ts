/**
 * The TLS settings of `warren start` (declared in settings.ts), one group per listener:
 *
 *   --tls-*              amqps (RabbitMQ's listeners.ssl.default + ssl_options.*), port 5671
 *   --management-tls-*   management API over HTTPS (management.ssl.*), port 15671
 *   --prometheus-tls-*   Prometheus over HTTPS (prometheus.ssl.*), port 15691
 *
 * with -port, -cert, -key, -ca, -key-password, -verify (none|peer) and -fail-if-no-peer-cert. A
 * listener is enabled by giving its certificate (the key is then required); its port defaults to
 * RabbitMQ's for that listener, 0 picks a free one. As in RabbitMQ the groups are independent:
 * HTTPS does not reuse the amqps certificate unless given the same files.
 *
 * And the login side of certificates (authSettingsFrom): --auth-mechanisms (RabbitMQ's
 * auth_mechanisms) and --tls-cert-login-from (ssl_cert_login_from) for EXTERNAL.
 */
import { InvalidArgumentError } from 'commander';
import type { TlsListenerSettings } from '../core/tls-options.js';
import { DEFAULT_AUTH_MECHANISMS, type CertLoginFrom } from '../server/auth-mechanism.js';

interface Group {
  /** Flag prefix ('tls', 'management-tls', 'prometheus-tls'). */
  readonly flag: string;
  /** What it serves, for the help texts. */
  readonly what: string;
  readonly defaultPort: number;
}

export const TLS_GROUPS = {
  amqp: { flag: 'tls', what: 'amqps', defaultPort: 5671 },
  management: { flag: 'management-tls', what: 'management HTTPS', defaultPort: 15671 },
  prometheus: { flag: 'prometheus-tls', what: 'Prometheus HTTPS', defaultPort: 15691 },
} as const satisfies Record<string, Group>;

/** A setting name as commander's option key ('tls-key-password' -> 'tlsKeyPassword'). */
export function camel(s: string): string {
  return s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The listener settings from the parsed flags, undefined when no certificate is given. Throws
 * InvalidArgumentError for an incomplete group (a key without a certificate, a port without one).
 */
export function tlsSettingsFrom(opts: Record<string, unknown>, g: Group, host?: string): TlsListenerSettings | undefined {
  const get = (suffix: string): unknown => opts[camel(`${g.flag}-${suffix}`)];
  const str = (suffix: string): string | undefined => {
    const v = get(suffix);
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const cert = str('cert');
  const key = str('key');
  if (cert === undefined) {
    for (const other of ['key', 'ca', 'key-password']) {
      if (str(other) !== undefined) throw new InvalidArgumentError(`--${g.flag}-${other} needs --${g.flag}-cert`);
    }
    if (get('port') !== undefined) throw new InvalidArgumentError(`--${g.flag}-port needs --${g.flag}-cert and --${g.flag}-key`);
    return undefined;
  }
  if (key === undefined) throw new InvalidArgumentError(`--${g.flag}-cert needs --${g.flag}-key`);
  const ca = str('ca');
  const password = str('key-password');
  const p = get('port');
  return {
    port: typeof p === 'number' ? p : g.defaultPort,
    certFile: cert, keyFile: key,
    ...(ca === undefined ? {} : { caFile: ca }),
    ...(password === undefined ? {} : { password }),
    verify: get('verify') === 'peer' ? 'peer' : 'none',
    failIfNoPeerCert: get('fail-if-no-peer-cert') === true,
    ...(host === undefined ? {} : { host }),
  };
}

export function authSettingsFrom(opts: Record<string, unknown>): { authMechanisms: string[]; certLoginFrom: CertLoginFrom } {
  const list = opts['authMechanisms'];
  return {
    authMechanisms: Array.isArray(list) ? list.map(String) : [...DEFAULT_AUTH_MECHANISMS],
    certLoginFrom: opts['tlsCertLoginFrom'] === 'distinguished_name' ? 'distinguished_name' : 'common_name',
  };
}
