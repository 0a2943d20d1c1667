/**
 * `warren start --default-user/--default-pass/--default-vhost` (and WARREN_DEFAULT_*): the user and
 * vhost are created at the first start only, as RabbitMQ's default_user/default_vhost: the user is an
 * administrator with full permissions in the vhost; a later start with other defaults on the same
 * data directory creates nothing and keeps what exists.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/broker.js';
import { CLI } from '../../helpers/warren-cli.js';

let dataDir = '';
let child: ChildProcess | undefined;

async function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  const c = spawn(process.execPath, [CLI, 'start', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir,
    '--prometheus-port', '0', '--management-port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child = c;
  let logs = '';
  c.stdout?.on('data', (d: Buffer) => { logs += d.toString(); });
  c.stderr?.on('data', (d: Buffer) => { logs += d.toString(); });
  const line = await waitFor(() => logs.split('\n').find((l) => l.includes('Warren listening on')), 15_000) ?? '';
  return (JSON.parse(line) as { port: number }).port;
}

async function stop(): Promise<void> {
  const c = child;
  child = undefined;
  if (c === undefined || c.exitCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await exited;
}

/** 'ok', or the reply code the server refused the connection with. */
async function login(port: number, user: string, pass: string, vhost: string): Promise<string | number> {
  try {
    const conn = await amqp.connect({ hostname: '127.0.0.1', port, username: user, password: pass, vhost });
    const ch = await conn.createChannel();
    await ch.assertQueue('', { exclusive: true }); // full permissions: configure a queue
    await conn.close();
    return 'ok';
  } catch (e: unknown) {
    // amqplib: ACCESS_REFUSED at login names 403; a close instead of open-ok is connection.open's 530.
    const message = (e as Error).message;
    if (/403/.test(message)) return 403;
    if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(message)) return 530;
    return message;
  }
}

afterAll(async () => {
  await stop();
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
});

describe('default user and vhost from configuration', () => {
  it('are created at the first start only', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'warren-defaults-'));
    let port = await start(['--default-user', 'admin', '--default-pass', 's3cret', '--default-vhost', 'prod']);
    expect(await login(port, 'admin', 's3cret', 'prod')).toBe('ok');
    expect(await login(port, 'admin', 'wrong', 'prod')).toBe(403);
    expect(await login(port, 'guest', 'guest', '/')).toBe(403); // no guest, no '/'
    await stop();

    // Another start with other defaults (from the environment): nothing new, the old ones stay.
    port = await start([], { WARREN_DEFAULT_USER: 'other', WARREN_DEFAULT_PASS: 'pw', WARREN_DEFAULT_VHOST: 'staging' });
    expect(await login(port, 'admin', 's3cret', 'prod')).toBe('ok');
    expect(await login(port, 'other', 'pw', 'staging')).toBe(403);
    expect(await login(port, 'admin', 's3cret', 'staging')).toBe(530);
    await stop();
  });

  it('come from WARREN_DEFAULT_* on a fresh data directory', async () => {
    await rm(dataDir, { recursive: true, force: true });
    dataDir = await mkdtemp(join(tmpdir(), 'warren-defaults-'));
    const port = await start([], { WARREN_DEFAULT_USER: 'ops', WARREN_DEFAULT_PASS: 'pw2', WARREN_DEFAULT_VHOST: '/' });
    expect(await login(port, 'ops', 'pw2', '/')).toBe('ok');
    expect(await login(port, 'guest', 'guest', '/')).toBe(403);
    await stop();
  });
});
