/**
 * Warren's delayed retries (issue 18; README "Half messages and retries"): a queue with
 * x-retry-delays (or the policy key retry-delays) takes a message rejected or nacked without requeue
 * back after the next delay, with x-retry-count = retries so far, and dead-letters it (reason
 * rejected) once x-retry-limit (default: one retry per delay) is used up. The original exchange and
 * routing key are kept. Retries waiting are durable like delayed messages (restart test).
 * RabbitMQ has no such argument (4.3 delays only returned messages of quorum queues): every test
 * here skips on the reference.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { useManagement } from '../management/api-client.js';
import { Inbox, expectCode, roundTrip } from '../helpers/clients.js';
import { startTestBroker, waitFor } from '../../helpers/broker.js';

const m = useManagement({ broker: { policies: [
  { name: 'retry-policy', pattern: '^policy-retry-', applyTo: 'queues', priority: 0, definition: { 'retry-delays': [50], 'retry-limit': 2 } },
] } });
const ctx = m.ctx;
const REASON = 'retry delays are a Warren extension';

describe('x-retry-delays', () => {
  it('a rejected message comes back after each delay with x-retry-count, then is dead-lettered', async (t) => {
    t.skip(ctx.isReference, REASON);
    const ch = await ctx.clients.channel();
    const dlq = ctx.name('retry-dlq');
    const q = ctx.name('retry-q');
    await ch.assertQueue(dlq, { exclusive: true });
    await ch.assertQueue(q, { exclusive: true, arguments: {
      'x-retry-delays': [100, 200], 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq,
    } });
    const seen: { count: unknown; at: number; redelivered: boolean; key: string }[] = [];
    await ch.consume(q, (m: ConsumeMessage | null) => {
      if (m === null) return;
      seen.push({ count: m.properties.headers?.['x-retry-count'], at: Date.now(), redelivered: m.fields.redelivered, key: m.fields.routingKey });
      ch.nack(m, false, false);
    });
    const sentAt = Date.now();
    ch.sendToQueue(q, Buffer.from('job'), { headers: { app: 'kept' } });
    const dead = new Inbox();
    await ch.consume(dlq, dead.handler, { noAck: true });
    const [d] = await dead.count(1, 10_000);
    expect(seen.map((s) => s.count)).toEqual([undefined, 1, 2]);
    expect(seen.every((s) => s.key === q && !s.redelivered)).toBe(true);
    // Lower bounds only (coarse clock): the retries waited their delays.
    expect(seen[1]!.at - sentAt).toBeGreaterThanOrEqual(80);
    expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(150);
    expect(d!.content.toString()).toBe('job');
    expect(d!.properties.headers?.['x-retry-count']).toBe(2);
    expect(d!.properties.headers?.['app']).toBe('kept');
    expect(d!.properties.headers?.['x-first-death-reason']).toBe('rejected');
  });

  it('x-retry-limit beyond the list repeats the last delay; an ack ends the retries', async (t) => {
    t.skip(ctx.isReference, REASON);
    const ch = await ctx.clients.channel();
    const q = ctx.name('retry-limit');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-retry-delays': [10], 'x-retry-limit': 4 } });
    const counts: unknown[] = [];
    await ch.consume(q, (m: ConsumeMessage | null) => {
      if (m === null) return;
      counts.push(m.properties.headers?.['x-retry-count']);
      if (counts.length < 4) ch.reject(m, false);
      else ch.ack(m);
    });
    ch.sendToQueue(q, Buffer.from('x'));
    await waitFor(() => counts.length >= 4, 10_000);
    await roundTrip(ch);
    expect(counts).toEqual([undefined, 1, 2, 3]);
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
  });

  it('requeue=true is unchanged (immediate redelivery, no retry count)', async (t) => {
    t.skip(ctx.isReference, REASON);
    const ch = await ctx.clients.channel();
    const q = ctx.name('retry-requeue');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-retry-delays': [60_000] } });
    const got: ConsumeMessage[] = [];
    await ch.consume(q, (m: ConsumeMessage | null) => {
      if (m === null) return;
      got.push(m);
      if (got.length === 1) ch.nack(m, false, true);
      else ch.ack(m);
    });
    ch.sendToQueue(q, Buffer.from('x'));
    await waitFor(() => got.length >= 2, 10_000);
    expect(got[1]!.fields.redelivered).toBe(true);
    expect(got[1]!.properties.headers?.['x-retry-count']).toBeUndefined();
  });

  it('a policy sets retry-delays and retry-limit', async (t) => {
    t.skip(ctx.isReference, REASON);
    const ch = await ctx.clients.channel();
    const q = `policy-retry-${ctx.name('q')}`;
    await ch.assertQueue(q, { exclusive: true });
    const counts: unknown[] = [];
    await ch.consume(q, (m: ConsumeMessage | null) => {
      if (m === null) return;
      counts.push(m.properties.headers?.['x-retry-count']);
      ch.reject(m, false);
    });
    ch.sendToQueue(q, Buffer.from('x'));
    await waitFor(() => counts.length >= 3, 10_000);
    await roundTrip(ch);
    expect(counts).toEqual([undefined, 1, 2]); // dropped after 2 retries (no dead-letter exchange)
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
  });

  it('the management API shows the retries waiting (messages_retrying), not counted in messages', async (t) => {
    t.skip(ctx.isReference, REASON);
    const ch = await ctx.clients.channel();
    const q = ctx.name('retry-api');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-retry-delays': [60_000] } });
    ch.sendToQueue(q, Buffer.from('a'));
    ch.sendToQueue(q, Buffer.from('b'));
    for (let i = 0; i < 2; i++) {
      const got = await waitFor(async () => (await ch.get(q)) || undefined);
      ch.nack(got!, false, false);
    }
    await roundTrip(ch);
    const row = await m.api().obj(`/api/queues/%2F/${q}`);
    expect(row).toMatchObject({ messages: 0, messages_retrying: 2 });
    await ch.deleteQueue(q);
    const plain = ctx.name('no-retry');
    await ch.assertQueue(plain, { exclusive: true });
    expect(await m.api().obj(`/api/queues/%2F/${plain}`)).not.toHaveProperty('messages_retrying');
  });

  it('invalid x-retry-delays are refused with 406', async (t) => {
    t.skip(ctx.isReference, REASON);
    for (const bad of [[], ['a'], [-1], 'soon']) {
      const ch = await ctx.clients.channel();
      await expectCode(ch.assertQueue(ctx.name('retry-bad'), { exclusive: true, arguments: { 'x-retry-delays': bad } }), 406);
    }
  });

  it('a waiting retry of a persistent message on a durable queue survives a restart', async (t) => {
    t.skip(ctx.isReference, `${REASON} (and the shared reference cannot be restarted)`);
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-retry-'));
    const q = ctx.name('retry-durable');
    try {
      let broker = await startTestBroker({ dataDir });
      let conn = await amqp.connect(broker.url);
      let ch = await conn.createConfirmChannel();
      await ch.assertQueue(q, { durable: true, arguments: { 'x-retry-delays': [1500] } });
      ch.sendToQueue(q, Buffer.from('survivor'), { persistent: true });
      await ch.waitForConfirms();
      const m = await waitFor(async () => (await ch.get(q)) || undefined, 5000);
      ch.nack(m!, false, false);
      await roundTrip(ch);
      expect((await ch.checkQueue(q)).messageCount).toBe(0);
      await conn.close();
      await broker.close();

      broker = await startTestBroker({ dataDir });
      try {
        conn = await amqp.connect(broker.url);
        ch = await conn.createConfirmChannel();
        const back = await waitFor(async () => (await ch.get(q, { noAck: true })) || undefined, 10_000, 50);
        expect(back!.content.toString()).toBe('survivor');
        expect(back!.properties.headers?.['x-retry-count']).toBe(1);
        await ch.deleteQueue(q);
        await conn.close();
      } finally {
        await broker.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
