/**
 * Turns the entries of a configuration file into Warren setting values. A key is either a Warren
 * setting name (`data-dir`, `port`: parsed by the setting's own syntax) or one of RabbitMQ's
 * rabbitmq.conf keys that mean something to Warren, translated here with RabbitMQ's value syntax
 * and units (handshake_timeout in ms, `verify_peer`, memory units, log levels, ports where 0 lets
 * the system pick a free one). Every other key is returned as unused, for one warning at start.
 *
 * RabbitMQ rules kept (rabbitmq.conf.example, rabbit.schema):
 * - vm_memory_high_watermark.absolute is ignored when .relative is set; relative and
 *   disk_free_limit.relative are fractions of total memory (total_memory_available_override_value
 *   when set, else the cgroup limit or the machine's RAM).
 * - default_user_tags.<tag> = true|false, loopback_users.<user> = true|false, loopback_users = none,
 *   auth_mechanisms.<n> = NAME collect into one list each.
 * - log.file is relative to log.dir; log.file = false writes no file.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type ConfigEntry, type ConfigFile } from './config-file.js';
import type { FileValues, Setting } from './settings.js';
import { bool, bytes, choice, fraction, nonNegativeInt, port, type SettingValue } from './setting-values.js';

type Put = (setting: string, value: SettingValue) => void;
type Rule = (value: string, put: Put) => void;

/** `5672`, `127.0.0.1:5672`, `:::5672`, `[::1]:5672`: RabbitMQ's listener addresses. */
function address(value: string): { host?: string; port: number } {
  const v = value.trim();
  const colon = v.lastIndexOf(':');
  if (colon < 0) return { port: port(v) };
  let host = v.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '::') return { host: '::', port: port(v.slice(colon + 1)) };
  return { ...(host === '' ? {} : { host }), port: port(v.slice(colon + 1)) };
}

/** management.tcp.port / prometheus.tcp.port: 0 lets the system choose (Warren's `free`). */
function httpPort(value: string): number | string {
  const p = port(value);
  return p === 0 ? 'free' : p;
}

const verify = (v: string): string => ({ verify_peer: 'peer', verify_none: 'none' })[choice('verify_peer', 'verify_none')(v)]!;

/** RabbitMQ's log levels onto pino's. */
const LOG_LEVEL: Readonly<Record<string, string>> = {
  debug: 'debug', info: 'info', notice: 'info', warning: 'warn', error: 'error', critical: 'fatal', alert: 'fatal', emergency: 'fatal', none: 'silent',
};

function logLevel(v: string): string {
  return LOG_LEVEL[choice(...Object.keys(LOG_LEVEL))(v)]!;
}

const to = (setting: string, parse: (v: string) => SettingValue = (v) => v): Rule => (v, put) => put(setting, parse(v));

/** ssl_options.*, management.ssl.*, prometheus.ssl.* onto one group of TLS settings. */
function tlsRules(prefix: string, flag: string): Record<string, Rule> {
  return {
    [`${prefix}.cacertfile`]: to(`${flag}-ca`),
    [`${prefix}.certfile`]: to(`${flag}-cert`),
    [`${prefix}.keyfile`]: to(`${flag}-key`),
    [`${prefix}.password`]: to(`${flag}-key-password`),
    [`${prefix}.verify`]: to(`${flag}-verify`, verify),
    [`${prefix}.fail_if_no_peer_cert`]: to(`${flag}-fail-if-no-peer-cert`, bool),
  };
}

const RULES: Readonly<Record<string, Rule>> = {
  'listeners.tcp.default': (v, put) => {
    const a = address(v);
    put('port', a.port);
    if (a.host !== undefined) put('host', a.host);
  },
  'listeners.ssl.default': (v, put) => put('tls-port', address(v).port),
  ...tlsRules('ssl_options', 'tls'),
  'management.tcp.port': to('management-port', httpPort),
  'management.tcp.ip': to('management-host'),
  'management.ssl.port': to('management-tls-port', port),
  ...tlsRules('management.ssl', 'management-tls'),
  'prometheus.tcp.port': to('prometheus-port', httpPort),
  'prometheus.tcp.ip': to('prometheus-host'),
  'prometheus.ssl.port': to('prometheus-tls-port', port),
  ...tlsRules('prometheus.ssl', 'prometheus-tls'),
  default_user: to('default-user'),
  default_pass: to('default-pass'),
  default_vhost: to('default-vhost'),
  heartbeat: to('heartbeat', nonNegativeInt),
  frame_max: to('frame-max', nonNegativeInt),
  channel_max: to('channel-max', nonNegativeInt),
  consumer_timeout: to('consumer-timeout', nonNegativeInt),
  max_message_size: to('max-message-size', bytes),
  // RabbitMQ's handshake_timeout is in milliseconds, Warren's in seconds.
  handshake_timeout: to('handshake-timeout', (v) => Math.ceil(nonNegativeInt(v) / 1000)),
  'vm_memory_high_watermark.absolute': to('memory-high-watermark', bytes),
  'disk_free_limit.absolute': to('disk-free-limit', bytes),
  'log.console.level': to('log-level', logLevel),
  'log.file.rotation.size': to('log-file-size', bytes),
  'log.file.rotation.count': to('log-file-count', nonNegativeInt),
  load_definitions: to('load-definitions'),
  'management.load_definitions': to('load-definitions'),
  ssl_cert_login_from: to('tls-cert-login-from', choice('common_name', 'distinguished_name')),
};

/** Keys read together with others (in translate) rather than by a rule of their own. */
const COMBINED = new Set([
  'vm_memory_high_watermark.relative', 'disk_free_limit.relative', 'total_memory_available_override_value', 'log.file', 'log.dir', 'loopback_users',
]);
const COLLECTED = ['default_user_tags.', 'loopback_users.', 'auth_mechanisms.'];

export interface Translated {
  readonly values: FileValues;
  /** Keys Warren does not use, in file order. */
  readonly unused: readonly string[];
}

/** Total memory for relative limits: the cgroup v2 limit when lower than the machine's RAM. */
export function totalMemory(): number {
  try {
    const limit = Number(readFileSync('/sys/fs/cgroup/memory.max', 'utf8').trim());
    if (Number.isSafeInteger(limit) && limit > 0 && limit < totalmem()) return limit;
  } catch {
    // no cgroup v2 limit
  }
  return totalmem();
}

export function translateConfig(file: ConfigFile, settings: readonly Setting[], memory: () => number = totalMemory): Translated {
  const byName = new Map(settings.map((st) => [st.name, st]));
  const values = new Map<string, { value: SettingValue; origin: string }>();
  const unused: string[] = [];
  const entries = new Map(file.entries.map((e) => [e.key, e]));
  const fail = (e: ConfigEntry, err: unknown): never => {
    throw new ConfigError(`${e.path}:${e.line}: ${e.key} = ${e.value} is not valid: ${(err as Error).message}`);
  };
  const putFor = (e: ConfigEntry): Put => (setting, value) => values.set(setting, { value, origin: `${e.path}:${e.line} (${e.key})` });
  const apply = (e: ConfigEntry, rule: Rule) => {
    try {
      rule(e.value, putFor(e));
    } catch (err: unknown) {
      if (err instanceof ConfigError) throw err;
      fail(e, err);
    }
  };
  for (const e of file.entries) {
    const own = byName.get(e.key);
    if (own !== undefined) apply(e, to(own.name, own.parse));
    else if (RULES[e.key] !== undefined) apply(e, RULES[e.key]!);
    else if (!COMBINED.has(e.key) && !COLLECTED.some((p) => e.key.startsWith(p))) unused.push(e.key);
  }

  const total = entries.get('total_memory_available_override_value');
  const mem = (): number => (total === undefined ? memory() : (() => {
    try { return bytes(total.value); } catch (err: unknown) { return fail(total, err); }
  })());
  const relative = entries.get('vm_memory_high_watermark.relative');
  if (relative !== undefined) apply(relative, (v, put) => put('memory-high-watermark', Math.floor(fraction(v) * mem())));
  const diskRelative = entries.get('disk_free_limit.relative');
  if (diskRelative !== undefined && entries.get('disk_free_limit.absolute') === undefined) {
    apply(diskRelative, (v, put) => put('disk-free-limit', Math.floor(fraction(v, 100) * mem())));
  }

  const logFile = entries.get('log.file');
  if (logFile !== undefined && logFile.value !== 'false') {
    const dir = entries.get('log.dir')?.value;
    apply(logFile, (v, put) => put('log-file', dir === undefined || v.startsWith('/') ? v : join(dir, v)));
  }

  collect(file, 'default_user_tags.', (e) => bool(e.value), (tags, e) => putFor(e)('default-user-tags', tags), fail);
  collect(file, 'auth_mechanisms.', (e) => choice('PLAIN', 'AMQPLAIN', 'EXTERNAL')(e.value), (l, e) => putFor(e)('auth-mechanisms', l), fail);
  const loopbackNone = entries.get('loopback_users');
  if (loopbackNone !== undefined) {
    apply(loopbackNone, (v, put) => {
      if (choice('none')(v) === 'none') put('loopback-users', []);
    });
  }
  const loopback = file.entries.filter((e) => e.key.startsWith('loopback_users.'));
  if (loopback.length > 0) {
    const users = new Set(['guest']);
    for (const e of loopback) {
      let on = false;
      try { on = bool(e.value); } catch (err: unknown) { fail(e, err); }
      if (on) users.add(e.key.slice('loopback_users.'.length));
      else users.delete(e.key.slice('loopback_users.'.length));
    }
    putFor(loopback[loopback.length - 1]!)('loopback-users', [...users]);
  }
  return { values, unused };
}

/**
 * `<prefix><name> = value` lines collected into one list: for default_user_tags the names whose
 * value is true, for auth_mechanisms the values in the order of their names (1, 2, ...).
 */
function collect(file: ConfigFile, prefix: string, read: (e: ConfigEntry) => boolean | string,
  put: (list: string[], last: ConfigEntry) => void, fail: (e: ConfigEntry, err: unknown) => never): void {
  const found = file.entries.filter((e) => e.key.startsWith(prefix));
  if (found.length === 0) return;
  const sorted = [...found].sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }));
  const out: string[] = [];
  for (const e of sorted) {
    let v: boolean | string = false;
    try { v = read(e); } catch (err: unknown) { fail(e, err); }
    if (v === true) out.push(e.key.slice(prefix.length));
    else if (typeof v === 'string') out.push(v);
  }
  put(out, found[found.length - 1]!);
}
