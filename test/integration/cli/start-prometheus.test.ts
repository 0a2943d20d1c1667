/**
 * `warren start` with Prometheus: --prometheus-port (and WARREN_PROMETHEUS_PORT) binds the metrics
 * listener, 0 disables it, and `warren --help` lists the management commands next to `start`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../../helpers/prometheus-text.js';
import { CLI, runCli, startWarrenProcess, type WarrenProcess } from '../../helpers/warren-cli.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<WarrenProcess> {
  const w = await startWarrenProcess(args, env);
  cleanups.push(() => w.stop());
  return w;
}

describe('warren start --prometheus-port', () => {
  it('serves /metrics on the given port and logs where', async () => {
    const port = await freePort();
    const w = await start(['--prometheus-port', String(port)]);
    expect(w.logs()).toContain(`Prometheus metrics on http://127.0.0.1:${port}/metrics`);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(parsePrometheusText(await res.text()).get('rabbitmq_queues')?.type).toBe('gauge');
  });

  it('takes WARREN_PROMETHEUS_PORT and WARREN_PROMETHEUS_HOST', async () => {
    const port = await freePort();
    const w = await start([], { WARREN_PROMETHEUS_PORT: String(port), WARREN_PROMETHEUS_HOST: '127.0.0.1' });
    expect(w.logs()).toContain(`Prometheus metrics on http://127.0.0.1:${port}/metrics`);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
  });

  it('0 disables it', async () => {
    const w = await start(['--prometheus-port', '0']);
    expect(w.logs()).not.toContain('Prometheus');
  });

  it('an explicitly given port that is taken stops the start with the reason', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => taken.close(() => r())));
    const port = (taken.address() as net.AddressInfo).port;
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-prom-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(process.execPath, [CLI, 'start', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--prometheus-port', String(port)]);
      let out = '';
      c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      c.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      c.once('close', (code) => resolve({ code, out }));
    });
    expect(r.code).toBe(1);
    expect(r.out).toContain('EADDRINUSE');
  });
});

describe('warren --help', () => {
  it('lists start and the management commands', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/start \[options\]/);
    expect(r.stdout).toMatch(/list <kind>/);
    expect(r.stdout).toMatch(/ping, status, check <check>/);
    const start = await runCli(['start', '--help']);
    expect(start.stdout).toMatch(/--prometheus-port <n>/);
  });
});
