/**
 * Differential scenarios about RabbitMQ's queue and publish extensions that clients rely on:
 * sender-selected distribution (CC/BCC), dead-lettering (reject, nack, expiry, max-length),
 * per-queue and per-message TTL of zero, max-length overflow modes (drop-head, reject-publish
 * with nacks), max-length-bytes, priority queues and single active consumer.
 * Timing-free: only TTL 0 is used (expires at once), and dead-lettered copies are awaited.
 */
import { scenario, type Scenario } from '../scenario.js';
import { bodies, declareExchange, declareQueue, open, openConfirm, publishConfirmed } from './helpers.js';

export const extensionScenarios: Scenario[] = [
  scenario('ext-cc-bcc', 'CC and BCC headers add routing keys; BCC is stripped from the delivered headers, CC kept', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const x = await declareExchange(ctx, ch, 'x', 'direct');
    const queues: string[] = [];
    for (const k of ['k1', 'k2', 'k3', 'k4']) {
      const q = await declareQueue(ctx, ch, `q-${k}`);
      await ch.bindQueue(q, x, k);
      queues.push(q);
    }
    await publishConfirmed(ctx, conn, x, 'k1', ['cc and bcc'], { CC: ['k2', 'nowhere'], BCC: 'k3', headers: { keep: 'me' } });
    for (const [i, q] of queues.entries()) await ctx.get(ch, q, { properties: true }, `get q-k${i + 1}`);
  }),

  scenario('ext-dead-letter-reject', 'reject/nack requeue=false dead-letter to the DLX with x-death (routing key override too)', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const dlx = await declareExchange(ctx, ch, 'dlx', 'direct');
    const dlq = await declareQueue(ctx, ch, 'dlq');
    const dlq2 = await declareQueue(ctx, ch, 'dlq-override');
    const q = await declareQueue(ctx, ch, 'q', { deadLetterExchange: dlx });
    const q2 = await declareQueue(ctx, ch, 'q2', { deadLetterExchange: dlx, deadLetterRoutingKey: 'override' });
    await ch.bindQueue(dlq, dlx, q);
    await ch.bindQueue(dlq2, dlx, 'override');
    await publishConfirmed(ctx, conn, '', q, ['rejected', 'nacked', 'requeued'], { headers: { h: 1 } });
    await publishConfirmed(ctx, conn, '', q2, ['to override key']);
    const got = [await ctx.get(ch, q), await ctx.get(ch, q), await ctx.get(ch, q), await ctx.get(ch, q2)];
    const [m1, m2, m3, m4] = got;
    if (m1 === undefined || m2 === undefined || m3 === undefined || m4 === undefined) return;
    ch.reject(m1, false);
    ch.nack(m2, false, false);
    ch.reject(m3, true);
    ch.reject(m4, false);
    const reader = await ctx.channel(conn);
    const dead = await ctx.consume(reader, dlq, { label: 'dlq', noAck: true, withProperties: true });
    const dead2 = await ctx.consume(reader, dlq2, { label: 'dlq-override', noAck: true, withProperties: true });
    await ctx.waitDeliveries(dead, 2);
    await ctx.waitDeliveries(dead2, 1);
    await ctx.get(ch, q, {}, 'requeued one still in q');
  }),

  scenario('ext-ttl-zero', 'x-message-ttl 0 and per-message expiration 0 expire at once (dead-lettered as expired)', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const dlx = await declareExchange(ctx, ch, 'dlx', 'fanout');
    const dlq = await declareQueue(ctx, ch, 'dlq');
    await ch.bindQueue(dlq, dlx, '');
    const q = await declareQueue(ctx, ch, 'q', { messageTtl: 0, deadLetterExchange: dlx });
    const plain = await declareQueue(ctx, ch, 'plain', { deadLetterExchange: dlx });
    await publishConfirmed(ctx, conn, '', q, ['queue ttl 0']);
    await publishConfirmed(ctx, conn, '', plain, ['message ttl 0'], { expiration: '0' });
    await publishConfirmed(ctx, conn, '', plain, ['no ttl']);
    const reader = await ctx.channel(conn);
    const dead = await ctx.consume(reader, dlq, { label: 'dlq', noAck: true, withProperties: true });
    await ctx.waitDeliveries(dead, 2);
    await ctx.get(ch, q, {}, 'get from ttl-0 queue');
    await ctx.get(ch, plain, {}, 'get from plain queue');
  }),

  scenario('ext-max-length-drop-head', 'x-max-length with the default overflow drops (and dead-letters) the oldest messages', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const dlx = await declareExchange(ctx, ch, 'dlx', 'fanout');
    const dlq = await declareQueue(ctx, ch, 'dlq');
    await ch.bindQueue(dlq, dlx, '');
    const q = await declareQueue(ctx, ch, 'q', { maxLength: 2, deadLetterExchange: dlx });
    await publishConfirmed(ctx, conn, '', q, bodies('m', 5));
    const reader = await ctx.channel(conn);
    const dead = await ctx.consume(reader, dlq, { label: 'dlq', noAck: true, withProperties: true });
    await ctx.waitDeliveries(dead, 3);
    await ctx.attempt('counts', () => ch.checkQueue(q), (v) => v);
    await ctx.get(ch, q);
    await ctx.get(ch, q);
  }),

  scenario('ext-max-length-reject-publish', "x-overflow reject-publish nacks publishes beyond x-max-length; 'reject-publish-dlx' also dead-letters", async (ctx) => {
    const { conn, ch } = await openConfirm(ctx);
    const dlx = await declareExchange(ctx, ch, 'dlx', 'fanout');
    const dlq = await declareQueue(ctx, ch, 'dlq');
    await ch.bindQueue(dlq, dlx, '');
    const q = await declareQueue(ctx, ch, 'q', { maxLength: 2, overflow: 'reject-publish', deadLetterExchange: dlx });
    for (const b of bodies('m', 4)) ch.sendToQueue(q, Buffer.from(b));
    await ctx.waitConfirms(ch, 4);
    const c2 = await ctx.confirmChannel(conn);
    const q2 = await declareQueue(ctx, c2, 'q2', { maxLength: 1, overflow: 'reject-publish-dlx', deadLetterExchange: dlx });
    for (const b of bodies('n', 3)) c2.sendToQueue(q2, Buffer.from(b));
    await ctx.waitConfirms(c2, 3);
    const reader = await ctx.channel(conn);
    const dead = await ctx.consume(reader, dlq, { label: 'dlq', noAck: true });
    await ctx.waitDeliveries(dead, 2);
    await ctx.attempt('q counts', () => reader.checkQueue(q), (v) => v);
    await ctx.attempt('q2 counts', () => reader.checkQueue(q2), (v) => v);
  }),

  scenario('ext-max-length-bytes', 'x-max-length-bytes counts body bytes and drops from the head', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q', { arguments: { 'x-max-length-bytes': 10 } });
    await publishConfirmed(ctx, conn, '', q, ['aaaa', 'bbbb', 'cccc', '', 'dddddd']);
    await ctx.attempt('counts', () => ch.checkQueue(q), (v) => v);
    for (let i = 0; i < 4; i++) await ctx.get(ch, q);
    const oversized = await declareQueue(ctx, ch, 'oversized', { arguments: { 'x-max-length-bytes': 10 } });
    await publishConfirmed(ctx, conn, '', oversized, ['dddddddddd', 'eeeeeeeeeee']);
    await ctx.attempt('counts after a body larger than the limit', () => ch.checkQueue(oversized), (v) => v);
  }),

  scenario('ext-priority-queue', 'x-max-priority: higher priority first, FIFO within a priority, priorities above the max capped', async (ctx) => {
    const { conn, ch } = await openConfirm(ctx);
    const q = await declareQueue(ctx, ch, 'q', { maxPriority: 5 });
    const sends: Array<[string, number | undefined]> = [['p1', 1], ['p5a', 5], ['none', undefined], ['p3', 3], ['p9', 9], ['p5b', 5], ['p0', 0], ['p200', 200]];
    for (const [body, priority] of sends) ch.sendToQueue(q, Buffer.from(body), priority === undefined ? {} : { priority });
    await ctx.waitConfirms(ch, sends.length);
    const reader = await ctx.channel(conn);
    for (let i = 0; i < sends.length + 1; i++) await ctx.get(reader, q, { noAck: true });
    await ctx.attempt('redeclare with another x-max-priority', () => reader.assertQueue(q, { durable: false, maxPriority: 6 }), (v) => v);
  }),

  scenario('ext-single-active-consumer', 'x-single-active-consumer: only the first consumer receives until it cancels', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q', { arguments: { 'x-single-active-consumer': true } });
    const a = await ctx.consume(ch, q, { label: 'a', noAck: true, consumerTag: 'a' });
    const b = await ctx.consume(ch, q, { label: 'b', noAck: true, consumerTag: 'b' });
    await publishConfirmed(ctx, conn, '', q, bodies('m', 3));
    await ctx.waitDeliveries(a, 3);
    await ctx.attempt('counts', () => ch.checkQueue(q), (v) => v);
    await ch.cancel('a');
    await publishConfirmed(ctx, conn, '', q, bodies('n', 2));
    await ctx.waitDeliveries(b, 2);
    await ctx.attempt('invalid x-single-active-consumer', () => ch.assertQueue(ctx.name('bad'), { durable: false, arguments: { 'x-single-active-consumer': 'yes' } }), (v) => v);
  }),

  scenario('ext-dead-letter-x-death-history', 'a message dead-lettered back and forth accumulates x-death entries and counts', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const toB = await declareExchange(ctx, ch, 'to-b', 'fanout');
    const toA = await declareExchange(ctx, ch, 'to-a', 'fanout');
    const a = await declareQueue(ctx, ch, 'a', { deadLetterExchange: toB });
    const b = await declareQueue(ctx, ch, 'b', { deadLetterExchange: toA });
    await ch.bindQueue(b, toB, '');
    await ch.bindQueue(a, toA, '');
    await publishConfirmed(ctx, conn, '', a, ['bouncing']);
    // a -> b -> a -> b: reject three times, each time fetching the copy from the other queue.
    let from = a;
    for (let hop = 0; hop < 3; hop++) {
      let m: import('amqplib').GetMessage | false = false;
      await ctx.waitFor(`message in ${from === a ? 'a' : 'b'}`, async () => (m = await ch.get(from)) !== false);
      if (m === false) return;
      ch.reject(m, false);
      from = from === a ? b : a;
    }
    const reader = await ctx.channel(conn);
    const c = await ctx.consume(reader, b, { label: 'final', noAck: true, withProperties: true });
    await ctx.waitDeliveries(c, 1);
  }),

  scenario('ext-quorum-declare', 'x-queue-type quorum: declare rules (durable only, not exclusive/auto-delete) and basic use', async (ctx) => {
    const { conn } = await open(ctx);
    const cases: Array<[string, import('amqplib').Options.AssertQueue]> = [
      ['non-durable', { durable: false }],
      ['exclusive', { durable: true, exclusive: true }],
      ['auto-delete', { durable: true, autoDelete: true }],
      ['durable', { durable: true }],
    ];
    let ok: import('amqplib').Channel | undefined;
    for (const [label, opts] of cases) {
      const ch = await ctx.channel(conn);
      const r = await ctx.attempt(`declare quorum ${label}`, () => ch.assertQueue(ctx.name(`qq-${label}`), { ...opts, arguments: { 'x-queue-type': 'quorum' } }), (v) => v);
      if (r !== undefined) ok = ch;
    }
    if (ok === undefined) return;
    const q = ctx.name('qq-durable');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 2));
    const m = await ctx.get(ok, q, { properties: true });
    if (m !== undefined) ok.reject(m, true);
    await ctx.get(ok, q, { properties: true }, 'get after requeue (delivery count header)');
    await ctx.attempt('redeclare as classic', () => ok.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'classic' } }), (v) => v);
  }),
];
