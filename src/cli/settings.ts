/**
 * Every setting of `warren start` in one table: its flag (which is also its key in a Warren
 * configuration file), its environment variables, its value syntax and its default. The same
 * table builds the command-line options, reads the environment and the file, and tells
 * `warren config show` where each value came from.
 *
 * Precedence (README "Configuration"): a flag, else an environment variable (WARREN_* before
 * RabbitMQ's RABBITMQ_* where both exist), else the configuration file, else the default.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_AUTH_MECHANISMS, KNOWN_MECHANISMS } from '../server/auth-mechanism.js';
import { DEFAULT_SERVER_CONFIG } from '../server/server-config.js';
import { ConfigError } from './config-file.js';
import {
  bool, bytes, choice, list, nonNegativeInt, optionalPort, port, text, type SettingValue,
} from './setting-values.js';
import { camel, TLS_GROUPS } from './tls-flags.js';

export interface Setting {
  /** The flag without its dashes, and the key in a Warren configuration file. */
  readonly name: string;
  readonly short?: string;
  /** The flag's argument ('<n>'); absent for a switch (true when given). */
  readonly arg?: string;
  readonly help: string;
  /** Environment variables, the first set one wins. */
  readonly env: readonly string[];
  readonly parse: (raw: string) => SettingValue;
  readonly def?: SettingValue | (() => SettingValue | undefined);
  /** How the default reads in help and `config show` when it is computed. */
  readonly defText?: string;
  /** Masked by `config show`. */
  readonly secret?: boolean;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function mechanisms(value: string): string[] {
  const l = list(value);
  for (const m of l) {
    if (!KNOWN_MECHANISMS.includes(m)) throw new InvalidArgumentError(`expected a comma-separated list of ${KNOWN_MECHANISMS.join(', ')}`);
  }
  if (l.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of ${KNOWN_MECHANISMS.join(', ')}`);
  return l;
}

function s(name: string, arg: string | undefined, help: string, parse: (raw: string) => SettingValue, def?: Setting['def'],
  more: Partial<Setting> = {}): Setting {
  const env = more.env ?? [`WARREN_${name.toUpperCase().replace(/-/g, '_')}`];
  return { name, ...(arg === undefined ? {} : { arg }), help, env, parse, ...(def === undefined ? {} : { def }), ...more };
}

function tlsGroup(flag: string, what: string, defaultPort: number): Setting[] {
  return [
    s(`${flag}-port`, '<n>', `${what} port (default ${defaultPort} when a certificate is given; 0 picks a free one)`, port),
    s(`${flag}-cert`, '<file>', `${what}: PEM certificate (chain); enables it`, text),
    s(`${flag}-key`, '<file>', `${what}: PEM private key`, text),
    s(`${flag}-ca`, '<file>', `${what}: PEM CA bundle client certificates must chain to`, text),
    s(`${flag}-key-password`, '<secret>', `${what}: private key passphrase`, text, undefined, { secret: true }),
    s(`${flag}-verify`, '<mode>', `${what}: verify client certificates (RabbitMQ's verify_none / verify_peer): none or peer`, choice('none', 'peer'), 'none'),
    s(`${flag}-fail-if-no-peer-cert`, undefined, `${what}: with verify peer, refuse clients without a certificate`, bool, false),
  ];
}

/** Sockets accepted at once by default: set by main.ts (it knows the open-file limit). */
export interface SettingDefaults {
  maxConnections: () => number;
}

export function buildSettings(d: SettingDefaults): readonly Setting[] {
  return [
    s('port', '<n>', 'AMQP port (0 picks a free one)', port, DEFAULT_SERVER_CONFIG.port, { short: '-p', env: ['WARREN_PORT', 'RABBITMQ_NODE_PORT'] }),
    s('host', '<addr>', 'address to listen on', text, DEFAULT_SERVER_CONFIG.host, { short: '-H', env: ['WARREN_HOST', 'RABBITMQ_NODE_IP_ADDRESS'] }),
    s('data-dir', '<dir>', 'data directory', text, './data', { short: '-d' }),
    s('log-level', '<lvl>', LOG_LEVELS.join('|'), choice(...LOG_LEVELS), 'info', { short: '-l' }),
    s('log-format', '<fmt>', 'json (one object a line, for journald and collectors) or pretty (for a terminal)', choice('json', 'pretty'), 'json'),
    s('log-file', '<file>', 'also write JSON logs to this file, rotated by size', text),
    s('log-file-size', '<bytes>', 'rotate the log file at this size (units as 10MiB)', bytes, 10 * 1024 * 1024),
    s('log-file-count', '<n>', 'rotated log files kept besides the current one', nonNegativeInt, 5),
    s('memory-high-watermark', '<bytes>', 'block publishers above this many held message bytes (units as 1GB)', bytes, 512 * 1024 * 1024),
    s('heartbeat', '<s>', 'heartbeat interval offered to clients', nonNegativeInt, DEFAULT_SERVER_CONFIG.heartbeat),
    s('frame-max', '<bytes>', 'largest frame offered to clients', nonNegativeInt, DEFAULT_SERVER_CONFIG.frameMax),
    s('channel-max', '<n>', 'most channels per connection', nonNegativeInt, DEFAULT_SERVER_CONFIG.channelMax),
    s('product', '<name>', 'server-properties product', text, DEFAULT_SERVER_CONFIG.product),
    s('product-version', '<v>', 'server-properties version (clients compare it with RabbitMQ versions)', text, DEFAULT_SERVER_CONFIG.version),
    s('segment-size', '<bytes>', 'message segment file size', bytes, 8 * 1024 * 1024),
    s('queue-memory-budget', '<bytes>', 'held message bytes above which queues page to disk', bytes, 64 * 1024 * 1024),
    s('disk-free-limit', '<bytes>', 'block publishers while free disk is under this', bytes, 50_000_000),
    s('store', '<kind>', 'file (durable) or memory', choice('file', 'memory'), 'file'),
    s('consumer-timeout', '<ms>', 'unacked delivery timeout, 0 disables', nonNegativeInt, 30 * 60 * 1000),
    s('policies', '<file>', 'JSON file with policies (array, or definitions with "policies")', text),
    s('load-definitions', '<file>', 'definitions JSON (RabbitMQ\'s export) applied at every start, as load_definitions', text),
    s('allow-remote-guest', undefined, 'let loopback-only users (guest) log in from other addresses', bool, false),
    s('loopback-users', '<list>', 'users who may log in only from loopback addresses (comma-separated, or none)',
      (v) => (v.trim() === 'none' ? [] : list(v)), ['guest']),
    s('prometheus-port', '<n>', 'Prometheus metrics port; 0 disables, free picks a free one', optionalPort, 15692),
    s('prometheus-host', '<addr>', 'Prometheus listen address (default: --host)', text),
    s('management-port', '<n>', 'management HTTP API port; 0 disables, free picks a free one', optionalPort, 15672),
    s('management-host', '<addr>', 'management API listen address (default: --host)', text),
    s('default-user', '<name>', 'user created at first start, with full permissions in --default-vhost', text, 'guest',
      { env: ['WARREN_DEFAULT_USER', 'RABBITMQ_DEFAULT_USER'] }),
    s('default-pass', '<password>', 'that user\'s password', text, 'guest', { env: ['WARREN_DEFAULT_PASS', 'RABBITMQ_DEFAULT_PASS'], secret: true }),
    s('default-vhost', '<name>', 'virtual host created at first start', text, '/', { env: ['WARREN_DEFAULT_VHOST', 'RABBITMQ_DEFAULT_VHOST'] }),
    s('default-user-tags', '<list>', 'that user\'s tags (comma-separated)', list, ['administrator']),
    s('max-message-size', '<bytes>', 'largest message body accepted (406 above it)', bytes, DEFAULT_SERVER_CONFIG.maxMessageSize),
    s('max-connections', '<n>', 'client sockets accepted at once, further ones closed at once', nonNegativeInt, d.maxConnections,
      { defText: '90% of the open-file limit' }),
    s('handshake-timeout', '<s>', 'seconds a client has to finish the AMQP handshake', nonNegativeInt, DEFAULT_SERVER_CONFIG.handshakeTimeout),
    s('shutdown-timeout', '<s>', 'on SIGTERM/SIGINT, seconds clients get to close before their sockets are dropped and the process exits',
      nonNegativeInt, 15),
    ...Object.values(TLS_GROUPS).flatMap((g) => tlsGroup(g.flag, g.what, g.defaultPort)),
    s('auth-mechanisms', '<list>', 'SASL mechanisms that may be offered, comma-separated (EXTERNAL only over TLS with a verified client certificate)',
      mechanisms, [...DEFAULT_AUTH_MECHANISMS]),
    s('tls-cert-login-from', '<field>', 'EXTERNAL logs in as the client certificate\'s common_name or its whole distinguished_name',
      choice('common_name', 'distinguished_name'), 'common_name'),
  ];
}

/** Add the settings as options of `cmd`, without defaults: a value present came from the command line. */
export function addSettingOptions(cmd: Command, settings: readonly Setting[]): void {
  for (const st of settings) {
    const flags = `${st.short === undefined ? '' : `${st.short}, `}--${st.name}${st.arg === undefined ? '' : ` ${st.arg}`}`;
    const def = typeof st.def === 'function' ? st.defText : st.def === undefined ? undefined : Array.isArray(st.def) ? st.def.join(',') : String(st.def);
    const help = `${st.help}${def === undefined || st.arg === undefined ? '' : ` (default: ${def})`} [env ${st.env.join(', ')}]`;
    const o = new Option(flags, help);
    if (st.arg !== undefined) o.argParser((v: string) => st.parse(v));
    cmd.addOption(o);
  }
}

export type Source = 'flag' | 'env' | 'file' | 'default';

export interface Resolved {
  readonly value: SettingValue | undefined;
  readonly source: Source;
  /** The flag, variable, or file:line and key the value came from. */
  readonly origin: string;
}

/** Values a configuration file sets, already typed, by setting name. */
export type FileValues = ReadonlyMap<string, { value: SettingValue; origin: string }>;

/**
 * The effective value of every setting. `flags` are commander's parsed options (only those given
 * on the command line are present). A bad environment value is a ConfigError naming the variable.
 */
export function resolveSettings(settings: readonly Setting[], flags: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv,
  file: FileValues): Map<string, Resolved> {
  const out = new Map<string, Resolved>();
  for (const st of settings) {
    const flag = flags[camel(st.name)];
    if (flag !== undefined) {
      out.set(st.name, { value: flag as SettingValue, source: 'flag', origin: `--${st.name}` });
      continue;
    }
    const envName = st.env.find((e) => env[e] !== undefined && env[e] !== '');
    if (envName !== undefined) {
      const raw = env[envName]!;
      let value: SettingValue;
      try {
        value = st.parse(raw);
      } catch (err: unknown) {
        throw new ConfigError(`${envName}='${raw}' is not valid: ${(err as Error).message}`);
      }
      out.set(st.name, { value, source: 'env', origin: envName });
      continue;
    }
    const f = file.get(st.name);
    if (f !== undefined) {
      out.set(st.name, { value: f.value, source: 'file', origin: f.origin });
      continue;
    }
    const value = typeof st.def === 'function' ? st.def() : st.def;
    out.set(st.name, { value, source: 'default', origin: 'default' });
  }
  return out;
}

/** Typed reads of resolved settings (the table guarantees each setting's type). */
export class EffectiveSettings {
  constructor(readonly values: ReadonlyMap<string, Resolved>) {}

  private get(name: string): SettingValue | undefined {
    const r = this.values.get(name);
    if (r === undefined) throw new Error(`no setting '${name}'`);
    return r.value;
  }

  num(name: string): number { return this.get(name) as number; }
  opt(name: string): string | undefined { return this.get(name) as string | undefined; }
  str(name: string): string { return this.get(name) as string; }
  bool(name: string): boolean { return this.get(name) === true; }
  list(name: string): readonly string[] { return this.get(name) as readonly string[]; }
  raw(name: string): SettingValue | undefined { return this.get(name); }
  source(name: string): Source { return this.values.get(name)!.source; }

  /** The values by camelCase name (what tls-flags.ts reads). */
  camelRecord(): Record<string, unknown> {
    const r: Record<string, unknown> = {};
    for (const [k, v] of this.values) r[camel(k)] = v.value;
    return r;
  }
}
