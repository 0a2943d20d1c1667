/**
 * Consumers (AMQP 0-9-1 §3.1.6, RabbitMQ extensions): basic.consume with server-generated and
 * client tags, no-ack, exclusive consumers (403), tag reuse (530), basic.cancel (client and
 * server-sent on queue deletion, consumer_cancel_notify), basic.qos prefetch per consumer and
 * global per channel (RabbitMQ's per_consumer_qos semantics).
 */
import { describe, expect, it } from 'vitest';
import type { AMQPMessage } from '@cloudamqp/amqp-client';
import { useBroker } from '../helpers/setup.js';
import { Inbox, closedWith, expectCode, fill } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';
import { bits, methodFrame, rawHandshake, rawOpenChannel, short, shortstr, table } from '../helpers/raw-amqp.js';

const ctx = useBroker();

const range = (n: number, prefix = 'm'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('basic.consume', () => {
  it('the server generates amq.ctag- tags; a client tag is used as given', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const a = await ch.consume(q, () => undefined);
    expect(a.consumerTag).toMatch(/^amq\.ctag-[A-Za-z0-9_-]{22}$/);
    const mine = ctx.name('my-tag');
    const b = await ch.consume(q, () => undefined, { consumerTag: mine });
    expect(b.consumerTag).toBe(mine);
    const inbox = new Inbox();
    const c = await ch.consume(q, inbox.handler, { noAck: true });
    await fill(ctx.clients, q, ['x', 'y', 'z'], conn);
    await waitFor(() => inbox.messages.length >= 1);
    expect(inbox.messages[0]!.fields.consumerTag).toBe(c.consumerTag);
  });

  it('reusing a consumer tag on the same channel closes the connection with 530', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.consume(q, () => undefined, { consumerTag: 'dup' });
    await ch.consume(q, () => undefined, { consumerTag: 'dup' }).catch(() => undefined);
    const err = await closedWith(conn);
    expect(err?.code).toBe(530);
    expect(err?.message).toContain("NOT_ALLOWED - attempt to reuse consumer tag 'dup'");
  });

  it('consuming from a missing queue gets 404', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('nq');
    const err = await expectCode(ch.consume(q, () => undefined), 404);
    expect(err.message).toContain(`NOT_FOUND - no queue '${q}' in vhost '/'`);
  });

  it('no-ack deliveries are settled on delivery: nothing comes back when the channel closes', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, range(5), conn);
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler, { noAck: true });
    await inbox.count(5);
    expect(inbox.bodies()).toEqual(range(5));
    expect(inbox.messages.every((m) => !m.fields.redelivered)).toBe(true);
    await ch.close();
    const ch2 = await ctx.clients.channel(conn);
    expect((await ch2.checkQueue(q)).messageCount).toBe(0);
  });

  it('delivers messages published before and after the consumer started, in order', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, ['a', 'b'], conn);
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler, { noAck: true });
    await fill(ctx.clients, q, ['c', 'd'], conn);
    await inbox.count(4);
    expect(inbox.bodies()).toEqual(['a', 'b', 'c', 'd']);
    expect(inbox.messages.map((m) => m.fields.deliveryTag)).toEqual([1, 2, 3, 4]);
  });

  it('@cloudamqp/amqp-client consumes with manual acks', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    const got: string[] = [];
    await ch.basicConsume(q.name, { noAck: false }, async (msg: AMQPMessage) => {
      got.push(msg.bodyToString() ?? '');
      await msg.ack();
    });
    await ch.confirmSelect();
    for (const b of range(3)) await ch.basicPublish('', q.name, b);
    await waitFor(() => got.length === 3);
    expect(got).toEqual(range(3));
  });
});

describe('exclusive consumers', () => {
  it('an exclusive consumer locks out other consumers (403) and vice versa', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.name('xcons');
    await ch.assertQueue(q, { autoDelete: false });
    try {
      await ch.consume(q, () => undefined, { exclusive: true });
      const other = await ctx.clients.channel();
      const err = await expectCode(other.consume(q, () => undefined), 403);
      expect(err.message).toContain(`ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`);
      const q2 = ctx.name('xcons2');
      const ch3 = await ctx.clients.channel(conn);
      await ch3.assertQueue(q2, { autoDelete: false });
      await ch3.consume(q2, () => undefined);
      const ch4 = await ctx.clients.channel();
      await expectCode(ch4.consume(q2, () => undefined, { exclusive: true }), 403);
      await ch3.deleteQueue(q2);
    } finally {
      const cleanup = await ctx.clients.channel(conn);
      await cleanup.deleteQueue(q);
    }
  });

  it('after the exclusive consumer cancels, others may consume', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const { consumerTag } = await ch.consume(q, () => undefined, { exclusive: true });
    await ch.cancel(consumerTag);
    await ch.consume(q, () => undefined);
  });
});

describe('basic.cancel', () => {
  it('stops deliveries; undelivered messages stay in the queue; cancel-ok echoes the tag', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const inbox = new Inbox();
    const { consumerTag } = await ch.consume(q, inbox.handler, { noAck: true });
    await fill(ctx.clients, q, ['before'], conn);
    await inbox.count(1);
    expect(await ch.cancel(consumerTag)).toEqual({ consumerTag });
    await fill(ctx.clients, q, ['after'], conn);
    expect((await ch.checkQueue(q)).messageCount).toBe(1);
    expect(inbox.bodies()).toEqual(['before']);
  });

  it('cancelling an unknown tag is not an error', async () => {
    const ch = await ctx.clients.channel();
    expect(await ch.cancel('no-such-tag')).toEqual({ consumerTag: 'no-such-tag' });
  });

  it('unacked messages of a cancelled consumer stay unacked until acked or the channel closes', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, ['a', 'b'], conn);
    const inbox = new Inbox();
    const { consumerTag } = await ch.consume(q, inbox.handler);
    await inbox.count(2);
    await ch.cancel(consumerTag);
    ch.ack(inbox.messages[0]!); // acking after cancel is allowed
    await ch.close();
    const ch2 = await ctx.clients.channel(conn);
    const m = await ch2.get(q, { noAck: true });
    expect(m && [m.content.toString(), m.fields.redelivered]).toEqual(['b', true]);
  });

  it('deleting a queue sends basic.cancel: amqplib calls the consumer with null', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.name('cancel-notify');
    await ch.assertQueue(q);
    const inbox = new Inbox();
    const cancels: string[] = [];
    ch.on('cancel', (f: { consumerTag: string }) => cancels.push(f.consumerTag));
    const { consumerTag } = await ch.consume(q, inbox.handler);
    const other = await ctx.clients.channel();
    await other.deleteQueue(q);
    await waitFor(() => inbox.cancelled);
    expect(cancels).toEqual([consumerTag]);
    // The channel survives the server-side cancel.
    await ch.checkExchange('amq.direct');
  });

  it('deleting a queue ends an @cloudamqp/amqp-client consumer', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const q = await ch.queueDeclare(ctx.name('cancel-cloud'));
    const consumer = await ch.basicConsume(q.name, { noAck: true }, () => undefined);
    const waiting = consumer.wait().then(() => 'ended', () => 'ended with error');
    const other = await ctx.clients.channel();
    await other.deleteQueue(q.name);
    expect(['ended', 'ended with error']).toContain(await waiting);
  });
});

describe('basic.qos', () => {
  async function unackedCounts(global: boolean | undefined, prefetch: number, consumers: number, perQueue = 6): Promise<number[]> {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    if (global === undefined) await ch.prefetch(prefetch);
    else await ch.prefetch(prefetch, global);
    const inboxes: Inbox[] = [];
    const queues: string[] = [];
    for (let i = 0; i < consumers; i++) {
      const q = (await ch.assertQueue('', { exclusive: true })).queue;
      queues.push(q);
      const inbox = new Inbox();
      inboxes.push(inbox);
      await ch.consume(q, inbox.handler);
    }
    for (const q of queues) await fill(ctx.clients, q, range(perQueue), conn);
    // Settle: a round trip on each queue after the broker has had its chance to deliver.
    await waitFor(async () => {
      let ready = 0;
      for (const q of queues) ready += (await ch.checkQueue(q)).messageCount;
      const delivered = inboxes.reduce((n, b) => n + b.messages.length, 0);
      return ready + delivered === perQueue * consumers && (global === true ? delivered >= Math.min(prefetch, perQueue * consumers) : inboxes.every((b) => b.messages.length >= Math.min(prefetch || perQueue, perQueue)));
    });
    return inboxes.map((b) => b.messages.length);
  }

  it('prefetch_count limits unacked deliveries per consumer (global=false)', async () => {
    expect(await unackedCounts(false, 2, 3)).toEqual([2, 2, 2]);
  });

  it('prefetch_count with global=true is shared by all consumers on the channel', async () => {
    const counts = await unackedCounts(true, 3, 2);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('prefetch 0 means unlimited', async () => {
    expect(await unackedCounts(false, 0, 1, 8)).toEqual([8]);
  });

  it('prefetch does not limit a no-ack consumer', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    await ch.prefetch(1);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, range(5), conn);
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler, { noAck: true });
    await inbox.count(5);
  });

  it('acking frees credit: the next message arrives', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    await ch.prefetch(1);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, range(3), conn);
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler);
    await inbox.count(1);
    expect((await ch.checkQueue(q)).messageCount).toBe(2);
    expect(inbox.messages.length).toBe(1);
    ch.ack(inbox.messages[0]!);
    await inbox.count(2);
    ch.ack(inbox.messages[1]!);
    await inbox.count(3);
    expect(inbox.bodies()).toEqual(range(3));
  });

  it('a new per-consumer prefetch applies to consumers started afterwards, not to existing ones', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, range(10), conn);
    await ch.prefetch(1);
    const first = new Inbox();
    await ch.consume(q, first.handler);
    await first.count(1);
    await ch.prefetch(3);
    const second = new Inbox();
    await ch.consume(q, second.handler);
    await second.count(3);
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 6);
    expect([first.messages.length, second.messages.length]).toEqual([1, 3]);
  });

  it('raising the global prefetch lets existing consumers receive more', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, range(10), conn);
    await ch.prefetch(2, true);
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler);
    await inbox.count(2);
    expect((await ch.checkQueue(q)).messageCount).toBe(8);
    await ch.prefetch(4, true);
    await inbox.count(4);
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 6);
    expect(inbox.messages.length).toBe(4);
  });

  it('a message nacked with requeue by the only consumer comes straight back, before the next one', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, ['a', 'b'], conn);
    await ch.prefetch(1);
    const got: string[] = [];
    await ch.consume(q, (m) => {
      if (m === null) return;
      got.push(m.content.toString() + (m.fields.redelivered ? '*' : ''));
      if (got.length === 1) ch.nack(m, false, true);
      else ch.ack(m);
    });
    await waitFor(() => got.length === 3);
    expect(got).toEqual(['a', 'a*', 'b']);
  });

  it('@cloudamqp/amqp-client prefetch limits deliveries', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    await ch.prefetch(2);
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.confirmSelect();
    for (const b of range(5)) await ch.basicPublish('', q.name, b);
    const got: AMQPMessage[] = [];
    await ch.basicConsume(q.name, { noAck: false }, (m) => { got.push(m); });
    await waitFor(() => got.length === 2);
    expect((await ch.queueDeclare(q.name, { passive: true })).messageCount).toBe(3);
    await got[1]!.ack(true);
    await waitFor(() => got.length === 4);
    expect(got.map((m) => m.bodyToString())).toEqual(range(4));
  });
});

describe('consumer_cancel_notify', () => {
  it('a client without the capability gets no basic.cancel when its queue is deleted (raw client)', async () => {
    const h = await rawHandshake(ctx.port, { clientProperties: { product: 'no-capabilities' } });
    await rawOpenChannel(h.conn, 1);
    const q = ctx.name('no-notify');
    h.conn.send(methodFrame(1, 50, 10, [short(0), shortstr(q), bits(false, false, false, false, false), table()]));
    await h.conn.expectMethod(50, 11);
    h.conn.send(methodFrame(1, 60, 20, [short(0), shortstr(q), shortstr('c1'), bits(false, false, false, false), table()]));
    await h.conn.expectMethod(60, 21);
    const other = await ctx.clients.channel();
    await other.deleteQueue(q);
    // A round trip on the channel: its reply must be the next frame (no basic.cancel before it).
    h.conn.send(methodFrame(1, 40, 10, [short(0), shortstr('amq.direct'), shortstr('direct'), bits(true, false, false, false, false), table()]));
    const next = await h.conn.next();
    expect([next?.channel, next?.classId, next?.methodId]).toEqual([1, 40, 11]);
    h.conn.destroy();
  });

  it('a client with the capability gets basic.cancel with the consumer tag (raw client)', async () => {
    const h = await rawHandshake(ctx.port, { clientProperties: { capabilities: { consumer_cancel_notify: true } } });
    await rawOpenChannel(h.conn, 1);
    const q = ctx.name('notify');
    h.conn.send(methodFrame(1, 50, 10, [short(0), shortstr(q), bits(false, false, false, false, false), table()]));
    await h.conn.expectMethod(50, 11);
    h.conn.send(methodFrame(1, 60, 20, [short(0), shortstr(q), shortstr('c1'), bits(false, false, false, false), table()]));
    await h.conn.expectMethod(60, 21);
    const other = await ctx.clients.channel();
    await other.deleteQueue(q);
    const cancel = await h.conn.next();
    expect([cancel?.channel, cancel?.classId, cancel?.methodId]).toEqual([1, 60, 30]);
    expect(cancel!.payload.toString('utf8', 5, 5 + cancel!.payload[4]!)).toBe('c1');
    h.conn.destroy();
  });
});
