/**
 * Stream use cases (issue 15), as runnable scenarios against Warren (in-process, port 0) and the
 * reference RabbitMQ where it can check the expectation itself:
 * - cache sync: price updates go to a stream; a cache node that restarts rebuilds its cache by
 *   replaying the last hour (x-stream-offset "1h"), and gets the same cache as a node that never
 *   stopped; on Warren the broker itself restarts in between (the reference cannot be restarted here);
 * - event log: order events read by independent consumers at different speeds, one joining late from
 *   the start and one from "next", each in order and complete, none affecting the others;
 * - replay after a consumer bug: a consumer that remembered its offsets re-reads from the offset where
 *   the bug started and recomputes; on Warren also with server-side offset tracking.
 * USECASE_TARGETS=warren|reference restricts the brokers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceUrl, startTestBroker, uniqueName, waitFor, type TestBroker } from '../../test/helpers/broker.js';

type Target = 'warren' | 'reference';
const TARGETS = (process.env['USECASE_TARGETS'] ?? 'warren,reference').split(',').map((s) => s.trim())
  .filter((s): s is Target => s === 'warren' || s === 'reference');

interface Price { sym: string; px: number }

/**
 * Start consuming `q` from `offset` (resolves once the consumer is registered) and return a promise
 * of the messages received by the time `until(msgs)` holds; every message is acked.
 */
async function startConsumer(conn: ChannelModel, q: string, offset: unknown, until: (m: ConsumeMessage[]) => boolean,
  opts: { prefetch?: number; tag?: string; args?: Record<string, unknown>; perMessage?: () => Promise<void> } = {}): Promise<{ done: Promise<ConsumeMessage[]> }> {
  const ch = await conn.createChannel();
  await ch.prefetch(opts.prefetch ?? 500);
  const got: ConsumeMessage[] = [];
  let chain = Promise.resolve();
  await ch.consume(q, (m) => {
    if (m === null) return;
    got.push(m);
    chain = chain.then(async () => {
      if (opts.perMessage !== undefined) await opts.perMessage();
      ch.ack(m);
    });
  }, { arguments: { 'x-stream-offset': offset, ...opts.args }, ...(opts.tag === undefined ? {} : { consumerTag: opts.tag }) });
  const done = (async () => {
    await waitFor(() => until(got), 60_000);
    await chain;
    await ch.close();
    return got;
  })();
  return { done };
}

async function consumeUntil(conn: ChannelModel, q: string, offset: unknown, until: (m: ConsumeMessage[]) => boolean,
  opts: Parameters<typeof startConsumer>[4] = {}): Promise<ConsumeMessage[]> {
  return (await startConsumer(conn, q, offset, until, opts)).done;
}

function offsetOf(m: ConsumeMessage): number {
  return Number(m.properties.headers?.['x-stream-offset']);
}

for (const target of TARGETS) {
  describe(`stream use cases on ${target}`, () => {
    let broker: TestBroker | undefined;
    let dataDir: string | undefined;
    let url: string | undefined;
    let skipReason: string | undefined;
    let conn: ChannelModel;
    const streams: string[] = [];

    beforeAll(async () => {
      if (target === 'reference') {
        url = await referenceUrl();
        if (url === undefined) { skipReason = 'reference RabbitMQ not reachable'; return; }
      } else {
        dataDir = await mkdtemp(join(tmpdir(), 'warren-stream-usecases-'));
        broker = await startTestBroker({ dataDir });
        url = broker.url;
      }
      conn = await amqp.connect(url);
    });

    afterAll(async () => {
      if (url !== undefined) {
        const ch = await conn.createChannel();
        for (const s of streams) await ch.deleteQueue(s).catch(() => undefined);
        await conn.close();
      }
      await broker?.close();
      if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
    });

    const declareStream = async (ch: Channel, prefix: string, args: Record<string, unknown> = {}): Promise<string> => {
      const q = uniqueName(prefix);
      await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream', ...args } });
      streams.push(q);
      return q;
    };

    /** Warren restarts on the same data directory (the connection is replaced). */
    const restartWarren = async (): Promise<void> => {
      await conn.close();
      await broker!.close();
      broker = await startTestBroker({ dataDir: dataDir! });
      url = broker.url;
      conn = await amqp.connect(url);
    };

    test('cache sync: a restarted cache node replays the last hour and rebuilds the same cache', async (ctx) => {
      if (skipReason) ctx.skip(skipReason);
      const ch = await conn.createConfirmChannel();
      const prices = await declareStream(ch, 'prices', { 'x-max-age': '1D' });
      const symbols = ['AAA', 'BBB', 'CCC', 'DDD', 'EEE'];
      const live = new Map<string, number>();
      const n = 2000;
      for (let i = 0; i < n; i++) {
        const p: Price = { sym: symbols[i % symbols.length]!, px: 100 + ((i * 7919) % 1000) / 10 };
        live.set(p.sym, p.px);
        ch.sendToQueue(prices, Buffer.from(JSON.stringify(p)), { persistent: true });
        if (i % 500 === 499) await ch.waitForConfirms();
      }
      await ch.waitForConfirms();
      await ch.close();
      if (target === 'warren') await restartWarren(); // the broker restarts too; the stream survives
      const replayed = await consumeUntil(conn, prices, '1h', (m) => m.length >= n);
      const cache = new Map<string, number>();
      for (const m of replayed) {
        const p = JSON.parse(m.content.toString()) as Price;
        cache.set(p.sym, p.px);
      }
      expect(replayed).toHaveLength(n);
      expect(cache).toEqual(live);
      expect(offsetOf(replayed[0]!)).toBe(0);
    });

    test('event log: consumers at different speeds each read every event, in order, independently', { timeout: 90_000 }, async (ctx) => {
      if (skipReason) ctx.skip(skipReason);
      const ch = await conn.createConfirmChannel();
      const events = await declareStream(ch, 'orders-log');
      const n = 3000;
      const publishSome = async (from: number, to: number): Promise<void> => {
        for (let i = from; i < to; i++) ch.sendToQueue(events, Buffer.from(JSON.stringify({ id: i, kind: i % 3 === 0 ? 'created' : 'paid' })));
        await ch.waitForConfirms();
      };
      await publishSome(0, n / 2);
      const ids = (ms: ConsumeMessage[]): number[] => ms.map((m) => (JSON.parse(m.content.toString()) as { id: number }).id);
      const all = Array.from({ length: n }, (_, i) => i);
      const fast = await startConsumer(conn, events, 'first', (m) => m.length >= n, { prefetch: 1000 });
      const slow = await startConsumer(conn, events, 'first', (m) => m.length >= n, { prefetch: 5, perMessage: () => new Promise((r) => setImmediate(r)) });
      const tail = await startConsumer(conn, events, 'next', (m) => m.length >= n / 2, { prefetch: 100 });
      await publishSome(n / 2, n);
      const late = await startConsumer(conn, events, 'first', (m) => m.length >= n, { prefetch: 50 });
      const [f, s, t, l] = await Promise.all([fast.done, slow.done, tail.done, late.done]);
      expect(ids(f)).toEqual(all);
      expect(ids(s)).toEqual(all);
      expect(ids(l)).toEqual(all);
      expect(ids(t)).toEqual(all.slice(n / 2));
      for (const ms of [f, s, l]) expect(ms.map(offsetOf)).toEqual(all);
      await ch.close();
    });

    test('replay after a consumer bug: re-read from the offset where the bug started and recompute', async (ctx) => {
      if (skipReason) ctx.skip(skipReason);
      const ch = await conn.createConfirmChannel();
      const payments = await declareStream(ch, 'payments');
      const n = 1000;
      for (let i = 0; i < n; i++) ch.sendToQueue(payments, Buffer.from(JSON.stringify({ id: i, cents: 100 + i })));
      await ch.waitForConfirms();
      await ch.close();
      const expected = Array.from({ length: n }, (_, i) => 100 + i).reduce((a, b) => a + b, 0);
      // Version 1 has a bug from offset 600 on (it drops the cents) and stores (offset, running total).
      const checkpoints = new Map<number, number>();
      let total = 0;
      for (const m of await consumeUntil(conn, payments, 'first', (ms) => ms.length >= n)) {
        const o = offsetOf(m);
        const p = JSON.parse(m.content.toString()) as { cents: number };
        total += o >= 600 ? 0 : p.cents;
        checkpoints.set(o, total);
      }
      expect(total).not.toBe(expected);
      // Version 2 resumes from the last good checkpoint: the total before offset 600.
      total = checkpoints.get(599)!;
      const replay = await consumeUntil(conn, payments, 600, (ms) => ms.length >= n - 600);
      for (const m of replay) total += (JSON.parse(m.content.toString()) as { cents: number }).cents;
      expect(offsetOf(replay[0]!)).toBe(600);
      expect(total).toBe(expected);
    });

    test.skipIf(target === 'reference')('replay after a consumer bug with server-side offset tracking (Warren; RabbitMQ has no such AMQP 0-9-1 feature)', async () => {
      const ch = await conn.createConfirmChannel();
      const q = await declareStream(ch, 'payments-tracked');
      for (let i = 0; i < 100; i++) ch.sendToQueue(q, Buffer.from(String(i)));
      await ch.waitForConfirms();
      await ch.close();
      const args = { 'x-stream-automatic-offset-tracking': true };
      // processes 0..49 and crashes (the channel goes away with 50 unacked messages)
      const c = await conn.createChannel();
      await c.prefetch(100);
      const seen: ConsumeMessage[] = [];
      await c.consume(q, (m) => {
        if (m === null) return;
        seen.push(m);
        if (offsetOf(m) < 50) c.ack(m);
      }, { consumerTag: 'ledger', arguments: { 'x-stream-offset': 'first', ...args } });
      await waitFor(() => seen.length === 100);
      await c.close();
      await restartWarren();
      const resumed = await consumeUntil(conn, q, 'first', (ms) => ms.length >= 50, { tag: 'ledger', args });
      expect(resumed.map(offsetOf)).toEqual(Array.from({ length: 50 }, (_, i) => 50 + i));
    });
  });
}
