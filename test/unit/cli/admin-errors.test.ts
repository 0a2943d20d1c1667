/**
 * The management commands' failures, run in-process: each ends with one line on stderr and the
 * documented exit code (unreachable 69, timeout 75, usage 64, help 0).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdmin } from '../../../src/cli/commands/index.js';
import { ManagementClient } from '../../../src/cli/management-client.js';

async function admin(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d: Buffer) => { o += d.toString(); });
  err.on('data', (d: Buffer) => { e += d.toString(); });
  const code = await runAdmin(args, { out, err, env });
  return { code, out: o, err: e };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = http.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('management command failures', () => {
  let silent: http.Server;
  let silentUrl = '';
  beforeAll(async () => {
    // Accepts requests and never answers them.
    silent = http.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    silent.closeAllConnections();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('an unreachable broker: 69 and a hint', async () => {
    const port = await closedPort();
    const r = await admin(['list', 'queues', '--url', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(69);
    expect(r.err).toBe(`Error: cannot reach the management API at http://127.0.0.1:${port} (connection refused): `
      + `is the broker running on 127.0.0.1:${port}? (set --url or WARREN_MANAGEMENT_URL)\n`);
    expect(r.out).toBe('');
  });

  it('WARREN_MANAGEMENT_URL is the default URL; the built-in default is localhost:15672', async () => {
    const port = await closedPort();
    const r = await admin(['ping'], { WARREN_MANAGEMENT_URL: `http://127.0.0.1:${port}/` });
    expect(r.code).toBe(69);
    expect(r.err).toContain(`127.0.0.1:${port}`);
    expect(new ManagementClient({ url: 'http://localhost:15672/api/', user: 'u', password: 'p', timeoutMs: 1 }).base).toBe('http://localhost:15672');
  });

  it('no answer within --timeout: 75', async () => {
    const r = await admin(['status', '--url', silentUrl, '--timeout', '200']);
    expect(r.code).toBe(75);
    expect(r.err).toMatch(/no answer from the management API .* within 200 ms/);
  });

  it('bad command lines: 64; help: 0', async () => {
    expect((await admin(['list'])).code).toBe(64);
    expect((await admin(['list', 'queues', '--nope'])).code).toBe(64);
    expect((await admin(['list', 'queues', '--timeout', 'x'])).code).toBe(64);
    expect((await admin(['ping', '--url', 'ftp://x'])).code).toBe(64);
    const help = await admin(['declare', 'queue', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Usage: warren declare queue \[options\] <name>/);
  });
});
