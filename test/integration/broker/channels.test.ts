/**
 * Channels (AMQP 0-9-1 §2.2.5, §4.2.6): open/close/flow, many channels per connection, a channel
 * error closes only that channel (other channels and the connection carry on), and after the server
 * sends channel.close it drops every frame on that channel except close-ok.
 */
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { Inbox, closedWith, expectCode, isClosed } from '../helpers/clients.js';
import {
  bits, decodeClose, methodFrame, rawHandshake, rawOpenChannel, short, shortstr, table,
} from '../helpers/raw-amqp.js';

const ctx = useBroker();

describe('channel lifecycle', () => {
  it('opens and closes channels; a closed channel id can be reused', async () => {
    const h = await rawHandshake(ctx.port);
    await rawOpenChannel(h.conn, 1);
    await rawOpenChannel(h.conn, 7);
    h.conn.send(methodFrame(1, 20, 40, [short(200), shortstr('bye'), short(0), short(0)]));
    await h.conn.expectMethod(20, 41);
    await rawOpenChannel(h.conn, 1);
    h.conn.destroy();
  });

  it('many channels on one connection, each usable', async () => {
    const conn = await ctx.clients.connect();
    const chans = [];
    for (let i = 0; i < 200; i++) chans.push(await conn.createChannel());
    const q = (await chans[0]!.assertQueue('', { exclusive: true })).queue;
    await Promise.all(chans.map((c, i) => c.checkQueue(q).then(() => c.sendToQueue(q, Buffer.from(String(i))))));
    await Promise.all(chans.slice(1).map((c) => c.close()));
    const inbox = new Inbox();
    await chans[0]!.consume(q, inbox.handler, { noAck: true });
    await inbox.count(200);
    expect(new Set(inbox.bodies()).size).toBe(200);
  });

  it('@cloudamqp/amqp-client opens many channels and closes them', async () => {
    const client = await ctx.clients.cloudamqp();
    const chans = await Promise.all(Array.from({ length: 50 }, () => client.channel()));
    expect(new Set(chans.map((c) => c.id)).size).toBe(50);
    await Promise.all(chans.map((c) => c.close()));
    expect(chans.every((c) => c.closed)).toBe(true);
    const again = await client.channel();
    await again.queueDeclare('', { exclusive: true });
  });

  it('channel.flow active=true is answered with flow-ok (amqp-client basicFlow)', async () => {
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    expect(await ch.basicFlow(true)).toBe(true);
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.basicPublish('', q.name, 'still flowing');
    await ch.basicGet(q.name, { noAck: true });
  });

  it('closing a channel with an active consumer cancels it; the connection carries on', async () => {
    const conn = await ctx.clients.connect();
    const ch = await ctx.clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    await ch.consume(q, () => undefined);
    await ch.close();
    const ch2 = await ctx.clients.channel(conn);
    expect((await ch2.checkQueue(q)).consumerCount).toBe(0);
  });
});

describe('channel errors are channel-scoped', () => {
  it('a 404 on one channel leaves sibling channels and the connection working', async () => {
    const conn = await ctx.clients.connect();
    const good = await ctx.clients.channel(conn);
    const bad = await ctx.clients.channel(conn);
    const q = (await good.assertQueue('', { exclusive: true })).queue;
    const inbox = new Inbox();
    await good.consume(q, inbox.handler, { noAck: true });
    await expectCode(bad.checkQueue(ctx.name('missing')), 404);
    await closedWith(bad);
    expect(isClosed(good)).toBe(false);
    expect(isClosed(conn)).toBe(false);
    good.sendToQueue(q, Buffer.from('after error'));
    await inbox.count(1);
    expect(inbox.bodies()).toEqual(['after error']);
  });

  it('several channels failing in a row never take the connection down', async () => {
    const conn = await ctx.clients.connect();
    for (let i = 0; i < 20; i++) {
      const ch = await ctx.clients.channel(conn);
      await expectCode(ch.checkExchange(ctx.name('nx')), 404);
    }
    const ch = await ctx.clients.channel(conn);
    await ch.checkExchange('amq.direct');
  });

  it('after channel.close from the server, other frames on that channel are ignored until close-ok', async () => {
    const h = await rawHandshake(ctx.port);
    await rawOpenChannel(h.conn, 1);
    await rawOpenChannel(h.conn, 2);
    const missing = ctx.name('missing');
    h.conn.send(methodFrame(1, 50, 10, [short(0), shortstr(missing), bits(true, false, false, false, false), table()]));
    const close = await h.conn.expectMethod(20, 40);
    expect(close.channel).toBe(1);
    expect(decodeClose(close)).toEqual({ replyCode: 404, replyText: `NOT_FOUND - no queue '${missing}' in vhost '/'`, classId: 50, methodId: 10 });
    // Not acknowledged yet: this declare must be dropped silently, not answered and not an error.
    h.conn.send(methodFrame(1, 50, 10, [short(0), shortstr(''), bits(false, false, true, true, false), table()]));
    // Channel 2 is unaffected meanwhile.
    h.conn.send(methodFrame(2, 50, 10, [short(0), shortstr(''), bits(false, false, true, true, false), table()]));
    const ok2 = await h.conn.next();
    expect([ok2?.channel, ok2?.classId, ok2?.methodId]).toEqual([2, 50, 11]);
    h.conn.send(methodFrame(1, 20, 41));
    await rawOpenChannel(h.conn, 1);
    h.conn.send(methodFrame(1, 50, 10, [short(0), shortstr(''), bits(false, false, true, true, false), table()]));
    const ok1 = await h.conn.next();
    expect([ok1?.channel, ok1?.classId, ok1?.methodId]).toEqual([1, 50, 11]);
    h.conn.destroy();
  });

  it('@cloudamqp/amqp-client: a failed channel rejects, others on the connection keep going', async () => {
    const client = await ctx.clients.cloudamqp();
    const bad = await client.channel();
    const good = await client.channel();
    await expect(bad.queueDeclare(ctx.name('missing'), { passive: true })).rejects.toThrow(/NOT_FOUND.*\(404\)/);
    expect(bad.closed).toBe(true);
    const q = await good.queueDeclare('', { exclusive: true });
    expect(q.name).toMatch(/^amq\.gen-/);
    expect(client.closed).toBe(false);
  });
});
