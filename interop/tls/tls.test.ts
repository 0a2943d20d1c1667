/**
 * Stock clients over TLS (issue 13): Python pika (python3-pika) and Go amqp091-go
 * (golang-github-rabbitmq-amqp091-go-dev) against Warren's amqps listener with a PKI made for the
 * run (test/helpers/certificates.ts): PLAIN over TLS without a client certificate, EXTERNAL with
 * one (the certificate's CN is a passwordless user; user_id on every message proves who logged
 * in), and expired / untrusted certificates refused. The programs are interop/tls/python/pika_tls.py
 * and interop/tls/go/main.go. Warren only: the reference has no TLS listener, and the suite never
 * reconfigures it. A missing client fails in CI and is skipped locally with the package names.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, MissingClient, need, prepareOrSkip, runClient, type Command, type JsonObject } from '../clients/client-registry.js';
import { startTestBroker, type TestBroker } from '../../test/helpers/broker.js';
import { makeTestPki, type CertFiles } from '../../test/helpers/certificates.js';

const here = dirname(fileURLToPath(import.meta.url));
const pki = makeTestPki();

interface TlsClient {
  readonly name: string;
  readonly packages: readonly string[];
  prepare(buildDir: string): Promise<Command>;
}

const CLIENTS: readonly TlsClient[] = [
  {
    name: 'pika', packages: ['python3-pika'],
    async prepare() {
      await need('/usr/bin/python3', this.packages);
      const r = await exec('/usr/bin/python3', ['-c', 'import pika']);
      if (!r.ok) throw new MissingClient('python3 cannot import pika (install Debian package python3-pika)');
      return { file: '/usr/bin/python3', args: [join(here, 'python', 'pika_tls.py')], cwd: here };
    },
  },
  {
    name: 'amqp091-go', packages: ['golang-go', 'golang-github-rabbitmq-amqp091-go-dev'],
    async prepare(buildDir) {
      await need('/usr/bin/go', this.packages);
      await need('/usr/share/gocode/src/github.com/rabbitmq/amqp091-go/connection.go', this.packages);
      const out = join(buildDir, 'interop-go-tls');
      const r = await exec('/usr/bin/go', ['build', '-o', out, join(here, 'go', 'main.go')]);
      if (!r.ok) throw new Error(`go build failed:\n${r.out}`);
      return { file: out, args: [], cwd: here };
    },
  },
];

let broker: TestBroker;
let buildDir: string;
beforeAll(async () => {
  buildDir = await mkdtemp(join(tmpdir(), 'warren-interop-tls-'));
  broker = await startTestBroker({
    server: { tls: { port: 0, certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca, verify: 'peer', failIfNoPeerCert: false } },
  });
  const w = broker.warren!;
  for (const name of ['pika-alice', 'go-alice']) {
    w.broker.users.put(name, { none: true }, []);
    w.broker.permissions.set({ user: name, vhost: '/', configure: '.*', write: '.*', read: '.*' });
  }
}, 60_000);
afterAll(async () => {
  await broker?.close();
  await rm(buildDir, { recursive: true, force: true });
  pki.remove();
});

interface Run { code: number | null; lines: JsonObject[]; stderr: string }

async function run(cmd: Command, cfg: { mechanism: 'PLAIN' | 'EXTERNAL'; user: string; password?: string; client?: CertFiles }): Promise<Run> {
  const config = {
    host: '127.0.0.1', port: broker.warren!.tlsPort!, servername: 'localhost', ca: pki.ca,
    ...(cfg.client === undefined ? {} : { cert: cfg.client.cert, key: cfg.client.key }),
    mechanism: cfg.mechanism, user: cfg.user, password: cfg.password ?? '',
  };
  const r = await runClient(cmd, [JSON.stringify(config)], 60_000);
  return { code: r.code, lines: r.lines, stderr: r.stderr };
}

describe.each(CLIENTS)('$name over TLS', (client) => {
  let cmd: Command | undefined;
  let skipReason: string | undefined;
  beforeAll(async () => {
    const p = await prepareOrSkip(client.name, () => client.prepare(buildDir));
    if ('cmd' in p) cmd = p.cmd;
    else skipReason = p.skipReason;
  }, 120_000);
  const user = client.name === 'pika' ? 'pika-alice' : 'go-alice';

  it('PLAIN over TLS without a client certificate: messages up to 300 kB round-trip', async (t) => {
    if (cmd === undefined) return t.skip(skipReason);
    const r = await run(cmd, { mechanism: 'PLAIN', user: 'guest', password: 'guest' });
    expect(r.lines, r.stderr).toEqual([
      { step: 'connect', ok: true },
      { step: 'roundtrip', ok: true, sizes: [0, 5, 300_000], user_ids: ['guest', 'guest', 'guest'] },
    ]);
    expect(r.code).toBe(0);
  });

  it('EXTERNAL with a client certificate logs in as its CN', async (t) => {
    if (cmd === undefined) return t.skip(skipReason);
    const r = await run(cmd, { mechanism: 'EXTERNAL', user, client: pki.client(user) });
    expect(r.lines, r.stderr).toEqual([
      { step: 'connect', ok: true },
      { step: 'roundtrip', ok: true, sizes: [0, 5, 300_000], user_ids: [user, user, user] },
    ]);
    expect(r.code).toBe(0);
  });

  it('EXTERNAL without a certificate is not offered; expired and untrusted certificates are refused', async (t) => {
    if (cmd === undefined) return t.skip(skipReason);
    for (const c of [undefined, pki.expiredClient(user), pki.untrustedClient(user)]) {
      const r = await run(cmd, { mechanism: 'EXTERNAL', user, ...(c === undefined ? {} : { client: c }) });
      expect(r.code, `${JSON.stringify(r.lines)} ${r.stderr}`).toBe(1);
      expect(r.lines.length).toBe(1);
      expect(r.lines[0]!['step']).toBe('connect');
      expect(typeof r.lines[0]!['error']).toBe('string');
    }
    // A CN that is no user: the login is refused.
    const r = await run(cmd, { mechanism: 'EXTERNAL', user: 'nobody', client: pki.client('nobody') });
    expect(r.code).toBe(1);
    expect(String(r.lines[0]?.['error'])).toMatch(/ACCESS_REFUSED|ProbableAccessDenied|403|Login was refused/i);
  });
});
