/**
 * Broker-initiated closes and flow control: shutting the broker down (warren.close(), and SIGTERM on
 * the `warren start` process) closes every connection with 320 CONNECTION_FORCED; passing the memory
 * high watermark sends connection.blocked to clients with that capability and connection.unblocked
 * once consumers drain the backlog. These need a broker of their own, so they cannot run against the
 * shared reference broker (skipped with WARREN_TEST_TARGET=reference).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { startTestBroker, waitFor, type TestBroker } from '../../helpers/broker.js';
import { Clients, Inbox, closedWith } from '../helpers/clients.js';

const onReference = process.env['WARREN_TEST_TARGET'] === 'reference';
const ownBrokerOnly = onReference ? describe.skip : describe;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function ownBroker(options: Parameters<typeof startTestBroker>[0] = {}): Promise<{ broker: TestBroker; clients: Clients }> {
  const broker = await startTestBroker(options);
  const clients = new Clients(() => broker.url);
  cleanups.push(() => broker.close());
  cleanups.push(() => clients.closeAll());
  return { broker, clients };
}

ownBrokerOnly('shutdown (skipped on the reference: it cannot be shut down from a test)', () => {
  it('warren.close() closes every connection with 320 CONNECTION_FORCED', async () => {
    const { broker, clients } = await ownBroker();
    const c1 = await clients.connect();
    const c2 = await clients.connect();
    const ch = await clients.channel(c1);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.consume(q, () => undefined);
    const cloud = new AMQPClient(broker.url, undefined, null);
    await cloud.connect();
    const cloudErrors: string[] = [];
    cloud.onerror = (e) => { cloudErrors.push(e.message); };
    await broker.warren!.close();
    for (const c of [c1, c2]) {
      const err = await closedWith(c);
      expect(err?.code).toBe(320);
      expect(err?.message).toContain('CONNECTION_FORCED');
    }
    await waitFor(() => cloud.closed);
    expect(cloudErrors.join('\n')).toMatch(/CONNECTION_FORCED.*\(320\)/);
    // The listener is gone too.
    await expect(amqp.connect(broker.url)).rejects.toThrow(/ECONNREFUSED/);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s on `warren start` closes connections with 320 and exits 0', async (signal) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-sigterm-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const child: ChildProcess = spawn(process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'start', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'info',
        '--prometheus-port', '0', '--management-port', '0'],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(async () => { if (child.exitCode === null) child.kill('SIGKILL'); });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const port = await waitFor(() => {
      for (const line of out.split('\n')) {
        try {
          const rec = JSON.parse(line) as { port?: number };
          if (typeof rec.port === 'number' && rec.port > 0) return rec.port;
        } catch {
          // not a JSON log line
        }
      }
      return 0;
    }, 15_000);
    const clients = new Clients(() => `amqp://guest:guest@127.0.0.1:${port}`);
    cleanups.push(() => clients.closeAll());
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    await ch.assertQueue('', { exclusive: true });
    child.kill(signal);
    const err = await closedWith(conn, 10_000);
    expect(err?.code).toBe(320);
    expect(await exited).toBe(0);
  });
});

ownBrokerOnly('connection.blocked (skipped on the reference: needs a low memory watermark)', () => {
  it('publishers past the watermark get connection.blocked, then unblocked once drained', async () => {
    const { clients } = await ownBroker({ broker: { memoryHighWatermark: 64 * 1024 } });
    const pubConn = await clients.connect();
    const blockedEvents: string[] = [];
    pubConn.on('blocked', (reason: string) => blockedEvents.push(`blocked:${reason}`));
    pubConn.on('unblocked', () => blockedEvents.push('unblocked'));
    const pub = await clients.channel(pubConn);
    const q = (await pub.assertQueue('', { autoDelete: false, durable: false })).queue;
    const body = Buffer.alloc(4096, 1);
    for (let i = 0; i < 40; i++) pub.sendToQueue(q, body); // 160 kB > 64 kB
    await waitFor(() => blockedEvents.length >= 1);
    expect(blockedEvents[0]).toMatch(/^blocked:/);
    // A consumer on another connection drains the queue; usage falls under the low watermark.
    const consumer = await clients.channel();
    const inbox = new Inbox();
    await consumer.consume(q, inbox.handler, { noAck: true });
    await waitFor(() => blockedEvents.includes('unblocked'), 10_000);
    await inbox.count(40);
    // The unblocked publisher works again.
    pub.sendToQueue(q, Buffer.from('after'));
    await inbox.count(41);
    await consumer.deleteQueue(q);
  });

  it('@cloudamqp/amqp-client gets onblocked/onunblocked', async () => {
    const { broker, clients } = await ownBroker({ broker: { memoryHighWatermark: 32 * 1024 } });
    const client = new AMQPClient(broker.url, undefined, null);
    const events: string[] = [];
    client.onblocked = (reason) => events.push(`blocked:${reason}`);
    client.onunblocked = () => events.push('unblocked');
    await client.connect();
    cleanups.push(async () => { if (!client.closed) await client.close(); });
    const ch = await client.channel();
    const q = await ch.queueDeclare('', { exclusive: false, autoDelete: false });
    const body = new Uint8Array(4096);
    for (let i = 0; i < 20; i++) void ch.basicPublish('', q.name, body).catch(() => undefined);
    await waitFor(() => events.length >= 1);
    const drain = await clients.channel();
    await drain.purgeQueue(q.name);
    await waitFor(() => events.includes('unblocked'), 10_000);
    await drain.deleteQueue(q.name);
  });
});

describe('shutdown on the reference', () => {
  it.skipIf(!onReference)('is not exercised: the shared reference broker must stay up (see the Warren-only suites above)', () => {
    expect(onReference).toBe(true);
  });
});
