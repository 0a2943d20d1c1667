/**
 * Delivery and settlement (AMQP 0-9-1 §3.1.6, RabbitMQ's basic.nack): basic.get / get-ok /
 * get-empty, ack / nack / reject (single, multiple, requeue), the redelivered flag, basic.recover,
 * unacked messages returning to their queue in their original order when a channel or connection
 * closes, round-robin among consumers and fair dispatch with prefetch, and the 406s for bad tags.
 */
import { describe, expect, it } from 'vitest';
import type { Channel, ChannelModel, GetMessage } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { Inbox, closedWith, fill } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';
import { bits, methodFrame, rawHandshake, rawOpenChannel, rawPublish, short, shortstr, table } from '../helpers/raw-amqp.js';

const ctx = useBroker();

const range = (n: number, prefix = 'm'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

async function setup(bodies: readonly string[]): Promise<{ conn: ChannelModel; ch: Channel; q: string }> {
  const conn = await ctx.clients.connect();
  const ch = await ctx.clients.channel(conn);
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  if (bodies.length > 0) await fill(ctx.clients, q, bodies, conn);
  return { conn, ch, q };
}

/** Read the whole queue with basic.get no-ack: [body, redelivered] pairs in queue order. */
async function readAll(ch: Channel, q: string): Promise<Array<[string, boolean]>> {
  const out: Array<[string, boolean]> = [];
  for (;;) {
    const m = await ch.get(q, { noAck: true });
    if (m === false) return out;
    out.push([m.content.toString(), m.fields.redelivered]);
  }
}

describe('basic.get', () => {
  it('get-ok carries the message, its routing and the remaining count; get-empty when empty', async () => {
    const { ch, q } = await setup(['one', 'two']);
    const m = (await ch.get(q, { noAck: true })) as GetMessage;
    expect(m.content.toString()).toBe('one');
    expect(m.fields).toMatchObject({ deliveryTag: 1, redelivered: false, exchange: '', routingKey: q, messageCount: 1 });
    const m2 = (await ch.get(q, { noAck: true })) as GetMessage;
    expect(m2.fields.messageCount).toBe(0);
    expect(m2.fields.deliveryTag).toBe(2);
    expect(await ch.get(q, { noAck: true })).toBe(false);
  });

  it('get without no-ack needs an ack; unacked gets come back redelivered when the channel closes', async () => {
    const { conn, ch, q } = await setup(['a', 'b']);
    const a = (await ch.get(q)) as GetMessage;
    const b = (await ch.get(q)) as GetMessage;
    ch.ack(a);
    expect(b.content.toString()).toBe('b');
    await ch.close();
    const ch2 = await ctx.clients.channel(conn);
    expect(await readAll(ch2, q)).toEqual([['b', true]]);
  });

  it('@cloudamqp/amqp-client basicGet returns null on get-empty', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    expect(await ch.basicGet(q.name)).toBeNull();
    await ch.confirmSelect();
    await ch.basicPublish('', q.name, 'hello', { contentType: 'text/plain' });
    const m = await ch.basicGet(q.name, { noAck: false });
    expect(m?.bodyToString()).toBe('hello');
    expect(m?.properties.contentType).toBe('text/plain');
    expect(m?.messageCount).toBe(0);
    await m?.ack();
  });
});

describe('ack / nack / reject', () => {
  it('ack multiple settles everything up to the tag', async () => {
    const { conn, ch, q } = await setup(range(5));
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler);
    await inbox.count(5);
    ch.ack(inbox.messages[2]!, true); // m1..m3
    await ch.close();
    const ch2 = await ctx.clients.channel(conn);
    expect(await readAll(ch2, q)).toEqual([['m4', true], ['m5', true]]);
  });

  it('nack multiple with requeue puts them back in their original order, redelivered', async () => {
    const { ch, q } = await setup(range(4));
    const inbox = new Inbox();
    await ch.prefetch(4);
    await ch.consume(q, inbox.handler);
    await inbox.count(4);
    ch.nack(inbox.messages[2]!, true, true); // m1..m3 requeued; m4 still unacked
    await inbox.count(7);
    expect(inbox.messages.slice(4).map((m) => [m.content.toString(), m.fields.redelivered])).toEqual([
      ['m1', true], ['m2', true], ['m3', true],
    ]);
  });

  it('nack without requeue drops; reject without requeue drops', async () => {
    const { conn, ch, q } = await setup(range(3));
    const a = (await ch.get(q)) as GetMessage;
    const b = (await ch.get(q)) as GetMessage;
    ch.nack(a, false, false);
    ch.reject(b, false);
    await ch.close();
    const ch2 = await ctx.clients.channel(conn);
    expect(await readAll(ch2, q)).toEqual([['m3', false]]);
  });

  it('reject with requeue puts the message back at its original position', async () => {
    const { ch, q } = await setup(range(3));
    const a = (await ch.get(q)) as GetMessage;
    ch.reject(a, true);
    expect(await readAll(ch, q)).toEqual([['m1', true], ['m2', false], ['m3', false]]);
  });

  it('requeued messages go back to their original positions whatever order they are rejected in', async () => {
    const { ch, q } = await setup(range(5));
    const m1 = (await ch.get(q)) as GetMessage;
    await ch.get(q);
    const m3 = (await ch.get(q)) as GetMessage;
    ch.reject(m3, true);
    ch.reject(m1, true);
    // m2 still unacked; m4, m5 never delivered
    expect(await readAll(ch, q)).toEqual([['m1', true], ['m3', true], ['m4', false], ['m5', false]]);
  });

  it('ackAll / nackAll (delivery tag 0 with multiple) settle every outstanding delivery', async () => {
    const { conn, ch, q } = await setup(range(4));
    for (let i = 0; i < 2; i++) await ch.get(q);
    ch.ackAll();
    for (let i = 0; i < 2; i++) await ch.get(q);
    ch.nackAll(true);
    await ch.close();
    const ch2 = await ctx.clients.channel(conn);
    expect(await readAll(ch2, q)).toEqual([['m3', true], ['m4', true]]);
  });

  it('acking a no-ack delivery is an unknown delivery tag (406)', async () => {
    const { ch, q } = await setup(['x']);
    const m = (await ch.get(q, { noAck: true })) as GetMessage;
    ch.ack(m);
    const err = await closedWith(ch);
    expect(err?.code).toBe(406);
    expect(err?.message).toContain('unknown delivery tag 1');
  });

  it('nack single (not multiple) only touches that delivery', async () => {
    const { ch, q } = await setup(range(3));
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler);
    await inbox.count(3);
    ch.nack(inbox.messages[1]!, false, true);
    await inbox.count(4);
    expect([inbox.messages[3]!.content.toString(), inbox.messages[3]!.fields.redelivered]).toEqual(['m2', true]);
  });

  it('@cloudamqp/amqp-client nack(requeue, multiple) and reject', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.confirmSelect();
    for (const b of range(3)) await ch.basicPublish('', q.name, b);
    // amqp-client's basicGet defaults to noAck=true
    const m1 = await ch.basicGet(q.name, { noAck: false });
    const m2 = await ch.basicGet(q.name, { noAck: false });
    const m3 = await ch.basicGet(q.name, { noAck: false });
    await m3?.reject(false);
    await m2?.nack(true, true); // requeue m1 and m2
    const again = await ch.basicGet(q.name, { noAck: true });
    expect([again?.bodyToString(), again?.redelivered]).toEqual(['m1', true]);
    expect(m1).not.toBeNull();
  });

  it('acking an unknown delivery tag closes the channel with 406', async () => {
    const { conn, ch } = await setup([]);
    ch.ack({ fields: { deliveryTag: 99 } } as unknown as GetMessage);
    const err = await closedWith(ch);
    expect(err?.code).toBe(406);
    expect(err?.message).toContain('PRECONDITION_FAILED - unknown delivery tag 99');
    // only the channel: the connection still works
    const ch2 = await ctx.clients.channel(conn);
    await ch2.checkExchange('amq.direct');
  });

  it('acking the same tag twice closes the channel with 406', async () => {
    const { ch, q } = await setup(['x']);
    const m = (await ch.get(q)) as GetMessage;
    ch.ack(m);
    ch.ack(m);
    const err = await closedWith(ch);
    expect(err?.code).toBe(406);
    expect(err?.message).toContain('unknown delivery tag 1');
  });
});

describe('redelivery order on close', () => {
  it('unacked messages return in their original order when the channel closes', async () => {
    const { conn, ch, q } = await setup(range(6));
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler);
    await inbox.count(6);
    ch.ack(inbox.messages[1]!); // m2
    ch.ack(inbox.messages[3]!); // m4
    await ch.close();
    const ch2 = await ctx.clients.channel(conn);
    expect(await readAll(ch2, q)).toEqual([['m1', true], ['m3', true], ['m5', true], ['m6', true]]);
  });

  it('unacked messages return in order, ahead of newer ones, when the connection closes', async () => {
    const owner = await ctx.clients.channel();
    const q = ctx.name('conn-close');
    await owner.assertQueue(q);
    try {
      await fill(ctx.clients, q, range(4));
      const consumerConn = await ctx.clients.connect();
      const cch = await ctx.clients.channel(consumerConn);
      const inbox = new Inbox();
      await cch.prefetch(2);
      await cch.consume(q, inbox.handler);
      await inbox.count(2);
      await consumerConn.close();
      await waitFor(async () => (await owner.checkQueue(q)).messageCount === 4);
      expect(await readAll(owner, q)).toEqual([['m1', true], ['m2', true], ['m3', false], ['m4', false]]);
    } finally {
      await owner.deleteQueue(q);
    }
  });

  it('a consumer on another channel receives the requeued messages flagged redelivered', async () => {
    const { conn, ch, q } = await setup(range(3));
    const first = new Inbox();
    await ch.consume(q, first.handler);
    await first.count(3);
    const ch2 = await ctx.clients.channel(conn);
    const second = new Inbox();
    await ch2.consume(q, second.handler, { noAck: true });
    await ch.close();
    await second.count(3);
    expect(second.messages.map((m) => [m.content.toString(), m.fields.redelivered])).toEqual([
      ['m1', true], ['m2', true], ['m3', true],
    ]);
  });
});

describe('basic.recover', () => {
  it('recover(requeue=true) redelivers every unacked message, flagged redelivered', async () => {
    const { ch, q } = await setup(range(3));
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler);
    await inbox.count(3);
    ch.ack(inbox.messages[0]!);
    await ch.recover();
    await inbox.count(5);
    expect(inbox.messages.slice(3).map((m) => [m.content.toString(), m.fields.redelivered])).toEqual([
      ['m2', true], ['m3', true],
    ]);
    expect(inbox.messages[3]!.fields.deliveryTag).toBeGreaterThan(3);
  });

  it('recover requeues messages taken with basic.get: the next get sees them redelivered', async () => {
    const { ch, q } = await setup(['r']);
    await ch.get(q);
    await ch.recover();
    const m = (await ch.get(q, { noAck: true })) as GetMessage;
    expect([m.content.toString(), m.fields.redelivered]).toEqual(['r', true]);
  });

  it('@cloudamqp/amqp-client basicRecover', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.confirmSelect();
    await ch.basicPublish('', q.name, 'r');
    const got: Array<[string, boolean]> = [];
    await ch.basicConsume(q.name, { noAck: false }, (m) => { got.push([m.bodyToString() ?? '', m.redelivered]); });
    await waitFor(() => got.length === 1);
    await ch.basicRecover(true);
    await waitFor(() => got.length === 2);
    expect(got).toEqual([['r', false], ['r', true]]);
  });
});

describe('basic.recover-async', () => {
  it('recover-async(requeue=true) has no reply and requeues the unacked messages (raw client)', async () => {
    const h = await rawHandshake(ctx.port);
    await rawOpenChannel(h.conn, 1);
    h.conn.send(methodFrame(1, 50, 10, [short(0), shortstr(''), bits(false, false, true, true, false), table()]));
    const declareOk = await h.conn.expectMethod(50, 11);
    const q = declareOk.payload.toString('utf8', 5, 5 + declareOk.payload[4]!);
    h.conn.send(rawPublish(1, '', q, Buffer.from('again')));
    // basic.get (no-ack=false) until the message is there; publish and get share the channel, so in order.
    h.conn.send(methodFrame(1, 60, 70, [short(0), shortstr(q), bits(false)]));
    const first = await h.conn.next();
    expect([first?.classId, first?.methodId]).toEqual([60, 71]);
    expect(first!.payload[12]! & 1).toBe(0); // redelivered bit
    await h.conn.next(); // header
    await h.conn.next(); // body
    h.conn.send(methodFrame(1, 60, 100, [bits(true)]));
    h.conn.send(methodFrame(1, 60, 70, [short(0), shortstr(q), bits(true)]));
    const second = await h.conn.next();
    expect([second?.classId, second?.methodId]).toEqual([60, 71]); // no recover-ok in between
    expect(second!.payload[12]! & 1).toBe(1);
    h.conn.destroy();
  });
});

describe('dispatch among consumers', () => {
  it('round-robin: consumers on one queue take turns', async () => {
    const { conn, ch, q } = await setup([]);
    const ch2 = await ctx.clients.channel(conn);
    const a = new Inbox();
    const b = new Inbox();
    await ch.consume(q, a.handler, { noAck: true });
    await ch2.consume(q, b.handler, { noAck: true });
    await fill(ctx.clients, q, range(10), conn);
    await waitFor(() => a.messages.length + b.messages.length === 10);
    expect(a.messages.length).toBe(5);
    expect(b.messages.length).toBe(5);
    const order = [...a.bodies(), ...b.bodies()].sort((x, y) => Number(x.slice(1)) - Number(y.slice(1)));
    expect(order).toEqual(range(10));
    // strictly alternating
    const aIdx = a.bodies().map((s) => Number(s.slice(1)) % 2);
    expect(new Set(aIdx).size).toBe(1);
  });

  it('fair dispatch: with prefetch 1 a busy consumer is skipped', async () => {
    const { conn, ch, q } = await setup([]);
    const ch2 = await ctx.clients.channel(conn);
    await ch.prefetch(1);
    await ch2.prefetch(1);
    const slow = new Inbox(); // never acks
    const fast = new Inbox();
    await ch.consume(q, slow.handler);
    await ch2.consume(q, (m) => {
      fast.handler(m);
      if (m !== null) ch2.ack(m);
    });
    await fill(ctx.clients, q, range(8), conn);
    await waitFor(() => slow.messages.length + fast.messages.length === 8);
    expect([slow.messages.length, fast.messages.length].sort()).toEqual([1, 7]);
  });

  it('a consumer holding messages at its prefetch limit gets more once it acks', async () => {
    const { conn, ch, q } = await setup(range(4));
    const ch2 = await ctx.clients.channel(conn);
    await ch2.prefetch(2);
    const inbox = new Inbox();
    await ch2.consume(q, inbox.handler);
    await inbox.count(2);
    ch2.ack(inbox.messages[1]!, true);
    await inbox.count(4);
    expect(inbox.bodies()).toEqual(range(4));
    expect(ch).toBeDefined();
  });
});
