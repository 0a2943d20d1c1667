/**
 * The TLS flags of `warren start`, one group per listener, each flag with its WARREN_* variable:
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
 * And the login side of certificates (addAuthFlags): --auth-mechanisms (RabbitMQ's
 * auth_mechanisms) and --tls-cert-login-from (ssl_cert_login_from) for EXTERNAL.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { TlsListenerSettings } from '../core/tls-options.js';
import { DEFAULT_AUTH_MECHANISMS, KNOWN_MECHANISMS, type CertLoginFrom } from '../server/auth-mechanism.js';

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

function envName(flag: string, suffix: string): string {
  return `WARREN_${`${flag}-${suffix}`.toUpperCase().replace(/-/g, '_')}`;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('not a port number');
  return n;
}

function camel(s: string): string {
  return s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Add one group's flags to `cmd` (values default to their environment variables). */
export function addTlsFlags(cmd: Command, g: Group, env: NodeJS.ProcessEnv): void {
  const e = (suffix: string) => envName(g.flag, suffix);
  const fromEnv = (suffix: string) => env[e(suffix)];
  const withEnv = (o: Option, suffix: string) => {
    const v = fromEnv(suffix);
    return v === undefined ? o : o.default(o.parseArg === undefined ? v : o.parseArg(v, undefined));
  };
  cmd.addOption(withEnv(new Option(`--${g.flag}-port <n>`,
    `${g.what} port (default ${g.defaultPort} when a certificate is given; 0 picks a free one) [env ${e('port')}]`).argParser(port), 'port'));
  cmd.addOption(withEnv(new Option(`--${g.flag}-cert <file>`, `${g.what}: PEM certificate (chain); enables it [env ${e('cert')}]`), 'cert'));
  cmd.addOption(withEnv(new Option(`--${g.flag}-key <file>`, `${g.what}: PEM private key [env ${e('key')}]`), 'key'));
  cmd.addOption(withEnv(new Option(`--${g.flag}-ca <file>`, `${g.what}: PEM CA bundle client certificates must chain to [env ${e('ca')}]`), 'ca'));
  cmd.addOption(withEnv(new Option(`--${g.flag}-key-password <secret>`, `${g.what}: private key passphrase [env ${e('key-password')}]`), 'key-password'));
  const verify = fromEnv('verify');
  if (verify !== undefined && verify !== 'none' && verify !== 'peer') {
    throw new InvalidArgumentError(`${e('verify')} must be none or peer, not '${verify}'`);
  }
  cmd.addOption(new Option(`--${g.flag}-verify <mode>`, `${g.what}: verify client certificates (RabbitMQ's verify_none / verify_peer) [env ${e('verify')}]`)
    .choices(['none', 'peer']).default(verify ?? 'none'));
  cmd.addOption(new Option(`--${g.flag}-fail-if-no-peer-cert`, `${g.what}: with verify peer, refuse clients without a certificate [env ${e('fail-if-no-peer-cert')}=1]`)
    .default(fromEnv('fail-if-no-peer-cert') === '1'));
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

function mechanisms(value: string): string[] {
  const list = value.split(',').map((m) => m.trim()).filter((m) => m !== '');
  for (const m of list) {
    if (!KNOWN_MECHANISMS.includes(m)) throw new InvalidArgumentError(`unknown mechanism '${m}' (known: ${KNOWN_MECHANISMS.join(', ')})`);
  }
  if (list.length === 0) throw new InvalidArgumentError('at least one mechanism');
  return list;
}

/** --auth-mechanisms and --tls-cert-login-from, with their WARREN_* variables. */
export function addAuthFlags(cmd: Command, env: NodeJS.ProcessEnv): void {
  const list = env['WARREN_AUTH_MECHANISMS'];
  cmd.addOption(new Option('--auth-mechanisms <list>',
    'SASL mechanisms that may be offered, comma-separated (EXTERNAL only over TLS with a verified client certificate) [env WARREN_AUTH_MECHANISMS]')
    .argParser(mechanisms).default(list === undefined ? [...DEFAULT_AUTH_MECHANISMS] : mechanisms(list), DEFAULT_AUTH_MECHANISMS.join(',')));
  const from = env['WARREN_TLS_CERT_LOGIN_FROM'];
  if (from !== undefined && from !== 'common_name' && from !== 'distinguished_name') {
    throw new InvalidArgumentError(`WARREN_TLS_CERT_LOGIN_FROM must be common_name or distinguished_name, not '${from}'`);
  }
  cmd.addOption(new Option('--tls-cert-login-from <field>',
    'EXTERNAL logs in as the client certificate\'s subject CN or its whole DN (RabbitMQ\'s ssl_cert_login_from) [env WARREN_TLS_CERT_LOGIN_FROM]')
    .choices(['common_name', 'distinguished_name']).default(from ?? 'common_name'));
}

export function authSettingsFrom(opts: Record<string, unknown>): { authMechanisms: string[]; certLoginFrom: CertLoginFrom } {
  const list = opts['authMechanisms'];
  return {
    authMechanisms: Array.isArray(list) ? list.map(String) : [...DEFAULT_AUTH_MECHANISMS],
    certLoginFrom: opts['tlsCertLoginFrom'] === 'distinguished_name' ? 'distinguished_name' : 'common_name',
  };
}
