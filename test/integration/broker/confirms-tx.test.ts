/**
 * Publisher confirms (RabbitMQ's confirm.select, basic.ack/basic.nack from the broker) and
 * transactions (tx.select/commit/rollback over publishes and acks), and their mutual exclusion
 * (406). Confirms arrive in publish order; tags may be combined with `multiple`; unroutable messages
 * are acked, and a mandatory unroutable message's basic.return precedes its ack. A channel closed
 * with confirms owed gets them all before its close-ok, and nothing after it.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { closedWith, fill } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';
import {
  FRAME_HEADER, bits, bodyFrame, frame, methodFrame, rawHandshake, rawOpenChannel, short, shortstr, table,
} from '../helpers/raw-amqp.js';

const ctx = useBroker();

/** Expand a stream of (tag, multiple) confirms into the individual tags they settle. */
function expand(events: Array<{ deliveryTag: number; multiple: boolean }>): number[] {
  const out: number[] = [];
  let last = 0;
  for (const e of events) {
    if (e.multiple) for (let t = last + 1; t <= e.deliveryTag; t++) out.push(t);
    else out.push(e.deliveryTag);
    last = Math.max(last, e.deliveryTag);
  }
  return out;
}

describe('publisher confirms', () => {
  it('every publish is acked once, in order (multiple acks cover ranges)', async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const acks: Array<{ deliveryTag: number; multiple: boolean }> = [];
    const nacks: unknown[] = [];
    ch.on('ack', (f: { deliveryTag: number; multiple: boolean }) => acks.push(f));
    ch.on('nack', (f: unknown) => nacks.push(f));
    const n = 200;
    let callbacks = 0;
    for (let i = 0; i < n; i++) ch.sendToQueue(q, Buffer.from(`c${i}`), {}, (err) => { if (err === null) callbacks++; });
    await ch.waitForConfirms();
    expect(callbacks).toBe(n);
    expect(nacks).toEqual([]);
    const tags = expand(acks);
    expect(tags).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect((await ch.checkQueue(q)).messageCount).toBe(n);
  });

  it('an unroutable message is acked', async () => {
    const ch = await ctx.clients.confirmChannel();
    const outcome = await new Promise<string>((resolve) => {
      ch.publish('amq.direct', ctx.name('nobody'), Buffer.from('x'), {}, (err) => resolve(err === null ? 'ack' : 'nack'));
    });
    expect(outcome).toBe('ack');
  });

  it('a mandatory unroutable message is returned first, then acked', async () => {
    const ch = await ctx.clients.confirmChannel();
    const events: string[] = [];
    ch.on('return', (m: Message) => events.push(`return:${m.content.toString()}:${(m.fields as unknown as { replyCode: number }).replyCode}`));
    await new Promise<void>((resolve) => {
      ch.publish('amq.direct', ctx.name('nobody'), Buffer.from('r1'), { mandatory: true }, (err) => {
        events.push(err === null ? 'ack' : 'nack');
        resolve();
      });
    });
    expect(events).toEqual(['return:r1:312', 'ack']);
  });

  it('a queue full with x-overflow=reject-publish nacks the publish', async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = (await ch.assertQueue('', { exclusive: true, maxLength: 1, arguments: { 'x-overflow': 'reject-publish' } })).queue;
    const outcomes: string[] = [];
    const nacks: Array<{ deliveryTag: number; multiple: boolean }> = [];
    ch.on('nack', (f: { deliveryTag: number; multiple: boolean }) => nacks.push(f));
    for (const b of ['fits', 'rejected']) {
      ch.sendToQueue(q, Buffer.from(b), {}, (err) => outcomes.push(`${b}:${err === null ? 'ack' : 'nack'}`));
    }
    await ch.waitForConfirms().catch(() => undefined);
    await waitFor(() => outcomes.length === 2);
    expect(outcomes).toEqual(['fits:ack', 'rejected:nack']);
    // RabbitMQ may set `multiple` on the nack: it then covers only tags not yet confirmed.
    expect(nacks.map((f) => f.deliveryTag)).toEqual([2]);
    expect((await ch.checkQueue(q)).messageCount).toBe(1);
  });

  it('@cloudamqp/amqp-client basicPublish resolves once confirmed', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.confirmSelect();
    await ch.confirmSelect(); // selecting twice is harmless
    const tags = await Promise.all([1, 2, 3].map((i) => ch.basicPublish('', q.name, `p${i}`)));
    expect(tags).toEqual([1, 2, 3]);
    expect((await ch.queueDeclare(q.name, { passive: true })).messageCount).toBe(3);
  });

  it('publishing to a missing exchange in confirm mode closes the channel with 404', async () => {
    const ch = await ctx.clients.confirmChannel();
    const outcome = new Promise<string>((resolve) => {
      ch.publish(ctx.name('nx'), 'k', Buffer.from('x'), {}, (err) => resolve(err === null ? 'ack' : 'failed'));
    });
    const err = await closedWith(ch);
    expect(err?.code).toBe(404);
    expect(await outcome).toBe('failed');
  });
});

describe('transactions', () => {
  it('published messages appear only on commit; rollback discards them', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.txSelect();
    await ch.basicPublish('', q.name, 't1');
    await ch.basicPublish('', q.name, 't2');
    const watcher = await client.channel();
    expect((await watcher.queueDeclare(q.name, { passive: true })).messageCount).toBe(0);
    await ch.txCommit();
    await waitFor(async () => (await watcher.queueDeclare(q.name, { passive: true })).messageCount === 2);
    await ch.basicPublish('', q.name, 't3');
    await ch.txRollback();
    await ch.txCommit(); // an empty commit
    expect((await watcher.queueDeclare(q.name, { passive: true })).messageCount).toBe(2);
    const m1 = await watcher.basicGet(q.name, { noAck: true });
    const m2 = await watcher.basicGet(q.name, { noAck: true });
    expect([m1?.bodyToString(), m2?.bodyToString()]).toEqual(['t1', 't2']);
  });

  it('acks in a transaction take effect on commit; rolled-back acks leave messages unacked', async () => {
    const client = await ctx.clients.cloudamqp();
    const setup = await client.channel();
    const q = await setup.queueDeclare('', { exclusive: true });
    await setup.confirmSelect();
    for (const b of ['a', 'b']) await setup.basicPublish('', q.name, b);
    const ch = await client.channel();
    await ch.txSelect();
    const a = await ch.basicGet(q.name, { noAck: false });
    const b = await ch.basicGet(q.name, { noAck: false });
    await a?.ack();
    await ch.txCommit(); // 'a' is gone for good
    await b?.ack();
    await ch.txRollback(); // the ack of 'b' is undone: 'b' is still unacked
    await ch.close();
    const after = await client.channel();
    const m = await after.basicGet(q.name, { noAck: true });
    expect([m?.bodyToString(), m?.redelivered]).toEqual(['b', true]);
    expect(await after.basicGet(q.name, { noAck: true })).toBeNull();
  });

  it('a rejected message in a rolled-back transaction stays unacked', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.basicPublish('', q.name, 'keep');
    await ch.txSelect();
    const m = await ch.basicGet(q.name, { noAck: false });
    await m?.reject(false);
    await ch.txRollback();
    await ch.close();
    const after = await client.channel();
    expect((await after.basicGet(q.name, { noAck: true }))?.bodyToString()).toBe('keep');
  });

  it('in a transaction, basic.return for a mandatory unroutable publish comes at commit; rollback drops it', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const returned: string[] = [];
    ch.onReturn = (m) => { returned.push(m.bodyToString() ?? ''); };
    await ch.txSelect();
    await ch.basicPublish('amq.direct', ctx.name('nobody'), 'committed', {}, true);
    await ch.queueDeclare('', { exclusive: true }); // a round trip: nothing returned before commit
    expect(returned).toEqual([]);
    await ch.txCommit();
    await waitFor(() => returned.length === 1);
    await ch.basicPublish('amq.direct', ctx.name('nobody'), 'rolled back', {}, true);
    await ch.txRollback();
    await ch.queueDeclare('', { exclusive: true });
    expect(returned).toEqual(['committed']);
  });

  it('confirm delivery tags count per channel, from 1', async () => {
    const conn = await ctx.clients.connect();
    const tags: number[] = [];
    const a = await ctx.clients.confirmChannel(conn);
    a.on('ack', (f: { deliveryTag: number; multiple: boolean }) => tags.push(...expand([f])));
    a.publish('amq.direct', 'k', Buffer.from('1'));
    a.publish('amq.direct', 'k', Buffer.from('2'));
    await a.waitForConfirms();
    const b = await ctx.clients.confirmChannel(conn);
    b.on('ack', (f: { deliveryTag: number; multiple: boolean }) => tags.push(...expand([f])));
    b.publish('amq.direct', 'k', Buffer.from('3'));
    await b.waitForConfirms();
    expect(tags).toEqual([1, 2, 1]);
  });

  it('tx.commit and tx.rollback without tx.select get 406', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    await expect(ch.txCommit()).rejects.toThrow('PRECONDITION_FAILED - channel is not transactional (406)');
    const ch2 = await client.channel();
    await expect(ch2.txRollback()).rejects.toThrow('PRECONDITION_FAILED - channel is not transactional (406)');
    const ch3 = await client.channel();
    await ch3.txSelect();
    await ch3.txSelect(); // selecting twice is fine
  });

  it('tx.select on a confirm channel gets 406', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    await ch.confirmSelect();
    await expect(ch.txSelect()).rejects.toThrow('PRECONDITION_FAILED - cannot switch from confirm to tx mode (406)');
  });

  it('confirm.select on a transactional channel gets 406', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    await ch.txSelect();
    await expect(ch.confirmSelect()).rejects.toThrow('PRECONDITION_FAILED - cannot switch from tx to confirm mode (406)');
    // only that channel closed
    const other = await client.channel();
    await other.queueDeclare('', { exclusive: true });
  });

  it('transactions work alongside amqplib consumers on other channels', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue(ctx.name('txq'), { autoDelete: false })).queue;
    try {
      await fill(ctx.clients, q, ['pre'], conn);
      const client = await ctx.clients.cloudamqp();
      const tx = await client.channel();
      await tx.txSelect();
      await tx.basicPublish('', q, 'in-tx');
      expect((await ch.checkQueue(q)).messageCount).toBe(1);
      await tx.txCommit();
      await waitFor(async () => (await ch.checkQueue(q)).messageCount === 2);
    } finally {
      await ch.deleteQueue(q);
    }
  });
});

describe('closing a confirm-mode channel with confirms owed', () => {
  it('a burst of persistent publishes then channel.close: every ack before close-ok, no frame after it', async () => {
    const h = await rawHandshake(ctx.port);
    const c = h.conn;
    const q = ctx.name('burst');
    await rawOpenChannel(c, 1);
    c.send(methodFrame(1, 50, 10, [short(0), shortstr(q), bits(false, true, false, false, false), table()]));
    await c.expectMethod(50, 11);
    c.send(methodFrame(1, 85, 10, [bits(false)]));
    await c.expectMethod(85, 11);
    const n = 500;
    const burst: Buffer[] = [];
    for (let i = 0; i < n; i++) burst.push(persistentPublish(1, q, Buffer.from(`m${i}`)));
    burst.push(methodFrame(1, 20, 40, [short(200), shortstr('bye'), short(0), short(0)]));
    c.send(Buffer.concat(burst));
    let acked = 0;
    for (;;) {
      const f = await c.next(10_000);
      if (f === undefined) throw new Error('socket closed before channel.close-ok');
      if (f.channel !== 1) continue;
      if (f.classId === 20 && f.methodId === 41) break;
      expect([f.classId, f.methodId]).toEqual([60, 80]); // only basic.ack (no nacks here)
      const tag = Number(f.payload.readBigUInt64BE(4));
      expect(tag).toBeGreaterThan(acked);
      acked = tag;
    }
    // RabbitMQ drops the confirms its queues had not sent yet; Warren sends every one it owes.
    if (ctx.isReference) expect(acked).toBeLessThanOrEqual(n);
    else expect(acked).toBe(n);
    // A barrier: a confirm on another channel comes after every earlier fsync, so a late ack for
    // channel 1 would arrive before it.
    await rawOpenChannel(c, 2);
    c.send(methodFrame(2, 85, 10, [bits(false)]));
    await c.expectMethod(85, 11);
    c.send(persistentPublish(2, q, Buffer.from('barrier')));
    for (;;) {
      const f = await c.next(10_000);
      expect(f?.channel, 'a frame on channel 1 after its close-ok').not.toBe(1);
      if (f?.channel === 2 && f.classId === 60 && f.methodId === 80) break;
    }
    c.send(methodFrame(2, 50, 40, [short(0), shortstr(q), bits(false, false, false)]));
    await c.expectMethod(50, 41);
    c.destroy();
  });
});

/** basic.publish to the default exchange with delivery_mode 2. */
function persistentPublish(ch: number, queue: string, body: Buffer): Buffer {
  const props = Buffer.from([0x10, 0x00, 2]); // flags: delivery-mode; delivery-mode = 2
  const header = Buffer.alloc(12 + props.length);
  header.writeUInt16BE(60, 0);
  header.writeBigUInt64BE(BigInt(body.length), 4);
  props.copy(header, 12);
  return Buffer.concat([
    methodFrame(ch, 60, 40, [short(0), shortstr(''), shortstr(queue), bits(false, false)]),
    frame(FRAME_HEADER, ch, header),
    bodyFrame(ch, body),
  ]);
}
