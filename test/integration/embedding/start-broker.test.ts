/**
 * The embedding API: startBroker() as a program uses it (real amqplib and HTTP clients on its
 * URLs, reset() between tests, close() freeing everything), and the README's vitest globalSetup
 * example run exactly as documented: the fixture's files are copied into a temporary project that
 * has this package installed as `warren` (a link, as `npm install` of a local path makes) and run by a
 * child vitest. Needs the built package (dist/), as the CLI tests do.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { startBroker } from '../../../src/cli/package-api.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURE = join(ROOT, 'test/fixtures/vitest-global-setup');

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('startBroker', () => {
  it('runs a real broker on ephemeral ports; reset() empties it; close() frees everything', async () => {
    const b = await startBroker();
    try {
      expect(b.amqpUrl).toBe(`amqp://guest:guest@127.0.0.1:${b.port}`);
      expect(b.managementUrl).toBe(`http://127.0.0.1:${b.managementPort}`);
      const conn = await amqp.connect(b.amqpUrl);
      const closed = new Promise<void>((resolve) => conn.on('close', () => resolve()));
      conn.on('error', () => undefined);
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue('jobs', { durable: true });
      ch.sendToQueue('jobs', Buffer.from('x'), { persistent: true });
      await ch.waitForConfirms();
      const auth = { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64') };
      const q = await (await fetch(`${b.managementUrl}/api/queues/%2F/jobs`, { headers: auth })).json() as { messages: number };
      expect(q.messages).toBe(1);
      const results = await b.reset();
      expect(results).toEqual([expect.objectContaining({ connectionsClosed: 1, queuesDeleted: 1, messagesDeleted: 1 })]);
      await closed;
      expect(b.warren.broker.vhosts.get('/')!.queues.size).toBe(0);
    } finally {
      await b.close();
    }
    expect(await portIsFree(b.port)).toBe(true);
    expect(await portIsFree(b.managementPort!)).toBe(true);
  });

  it('other user, vhost, no management API, file store in a temporary directory', async () => {
    const b = await startBroker({ user: 'app', password: 's3cret', vhost: 'test', managementPort: null, store: 'file' });
    try {
      expect(b.amqpUrl).toBe(`amqp://app:s3cret@127.0.0.1:${b.port}/test`);
      expect(b.managementUrl).toBe('');
      const conn = await amqp.connect(b.amqpUrl);
      await (await conn.createChannel()).assertQueue('q');
      await conn.close();
    } finally {
      await b.close();
    }
  });
});

describe('the README vitest globalSetup example', () => {
  it('passes when run by vitest as documented', async () => {
    const entry = join(ROOT, 'dist/src/cli/package-api.js');
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first (npm test does)`);
    const dir = await mkdtemp(join(tmpdir(), 'warren-embed-'));
    try {
      await cp(FIXTURE, dir, { recursive: true });
      await mkdir(join(dir, 'node_modules'));
      // The project as a user has it: warren installed, next to vitest and amqplib.
      await symlink(ROOT, join(dir, 'node_modules', 'warren'), 'dir');
      for (const dep of ['vitest', 'amqplib']) await symlink(join(ROOT, 'node_modules', dep), join(dir, 'node_modules', dep), 'dir');
      const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run'], {
          cwd: dir, env: { ...process.env, CI: '1', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
        child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
        child.once('error', reject);
        child.once('close', (code) => resolve({ code, out }));
      });
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/Tests\s+2 passed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
