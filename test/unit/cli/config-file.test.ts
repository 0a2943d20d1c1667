/**
 * The sysctl-style configuration file (config-file.ts) and the translation of rabbitmq.conf keys
 * (rabbitmq-conf.ts): syntax, RabbitMQ's units and value spellings, collected keys, unused keys,
 * and errors that name the file, line, key, value and what is allowed.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../../src/cli/config-file.js';
import { translateConfig } from '../../../src/cli/rabbitmq-conf.js';
import { buildSettings } from '../../../src/cli/settings.js';

const SETTINGS = buildSettings({ maxConnections: () => 1000 });
const GiB = 2 ** 30;

function values(text: string): Record<string, unknown> {
  const t = translateConfig(parseConfigText(text, 'test.conf'), SETTINGS, () => 8 * GiB);
  return Object.fromEntries([...t.values].map(([k, v]) => [k, v.value]));
}

describe('config file syntax', () => {
  it('reads key = value lines, comments, quotes; the last of a repeated key wins', () => {
    const f = parseConfigText('# a comment\n\n  port = 5673  # trailing\ndefault_pass = "a b"\nport=5674\n', 'x.conf');
    expect(f.entries).toEqual([
      { key: 'default_pass', value: 'a b', line: 4, path: 'x.conf' },
      { key: 'port', value: '5674', line: 5, path: 'x.conf' },
    ]);
    expect(f.duplicates).toEqual(['port']);
  });

  it('refuses lines that are not key = value, keys without value and the Erlang-term format', () => {
    expect(() => parseConfigText('port 5672\n', 'x.conf')).toThrow(/x\.conf:1: expected 'key = value'/);
    expect(() => parseConfigText('a = 1\nport =\n', 'x.conf')).toThrow(/x\.conf:2: port has no value/);
    expect(() => parseConfigText('[{rabbit, [{tcp_listeners, [5672]}]}].', 'x.config')).toThrow(ConfigError);
    expect(() => parseConfigText('[{rabbit, []}].', 'x.config')).toThrow(/classic Erlang-term format/);
  });
});

describe('rabbitmq.conf keys', () => {
  it('maps listeners, users, limits and TLS onto Warren settings', () => {
    expect(values([
      'listeners.tcp.default = 127.0.0.1:5673', 'listeners.ssl.default = 5671',
      'ssl_options.cacertfile = /c/ca.pem', 'ssl_options.certfile = /c/cert.pem', 'ssl_options.keyfile = /c/key.pem',
      'ssl_options.verify = verify_peer', 'ssl_options.fail_if_no_peer_cert = true',
      'default_user = app', 'default_pass = pw', 'default_vhost = v', 'heartbeat = 30', 'frame_max = 65536', 'channel_max = 64',
      'consumer_timeout = 60000', 'max_message_size = 1048576', 'handshake_timeout = 2500',
      'management.tcp.port = 15673', 'management.ssl.port = 15671', 'management.ssl.certfile = /m.pem', 'prometheus.tcp.port = 0',
      'log.console.level = warning', 'load_definitions = /d.json', 'ssl_cert_login_from = distinguished_name',
    ].join('\n'))).toEqual({
      port: 5673, host: '127.0.0.1', 'tls-port': 5671, 'tls-ca': '/c/ca.pem', 'tls-cert': '/c/cert.pem', 'tls-key': '/c/key.pem',
      'tls-verify': 'peer', 'tls-fail-if-no-peer-cert': true,
      'default-user': 'app', 'default-pass': 'pw', 'default-vhost': 'v', heartbeat: 30, 'frame-max': 65536, 'channel-max': 64,
      'consumer-timeout': 60000, 'max-message-size': 1048576, 'handshake-timeout': 3,
      'management-port': 15673, 'management-tls-port': 15671, 'management-tls-cert': '/m.pem', 'prometheus-port': 'free',
      'log-level': 'warn', 'load-definitions': '/d.json', 'tls-cert-login-from': 'distinguished_name',
    });
    expect(values('listeners.tcp.default = :::5672')).toEqual({ port: 5672, host: '::' });
    expect(values('listeners.tcp.default = [::1]:5672')).toEqual({ port: 5672, host: '::1' });
  });

  it('reads memory units as RabbitMQ does (powers of 2 and of 10) and relative limits of total memory', () => {
    expect(values('vm_memory_high_watermark.absolute = 1GB')).toEqual({ 'memory-high-watermark': 1e9 });
    expect(values('vm_memory_high_watermark.absolute = 1GiB')).toEqual({ 'memory-high-watermark': GiB });
    expect(values('vm_memory_high_watermark.absolute = 512M')).toEqual({ 'memory-high-watermark': 512 * 2 ** 20 });
    expect(values('vm_memory_high_watermark.absolute = 1073741824')).toEqual({ 'memory-high-watermark': GiB });
    // rabbitmq.conf.example: the absolute value is ignored when a relative one is set.
    expect(values('vm_memory_high_watermark.absolute = 1GB\nvm_memory_high_watermark.relative = 0.5')).toEqual({ 'memory-high-watermark': 4 * GiB });
    expect(values('vm_memory_high_watermark.relative = 0.5\ntotal_memory_available_override_value = 2GiB')).toEqual({ 'memory-high-watermark': GiB });
    expect(values('disk_free_limit.absolute = 2kB')).toEqual({ 'disk-free-limit': 2000 });
    expect(values('disk_free_limit.relative = 1.5')).toEqual({ 'disk-free-limit': 12 * GiB });
  });

  it('collects default_user_tags.*, loopback_users(.*) and auth_mechanisms.*', () => {
    expect(values('default_user_tags.administrator = true\ndefault_user_tags.monitoring = true\ndefault_user_tags.management = false'))
      .toEqual({ 'default-user-tags': ['administrator', 'monitoring'] });
    expect(values('loopback_users.guest = false')).toEqual({ 'loopback-users': [] });
    expect(values('loopback_users.ops = true')).toEqual({ 'loopback-users': ['guest', 'ops'] });
    expect(values('loopback_users = none')).toEqual({ 'loopback-users': [] });
    expect(values('auth_mechanisms.2 = AMQPLAIN\nauth_mechanisms.1 = PLAIN')).toEqual({ 'auth-mechanisms': ['PLAIN', 'AMQPLAIN'] });
  });

  it('reads log.file relative to log.dir, and its rotation', () => {
    expect(values('log.dir = /var/log/warren\nlog.file = warren.log\nlog.file.rotation.size = 10485760\nlog.file.rotation.count = 3'))
      .toEqual({ 'log-file': '/var/log/warren/warren.log', 'log-file-size': 10485760, 'log-file-count': 3 });
    expect(values('log.file = false')).toEqual({});
  });

  it('takes Warren keys with Warren syntax, and lists the keys it does not use', () => {
    const t = translateConfig(parseConfigText('data-dir = /d\nmemory-high-watermark = 2GB\ncluster_formation.peer_discovery_backend = classic\nssl_options.versions.1 = tlsv1.2\n',
      'x.conf'), SETTINGS);
    expect(t.values.get('data-dir')).toEqual({ value: '/d', origin: 'x.conf:1 (data-dir)' });
    expect(t.values.get('memory-high-watermark')?.value).toBe(2e9);
    expect(t.unused).toEqual(['cluster_formation.peer_discovery_backend', 'ssl_options.versions.1']);
  });

  it('refuses bad values with file, line, key, value and what is allowed', () => {
    const bad = (text: string) => () => values(text);
    expect(bad('heartbeat = soon')).toThrow('test.conf:1: heartbeat = soon is not valid: expected a non-negative integer');
    expect(bad('vm_memory_high_watermark.absolute = 2 gigs')).toThrow(/vm_memory_high_watermark.absolute = 2 gigs is not valid: expected a number of bytes, optionally with a unit: k\/kiB/);
    expect(bad('vm_memory_high_watermark.relative = 1.5')).toThrow(/expected a number from 0 to 1/);
    expect(bad('ssl_options.verify = yes')).toThrow(/expected one of verify_peer, verify_none/);
    expect(bad('listeners.tcp.default = 70000')).toThrow(/expected a port number/);
    expect(bad('log.console.level = loud')).toThrow(/log.console.level = loud is not valid: expected one of debug, info/);
    expect(bad('default_user_tags.administrator = maybe')).toThrow(/expected true or false/);
    expect(bad('store = disk')).toThrow(/store = disk is not valid: expected one of file, memory/);
  });
});
