/**
 * Test helpers: start Warren in-process on an ephemeral port with a temp data dir, and find the
 * reference RabbitMQ (REFERENCE_AMQP_URL, else amqp://guest:guest@127.0.0.1:5672 when reachable).
 * Setting WARREN_TEST_TARGET=reference runs a suite written for Warren against the reference
 * instead, to check the suite's expectations against real RabbitMQ.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { startWarren, type Warren, type WarrenOptions } from '../../src/cli/warren.js';

export interface TestBroker {
  readonly url: string;
  readonly port: number;
  readonly isReference: boolean;
  readonly warren: Warren | undefined;
  close(): Promise<void>;
}

export async function startTestBroker(options: WarrenOptions = {}): Promise<TestBroker> {
  if (process.env['WARREN_TEST_TARGET'] === 'reference') {
    const url = await referenceUrl();
    if (url === undefined) throw new Error('WARREN_TEST_TARGET=reference but no reference broker is reachable');
    return { url, port: Number(new URL(url).port || 5672), isReference: true, warren: undefined, close: async () => {} };
  }
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'warren-test-')));
  const warren = await startWarren({ host: '127.0.0.1', port: 0, logLevel: 'silent', ...options, dataDir });
  return {
    url: warren.url,
    port: warren.port,
    isReference: false,
    warren,
    close: async () => {
      await warren.close();
      if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

let cachedReference: Promise<string | undefined> | undefined;

/** The reference broker's URL, or undefined when none is reachable (tests then skip with a reason). */
export function referenceUrl(): Promise<string | undefined> {
  cachedReference ??= (async () => {
    const url = process.env['REFERENCE_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
    const u = new URL(url);
    const ok = await canConnect(u.hostname, Number(u.port || 5672));
    return ok ? url : undefined;
  })();
  return cachedReference;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Poll until `check` returns a truthy value (never sleep a fixed time in tests). */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5000, intervalMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`waitFor timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A name unique to this process and call, so concurrent suites never collide on the reference broker. */
let counter = 0;
export function uniqueName(prefix = 't'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
}
