/**
 * x-queue-type (rabbitmq.com/docs/quorum-queues): classic is accepted (and is what no argument means);
 * quorum queues must be durable, non-exclusive and non-auto-delete, refuse classic-only arguments
 * (x-max-priority), and count deliveries: the x-delivery-count header (signed 64-bit) on each
 * delivery, and after x-delivery-limit redeliveries the poison message is dead-lettered with reason
 * delivery_limit (or dropped without a DLX). Arguments a queue type gives no meaning to are refused
 * the way RabbitMQ 3.10 refuses them (x-delivery-limit on a classic queue); unknown x- arguments stay
 * accepted. Streams (x-queue-type=stream) have their own suite: test/integration/streams.
 */
import { describe, expect, it } from 'vitest';
import type { Channel } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { Inbox, expectCode } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';
import { getEventually, getUnacked, typedGet, xDeathOf } from './extension-helpers.js';

const ctx = useBroker();

/** Run `f` with a durable queue declared by `declare`, deleting it afterwards on a fresh channel. */
async function withQueue(names: string[], f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } finally {
    const ch = await ctx.clients.channel();
    for (const n of names) await ch.deleteQueue(n);
  }
}

const quorum = (extra: Record<string, unknown> = {}): { durable: true; arguments: Record<string, unknown> } =>
  ({ durable: true, arguments: { 'x-queue-type': 'quorum', ...extra } });

describe('classic', () => {
  it('x-queue-type classic is accepted and equivalent to no type', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('qt-classic');
    expect(await ch.assertQueue(q, { exclusive: true, arguments: { 'x-queue-type': 'classic' } })).toEqual({ queue: q, messageCount: 0, consumerCount: 0 });
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-queue-type': 'classic' } });
  });

  it('an unknown queue type is refused with 406', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('qt-bogus');
    const err = await expectCode(ch.assertQueue(q, { arguments: { 'x-queue-type': 'bogus' } }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue '${q}' in vhost '/': "unsupported queue type 'bogus'"`);
  });

  it('x-delivery-limit (quorum only) is refused on a classic queue', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('qt-classic-dl');
    const err = await expectCode(ch.assertQueue(q, { exclusive: true, arguments: { 'x-delivery-limit': 2 } }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - invalid arg 'x-delivery-limit' for queue '${q}' in vhost '/' of queue type rabbit_classic_queue`);
  });

  it('an x- argument RabbitMQ gives no meaning to is accepted', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('qt-unknown-arg');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-my-app-setting': 2 } });
  });
});

describe('quorum', () => {
  it.each([
    ['non-durable', { durable: false }, 'non-durable'],
    ['exclusive', { durable: true, exclusive: true }, 'exclusive-owner'],
    ['auto-delete', { durable: true, autoDelete: true }, 'auto-delete'],
  ] as const)('a %s quorum queue is refused with 406', async (_label, props, property) => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('qq-bad');
    const err = await expectCode(ch.assertQueue(q, { ...props, arguments: { 'x-queue-type': 'quorum' } }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - invalid property '${property}' for queue '${q}' in vhost '/'`);
  });

  it('x-max-priority is refused for quorum queues', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('qq-prio');
    const err = await expectCode(ch.assertQueue(q, quorum({ 'x-max-priority': 5 })), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue '${q}' in vhost '/' of queue type rabbit_quorum_queue`);
  });

  it('a durable quorum queue works like a queue; redeclaring it as classic is inequivalent', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('qq-basic');
    await withQueue([q], async () => {
      await ch.assertQueue(q, quorum());
      ch.sendToQueue(q, Buffer.from('qq'));
      expect((await getEventually(ch, q)).content.toString()).toBe('qq');
      const other = await ctx.clients.channel();
      const err = await expectCode(other.assertQueue(q, { durable: true }), 406);
      expect(err.message).toContain(`PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '${q}' in vhost '/': received none but current is the value 'quorum' of type 'longstr'`);
    });
  });

  it('basic.get shows x-delivery-count (a signed 64-bit integer) from 0, incremented per redelivery', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('qq-count');
    await withQueue([q], async () => {
      await ch.assertQueue(q, quorum());
      ch.sendToQueue(q, Buffer.from('c'), { headers: { app: 'kept' } });
      const counts: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const m = await getUnacked(ch, q);
        counts.push(m.properties.headers?.['x-delivery-count']);
        expect(m.fields.redelivered).toBe(i > 0);
        expect(m.properties.headers?.['app']).toBe('kept');
        ch.nack(m, false, true);
      }
      expect(counts).toEqual([0, 1, 2]);
      await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
      const typed = await typedGet(ctx.port, q);
      expect(typed?.headers['x-delivery-count']).toEqual({ t: 'l', v: 3 });
    });
  });

  it('consumers see x-delivery-count too, and a closed channel counts as a delivery attempt', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('qq-consume');
    await withQueue([q], async () => {
      await ch.assertQueue(q, quorum());
      ch.sendToQueue(q, Buffer.from('d'));
      const c1 = await ctx.clients.channel();
      const first = new Inbox();
      await c1.consume(q, first.handler, { noAck: false });
      await first.count(1);
      await c1.close();
      const second = new Inbox();
      await ch.consume(q, second.handler, { noAck: false });
      const [m] = await second.count(1);
      expect(m?.fields.redelivered).toBe(true);
      expect(m?.properties.headers?.['x-delivery-count']).toBe(1);
      // RabbitMQ 3.10: a consumer's FIRST delivery has no x-delivery-count (basic.get shows 0).
      expect(first.messages[0]?.properties.headers ?? {}).not.toHaveProperty('x-delivery-count');
    });
  });

  it('after x-delivery-limit redeliveries the poison message is dead-lettered with reason delivery_limit', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('qq-poison');
    const dead = ctx.name('qq-poison-dead');
    await withQueue([q, dead], async () => {
      await ch.assertQueue(dead, { durable: true });
      await ch.assertQueue(q, quorum({ 'x-delivery-limit': 2, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead }));
      ch.sendToQueue(q, Buffer.from('poison'), { headers: { app: 'kept' } });
      const inbox = new Inbox();
      await ch.consume(q, inbox.handler, { noAck: false });
      // Deliveries with counts 0, 1, 2; the third requeue exceeds the limit.
      for (let i = 0; i < 3; i++) {
        const [m] = (await inbox.count(i + 1)).slice(i);
        if (m === undefined) throw new Error('delivery expected');
        ch.nack(m, false, true);
      }
      const d = await getEventually(ch, dead);
      expect(d.content.toString()).toBe('poison');
      expect(xDeathOf(d)).toHaveLength(1);
      expect(xDeathOf(d)[0]).toMatchObject({ count: 1, reason: 'delivery_limit', queue: q, exchange: '', 'routing-keys': [q] });
      expect(d.properties.headers?.['x-first-death-reason']).toBe('delivery_limit');
      expect(d.properties.headers?.['app']).toBe('kept');
      expect(d.properties.headers).not.toHaveProperty('x-delivery-count');
      expect(inbox.messages).toHaveLength(3);
      expect((await ch.checkQueue(q)).messageCount).toBe(0);
    });
  });

  it('a consumer that crashes on a message (channel closed each time) gets it dead-lettered after the limit', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('qq-crash');
    const dead = ctx.name('qq-crash-dead');
    await withQueue([q, dead], async () => {
      await ch.assertQueue(dead, { durable: true });
      await ch.assertQueue(q, quorum({ 'x-delivery-limit': 1, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead }));
      ch.sendToQueue(q, Buffer.from('crasher'));
      for (let attempt = 0; attempt < 2; attempt++) {
        const worker = await ctx.clients.channel();
        const inbox = new Inbox();
        await worker.consume(q, inbox.handler, { noAck: false });
        await inbox.count(1);
        await worker.close(); // the "crash": unacked delivery returned to the queue
      }
      const d = await getEventually(ch, dead);
      expect(d.content.toString()).toBe('crasher');
      expect(xDeathOf(d)[0]).toMatchObject({ reason: 'delivery_limit', queue: q });
    });
  });

  it('without a DLX the poison message is dropped after the limit', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('qq-drop');
    await withQueue([q], async () => {
      await ch.assertQueue(q, quorum({ 'x-delivery-limit': 0 }));
      ch.sendToQueue(q, Buffer.from('once'));
      const m = await getUnacked(ch, q);
      ch.nack(m, false, true);
      await waitFor(async () => (await ch.checkQueue(q)).messageCount === 0);
      expect(await ch.get(q)).toBe(false);
    });
  });
});
