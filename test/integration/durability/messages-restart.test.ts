/**
 * Messages across a restart, graceful (SIGTERM) and crash (kill -9 after the confirms), issue 3:
 * persistent messages (delivery_mode 2) in durable queues come back in publish order, transient ones
 * do not; settled ones (ack, purge, queue.delete) stay settled; delivered-but-unacked ones come back
 * with redelivered=true; a message fanned out to several durable queues comes back in each.
 * Segments are 64 KiB and bodies 1 KiB, so these cases span several segment files.
 * Before a kill -9, `syncBarrier()` makes acks and delivered marks durable (AMQP acks are not
 * confirmed, so without it an ack just before a crash may legally be lost; the crash-loop suite
 * covers that case).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { killAllBrokers } from './helpers/broker-process.js';
import { getAll, ids, isIntact, makeBody, publishConfirmed, replyCodeOf, sendConfirmed } from './helpers/amqp-session.js';
import { segmentFiles } from './helpers/data-files.js';
import { Harness, RESTART_MODES } from './helpers/harness.js';

const KIB = 1024;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const bodies = (tag: string, seqs: readonly number[], size = KIB): Buffer[] => seqs.map((s) => makeBody(tag, s, size));
const names = (tag: string, seqs: readonly number[]): string[] => seqs.map((s) => `${tag}#${s}`);

let h: Harness;
afterEach(async () => {
  await h.cleanup();
  await killAllBrokers();
});

describe.each(RESTART_MODES)('messages after a %s restart', (mode) => {
  it('persistent messages in a durable queue come back, intact and in order, across segment files', async () => {
    h = new Harness();
    await h.start();
    const ch = await h.session.confirmChannel();
    await ch.assertQueue('m.persist', { durable: true });
    await sendConfirmed(ch, 'm.persist', bodies('p', range(0, 300)));
    expect((await segmentFiles(h.dataDir)).length, 'tiny segments: 300 KiB spans several files').toBeGreaterThan(1);
    await h.restart(mode);
    const got = await getAll(await h.session.channel(), 'm.persist', 'ack');
    expect(ids(got)).toEqual(names('p', range(0, 300)));
    expect(got.every((m) => isIntact(m.content))).toBe(true);
    expect(got.every((m) => m.properties.deliveryMode === 2)).toBe(true);
  });

  it('transient messages do not survive, persistent ones interleaved with them do', async () => {
    h = new Harness();
    await h.start();
    const ch = await h.session.confirmChannel();
    await ch.assertQueue('m.mixed', { durable: true });
    for (const i of range(0, 100)) ch.sendToQueue('m.mixed', makeBody('x', i, KIB), { persistent: i % 2 === 0 });
    await ch.waitForConfirms();
    await h.restart(mode);
    const got = await getAll(await h.session.channel(), 'm.mixed', 'ack');
    expect(ids(got)).toEqual(names('x', range(0, 100).filter((i) => i % 2 === 0)));
  });

  it('persistent messages in a transient queue go with the queue', async () => {
    h = new Harness();
    await h.start();
    const ch = await h.session.confirmChannel();
    await ch.assertQueue('m.transient-q', { durable: false });
    await sendConfirmed(ch, 'm.transient-q', bodies('t', range(0, 10)));
    await h.restart(mode);
    const c = await h.session.channel();
    expect(await replyCodeOf(() => c.checkQueue('m.transient-q'))).toBe(404);
  });

  it('acked messages do not come back', async () => {
    h = new Harness();
    await h.start();
    const ch = await h.session.confirmChannel();
    await ch.assertQueue('m.acked', { durable: true });
    await sendConfirmed(ch, 'm.acked', bodies('a', range(0, 100)));
    const c = await h.session.channel();
    const first = await getAll(c, 'm.acked', 'keep', 40);
    for (const m of first) c.ack(m);
    await c.checkQueue('m.acked');
    if (mode === 'SIGKILL') await h.syncBarrier();
    await h.restart(mode);
    const got = await getAll(await h.session.channel(), 'm.acked', 'ack');
    expect(ids(got)).toEqual(names('a', range(40, 100)));
    expect(got.every((m) => !m.fields.redelivered)).toBe(true);
  });

  it('delivered-but-unacked messages come back first, with redelivered=true, the undelivered after them', async () => {
    h = new Harness();
    await h.start();
    const ch = await h.session.confirmChannel();
    await ch.assertQueue('m.unacked', { durable: true });
    await sendConfirmed(ch, 'm.unacked', bodies('u', range(0, 10)));
    const conn = await h.session.connect(); // stays open (holding 3..5 unacked) until the stop
    const c = await h.session.channel(conn);
    const delivered = await getAll(c, 'm.unacked', 'keep', 6);
    expect(ids(delivered)).toEqual(names('u', range(0, 6)));
    for (const m of delivered.slice(0, 3)) c.ack(m);
    await c.checkQueue('m.unacked');
    if (mode === 'SIGKILL') await h.syncBarrier();
    await h.restart(mode);
    const got = await getAll(await h.session.channel(), 'm.unacked', 'ack');
    expect(ids(got)).toEqual(names('u', range(3, 10)));
    expect(got.map((m) => m.fields.redelivered)).toEqual([true, true, true, false, false, false, false]);
  });

  it('per-queue order is kept when publishes to several queues interleave', async () => {
    h = new Harness();
    await h.start();
    const ch = await h.session.confirmChannel();
    const queues = ['m.order-a', 'm.order-b', 'm.order-c'];
    for (const q of queues) await ch.assertQueue(q, { durable: true });
    for (const i of range(0, 120)) {
      const q = queues[i % 3] ?? 'm.order-a';
      ch.sendToQueue(q, makeBody(q, i, KIB), { persistent: true });
    }
    await ch.waitForConfirms();
    await h.restart(mode);
    const c = await h.session.channel();
    for (const [k, q] of queues.entries()) {
      expect(ids(await getAll(c, q, 'ack'))).toEqual(names(q, range(0, 120).filter((i) => i % 3 === k)));
    }
  });

  it('a message fanned out to several durable queues comes back in each; an ack in one leaves the others', async () => {
    h = new Harness();
    await h.start();
    const ch = await h.session.confirmChannel();
    await ch.assertExchange('m.fan', 'fanout', { durable: true });
    const queues = ['m.fan-1', 'm.fan-2', 'm.fan-3'];
    for (const q of queues) {
      await ch.assertQueue(q, { durable: true });
      await ch.bindQueue(q, 'm.fan', '');
    }
    await publishConfirmed(ch, 'm.fan', '', bodies('f', range(0, 150)));
    await getAll(await h.session.channel(), 'm.fan-1', 'ack'); // all settled in queue 1 only
    if (mode === 'SIGKILL') await h.syncBarrier();
    await h.restart(mode);
    const c = await h.session.channel();
    expect(ids(await getAll(c, 'm.fan-1', 'ack'))).toEqual([]);
    for (const q of queues.slice(1)) {
      const got = await getAll(c, q, 'ack');
      expect(ids(got), q).toEqual(names('f', range(0, 150)));
      expect(got.every((m) => isIntact(m.content))).toBe(true);
    }
  });

  it('purge is durable: purged messages do not come back, later ones do', async () => {
    h = new Harness();
    await h.start();
    const ch = await h.session.confirmChannel();
    await ch.assertQueue('m.purged', { durable: true });
    await sendConfirmed(ch, 'm.purged', bodies('old', range(0, 80)));
    expect((await ch.purgeQueue('m.purged')).messageCount).toBe(80);
    await sendConfirmed(ch, 'm.purged', bodies('new', range(0, 5)));
    await h.restart(mode);
    expect(ids(await getAll(await h.session.channel(), 'm.purged', 'ack'))).toEqual(names('new', range(0, 5)));
  });

  it('queue.delete is durable: the queue and its messages stay gone; a new queue of that name starts empty', async () => {
    h = new Harness();
    await h.start();
    const ch = await h.session.confirmChannel();
    await ch.assertQueue('m.deleted', { durable: true });
    await sendConfirmed(ch, 'm.deleted', bodies('d', range(0, 80)));
    expect((await ch.deleteQueue('m.deleted')).messageCount).toBe(80);
    if (mode === 'SIGKILL') await h.syncBarrier();
    await h.restart(mode);
    const c = await h.session.channel();
    expect(await replyCodeOf(() => c.checkQueue('m.deleted'))).toBe(404);
    const c2 = await h.session.channel();
    expect((await c2.assertQueue('m.deleted', { durable: true })).messageCount).toBe(0);
  });

  it('tx.commit is durable when commit-ok arrives: committed publishes and acks hold without any barrier', async () => {
    h = new Harness();
    await h.start();
    const setup = await h.session.confirmChannel();
    await setup.assertQueue('m.tx', { durable: true });
    await sendConfirmed(setup, 'm.tx', bodies('before', range(0, 10)));
    // amqplib has no tx API: @cloudamqp/amqp-client has.
    const client = new AMQPClient(h.broker.url, undefined, null);
    client.onerror = () => undefined; // the broker goes away under it
    await client.connect();
    try {
      const tx = await client.channel();
      const tags: number[] = [];
      for (let i = 0; i < 4; i++) {
        const m = await tx.basicGet('m.tx', { noAck: false });
        expect(m?.bodyString()?.startsWith(`before#${i}|`)).toBe(true);
        if (m !== null) tags.push(m.deliveryTag);
      }
      await tx.txSelect();
      for (const t of tags) await tx.basicAck(t);
      for (const b of bodies('tx', range(0, 20))) await tx.basicPublish('', 'm.tx', b, { deliveryMode: 2 });
      await tx.txCommit();
      await h.restart(mode); // for SIGKILL: straight after commit-ok
    } finally {
      if (!client.closed) await client.close().catch(() => undefined);
    }
    const after = await getAll(await h.session.channel(), 'm.tx', 'ack');
    expect(ids(after)).toEqual([...names('before', range(4, 10)), ...names('tx', range(0, 20))]);
  });
});
