/**
 * amqp091-go's own integration tests (the Debian package ships them with the source) run against
 * Warren: the Go client's maintainers' view of what a RabbitMQ broker does. Among them,
 * TestConcurrentClose closes one connection from 32 goroutines at once: every Close must return
 * success or ErrClosed, never a protocol error (it got 501 "EOF" when Warren ended the socket right
 * after close-ok; RabbitMQ leaves that to the client). It runs 20 times on its own.
 * Skipped locally (failing in CI) when Go or the package is missing, like the other clients.
 */
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../../test/helpers/broker.js';

const PACKAGE_DIR = '/usr/share/gocode/src/github.com/rabbitmq/amqp091-go';
const IN_CI = Boolean(process.env['CI']);

let broker: TestBroker | undefined;
let missing: string | undefined;

beforeAll(async () => {
  try {
    await access('/usr/bin/go');
    await access(join(PACKAGE_DIR, 'integration_test.go'));
  } catch {
    missing = 'Go or amqp091-go\'s source not found (install Debian packages: golang-go golang-github-rabbitmq-amqp091-go-dev)';
    return;
  }
  broker = await startTestBroker();
});

afterAll(async () => {
  await broker?.close();
});

function goTest(args: readonly string[]): Promise<{ code: number; out: string }> {
  const url = broker!.url.replace(/\/?$/, '/');
  return new Promise((resolve) => {
    execFile('/usr/bin/go', ['test', '-tags', 'integration', '-count=1', ...args, '.'], {
      cwd: PACKAGE_DIR,
      timeout: 240_000,
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '', AMQP_URL: url,
        GOCACHE: process.env['GOCACHE'] ?? join(process.env['HOME'] ?? '/tmp', '.cache', 'go-build'),
      },
    }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: `${stdout}${stderr}` });
    });
  });
}

function failures(out: string): string[] {
  return out.split('\n').filter((l) => l.startsWith('--- FAIL') || /Error|unexpected/.test(l) && l.includes('_test.go')).slice(0, 20);
}

describe('amqp091-go integration tests against Warren', () => {
  it('TestConcurrentClose, 20 times: success or ErrClosed, never 501 EOF', async (t) => {
    if (missing !== undefined) {
      if (IN_CI) throw new Error(missing);
      t.skip(missing);
    }
    const r = await goTest(['-count=20', '-run', '^TestConcurrentClose$']);
    expect(failures(r.out), r.out.slice(-4000)).toEqual([]);
    expect(r.code).toBe(0);
  }, 250_000);

  it('the whole suite passes', async (t) => {
    if (missing !== undefined) {
      if (IN_CI) throw new Error(missing);
      t.skip(missing);
    }
    const r = await goTest([]);
    expect(failures(r.out), r.out.slice(-4000)).toEqual([]);
    expect(r.code).toBe(0);
  }, 250_000);
});
