/**
 * Differential scenarios about publishing: publisher confirms (order, expansion of multiple,
 * returns before acks), transactions (commit/rollback of publishes and acks, 406 rules and the
 * exclusivity of tx and confirm modes), immediate=true, message properties round trip, frame
 * splitting of large bodies and empty bodies.
 */
import { createHash } from 'node:crypto';
import type { Channel } from 'amqplib';
import { frameMax, publishRaw, rpc } from '../amqp-internals.js';
import { scenario, type Scenario } from '../scenario.js';
import { bodies, counts, declareExchange, declareQueue, drain, open, openConfirm, publishConfirmed } from './helpers.js';

const txSelect = (ch: Channel) => rpc(ch, 'TxSelect', {}, 'TxSelectOk');
const txCommit = (ch: Channel) => rpc(ch, 'TxCommit', {}, 'TxCommitOk');
const txRollback = (ch: Channel) => rpc(ch, 'TxRollback', {}, 'TxRollbackOk');

export const publishScenarios: Scenario[] = [
  scenario('confirm-mandatory-unroutable', 'mandatory unroutable: basic.return 312 NO_ROUTE arrives before the ack; routable ones are acked in order', async (ctx) => {
    const { ch } = await openConfirm(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'direct');
    const q = await declareQueue(ctx, ch, 'q');
    await ch.bindQueue(q, x, 'yes');
    ch.publish(x, 'yes', Buffer.from('routed 1'), { mandatory: true });
    ch.publish(x, 'no', Buffer.from('unroutable mandatory'), { mandatory: true });
    ch.publish(x, 'no', Buffer.from('unroutable not mandatory'));
    ch.publish(x, 'yes', Buffer.from('routed 2'), { mandatory: true });
    await ctx.waitConfirms(ch, 4);
    await drain(ctx, ch, q);
  }),

  scenario('confirm-many', 'confirms for many publishes are all acks, each sequence number once, in order', async (ctx) => {
    const { ch } = await openConfirm(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    for (const b of bodies('m', 50)) ch.sendToQueue(q, Buffer.from(b));
    await ctx.waitConfirms(ch, 50);
    await counts(ctx, ch, q);
  }),

  scenario('confirm-select-twice-and-get', 'confirm.select twice is ok; basic.get and consumers are unaffected by confirm mode', async (ctx) => {
    const { ch } = await openConfirm(ctx);
    await ctx.attempt('confirm.select again', () => rpc(ch, 'ConfirmSelect', { nowait: false }, 'ConfirmSelectOk'), () => 'ok');
    const q = await declareQueue(ctx, ch, 'q');
    ch.sendToQueue(q, Buffer.from('x'));
    await ctx.waitConfirms(ch, 1);
    await ctx.get(ch, q);
  }),

  scenario('confirm-persistent-durable', 'persistent messages to a durable queue are confirmed (after the write) like transient ones', async (ctx) => {
    // A persistent message is confirmed after its fsync, so it may be acked after a later transient one.
    const { ch } = await openConfirm(ctx, 'summary');
    const q = ctx.name('durable-q');
    await ch.assertQueue(q, { durable: true });
    ch.sendToQueue(q, Buffer.from('persistent'), { persistent: true });
    ch.sendToQueue(q, Buffer.from('transient'), { persistent: false });
    await ctx.waitConfirms(ch, 2);
    const m = await ctx.get(ch, q, { properties: true });
    if (m !== undefined) ch.ack(m);
    await ctx.get(ch, q, { properties: true });
  }),

  scenario('tx-commit-rollback-publish', 'tx publishes are invisible until commit; rollback discards them', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    const tx = await ctx.channel(conn);
    await ctx.attempt('tx.select', () => txSelect(tx), (ok) => ok);
    tx.sendToQueue(q, Buffer.from('t1'));
    tx.sendToQueue(q, Buffer.from('t2'));
    await counts(ctx, ch, q, 'counts before commit');
    await ctx.attempt('tx.commit', () => txCommit(tx), (ok) => ok);
    await counts(ctx, ch, q, 'counts after commit');
    tx.sendToQueue(q, Buffer.from('t3'));
    await ctx.attempt('tx.rollback', () => txRollback(tx), (ok) => ok);
    await ctx.attempt('tx.commit empty', () => txCommit(tx), (ok) => ok);
    tx.sendToQueue(q, Buffer.from('t4'));
    await ctx.attempt('tx.commit', () => txCommit(tx), (ok) => ok);
    await drain(ctx, ch, q);
  }),

  scenario('tx-acks', 'acks inside a transaction take effect on commit only; rollback keeps them unacked', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 3));
    const tx = await ctx.channel(conn);
    await txSelect(tx);
    const m1 = await ctx.get(tx, q);
    const m2 = await ctx.get(tx, q);
    if (m1 === undefined || m2 === undefined) return;
    tx.ack(m1);
    await ctx.attempt('tx.rollback', () => txRollback(tx), () => 'ok');
    tx.ack(m2);
    await ctx.attempt('tx.commit', () => txCommit(tx), () => 'ok');
    await tx.close();
    await counts(ctx, ch, q, 'counts after tx channel closed');
    await drain(ctx, ch, q);
  }),

  scenario('tx-mandatory-return', 'a mandatory unroutable publish in a transaction is returned at commit', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'direct');
    const tx = await ctx.channel(conn);
    await txSelect(tx);
    tx.publish(x, 'nowhere', Buffer.from('returned at commit'), { mandatory: true });
    await ctx.attempt('tx.commit', () => txCommit(tx), () => 'ok');
    tx.publish(x, 'nowhere', Buffer.from('rolled back'), { mandatory: true });
    await ctx.attempt('tx.rollback', () => txRollback(tx), () => 'ok');
  }),

  scenario('tx-errors', 'tx.commit/rollback without select, tx after confirm and confirm after tx are 406', async (ctx) => {
    const { conn, ch } = await open(ctx);
    await ctx.attempt('tx.commit without select', () => txCommit(ch), () => 'ok');
    let c = await ctx.channel(conn);
    await ctx.attempt('tx.rollback without select', () => txRollback(c), () => 'ok');
    const cc = await ctx.confirmChannel(conn);
    await ctx.attempt('tx.select on confirm channel', () => txSelect(cc), () => 'ok');
    c = await ctx.channel(conn);
    await txSelect(c);
    await ctx.attempt('tx.select twice', () => txSelect(c), () => 'ok');
    await ctx.attempt('confirm.select on tx channel', () => rpc(c, 'ConfirmSelect', { nowait: false }, 'ConfirmSelectOk'), () => 'ok');
  }),

  scenario('publish-immediate', 'basic.publish with immediate=true is refused (RabbitMQ: 540 NOT_IMPLEMENTED)', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    publishRaw(conn, ch, { exchange: '', routingKey: q, mandatory: false, immediate: true }, Buffer.from('now'));
    await ctx.waitConnectionClosed(conn);
  }),

  scenario('publish-properties-round-trip', 'all 14 basic properties and headers of every field type survive the broker unchanged', async (ctx) => {
    const { ch } = await openConfirm(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    const headers = {
      str: 'text',
      empty: '',
      int: 42,
      negative: -7,
      big: 2 ** 40,
      float: 1.5,
      bool: true,
      no: false,
      nil: null,
      list: [1, 'two', [3], { four: 4 }],
      nested: { a: { b: { c: 'deep' } } },
      bytes: Buffer.from([0, 1, 2, 255]),
      decimal: { '!': 'decimal', value: { places: 2, digits: 12345 } },
      stamp: { '!': 'timestamp', value: 1_700_000_000 },
      signed8: { '!': 'byte', value: -5 },
      unsigned8: { '!': 'unsignedbyte', value: 200 },
      int16: { '!': 'int16', value: -300 },
      uint16: { '!': 'uint16', value: 60000 },
      int32: { '!': 'int32', value: -70000 },
      uint32: { '!': 'uint32', value: 4_000_000_000 },
      int64: { '!': 'int64', value: 9_007_199_254_740_991 },
      f32: { '!': 'float', value: 0.25 },
      f64: { '!': 'double', value: 0.1 },
      unicode: 'ünïcødé ✓',
    };
    ch.sendToQueue(q, Buffer.from('all properties'), {
      contentType: 'application/json',
      contentEncoding: 'gzip',
      headers,
      deliveryMode: 2,
      priority: 7,
      correlationId: 'corr-1',
      replyTo: 'reply.queue',
      expiration: '600000',
      messageId: 'msg-1',
      timestamp: 1_700_000_000,
      type: 'kind',
      userId: 'guest',
      appId: 'differential',
    });
    ch.sendToQueue(q, Buffer.from('no properties'));
    await ctx.waitConfirms(ch, 2);
    await ctx.get(ch, q, { properties: true });
    const c = await ctx.consume(ch, q, { label: 'c', withProperties: true, noAck: true });
    await ctx.waitDeliveries(c, 1);
  }),

  scenario('publish-user-id-mismatch', 'a user-id property that does not match the connection user is refused with 406', async (ctx) => {
    const { conn } = await open(ctx);
    const ch = await ctx.confirmChannel(conn);
    const q = await declareQueue(ctx, ch, 'q');
    ch.sendToQueue(q, Buffer.from('forged'), { userId: 'someone-else' });
    await ctx.waitChannelClosed(ch);
  }),

  scenario('publish-large-and-empty', 'bodies spanning many frames and zero-length bodies arrive intact', async (ctx) => {
    const { conn, ch } = await openConfirm(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    const max = frameMax(conn);
    ctx.record('frame_max', max);
    const sizes = [0, 1, max - 8, max - 9, max - 7, max, 3 * max + 17, 1_000_000];
    for (const n of sizes) {
      const body = Buffer.alloc(n);
      for (let i = 0; i < n; i++) body[i] = (i * 31 + n) & 0xff;
      ch.sendToQueue(q, body);
    }
    await ctx.waitConfirms(ch, sizes.length);
    await ctx.get(ch, q);
    const c = await ctx.consume(ch, q, { label: 'c', noAck: true });
    await ctx.waitDeliveries(c, sizes.length - 1);
  }),

  scenario('publish-small-frame-max', 'a connection that negotiated a small frame_max (4096) still gets large bodies split correctly', async (ctx) => {
    const conn = await ctx.connect({ frameMax: 4096 });
    ctx.record('frame_max', frameMax(conn));
    const ch = await ctx.confirmChannel(conn);
    const q = await declareQueue(ctx, ch, 'q');
    const body = Buffer.alloc(20_000, 7);
    ch.sendToQueue(q, body);
    ch.sendToQueue(q, Buffer.alloc(4088, 1));
    await ctx.waitConfirms(ch, 2);
    await ctx.get(ch, q);
    await ctx.get(ch, q);
  }),

  scenario('publish-expiration-invalid', 'an invalid expiration property value is refused with 406', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    ch.sendToQueue(q, Buffer.from('bad ttl'), { expiration: 'soon' });
    await ctx.waitChannelClosed(ch);
    const ch2 = await ctx.channel(conn);
    await counts(ctx, ch2, q);
  }),

  scenario('publish-mandatory-plain-channel', 'without confirms, mandatory unroutable messages come back as basic.return in publish order', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'topic');
    const q = await declareQueue(ctx, ch, 'q');
    await ch.bindQueue(q, x, 'a.*');
    ch.publish(x, 'b.1', Buffer.from('r1'), { mandatory: true, messageId: 'id-1', headers: { h: 1 } });
    ch.publish(x, 'a.1', Buffer.from('routed'), { mandatory: true });
    ch.publish(x, 'b.2', Buffer.from('r2'), { mandatory: true });
    ch.publish(x, 'b.3', Buffer.from('not mandatory'));
    ch.publish('', ctx.name('nosuch'), Buffer.from('r3'), { mandatory: true });
    // RabbitMQ answers a passive queue.declare ahead of queued publishes (stat is prioritised), so
    // counting right away is racy: first make sure the channel handled the publishes (an RPC on it),
    // then a confirmed marker behind them on the same queue marks the point where all arrived.
    await ch.checkExchange(x);
    await publishConfirmed(ctx, conn, x, 'a.2', ['marker']);
    await drain(ctx, ch, q);
  }),

  scenario('publish-order-stress', '600 messages of mixed sizes (some multi-frame) through a fanout to 3 queues arrive complete and in order', async (ctx) => {
    const { conn, ch } = await openConfirm(ctx, 'summary');
    const x = await declareExchange(ctx, ch, 'x', 'fanout');
    const queues = [await declareQueue(ctx, ch, 'q1'), await declareQueue(ctx, ch, 'q2'), await declareQueue(ctx, ch, 'q3')];
    for (const q of queues) await ch.bindQueue(q, x, '');
    const sizes = [0, 10, 1000];
    const n = 600;
    const consumers = [];
    for (const [i, q] of queues.entries()) {
      const cch = await ctx.channel(conn);
      await cch.prefetch(i === 0 ? 3 : 50);
      // Deliveries are summarised below instead of recorded one by one (3000 lines).
      const c = await ctx.consume(cch, q, { label: `q${i + 1}`, stream: false, onMessage: (m) => cch.ack(m) });
      consumers.push(c);
    }
    for (let i = 0; i < n; i++) {
      const size = i % 50 === 7 ? 140_000 : (sizes[i % sizes.length] ?? 0);
      const body = Buffer.alloc(Math.max(size, 8), i & 0xff);
      body.writeUInt32BE(i, 0);
      ch.publish(x, '', body.subarray(0, Math.max(size, 4)));
    }
    await ctx.waitConfirms(ch, n);
    for (const c of consumers) {
      await ctx.waitDeliveries(c, n, 20_000);
      const seq = c.messages.map((m) => m.content.readUInt32BE(0));
      const digest = createHash('sha256');
      for (const m of c.messages) digest.update(m.content);
      ctx.record('consumer summary', {
        consumer: c.label,
        count: c.messages.length,
        inOrder: seq.every((v, i) => v === i),
        redelivered: c.messages.filter((m) => m.fields.redelivered).length,
        bytes: c.messages.reduce((a, m) => a + m.content.length, 0),
        sha256: digest.digest('hex').slice(0, 16),
      });
    }
  }, { timeoutMs: 25_000 }),
];
