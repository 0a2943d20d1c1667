/**
 * `warren start` with TLS, as a process: the --tls-* flags and WARREN_TLS_* / WARREN_MANAGEMENT_TLS_*
 * variables, incomplete groups refused, and SIGHUP reloading the certificate files while an amqps
 * connection stays open (bad files on reload are logged and the certificate in use is kept).
 */
import { copyFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import amqp from 'amqplib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/broker.js';
import { makeTestPki } from '../../helpers/certificates.js';
import { runCli, startWarrenProcess, type WarrenProcess } from '../../helpers/warren-cli.js';

const pki = makeTestPki();
afterAll(() => pki.remove());
const CA = pki.read(pki.ca);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Management and Prometheus off unless a test turns them on (their default ports are the reference's). */
async function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<WarrenProcess> {
  const w = await startWarrenProcess(['--prometheus-port', '0', ...args], { WARREN_MANAGEMENT_PORT: '0', ...env });
  cleanups.push(() => w.stop());
  return w;
}

function portFrom(logs: string, pattern: RegExp): number {
  const m = pattern.exec(logs);
  if (m === null) throw new Error(`no match for ${pattern} in:\n${logs}`);
  return Number(m[1]);
}

function serverSubjectO(port: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: [CA] }, () => {
      const o = s.getPeerCertificate().subject.O;
      s.destroy();
      resolve(typeof o === 'string' ? o : undefined);
    });
    s.once('error', reject);
  });
}

describe('warren start --tls-*', () => {
  it('serves amqps; SIGHUP reloads the certificate and the open connection stays', async () => {
    const live = { cert: join(pki.dir, 'cli.pem'), key: join(pki.dir, 'cli.key') };
    copyFileSync(pki.server.cert, live.cert);
    copyFileSync(pki.server.key, live.key);
    const w = await start(['--tls-port', '0', '--tls-cert', live.cert, '--tls-key', live.key, '--tls-ca', pki.ca, '--tls-verify', 'peer']);
    const port = portFrom(w.logs(), /listening for amqps on 127\.0\.0\.1:(\d+)/);
    const client = pki.client('a');
    const conn = await amqp.connect(`amqps://guest:guest@127.0.0.1:${port}`, { ca: [CA], cert: pki.read(client.cert), key: pki.read(client.key) });
    cleanups.push(() => conn.close().catch(() => undefined));
    const ch = await conn.createChannel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    expect(await serverSubjectO(port)).toBeUndefined();

    copyFileSync(pki.server2.cert, live.cert);
    copyFileSync(pki.server2.key, live.key);
    w.child.kill('SIGHUP');
    await waitFor(() => w.logs().includes('TLS certificates reloaded'));
    expect(await serverSubjectO(port)).toBe('reloaded');
    ch.sendToQueue(q, Buffer.from('kept'));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);

    // A certificate that does not match the key: logged, the reloaded one stays, the process lives.
    copyFileSync(pki.client('wrong').cert, live.cert);
    w.child.kill('SIGHUP');
    await waitFor(() => w.logs().includes('TLS certificate reload failed'));
    expect(w.child.exitCode).toBeNull();
    expect(await serverSubjectO(port)).toBe('reloaded');
    expect((await ch.get(q, { noAck: true }) || undefined)?.content.toString()).toBe('kept');
  });

  it('takes WARREN_TLS_* and WARREN_MANAGEMENT_TLS_*; the management API answers over HTTPS', async () => {
    const w = await start([], {
      WARREN_TLS_PORT: '0', WARREN_TLS_CERT: pki.server.cert, WARREN_TLS_KEY: pki.server.key,
      WARREN_MANAGEMENT_TLS_PORT: '0', WARREN_MANAGEMENT_TLS_CERT: pki.server.cert, WARREN_MANAGEMENT_TLS_KEY: pki.server.key,
    });
    const port = portFrom(w.logs(), /listening for amqps on 127\.0\.0\.1:(\d+)/);
    const mgmt = portFrom(w.logs(), /Management API on https:\/\/127\.0\.0\.1:(\d+)/);
    expect(w.logs()).not.toContain('Management API on http:');
    const conn = await amqp.connect(`amqps://guest:guest@127.0.0.1:${port}`, { ca: [CA] });
    await conn.close();
    const status = await new Promise<number>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: mgmt, path: '/api/overview', ca: [CA], auth: 'guest:guest' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(200);
  });

  it('an incomplete group stops the start with the reason', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-tls-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const base = ['start', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--prometheus-port', '0', '--management-port', '0'];
    const noKey = await runCli([...base, '--tls-cert', pki.server.cert]);
    expect(noKey.code).toBe(78); // a configuration that cannot be used (EX_CONFIG)
    expect(noKey.stderr).toContain('--tls-cert needs --tls-key');
    const badVerify = await runCli([...base, '--tls-cert', pki.server.cert, '--tls-key', pki.server.key, '--tls-verify', 'always']);
    expect(badVerify.code).not.toBe(0);
    expect(badVerify.stderr).toMatch(/'--tls-verify <mode>' argument 'always' is invalid. expected one of none, peer/);
  });
});
