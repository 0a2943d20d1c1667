/**
 * Differential scenarios about consumers: round robin, prefetch (per consumer and global), fair
 * dispatch, exclusive consumers (403), consumer tags (duplicates are 530), cancel, server-sent
 * cancel on queue deletion, no-ack consumers, and qos corner cases.
 */
import { rpc } from '../amqp-internals.js';
import { scenario, type Scenario } from '../scenario.js';
import { bodies, counts, declareQueue, open, publishConfirmed } from './helpers.js';

export const consumerScenarios: Scenario[] = [
  scenario('consumer-round-robin', 'two consumers on one channel share a queue round-robin', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    const a = await ctx.consume(ch, q, { label: 'a', stream: 'deliveries', noAck: true, consumerTag: 'a' });
    const b = await ctx.consume(ch, q, { label: 'b', stream: 'deliveries', noAck: true, consumerTag: 'b' });
    await publishConfirmed(ctx, conn, '', q, bodies('m', 6));
    await ctx.waitFor('6 deliveries', () => a.messages.length + b.messages.length >= 6);
  }),

  scenario('consumer-prefetch-fair-dispatch', 'prefetch 1: each consumer holds one unacked message; acking releases the next', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await ch.prefetch(1);
    const a = await ctx.consume(ch, q, { label: 'a', stream: 'deliveries', consumerTag: 'a' });
    const b = await ctx.consume(ch, q, { label: 'b', stream: 'deliveries', consumerTag: 'b' });
    await publishConfirmed(ctx, conn, '', q, bodies('m', 5));
    await ctx.waitFor('2 deliveries', () => a.messages.length + b.messages.length >= 2);
    await counts(ctx, ch, q, 'counts with both consumers saturated');
    const firstA = a.messages[0];
    if (firstA === undefined) return;
    ch.ack(firstA);
    await ctx.waitDeliveries(a, 2);
    await counts(ctx, ch, q, 'counts after a acked once');
    const secondA = a.messages[1];
    const firstB = b.messages[0];
    if (secondA === undefined || firstB === undefined) return;
    ch.ack(secondA);
    await ctx.waitDeliveries(a, 3);
    ch.ack(firstB);
    await ctx.waitDeliveries(b, 2);
    await counts(ctx, ch, q, 'counts at the end');
  }),

  scenario('consumer-prefetch-global', 'basic.qos global=true limits unacked deliveries across all consumers of the channel', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q1 = await declareQueue(ctx, ch, 'q1');
    const q2 = await declareQueue(ctx, ch, 'q2');
    await publishConfirmed(ctx, conn, '', q1, bodies('a', 4));
    await publishConfirmed(ctx, conn, '', q2, bodies('b', 4));
    await ctx.attempt('qos global 2', () => ch.prefetch(2, true), () => 'ok');
    const a = await ctx.consume(ch, q1, { label: 'a', consumerTag: 'a' });
    await ctx.waitDeliveries(a, 2);
    await ctx.consume(ch, q2, { label: 'b', consumerTag: 'b' });
    await counts(ctx, ch, q1, 'q1 counts');
    await counts(ctx, ch, q2, 'q2 counts (channel limit reached: nothing delivered)');
  }),

  scenario('consumer-prefetch-per-consumer', 'basic.qos global=false applies to each consumer started afterwards, not to earlier ones', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q1 = await declareQueue(ctx, ch, 'q1');
    const q2 = await declareQueue(ctx, ch, 'q2');
    await publishConfirmed(ctx, conn, '', q1, bodies('a', 4));
    await publishConfirmed(ctx, conn, '', q2, bodies('b', 4));
    await ch.prefetch(1);
    const a = await ctx.consume(ch, q1, { label: 'a', consumerTag: 'a' });
    await ctx.waitDeliveries(a, 1);
    await ch.prefetch(3);
    const b = await ctx.consume(ch, q2, { label: 'b', consumerTag: 'b' });
    await ctx.waitDeliveries(b, 3);
    await counts(ctx, ch, q1, 'q1 counts (limit 1)');
    await counts(ctx, ch, q2, 'q2 counts (limit 3)');
  }),

  scenario('consumer-qos-corner-cases', 'basic.qos with prefetch_size != 0, prefetch_count 0 (unlimited), huge counts', async (ctx) => {
    const { conn } = await open(ctx);
    const ch = await ctx.channel(conn);
    await ctx.attempt('prefetch_count=0', () => rpc(ch, 'BasicQos', { prefetchSize: 0, prefetchCount: 0, global: false }, 'BasicQosOk'), () => 'ok');
    await ctx.attempt('prefetch_count=65535 global', () => rpc(ch, 'BasicQos', { prefetchSize: 0, prefetchCount: 65535, global: true }, 'BasicQosOk'), () => 'ok');
    // RabbitMQ refuses a byte-based prefetch with a connection-level 540 NOT_IMPLEMENTED.
    await ctx.attempt('prefetch_size=1000', () => rpc(ch, 'BasicQos', { prefetchSize: 1000, prefetchCount: 0, global: false }, 'BasicQosOk'), () => 'ok');
    await ctx.waitConnectionClosed(conn);
    const other = await open(ctx);
    await ctx.attempt('prefetch_size=1 global', () => rpc(other.ch, 'BasicQos', { prefetchSize: 1, prefetchCount: 10, global: true }, 'BasicQosOk'), () => 'ok');
    await ctx.waitConnectionClosed(other.conn);
  }),

  scenario('consumer-exclusive', 'an exclusive consumer excludes others (403) and cannot join a queue with consumers', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await ctx.attempt('exclusive consume', () => ch.consume(q, () => {}, { exclusive: true, consumerTag: 'excl' }), (ok) => ok);
    let c = await ctx.channel(conn);
    await ctx.attempt('second consumer', () => c.consume(q, () => {}), () => 'ok');
    c = await ctx.channel(conn);
    await ctx.attempt('second exclusive consumer', () => c.consume(q, () => {}, { exclusive: true }), () => 'ok');
    await ch.cancel('excl');
    c = await ctx.channel(conn);
    await ctx.attempt('plain consume after cancel', () => c.consume(q, () => {}, { consumerTag: 'plain' }), (ok) => ok);
    const d = await ctx.channel(conn);
    await ctx.attempt('exclusive consume while another consumer exists', () => d.consume(q, () => {}, { exclusive: true }), () => 'ok');
  }),

  scenario('consumer-tags', 'client-chosen tags are echoed; server-generated tags look like amq.ctag-…; a reused tag is 530', async (ctx) => {
    const { ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await ctx.attempt('consume with tag', () => ch.consume(q, () => {}, { consumerTag: 'mine' }), (ok) => ok);
    await ctx.attempt('consume without tag', () => ch.consume(q, () => {}), (ok) => ok);
    await ctx.attempt('consume without tag again', () => ch.consume(q, () => {}), (ok) => ok);
    await counts(ctx, ch, q);
    await ctx.attempt('reuse tag on same channel', () => ch.consume(q, () => {}, { consumerTag: 'mine' }), (ok) => ok);
  }),

  scenario('consumer-cancel', 'basic.cancel stops deliveries; cancel of an unknown tag is still cancel-ok', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    const c = await ctx.consume(ch, q, { label: 'c', consumerTag: 'c1', noAck: true });
    await publishConfirmed(ctx, conn, '', q, ['before']);
    await ctx.waitDeliveries(c, 1);
    await ctx.attempt('cancel', () => ch.cancel('c1'), (ok) => ok);
    await publishConfirmed(ctx, conn, '', q, ['after']);
    await counts(ctx, ch, q, 'counts after cancel');
    await ctx.attempt('cancel again', () => ch.cancel('c1'), (ok) => ok);
    await ctx.attempt('cancel unknown', () => ch.cancel('nope'), (ok) => ok);
    await ctx.get(ch, q);
  }),

  scenario('consumer-cancel-unacked-stay', 'unacked messages of a cancelled consumer stay unacked until acked or channel close', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 3));
    const c = await ctx.consume(ch, q, { label: 'c', consumerTag: 'c1' });
    await ctx.waitDeliveries(c, 3);
    await ch.cancel('c1');
    await counts(ctx, ch, q, 'counts after cancel');
    const m1 = c.messages[0];
    if (m1 === undefined) return;
    ch.ack(m1);
    await ch.close();
    const ch2 = await ctx.channel(conn);
    await counts(ctx, ch2, q, 'counts after close');
  }),

  scenario('consumer-server-cancel', 'deleting a queue sends basic.cancel to its consumers (consumer_cancel_notify)', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    const c = await ctx.consume(ch, q, { label: 'c', consumerTag: 'doomed' });
    const other = await ctx.channel(conn);
    await ctx.attempt('delete queue with consumer', () => other.deleteQueue(q), (ok) => ok);
    await ctx.waitFor('server cancel', () => c.cancelled);
    await ctx.attempt('cancel after server cancel', () => ch.cancel('doomed'), (ok) => ok);
  }),

  scenario('consumer-noack-delivers-all', 'a no-ack consumer gets everything regardless of prefetch; nothing stays unacked', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await ch.prefetch(1);
    await publishConfirmed(ctx, conn, '', q, bodies('m', 5));
    const c = await ctx.consume(ch, q, { label: 'c', noAck: true });
    await ctx.waitDeliveries(c, 5);
    await ch.close();
    const ch2 = await ctx.channel(conn);
    await counts(ctx, ch2, q);
  }),

  scenario('consumer-priority-args', 'consume with x-priority: higher priority consumer gets messages first', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    const low = await ctx.consume(ch, q, { label: 'low', stream: 'deliveries', noAck: true, consumerTag: 'low', priority: 1 });
    const high = await ctx.consume(ch, q, { label: 'high', stream: 'deliveries', noAck: true, consumerTag: 'high', priority: 10 });
    await publishConfirmed(ctx, conn, '', q, bodies('m', 3));
    await ctx.waitFor('3 deliveries', () => low.messages.length + high.messages.length >= 3);
  }),

  scenario('consumer-get-beside-consumer', 'basic.get works beside a saturated consumer; the two share delivery tags on the channel', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await ch.prefetch(1);
    const c = await ctx.consume(ch, q, { label: 'c' });
    await publishConfirmed(ctx, conn, '', q, bodies('m', 3));
    await ctx.waitDeliveries(c, 1);
    await ctx.get(ch, q);
    const first = c.messages[0];
    if (first === undefined) return;
    ch.ack(first);
    await ctx.waitDeliveries(c, 2);
    await counts(ctx, ch, q);
  }),

  scenario('consumer-exclusive-queue-owner', 'the owner of an exclusive queue consumes, purges and deletes it normally', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q', { exclusive: true });
    await publishConfirmed(ctx, conn, '', q, bodies('m', 2));
    const c = await ctx.consume(ch, q, { label: 'c', noAck: true, exclusive: true });
    await ctx.waitDeliveries(c, 2);
    const ch2 = await ctx.channel(conn);
    await ctx.attempt('second channel of the owner consumes', () => ch2.consume(q, () => {}), () => 'ok');
    const ch3 = await ctx.channel(conn);
    await ctx.attempt('purge by owner', () => ch3.purgeQueue(q), (v) => v);
    await ctx.attempt('delete by owner', () => ch3.deleteQueue(q), (v) => v);
    await ctx.waitFor('server cancel', () => c.cancelled);
  }),

  scenario('consumer-exclusive-vs-get', 'basic.get from another channel while an exclusive consumer holds the queue', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await ch.prefetch(1);
    const c = await ctx.consume(ch, q, { label: 'c', exclusive: true });
    await publishConfirmed(ctx, conn, '', q, bodies('m', 3));
    await ctx.waitDeliveries(c, 1);
    const other = await ctx.channel(conn);
    await ctx.get(other, q, {}, 'get beside exclusive consumer');
  }),

  scenario('consumer-direct-reply-to', 'direct reply-to: pseudo-queue consumer, rewritten reply_to, reply delivery, and its 406 rules', async (ctx) => {
    const client = await open(ctx);
    const server = await open(ctx);
    const q = await declareQueue(ctx, server.ch, 'rpc');
    const requests = await ctx.consume(server.ch, q, { label: 'server', noAck: true, withProperties: true });
    const replies = await ctx.consume(client.ch, 'amq.rabbitmq.reply-to', { label: 'client', noAck: true, withProperties: true });
    ctx.record('reply consumer tag', replies.consumerTag);
    client.ch.sendToQueue(q, Buffer.from('request'), { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c1' });
    await ctx.waitDeliveries(requests, 1);
    const request = requests.messages[0];
    if (request === undefined) return;
    const replyTo = String(request.properties.replyTo);
    // (Not mandatory: RabbitMQ 3.10 both delivers and returns a mandatory direct reply.)
    server.ch.publish('', replyTo, Buffer.from('response'), { correlationId: 'c1' });
    await ctx.waitDeliveries(replies, 1);
    let c = await ctx.channel(client.conn);
    await ctx.attempt('reply-to consumer with acks', () => c.consume('amq.rabbitmq.reply-to', () => {}, { noAck: false }), () => 'ok');
    c = await ctx.channel(client.conn);
    c.sendToQueue(q, Buffer.from('request without reply consumer'), { replyTo: 'amq.rabbitmq.reply-to' });
    await ctx.waitChannelClosed(c);
    c = await ctx.channel(client.conn);
    await ctx.attempt('passive declare of amq.rabbitmq.reply-to', () => c.checkQueue('amq.rabbitmq.reply-to'), (v) => v);
    server.ch.publish('', 'amq.rabbitmq.reply-to.bogus', Buffer.from('to nobody'), { mandatory: true });
    await ctx.attempt('server channel still open', () => server.ch.checkQueue(q), (v) => v);
  }),
];
