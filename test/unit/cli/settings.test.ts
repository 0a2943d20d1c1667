/**
 * Precedence of `warren start` settings (settings.ts, effective-config.ts): a flag, else an
 * environment variable (WARREN_* before RABBITMQ_*), else the configuration file, else the
 * default; where each value came from; which file is read.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEffectiveConfig } from '../../../src/cli/effective-config.js';
import { buildSettings, resolveSettings } from '../../../src/cli/settings.js';

const SETTINGS = buildSettings({ maxConnections: () => 1000 });
let dir = '';
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'warren-settings-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('setting precedence', () => {
  it('flag > environment > file > default', () => {
    const file = new Map([
      ['port', { value: 1001, origin: 'f.conf:1 (listeners.tcp.default)' }],
      ['heartbeat', { value: 11, origin: 'f.conf:2 (heartbeat)' }],
      ['frame-max', { value: 8192, origin: 'f.conf:3 (frame_max)' }],
    ]);
    const r = resolveSettings(SETTINGS, { port: 3003 }, { WARREN_PORT: '2002', WARREN_HEARTBEAT: '22' }, file);
    expect(r.get('port')).toEqual({ value: 3003, source: 'flag', origin: '--port' });
    expect(r.get('heartbeat')).toEqual({ value: 22, source: 'env', origin: 'WARREN_HEARTBEAT' });
    expect(r.get('frame-max')).toEqual({ value: 8192, source: 'file', origin: 'f.conf:3 (frame_max)' });
    expect(r.get('channel-max')).toEqual({ value: 2047, source: 'default', origin: 'default' });
    expect(r.get('max-connections')?.value).toBe(1000);
  });

  it('honours RabbitMQ variables, after the WARREN_* ones', () => {
    const env = { RABBITMQ_DEFAULT_USER: 'ru', RABBITMQ_DEFAULT_PASS: 'rp', RABBITMQ_DEFAULT_VHOST: 'rv', RABBITMQ_NODE_PORT: '5999', WARREN_DEFAULT_USER: 'wu' };
    const r = resolveSettings(SETTINGS, {}, env, new Map());
    expect(r.get('default-user')).toMatchObject({ value: 'wu', origin: 'WARREN_DEFAULT_USER' });
    expect(r.get('default-pass')).toMatchObject({ value: 'rp', origin: 'RABBITMQ_DEFAULT_PASS' });
    expect(r.get('default-vhost')).toMatchObject({ value: 'rv', origin: 'RABBITMQ_DEFAULT_VHOST' });
    expect(r.get('port')).toMatchObject({ value: 5999, source: 'env', origin: 'RABBITMQ_NODE_PORT' });
  });

  it('refuses a bad environment value naming the variable and what is allowed', () => {
    expect(() => resolveSettings(SETTINGS, {}, { RABBITMQ_NODE_PORT: 'x' }, new Map()))
      .toThrow("RABBITMQ_NODE_PORT='x' is not valid: expected a port number (0 to 65535)");
  });

  it('reads the file named by --config, else WARREN_CONFIG_FILE, else RABBITMQ_CONFIG_FILE (extension optional)', async () => {
    await writeFile(join(dir, 'a.conf'), 'heartbeat = 1\n');
    await writeFile(join(dir, 'rabbitmq.conf'), 'heartbeat = 3\n');
    const heartbeat = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv) => {
      const c = loadEffectiveConfig(SETTINGS, flags, env);
      return [c.settings.num('heartbeat'), c.file?.from];
    };
    expect(heartbeat({ config: join(dir, 'a.conf') }, { RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf') })).toEqual([1, '--config']);
    expect(heartbeat({}, { WARREN_CONFIG_FILE: join(dir, 'a.conf'), RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf') })).toEqual([1, 'WARREN_CONFIG_FILE']);
    expect(heartbeat({}, { RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq') })).toEqual([3, 'RABBITMQ_CONFIG_FILE']);
    expect(heartbeat({}, {})).toEqual([60, undefined]);
    expect(() => loadEffectiveConfig(SETTINGS, { config: join(dir, 'missing.conf') }, {})).toThrow(/cannot read the configuration file .*missing\.conf: ENOENT/);
  });

  it('reads a conf.d directory: every *.conf in name order, later files overriding earlier keys', async () => {
    const confD = join(dir, 'conf.d');
    await mkdir(confD);
    await writeFile(join(confD, '10-defaults.conf'), 'heartbeat = 10\nframe_max = 8192\n');
    await writeFile(join(confD, '20-app.conf'), 'heartbeat = 20\n');
    await writeFile(join(confD, 'README'), 'not a conf file\n');
    const c = loadEffectiveConfig(SETTINGS, {}, { RABBITMQ_CONFIG_FILES: confD });
    expect(c.file).toMatchObject({ path: confD, from: 'RABBITMQ_CONFIG_FILES' });
    expect(c.settings.values.get('heartbeat')).toMatchObject({ value: 20, origin: `${join(confD, '20-app.conf')}:1 (heartbeat)` });
    expect(c.settings.values.get('frame-max')).toMatchObject({ value: 8192, origin: `${join(confD, '10-defaults.conf')}:2 (frame_max)` });
    expect(c.file?.duplicates).toEqual([]);
  });
});
