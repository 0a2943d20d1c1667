/**
 * `warren start --config` with a compose-style rabbitmq.conf (test/fixtures/rabbitmq.conf), as a
 * child process: the same ports (seen through `warren config show`; the running copy has 0 for
 * them, which in rabbitmq.conf lets the system pick), users and limits; RabbitMQ's environment
 * variables; flag > environment > file precedence; bad values and unused keys; the log level
 * changed at runtime through the management API; a shutdown bounded by --shutdown-timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/broker.js';
import { CLI, runCli } from '../../helpers/warren-cli.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/rabbitmq.conf', import.meta.url));
let dir = '';
/** The fixture with its three ports set to 0. */
let runnable = '';

interface Running {
  child: ChildProcess;
  logs(): string;
  amqpPort: number;
  managementPort: number | undefined;
  prometheusPort: number | undefined;
}

const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    if (r.child.exitCode !== null || r.child.signalCode !== null) continue;
    const exited = new Promise((res) => r.child.once('exit', res));
    r.child.kill('SIGKILL');
    await exited;
  }
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warren-config-'));
  const text = await readFile(FIXTURE, 'utf8');
  runnable = join(dir, 'rabbitmq.conf');
  await writeFile(runnable, text.replace(/^(listeners\.tcp\.default|management\.tcp\.port|prometheus\.tcp\.port) = \d+$/gm, '$1 = 0'));
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

/** `warren start` with only what the test gives (no --port: the file or environment decides). */
async function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Running> {
  const dataDir = await mkdtemp(join(dir, 'data-'));
  const child = spawn(process.execPath, [CLI, 'start', '--host', '127.0.0.1', '--data-dir', dataDir, ...args],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout?.on('data', (d: Buffer) => { logs += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { logs += d.toString(); });
  const r: Running = { child, logs: () => logs, amqpPort: 0, managementPort: undefined, prometheusPort: undefined };
  running.push(r);
  await waitFor(() => logs.includes('Warren listening on') || child.exitCode !== null, 30_000);
  const port = (re: RegExp) => { const m = re.exec(logs); return m === null ? undefined : Number(m[1]); };
  r.amqpPort = port(/Warren listening on 127\.0\.0\.1:(\d+)/) ?? 0;
  r.managementPort = port(/Management API on http:\/\/127\.0\.0\.1:(\d+)/);
  r.prometheusPort = port(/Prometheus metrics on http:\/\/127\.0\.0\.1:(\d+)/);
  return r;
}

async function stop(r: Running): Promise<number | null> {
  if (r.child.exitCode !== null) return r.child.exitCode;
  const exited = new Promise<number | null>((res) => r.child.once('exit', (code) => res(code)));
  r.child.kill('SIGTERM');
  return exited;
}

function api(r: Running, path: string, init: RequestInit = {}, user = 'app', pass = 'app-secret'): Promise<Response> {
  return fetch(`http://127.0.0.1:${r.managementPort!}${path}`, {
    ...init, headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`, 'content-type': 'application/json' },
  });
}

/** 'ok' or the error text of a login. */
async function login(port: number, user: string, pass: string, vhost: string): Promise<string> {
  try {
    const c = await amqp.connect({ hostname: '127.0.0.1', port, username: user, password: pass, vhost });
    await c.close();
    return 'ok';
  } catch (e: unknown) {
    return (e as Error).message;
  }
}

describe('a compose-style rabbitmq.conf', () => {
  it('gives the same ports, users and limits (config show)', async () => {
    const r = await runCli(['config', 'show', '--config', FIXTURE, '--json']);
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.stdout) as { config_file: { unused_keys: string[] }; settings: { name: string; value: unknown; source: string; origin: string }[] };
    const v = Object.fromEntries(shown.settings.map((s) => [s.name, s.value]));
    expect(v).toMatchObject({
      port: 5672, 'management-port': 15672, 'prometheus-port': 15692, heartbeat: 30, 'frame-max': 65536, 'channel-max': 128,
      'handshake-timeout': 5, 'default-user': 'app', 'default-pass': '********', 'default-vhost': 'app-vhost',
      'default-user-tags': ['administrator'], 'loopback-users': [], 'max-message-size': 1048576, 'consumer-timeout': 900000,
      'memory-high-watermark': 2 ** 30, 'disk-free-limit': 10_000_000, 'log-level': 'info',
    });
    expect(shown.settings.find((s) => s.name === 'port')).toMatchObject({ source: 'file', origin: `${FIXTURE}:6 (listeners.tcp.default)` });
    expect(shown.config_file.unused_keys).toEqual(['log.console', 'cluster_formation.peer_discovery_backend', 'cluster_formation.classic_config.nodes.1']);
    const text = await runCli(['config', 'show', '--config', FIXTURE, '--heartbeat', '5'], { env: { WARREN_CHANNEL_MAX: '16' } });
    expect(text.stdout).toMatch(/^heartbeat\s+5\s+flag --heartbeat$/m);
    expect(text.stdout).toMatch(/^channel-max\s+16\s+env WARREN_CHANNEL_MAX$/m);
    expect(text.stdout).toMatch(/^frame-max\s+65536\s+file .*rabbitmq\.conf:10 \(frame_max\)$/m);
    expect(text.stdout).toMatch(/^store\s+file\s+default$/m);
  });

  it('starts Warren with its users and limits (ports 0: free ones), warning once about unused keys', async () => {
    const w = await start(['--config', runnable]);
    expect(w.amqpPort).toBeGreaterThan(0);
    expect(w.managementPort).toBeGreaterThan(0);
    expect(w.prometheusPort).toBeGreaterThan(0);
    const warnings = w.logs().split('\n').filter((l) => l.includes('keys Warren does not use'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('cluster_formation.peer_discovery_backend');
    expect(await login(w.amqpPort, 'app', 'app-secret', 'app-vhost')).toBe('ok');
    expect(await login(w.amqpPort, 'guest', 'guest', '/')).toMatch(/403|ACCESS_REFUSED/);
    const c = await amqp.connect({ hostname: '127.0.0.1', port: w.amqpPort, username: 'app', password: 'app-secret', vhost: 'app-vhost', heartbeat: 0, frameMax: 0 });
    try {
      const conn = c.connection as unknown as { channelMax: number; frameMax: number };
      expect({ channelMax: conn.channelMax, frameMax: conn.frameMax }).toEqual({ channelMax: 128, frameMax: 65536 });
      const ch = await c.createChannel();
      const closed = new Promise<Error>((res) => ch.once('error', res));
      ch.publish('', 'nowhere', Buffer.alloc(1048577));
      expect((await closed).message).toMatch(/406/);
    } finally {
      await c.close().catch(() => undefined);
    }
    const whoami = await (await api(w, '/api/whoami')).json() as { name: string; tags: string[] };
    expect(whoami).toMatchObject({ name: 'app', tags: ['administrator'] });
    const node = await (await api(w, '/api/nodes')).json() as { disk_free_limit: number; mem_limit: number }[];
    expect(node[0]).toMatchObject({ disk_free_limit: 10_000_000 });
    expect(await stop(w)).toBe(0);
  });

  it('RabbitMQ\'s variables: RABBITMQ_CONFIG_FILE, _NODE_PORT, _DEFAULT_USER/_PASS/_VHOST over the file; flags over them', async () => {
    const w = await start(['--default-vhost', 'flag-vhost'], {
      RABBITMQ_CONFIG_FILE: runnable.replace(/\.conf$/, ''), RABBITMQ_NODE_PORT: '0',
      RABBITMQ_DEFAULT_USER: 'env-user', RABBITMQ_DEFAULT_PASS: 'env-pass', RABBITMQ_DEFAULT_VHOST: 'env-vhost',
    });
    expect(await login(w.amqpPort, 'env-user', 'env-pass', 'flag-vhost')).toBe('ok');
    expect(await login(w.amqpPort, 'app', 'app-secret', 'app-vhost')).toMatch(/403|ACCESS_REFUSED/);
    expect(w.logs()).toContain('keys Warren does not use');
  });

  it('a bad value stops the start with exit code 78 and names the key, the value and what is allowed', async () => {
    const bad = join(dir, 'bad.conf');
    await writeFile(bad, 'listeners.tcp.default = 0\nvm_memory_high_watermark.absolute = lots\n');
    const r = await runCli(['start', '--config', bad, '--data-dir', join(dir, 'never')]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`${bad}:2: vm_memory_high_watermark.absolute = lots is not valid: expected a number of bytes`);
    const env = await runCli(['start', '--data-dir', join(dir, 'never')], { env: { RABBITMQ_NODE_PORT: 'five' } });
    expect(env.code).toBe(78);
    expect(env.stderr).toContain("RABBITMQ_NODE_PORT='five' is not valid: expected a port number");
    const flag = await runCli(['start', '--heartbeat', 'soon', '--data-dir', join(dir, 'never')]);
    expect(flag.code).toBe(78);
    expect(flag.stderr).toContain("option '--heartbeat <s>' argument 'soon' is invalid. expected a non-negative integer");
    const missing = await runCli(['start', '--config', join(dir, 'nope.conf')]);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toMatch(/cannot read the configuration file .*nope\.conf: ENOENT/);
  });
});

/** RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)). */
function passwordHash(password: string): string {
  const salt = randomBytes(4);
  return Buffer.concat([salt, createHash('sha256').update(Buffer.concat([salt, Buffer.from(password)])).digest()]).toString('base64');
}

describe('load_definitions', () => {
  it('applies a definitions file at start; the default user is not created then (as RabbitMQ)', async () => {
    const defs = join(dir, 'definitions.json');
    await writeFile(defs, JSON.stringify({
      users: [{ name: 'ops', password_hash: passwordHash('ops-pw'), hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['administrator'] }],
      vhosts: [{ name: 'app-vhost' }],
      permissions: [{ user: 'ops', vhost: 'app-vhost', configure: '.*', write: '.*', read: '.*' }],
      queues: [{ name: 'jobs', vhost: 'app-vhost', durable: true, auto_delete: false, arguments: { 'x-max-length': 10 } }],
    }));
    const conf = join(dir, 'with-definitions.conf');
    await writeFile(conf, `${await readFile(runnable, 'utf8')}\nload_definitions = ${defs}\n`);
    const w = await start(['--config', conf]);
    const q = await (await api(w, '/api/queues/app-vhost/jobs', {}, 'ops', 'ops-pw')).json() as { name: string; arguments: Record<string, unknown> };
    expect(q).toMatchObject({ name: 'jobs', arguments: { 'x-max-length': 10 } });
    expect(w.logs()).toContain(`definitions loaded from ${defs}`);
    expect(await login(w.amqpPort, 'ops', 'ops-pw', 'app-vhost')).toBe('ok');
    expect(await login(w.amqpPort, 'app', 'app-secret', 'app-vhost')).toMatch(/403|ACCESS_REFUSED/);
  });
});

describe('logs', () => {
  it('--log-format pretty writes lines for a terminal instead of JSON', async () => {
    const w = await start(['--config', runnable, '--log-format', 'pretty']);
    const line = w.logs().split('\n').find((l) => l.includes('Warren listening on'))!;
    expect(line).toMatch(/INFO.*Warren listening on/);
    expect(() => JSON.parse(line)).toThrow();
  });

  it('log.file (with log.dir) also writes JSON lines to a file, rotated by size', async () => {
    const logDir = join(dir, 'logs');
    const conf = join(dir, 'with-log-file.conf');
    await writeFile(conf, `${await readFile(runnable, 'utf8')}\nlog.dir = ${logDir}\nlog.file = warren.log\nlog.file.rotation.size = 1024\n`);
    const w = await start(['--config', conf]);
    // Debug logs a line per connection: enough lines to pass 1 KiB a few times.
    expect((await api(w, '/api/warren/log-level', { method: 'PUT', body: '{"level":"debug"}' })).status).toBe(204);
    for (let i = 0; i < 10; i++) expect(await login(w.amqpPort, 'app', 'app-secret', 'app-vhost')).toBe('ok');
    expect(await stop(w)).toBe(0);
    const files = (await readdir(logDir)).sort();
    expect(files.length).toBeGreaterThan(1);
    const all = (await Promise.all(files.map((f) => readFile(join(logDir, f), 'utf8')))).join('');
    const lines = all.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { msg: string });
    expect(lines.some((l) => l.msg.startsWith('Warren listening on'))).toBe(true);
    expect(lines.some((l) => l.msg === 'connection open')).toBe(true);
    expect(lines.some((l) => l.msg.startsWith('stopped:'))).toBe(true);
  });
});

describe('log level at runtime', () => {
  it('PUT /api/warren/log-level changes it for the whole process; administrators only', async () => {
    const w = await start(['--config', runnable]);
    expect(await (await api(w, '/api/warren/log-level')).json()).toMatchObject({ level: 'info' });
    expect(await login(w.amqpPort, 'app', 'app-secret', 'app-vhost')).toBe('ok');
    expect(w.logs()).not.toContain('connection open');
    expect((await api(w, '/api/warren/log-level', { method: 'PUT', body: '{"level":"loud"}' })).status).toBe(400);
    expect((await api(w, '/api/warren/log-level', { method: 'PUT', body: '{"level":"debug"}' })).status).toBe(204);
    expect(await (await api(w, '/api/warren/log-level')).json()).toMatchObject({ level: 'debug' });
    expect(await login(w.amqpPort, 'app', 'app-secret', 'app-vhost')).toBe('ok');
    await waitFor(() => w.logs().includes('connection open'), 10_000);
    // A user without the administrator tag may not read or change it.
    expect((await api(w, '/api/users/ops', { method: 'PUT', body: '{"password":"pw","tags":"monitoring"}' })).status).toBe(201);
    expect((await api(w, '/api/warren/log-level', { method: 'PUT', body: '{"level":"info"}' }, 'ops', 'pw')).status).toBe(401);
  });
});

describe('shutdown', () => {
  it('is bounded by --shutdown-timeout: a client that stopped reading is dropped, and the report says so', async () => {
    const w = await start(['--config', runnable, '--shutdown-timeout', '1']);
    const stuck = await amqp.connect({ hostname: '127.0.0.1', port: w.amqpPort, username: 'app', password: 'app-secret', vhost: 'app-vhost' });
    stuck.on('error', () => undefined);
    const clean = await amqp.connect({ hostname: '127.0.0.1', port: w.amqpPort, username: 'app', password: 'app-secret', vhost: 'app-vhost' });
    clean.on('error', () => undefined);
    // The stuck client never reads the server's connection.close, so it never answers close-ok.
    const stream = (stuck.connection as unknown as { stream: NodeJS.ReadableStream }).stream;
    stream.removeAllListeners('readable');
    stream.removeAllListeners('data');
    stream.pause();
    expect(await stop(w)).toBe(0);
    const report = w.logs().split('\n').find((l) => l.includes('"msg":"stopped'));
    expect(JSON.parse(report!)).toMatchObject({ connections: 2, closedCleanly: 1, dropped: 1, store: 'file' });
  });
});
