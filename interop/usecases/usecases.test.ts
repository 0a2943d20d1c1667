/**
 * The use cases Warren exists for, as runnable scenarios (issue 6; listed in interop/README.md):
 * decoupling, peak shaving, fanout broadcast, filtered subscriptions, reliable delivery across a
 * broker restart, strictly ordered processing with a single active consumer, transactional publish.
 * Each runs against Warren (in-process, port 0) and, where it can, against the reference RabbitMQ to
 * check the expectation itself (the restart case needs a broker this test can restart: Warren only).
 * USECASE_TARGETS=warren|reference (comma list) restricts the brokers; USECASE_BURST sizes the burst.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceUrl, startTestBroker, uniqueName, waitFor, type TestBroker } from '../../test/helpers/broker.js';

type Target = 'warren' | 'reference';
const TARGETS = (process.env['USECASE_TARGETS'] ?? 'warren,reference').split(',').map((s) => s.trim())
  .filter((s): s is Target => s === 'warren' || s === 'reference');
const BURST = Number(process.env['USECASE_BURST'] ?? 100_000);

/** Publish many messages on a confirm channel, waiting for confirms every `batch` (bounded memory). */
async function publishConfirmed(ch: ConfirmChannel, exchange: string, key: string, bodies: Iterable<Buffer>, options: amqp.Options.Publish = {}, batch = 1000): Promise<number> {
  let n = 0;
  for (const body of bodies) {
    if (!ch.publish(exchange, key, body, options)) await new Promise((r) => ch.once('drain', r));
    if (++n % batch === 0) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  return n;
}

function* orders(count: number, start = 0): Generator<Buffer> {
  for (let i = start; i < start + count; i++) yield Buffer.from(JSON.stringify({ id: i, sku: `sku-${i % 97}`, qty: 1 + (i % 5) }));
}

function orderId(m: { content: Buffer }): number {
  return (JSON.parse(m.content.toString()) as { id: number }).id;
}

for (const target of TARGETS) {
  describe(`use cases on ${target}`, () => {
    let broker: TestBroker | undefined;
    let url: string | undefined;
    let skipReason: string | undefined;
    let conn: ChannelModel;
    const cleanups: ((ch: Channel) => Promise<unknown>)[] = [];

    beforeAll(async () => {
      if (target === 'reference') {
        url = await referenceUrl();
        if (url === undefined) { skipReason = 'reference RabbitMQ not reachable'; return; }
      } else {
        broker = await startTestBroker();
        url = broker.url;
      }
      conn = await amqp.connect(url);
    });

    afterAll(async () => {
      if (url !== undefined) {
        const ch = await conn.createChannel();
        for (const c of cleanups) await c(ch).catch(() => undefined);
        await conn.close();
      }
      await broker?.close();
    });

    const queue = async (ch: Channel, name: string, options: amqp.Options.AssertQueue = {}): Promise<string> => {
      const { queue: q } = await ch.assertQueue(name, { durable: false, ...options });
      if (!options.exclusive) cleanups.push((c) => c.deleteQueue(q));
      return q;
    };
    const exchange = async (ch: Channel, name: string, type: string): Promise<string> => {
      await ch.assertExchange(name, type, { durable: false });
      cleanups.push((c) => c.deleteExchange(name));
      return name;
    };

    test('decoupling: an order service feeds inventory, billing and notification queues; a late service catches up', async (ctx) => {
      if (skipReason) ctx.skip(skipReason);
      const ch = await conn.createConfirmChannel();
      const ex = await exchange(ch, uniqueName('uc-orders'), 'topic');
      const inventory = await queue(ch, uniqueName('uc-inventory'));
      const billing = await queue(ch, uniqueName('uc-billing'));
      const notification = await queue(ch, uniqueName('uc-notification'));
      await ch.bindQueue(inventory, ex, 'order.created');
      await ch.bindQueue(billing, ex, 'order.*');
      await ch.bindQueue(notification, ex, '#');
      // inventory and billing run now; notification is down while the orders come in
      const seen = new Map<string, number[]>([[inventory, []], [billing, []], [notification, []]]);
      const consumer = await conn.createChannel();
      await consumer.prefetch(20);
      for (const q of [inventory, billing]) {
        await consumer.consume(q, (m) => { if (m) { seen.get(q)?.push(orderId(m)); consumer.ack(m); } });
      }
      await publishConfirmed(ch, ex, 'order.created', orders(200));
      await publishConfirmed(ch, ex, 'order.cancelled', orders(10, 1000));
      await waitFor(() => seen.get(inventory)?.length === 200 && seen.get(billing)?.length === 210);
      expect((await ch.checkQueue(notification)).messageCount).toBe(210);
      await consumer.consume(notification, (m) => { if (m) { seen.get(notification)?.push(orderId(m)); consumer.ack(m); } });
      await waitFor(() => seen.get(notification)?.length === 210);
      expect(seen.get(inventory)).toEqual([...Array(200).keys()]);
      expect(new Set(seen.get(notification)).size).toBe(210);
      await consumer.close();
      await ch.close();
    });

    test(`peak shaving: a burst of ${BURST} orders is absorbed and drained by a slower consumer with prefetch`, async (ctx) => {
      if (skipReason) ctx.skip(skipReason);
      const ch = await conn.createConfirmChannel();
      const q = await queue(ch, uniqueName('uc-burst'));
      const published = await publishConfirmed(ch, '', q, orders(BURST));
      expect(published).toBe(BURST);
      const peak = (await ch.checkQueue(q)).messageCount;
      expect(peak).toBeGreaterThan(BURST / 2); // the queue absorbed the burst: the consumer has not started
      const worker = await conn.createChannel();
      await worker.prefetch(100);
      const ids = new Uint8Array(BURST);
      let received = 0;
      let duplicates = 0;
      let inFlight = 0;
      let maxInFlight = 0;
      await worker.consume(q, (m) => {
        if (!m) return;
        const id = orderId(m);
        if (ids[id]) duplicates++;
        ids[id] = 1;
        received++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        // the slower consumer: settles each order on a later turn
        setImmediate(() => { inFlight--; worker.ack(m); });
      });
      await waitFor(() => received >= BURST, 120_000, 50);
      expect(duplicates).toBe(0);
      expect(maxInFlight).toBeLessThanOrEqual(100);
      await waitFor(async () => (await ch.checkQueue(q)).messageCount === 0 && inFlight === 0);
      await worker.close();
      await ch.close();
    }, 180_000);

    test('fanout broadcast: a config update reaches every one of 20 subscribers, in order', async (ctx) => {
      if (skipReason) ctx.skip(skipReason);
      const ch = await conn.createConfirmChannel();
      const ex = await exchange(ch, uniqueName('uc-config'), 'fanout');
      const subscribers: { ch: Channel; got: string[] }[] = [];
      for (let i = 0; i < 20; i++) {
        const sub = await conn.createChannel();
        const q = await queue(sub, '', { exclusive: true });
        await sub.bindQueue(q, ex, '');
        const got: string[] = [];
        await sub.consume(q, (m) => { if (m) got.push(m.content.toString()); }, { noAck: true });
        subscribers.push({ ch: sub, got });
      }
      const updates = ['v1', 'v2', 'v3'].map((v) => Buffer.from(JSON.stringify({ version: v, featureX: v !== 'v2' })));
      await publishConfirmed(ch, ex, '', updates);
      await waitFor(() => subscribers.every((s) => s.got.length === 3));
      for (const s of subscribers) expect(s.got.map((b) => (JSON.parse(b) as { version: string }).version)).toEqual(['v1', 'v2', 'v3']);
      for (const s of subscribers) await s.ch.close();
      await ch.close();
    });

    test('filtered subscriptions: topic patterns and header matches deliver only what each subscriber asked for', async (ctx) => {
      if (skipReason) ctx.skip(skipReason);
      const ch = await conn.createConfirmChannel();
      const topic = await exchange(ch, uniqueName('uc-alerts'), 'topic');
      const headers = await exchange(ch, uniqueName('uc-events'), 'headers');
      const euCritical = await queue(ch, uniqueName('uc-eu-critical'));
      const allDb = await queue(ch, uniqueName('uc-all-db'));
      const bigRed = await queue(ch, uniqueName('uc-big-red'));
      const redOrBig = await queue(ch, uniqueName('uc-red-or-big'));
      await ch.bindQueue(euCritical, topic, 'eu.*.critical');
      await ch.bindQueue(allDb, topic, '#.db.#');
      await ch.bindQueue(bigRed, headers, '', { 'x-match': 'all', color: 'red', size: 'big' });
      await ch.bindQueue(redOrBig, headers, '', { 'x-match': 'any', color: 'red', size: 'big' });
      for (const k of ['eu.db.critical', 'eu.web.critical', 'us.db.critical', 'eu.db.warning', 'eu.critical', 'db']) ch.publish(topic, k, Buffer.from(k));
      const hs: [string, Record<string, string>][] = [['red-big', { color: 'red', size: 'big' }], ['red-small', { color: 'red', size: 'small' }], ['blue-big', { color: 'blue', size: 'big' }], ['blue-small', { color: 'blue', size: 'small' }]];
      for (const [b, h] of hs) ch.publish(headers, '', Buffer.from(b), { headers: h });
      await ch.waitForConfirms();
      const drain = async (q: string): Promise<string[]> => {
        const out: string[] = [];
        for (let m = await ch.get(q, { noAck: true }); m !== false; m = await ch.get(q, { noAck: true })) out.push(m.content.toString());
        return out;
      };
      expect(await drain(euCritical)).toEqual(['eu.db.critical', 'eu.web.critical']);
      expect(await drain(allDb)).toEqual(['eu.db.critical', 'us.db.critical', 'eu.db.warning', 'db']);
      expect(await drain(bigRed)).toEqual(['red-big']);
      expect(await drain(redOrBig)).toEqual(['red-big', 'red-small', 'blue-big']);
      await ch.close();
    });

    test('strictly ordered processing: a single active consumer gets everything in order, a standby takes over on cancel', async (ctx) => {
      if (skipReason) ctx.skip(skipReason);
      const ch = await conn.createConfirmChannel();
      const q = await queue(ch, uniqueName('uc-ledger'), { arguments: { 'x-single-active-consumer': true } });
      const a = await conn.createChannel();
      const b = await conn.createChannel();
      await a.prefetch(1);
      await b.prefetch(1);
      const byA: number[] = [];
      const byB: number[] = [];
      const { consumerTag: tagA } = await a.consume(q, (m) => { if (m) { byA.push(orderId(m)); a.ack(m); } });
      await b.consume(q, (m) => { if (m) { byB.push(orderId(m)); b.ack(m); } });
      await publishConfirmed(ch, '', q, orders(100));
      await waitFor(() => byA.length === 100);
      expect(byB).toEqual([]);
      expect(byA).toEqual([...Array(100).keys()]);
      await a.cancel(tagA);
      await publishConfirmed(ch, '', q, orders(50, 100));
      await waitFor(() => byB.length === 50);
      expect(byB).toEqual([...Array(50).keys()].map((i) => i + 100));
      await a.close();
      await b.close();
      await ch.close();
    });

    test('transactional publish: rolled-back order lines never appear, committed ones appear together', async (ctx) => {
      if (skipReason) ctx.skip(skipReason);
      const ch = await conn.createChannel();
      const q = await queue(ch, uniqueName('uc-order-lines'));
      // amqplib has no public tx API; the cloudamqp client does
      const { AMQPClient } = await import('@cloudamqp/amqp-client');
      const client = await new AMQPClient(url ?? '', undefined, null).connect();
      const tx = await client.channel();
      await tx.txSelect();
      for (const line of ['l1', 'l2', 'l3']) await tx.basicPublish('', q, `rejected-${line}`);
      await tx.txRollback();
      expect((await ch.checkQueue(q)).messageCount).toBe(0);
      for (const line of ['l1', 'l2', 'l3']) await tx.basicPublish('', q, `order-42-${line}`);
      expect((await ch.checkQueue(q)).messageCount).toBe(0); // nothing before the commit
      await tx.txCommit();
      expect((await ch.checkQueue(q)).messageCount).toBe(3);
      const got: string[] = [];
      for (let m = await ch.get(q, { noAck: true }); m !== false; m = await ch.get(q, { noAck: true })) got.push(m.content.toString());
      expect(got).toEqual(['order-42-l1', 'order-42-l2', 'order-42-l3']);
      await client.close();
      await ch.close();
    });
  });
}

describe('reliable delivery across a restart (Warren only: the test must restart the broker)', () => {
  let dataDir = '';
  beforeAll(async () => { dataDir = await mkdtemp(join(tmpdir(), 'warren-usecase-')); });
  afterAll(async () => { await rm(dataDir, { recursive: true, force: true }); });

  test('persistent messages confirmed on a durable queue survive a broker restart, nothing lost', async (ctx) => {
    if (!TARGETS.includes('warren') || process.env['WARREN_TEST_TARGET'] === 'reference') ctx.skip('needs a Warren the test can restart');
    const q = uniqueName('uc-durable');
    let broker = await startTestBroker({ dataDir });
    let conn = await amqp.connect(broker.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(q, { durable: true });
    await publishConfirmed(ch, '', q, orders(1000), { persistent: true });
    await conn.close();
    await broker.close();

    broker = await startTestBroker({ dataDir });
    try {
      conn = await amqp.connect(broker.url);
      const after = await conn.createChannel();
      expect((await after.checkQueue(q)).messageCount).toBe(1000);
      const ids: number[] = [];
      for (let m = await after.get(q, { noAck: true }); m !== false; m = await after.get(q, { noAck: true })) ids.push(orderId(m));
      expect(ids).toEqual([...Array(1000).keys()]);
      await after.deleteQueue(q);
      await conn.close();
    } finally {
      await broker.close();
    }
  });
});
