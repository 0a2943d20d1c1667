/**
 * Readiness as RabbitMQ tools expect it: `warren start` logs `Server startup complete` with its
 * ports once every listener is up, `warren status` exits 0 only while the broker answers, and a
 * taken port ends the start with one friendly line naming the flag to use (no stack trace), exit 1.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startWarrenProcess } from '../../helpers/warren-cli.js';

async function holdPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, release: () => new Promise<void>((r) => srv.close(() => r())) };
}

describe('readiness', () => {
  it('logs Server startup complete with the ports; status exits 0 only while the broker answers', async () => {
    const w = await startWarrenProcess(['--management-port', 'free', '--prometheus-port', '0']);
    let url: string;
    try {
      const m = /Server startup complete; listening on amqp 127\.0\.0\.1:(\d+), management 127\.0\.0\.1:(\d+)/.exec(w.logs());
      expect(m, w.logs()).not.toBeNull();
      url = `http://127.0.0.1:${m![2]}`;
      const r = await runCli(['--url', url, 'status']);
      expect(r.code, r.stderr).toBe(0);
    } finally {
      await w.stop();
    }
    const down = await runCli(['--url', url, 'status']);
    expect(down.code).toBe(69);
    expect(down.stderr).toMatch(/cannot reach the management API/);
  }, 60_000);
});

describe('a port that is taken', () => {
  it.each([
    ['--port', (p: number) => ['--port', String(p), '--management-port', '0']],
    ['--management-port', (p: number) => ['--port', '0', '--management-port', String(p)]],
  ] as const)('%s: one line naming the flag, exit 1, no stack trace', async (flag, args) => {
    const held = await holdPort();
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-busy-'));
    try {
      const r = await runCli(['start', '--host', '127.0.0.1', '--data-dir', dataDir, '--prometheus-port', '0', ...args(held.port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`warren: port ${held.port} is in use (is RabbitMQ running?); use ${flag}\n`);
      expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await held.release();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
