/**
 * Queues (AMQP 0-9-1 §3.1.4 and RabbitMQ's rules): declare (passive, durable, exclusive,
 * auto-delete, server-named amq.gen-), equivalence (406), the amq. prefix (403), bind/unbind,
 * purge, delete (if-unused, if-empty) with message counts, exclusive queues locked to (405) and
 * dying with their connection, auto-delete queues dying with their last consumer.
 */
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { Inbox, closedWith, expectCode, fill, isClosed } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';

const ctx = useBroker();

describe('queue.declare', () => {
  it('returns the name and message/consumer counts', async () => {
    const ch = await ctx.clients.channel();
    const name = ctx.name('q');
    const ok = await ch.assertQueue(name, { exclusive: true });
    expect(ok).toEqual({ queue: name, messageCount: 0, consumerCount: 0 });
    ch.sendToQueue(name, Buffer.from('1'));
    ch.sendToQueue(name, Buffer.from('2'));
    await waitFor(async () => (await ch.checkQueue(name)).messageCount === 2);
    await ch.consume(name, () => undefined, { noAck: false });
    await ch.prefetch(0);
    const again = await ch.assertQueue(name, { exclusive: true });
    expect(again.consumerCount).toBe(1);
    expect(again.messageCount).toBe(0); // both delivered (unacked), so not ready
  });

  it('server-named queues start with amq.gen-', async () => {
    const ch = await ctx.clients.channel();
    const a = await ch.assertQueue('', { exclusive: true });
    const b = await ch.assertQueue('', { exclusive: true });
    expect(a.queue).toMatch(/^amq\.gen-[A-Za-z0-9_-]{22}$/);
    expect(b.queue).not.toBe(a.queue);
  });

  it('@cloudamqp/amqp-client gets a server-named queue', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    expect(q.name).toMatch(/^amq\.gen-/);
    expect(q.messageCount).toBe(0);
    expect(q.consumerCount).toBe(0);
  });

  it('passive declare of a missing queue gets 404; of an existing one returns counts', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const missing = ctx.name('missing');
    const err = await expectCode(ch.checkQueue(missing), 404);
    expect(err.message).toContain(`NOT_FOUND - no queue '${missing}' in vhost '/'`);
    expect([err.classId, err.methodId]).toEqual([50, 10]);
    const ch2 = await ctx.clients.channel(conn);
    const q = (await ch2.assertQueue('', { exclusive: true })).queue;
    expect(await ch2.checkQueue(q)).toEqual({ queue: q, messageCount: 0, consumerCount: 0 });
  });

  it('an amq.-prefixed name is refused with 403', async () => {
    const ch = await ctx.clients.channel();
    const name = `amq.${ctx.name('q')}`;
    const err = await expectCode(ch.assertQueue(name), 403);
    expect(err.message).toContain(`ACCESS_REFUSED - queue name '${name}' contains reserved prefix 'amq.*'`);
  });

  it.each([
    ['durable', { durable: false }, { durable: true }, "inequivalent arg 'durable' for queue '%s' in vhost '/': received 'true' but current is 'false'"],
    ['auto_delete', { durable: false, autoDelete: false }, { durable: false, autoDelete: true }, "inequivalent arg 'auto_delete' for queue '%s' in vhost '/': received 'true' but current is 'false'"],
    ['x-message-ttl', { durable: false, messageTtl: 1000 }, { durable: false, messageTtl: 2000 }, "inequivalent arg 'x-message-ttl' for queue '%s' in vhost '/': received '2000' but current is '1000'"],
  ] as const)('redeclaring with a different %s gets 406', async (_label, first, second, text) => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const name = ctx.name('equiv');
    await ch.assertQueue(name, first);
    try {
      await ch.assertQueue(name, first);
      const err = await expectCode(ch.assertQueue(name, second), 406);
      expect(err.message).toContain(`PRECONDITION_FAILED - ${text.replace('%s', name)}`);
    } finally {
      const ch2 = await ctx.clients.channel(conn);
      await ch2.deleteQueue(name);
    }
  });

  it('durable queues can be declared, redeclared and deleted', async () => {
    const ch = await ctx.clients.channel();
    const name = ctx.name('durable');
    await ch.assertQueue(name, { durable: true });
    try {
      expect((await ch.assertQueue(name, { durable: true })).queue).toBe(name);
    } finally {
      await ch.deleteQueue(name);
    }
  });
});

describe('exclusive queues', () => {
  it('other connections get 405 RESOURCE_LOCKED for declare, consume, get, bind, purge and delete', async () => {
    const owner = await ctx.clients.channel();
    const q = (await owner.assertQueue(ctx.name('excl'), { exclusive: true })).queue;
    const other = await ctx.clients.connect();
    const attempts = [
      (ch: Awaited<ReturnType<typeof ctx.clients.channel>>) => ch.assertQueue(q, { exclusive: true }),
      (ch: Awaited<ReturnType<typeof ctx.clients.channel>>) => ch.assertQueue(q, { exclusive: false }),
      (ch: Awaited<ReturnType<typeof ctx.clients.channel>>) => ch.consume(q, () => undefined),
      (ch: Awaited<ReturnType<typeof ctx.clients.channel>>) => ch.get(q),
      (ch: Awaited<ReturnType<typeof ctx.clients.channel>>) => ch.bindQueue(q, 'amq.direct', 'x'),
      (ch: Awaited<ReturnType<typeof ctx.clients.channel>>) => ch.purgeQueue(q),
      (ch: Awaited<ReturnType<typeof ctx.clients.channel>>) => ch.deleteQueue(q),
    ];
    for (const attempt of attempts) {
      const ch = await ctx.clients.channel(other);
      const err = await expectCode(attempt(ch), 405);
      expect(err.message).toContain(`RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'`);
    }
    // Even a passive declare from another connection is locked out.
    await expectCode((await ctx.clients.channel(other)).checkQueue(q), 405);
  });

  it('other connections may still publish to an exclusive queue', async () => {
    const owner = await ctx.clients.channel();
    const q = (await owner.assertQueue('', { exclusive: true })).queue;
    const other = await ctx.clients.confirmChannel();
    other.sendToQueue(q, Buffer.from('from outside'));
    await other.waitForConfirms();
    expect((await owner.checkQueue(q)).messageCount).toBe(1);
  });

  it('redeclaring a queue with a different exclusive flag gets 405, even on the same connection', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const name = ctx.name('excl-flag');
    await ch.assertQueue(name, { exclusive: true });
    const ch2 = await ctx.clients.channel(conn);
    await expectCode(ch2.assertQueue(name, { exclusive: false }), 405);
    const shared = ctx.name('shared-flag');
    const ch3 = await ctx.clients.channel(conn);
    await ch3.assertQueue(shared, { exclusive: false, autoDelete: true });
    const ch4 = await ctx.clients.channel(conn);
    await expectCode(ch4.assertQueue(shared, { exclusive: true, autoDelete: true }), 405);
    await (await ctx.clients.channel(conn)).deleteQueue(shared);
  });

  it('an exclusive queue dies with its connection', async () => {
    const owner = await ctx.clients.connect();
    const ch = await ctx.clients.channel(owner);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await owner.close();
    const ch2 = await ctx.clients.channel();
    await waitFor(async () => {
      const probe = await ctx.clients.channel();
      try {
        await probe.checkQueue(q);
        return false;
      } catch (e) {
        return (e as { code?: number }).code === 404;
      }
    });
    await ch2.checkExchange('amq.direct');
  });

  it('an exclusive queue also dies when the connection drops without closing', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    client.socket?.destroy();
    await waitFor(async () => {
      const probe = await ctx.clients.channel();
      try {
        await probe.checkQueue(q.name);
        return false;
      } catch (e) {
        return (e as { code?: number }).code === 404;
      }
    });
  });
});

describe('auto-delete queues', () => {
  it('are deleted when the last consumer is cancelled, not before', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.name('autodel');
    await ch.assertQueue(q, { autoDelete: true });
    const c1 = await ch.consume(q, () => undefined);
    const c2 = await ch.consume(q, () => undefined);
    await ch.cancel(c1.consumerTag);
    expect((await ch.checkQueue(q)).consumerCount).toBe(1);
    await ch.cancel(c2.consumerTag);
    const probe = await ctx.clients.channel(conn);
    await expectCode(probe.checkQueue(q), 404);
  });

  it('are deleted when the consuming channel closes', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = ctx.name('autodel-close');
    await ch.assertQueue(q, { autoDelete: true });
    await ch.consume(q, () => undefined);
    await ch.close();
    const probe = await ctx.clients.channel(conn);
    await waitFor(async () => {
      const p = await ctx.clients.channel(conn);
      try {
        await p.checkQueue(q);
        return false;
      } catch {
        return true;
      }
    });
    expect(probe).toBeDefined();
  });

  it('survive when they never had a consumer', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('autodel-never');
    await ch.assertQueue(q, { autoDelete: true });
    try {
      expect((await ch.checkQueue(q)).queue).toBe(q);
    } finally {
      await ch.deleteQueue(q);
    }
  });
});

describe('queue.bind / queue.unbind', () => {
  it('bind routes, unbind stops routing, unbinding a missing binding is fine', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const key = ctx.name('key');
    await ch.bindQueue(q, 'amq.direct', key);
    await ch.bindQueue(q, 'amq.direct', key); // idempotent
    const pub = await ctx.clients.confirmChannel(conn);
    pub.publish('amq.direct', key, Buffer.from('bound'));
    await pub.waitForConfirms();
    await ch.unbindQueue(q, 'amq.direct', key);
    pub.publish('amq.direct', key, Buffer.from('unbound'));
    await pub.waitForConfirms();
    await ch.unbindQueue(q, 'amq.direct', ctx.name('never-bound'));
    const m = await ch.get(q, { noAck: true });
    expect(m && m.content.toString()).toBe('bound');
    expect(await ch.get(q, { noAck: true })).toBe(false);
  });

  it('binding to a missing exchange gets 404, binding a missing queue gets 404', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const ex = ctx.name('nx');
    const e1 = await expectCode(ch.bindQueue(q, ex, ''), 404);
    expect(e1.message).toContain(`NOT_FOUND - no exchange '${ex}' in vhost '/'`);
    const ch2 = await ctx.clients.channel(conn);
    const missing = ctx.name('nq');
    const e2 = await expectCode(ch2.bindQueue(missing, 'amq.direct', ''), 404);
    expect(e2.message).toContain(`NOT_FOUND - no queue '${missing}' in vhost '/'`);
  });
});

describe('queue.purge', () => {
  it('removes ready messages, returns the count, leaves unacked ones', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, ['a', 'b', 'c', 'd'], conn);
    const held = await ch.get(q); // one unacked
    expect(held).not.toBe(false);
    expect(await ch.purgeQueue(q)).toEqual({ messageCount: 3 });
    expect(await ch.purgeQueue(q)).toEqual({ messageCount: 0 });
    if (held !== false) ch.nack(held, false, true); // the unacked message comes back
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
  });

  it('@cloudamqp/amqp-client queuePurge returns the count', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.confirmSelect();
    await ch.basicPublish('', q.name, 'x');
    await ch.basicPublish('', q.name, 'y');
    expect(await ch.queuePurge(q.name)).toEqual({ messageCount: 2 });
  });

  it('purging a missing queue gets 404', async () => {
    const ch = await ctx.clients.channel();
    await expectCode(ch.purgeQueue(ctx.name('nq')), 404);
  });
});

describe('queue.delete', () => {
  it('returns the message count and removes the queue', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, ['1', '2', '3'], conn);
    expect(await ch.deleteQueue(q)).toEqual({ messageCount: 3 });
    await expectCode(ch.checkQueue(q), 404);
  });

  it('if-unused refuses a queue with consumers (406)', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.consume(q, () => undefined);
    const other = await ctx.clients.channel(conn);
    const err = await expectCode(other.deleteQueue(q, { ifUnused: true }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - queue '${q}' in vhost '/' in use`);
  });

  it('if-empty refuses a queue with messages (406), then deletes it once empty', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, ['x'], conn);
    const err = await expectCode(ch.deleteQueue(q, { ifEmpty: true }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - queue '${q}' in vhost '/' not empty`);
    const ch2 = await ctx.clients.channel(conn);
    await ch2.purgeQueue(q);
    expect(await ch2.deleteQueue(q, { ifEmpty: true, ifUnused: true })).toEqual({ messageCount: 0 });
  });

  it('the delete-ok count is of ready messages: unacked ones are not counted', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, ['1', '2', '3', '4', '5'], conn);
    await ch.get(q);
    await ch.get(q);
    const other = await ctx.clients.channel(conn);
    expect(await other.deleteQueue(q)).toEqual({ messageCount: 3 });
  });

  it('acking a message of a queue deleted meanwhile is not an error', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await fill(ctx.clients, q, ['x'], conn);
    const m = await ch.get(q);
    await ch.deleteQueue(q);
    if (m !== false) ch.ack(m);
    await ch.checkExchange('amq.direct');
    expect(isClosed(ch)).toBe(false);
  });

  it('deleting a missing queue returns a count of 0', async () => {
    const ch = await ctx.clients.channel();
    expect(await ch.deleteQueue(ctx.name('nq'))).toEqual({ messageCount: 0 });
  });

  it('deleting a queue removes its bindings', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const name = ctx.name('rebind');
    await ch.assertQueue(name, { exclusive: true });
    const key = ctx.name('k');
    await ch.bindQueue(name, 'amq.direct', key);
    await ch.deleteQueue(name);
    await ch.assertQueue(name, { exclusive: true });
    const pub = await ctx.clients.confirmChannel(conn);
    pub.publish('amq.direct', key, Buffer.from('x'));
    await pub.waitForConfirms();
    expect((await ch.checkQueue(name)).messageCount).toBe(0);
  });

  it('consumers of a deleted queue get basic.cancel (consumer_cancel_notify)', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler);
    const other = await ctx.clients.channel(conn);
    await other.deleteQueue(q);
    await waitFor(() => inbox.cancelled);
    expect(await closedWith(ch, 200).catch(() => 'still open')).toBe('still open');
  });
});
