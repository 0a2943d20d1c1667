/**
 * Publishing (AMQP 0-9-1 §3.1.6): mandatory -> basic.return 312 NO_ROUTE, publishing to missing
 * (404) exchanges, message properties and every field-table type stock clients send carried
 * byte-exactly from publisher to consumer, empty and multi-frame bodies, one message fanned out to
 * many queues.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { Inbox, closedWith, fill } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';
import {
  FRAME_BODY, FRAME_HEADER, bits, bodyFrame, decodeClose, frame, methodFrame, rawHandshake, rawOpenChannel, short, shortstr,
} from '../helpers/raw-amqp.js';

const ctx = useBroker();

describe('mandatory and basic.return', () => {
  it('an unroutable mandatory message comes back with 312 NO_ROUTE', async () => {
    const ch = await ctx.clients.channel();
    const returned: Message[] = [];
    ch.on('return', (m: Message) => returned.push(m));
    const key = ctx.name('nobody');
    ch.publish('amq.direct', key, Buffer.from('bounce'), { mandatory: true, messageId: 'id-1', headers: { h: 'v' } });
    await waitFor(() => returned.length === 1);
    const r = returned[0]!;
    expect(r.content.toString()).toBe('bounce');
    expect(r.fields).toMatchObject({ replyCode: 312, replyText: 'NO_ROUTE', exchange: 'amq.direct', routingKey: key });
    expect(r.properties.messageId).toBe('id-1');
    expect(r.properties.headers).toEqual({ h: 'v' });
  });

  it('a routable mandatory message is not returned; a non-mandatory unroutable one is dropped silently', async () => {
    const ch = await ctx.clients.confirmChannel();
    const returned: Message[] = [];
    ch.on('return', (m: Message) => returned.push(m));
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    ch.sendToQueue(q, Buffer.from('ok'), { mandatory: true });
    ch.publish('amq.direct', ctx.name('nobody'), Buffer.from('dropped'));
    await ch.waitForConfirms();
    expect(returned).toEqual([]);
    expect((await ch.checkQueue(q)).messageCount).toBe(1);
  });

  it('mandatory to the default exchange with no such queue is returned', async () => {
    const ch = await ctx.clients.channel();
    const returned: Message[] = [];
    ch.on('return', (m: Message) => returned.push(m));
    ch.sendToQueue(ctx.name('no-queue'), Buffer.from('x'), { mandatory: true });
    await waitFor(() => returned.length === 1);
    expect((returned[0]!.fields as unknown as { replyCode: number }).replyCode).toBe(312);
  });

  it('@cloudamqp/amqp-client sees returned messages', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    const returned: Array<[string | null, number | undefined, string | undefined]> = [];
    ch.onReturn = (m) => { returned.push([m.bodyToString(), m.replyCode, m.replyText]); };
    await ch.basicPublish('amq.fanout', '', 'to nobody?', {}, true);
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.basicPublish('amq.topic', ctx.name('k'), 'back', {}, true);
    await waitFor(() => returned.length >= 2);
    expect(returned).toEqual([['to nobody?', 312, 'NO_ROUTE'], ['back', 312, 'NO_ROUTE']]);
    expect(q.name).toMatch(/^amq\.gen-/);
  });
});

describe('publish errors', () => {
  it('publishing to a missing exchange closes the channel with 404 (class 60 method 40)', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const ex = ctx.name('nx');
    ch.publish(ex, 'k', Buffer.from('x'));
    const err = await closedWith(ch);
    expect(err?.code).toBe(404);
    expect(err?.message).toContain(`NOT_FOUND - no exchange '${ex}' in vhost '/'`);
    expect([err?.classId, err?.methodId]).toEqual([60, 40]);
    const ch2 = await ctx.clients.channel(conn);
    await ch2.checkExchange('amq.direct');
  });
});

describe('message content', () => {
  it('amqplib properties arrive intact at an @cloudamqp/amqp-client consumer', async () => {
    const client = await ctx.clients.cloudamqp();
    const cch = await client.channel();
    const q = await cch.queueDeclare('', { exclusive: true });
    const got: Array<Record<string, unknown>> = [];
    await cch.basicConsume(q.name, { noAck: true }, (m) => {
      got.push({ body: m.bodyToString(), ...m.properties });
    });
    const ch = await ctx.clients.confirmChannel();
    ch.sendToQueue(q.name, Buffer.from('props'), {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: { str: 'v', int: 7, neg: -70000, big: 2 ** 40, float: 1.5, bool: true, nested: { a: 1 }, arr: [1, 'two'] },
      deliveryMode: 2,
      priority: 5,
      correlationId: 'corr',
      replyTo: 'reply-q',
      expiration: '60000',
      messageId: 'mid',
      timestamp: 1_700_000_000,
      type: 'kind',
      userId: 'guest',
      appId: 'app',
    });
    await ch.waitForConfirms();
    await waitFor(() => got.length === 1);
    expect(got[0]).toMatchObject({
      body: 'props',
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
      priority: 5,
      correlationId: 'corr',
      replyTo: 'reply-q',
      expiration: '60000',
      messageId: 'mid',
      type: 'kind',
      userId: 'guest',
      appId: 'app',
    });
    expect((got[0]!['timestamp'] as Date).getTime()).toBe(1_700_000_000 * 1000);
    expect(got[0]!['headers']).toEqual({ str: 'v', int: 7, neg: -70000, big: 2 ** 40, float: 1.5, bool: true, nested: { a: 1 }, arr: [1, 'two'] });
  });

  it('a user-id that differs from the login is refused with 406', async () => {
    const ch = await ctx.clients.channel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    ch.sendToQueue(q, Buffer.from('x'), { userId: 'not-guest' });
    const err = await closedWith(ch);
    expect(err?.code).toBe(406);
    expect(err?.message).toContain("PRECONDITION_FAILED - user_id property set to 'not-guest' but authenticated user was 'guest'");
  });

  it('every field-table type (t b B s u I i l f d D S x A T F V) and all properties pass byte-exactly', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('typed');
    await ch.assertQueue(q); // not exclusive: the raw connection reads it
    const h = await rawHandshake(ctx.port);
    await rawOpenChannel(h.conn, 1);
    // The content header's property bytes, hand-built: every property, and a headers table with every type.
    const tv = (k: string, type: string, v: Buffer): Buffer => Buffer.concat([Buffer.from([k.length]), Buffer.from(k), Buffer.from(type), v]);
    const u8 = (...b: number[]): Buffer => Buffer.from(b);
    const be = (n: number, size: number, signed = true): Buffer => {
      const b = Buffer.alloc(size);
      if (size === 8) b.writeBigInt64BE(BigInt(n));
      else if (signed) b.writeIntBE(n, 0, size);
      else b.writeUIntBE(n, 0, size);
      return b;
    };
    const lstr = (s: string | Buffer): Buffer => Buffer.concat([be(Buffer.byteLength(s), 4, false), Buffer.from(s)]);
    const sstr = (s: string): Buffer => Buffer.concat([u8(Buffer.byteLength(s)), Buffer.from(s)]);
    const f32 = Buffer.alloc(4); f32.writeFloatBE(1.25);
    const f64 = Buffer.alloc(8); f64.writeDoubleBE(-2.5e10);
    const innerTable = tv('k', 'S', lstr('v'));
    const arr = Buffer.concat([Buffer.from('I'), be(-5, 4), Buffer.from('S'), lstr('x'), Buffer.from('t'), u8(0)]);
    const entries = Buffer.concat([
      tv('bool', 't', u8(1)), tv('i8', 'b', be(-3, 1)), tv('u8', 'B', u8(250)), tv('i16', 's', be(-300, 2)),
      tv('u16', 'u', be(65000, 2, false)), tv('i32', 'I', be(-70000, 4)), tv('u32', 'i', be(4_000_000_000, 4, false)),
      tv('i64', 'l', be(-(2 ** 40), 8)), tv('f32', 'f', f32), tv('f64', 'd', f64), tv('dec', 'D', Buffer.concat([u8(2), be(12345, 4)])),
      tv('str', 'S', lstr('héllo')), tv('bin', 'x', lstr(Buffer.from([0, 255, 1]))),
      tv('arr', 'A', Buffer.concat([be(arr.length, 4, false), arr])), tv('ts', 'T', be(1_700_000_000, 8)),
      tv('tbl', 'F', Buffer.concat([be(innerTable.length, 4, false), innerTable])), tv('void', 'V', Buffer.alloc(0)),
      tv('bool', 't', u8(0)), // a duplicate key, kept as sent
    ]);
    const props = Buffer.concat([
      be(0xfffc, 2, false), // all 14 property flags
      sstr('text/plain'), sstr('gzip'), be(entries.length, 4, false), entries,
      u8(2), u8(9), sstr('corr'), sstr('reply'), sstr('1000000'), sstr('mid'), be(1_600_000_000, 8), sstr('type'),
      sstr('guest'), sstr('app'), sstr(''),
    ]);
    const body = Buffer.from('typed');
    const headerPayload = Buffer.concat([be(60, 2, false), be(0, 2, false), be(body.length, 8), props]);
    h.conn.send(Buffer.concat([
      methodFrame(1, 60, 40, [short(0), shortstr(''), shortstr(q), bits(false, false)]),
      frame(FRAME_HEADER, 1, headerPayload),
      bodyFrame(1, body),
    ]));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
    h.conn.send(methodFrame(1, 60, 70, [short(0), shortstr(q), bits(true)]));
    const getOk = await h.conn.next();
    expect([getOk?.classId, getOk?.methodId, getOk?.classId === 20 ? decodeClose(getOk) : 'get-ok']).toEqual([60, 71, 'get-ok']);
    const header = await h.conn.next();
    expect(header?.type).toBe(FRAME_HEADER);
    expect(header!.payload.subarray(12).equals(props)).toBe(true);
    const b = await h.conn.next();
    expect(b?.type).toBe(FRAME_BODY);
    expect(b!.payload.toString()).toBe('typed');
    h.conn.destroy();
    await ch.deleteQueue(q);
  });

  it('empty bodies and bodies spanning many frames', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const big = Buffer.alloc(1_000_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 256;
    const pub = await ctx.clients.confirmChannel(conn);
    pub.sendToQueue(q, Buffer.alloc(0));
    pub.sendToQueue(q, big);
    await pub.waitForConfirms();
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler, { noAck: true });
    await inbox.count(2);
    expect(inbox.messages[0]!.content.length).toBe(0);
    expect(inbox.messages[1]!.content.equals(big)).toBe(true);
  });

  it('one publish to a fanout reaches many queues with identical content', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const ex = ctx.name('fan');
    await ch.assertExchange(ex, 'fanout', { autoDelete: true });
    const qs: string[] = [];
    for (let i = 0; i < 20; i++) {
      const q = (await ch.assertQueue('', { exclusive: true })).queue;
      await ch.bindQueue(q, ex, '');
      qs.push(q);
    }
    const pub = await ctx.clients.confirmChannel(conn);
    pub.publish(ex, '', Buffer.from('everyone'), { headers: { n: 1 } });
    await pub.waitForConfirms();
    for (const q of qs) {
      const m = await ch.get(q, { noAck: true });
      expect(m && [m.content.toString(), m.properties.headers]).toEqual(['everyone', { n: 1 }]);
    }
  });

  it('messages from one publisher channel keep their order through the queue', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const bodies = Array.from({ length: 500 }, (_, i) => `n${i}`);
    await fill(ctx.clients, q, bodies, conn);
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler, { noAck: true });
    await inbox.count(500);
    expect(inbox.bodies()).toEqual(bodies);
  });
});
