/**
 * Differential scenarios about acknowledgements: ack/nack/reject with multiple and requeue, the
 * redelivered flag, unknown and double acks (406), basic.get counts, recover, and unacked messages
 * returning to their queue in original order when a channel or connection closes.
 */
import type { Message } from 'amqplib';
import { sendMethod, rpc } from '../amqp-internals.js';
import { scenario, type Scenario } from '../scenario.js';
import { bodies, counts, declareQueue, drain, open, publishConfirmed } from './helpers.js';

/** A message stand-in carrying only a delivery tag, for acking tags the client never received. */
function tag(deliveryTag: number): Message {
  return { fields: { deliveryTag } } as unknown as Message;
}

export const ackScenarios: Scenario[] = [
  scenario('ack-get-counts', 'basic.get on empty and non-empty queues: message-count, delivery tags, get-empty', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await ctx.get(ch, q);
    await publishConfirmed(ctx, conn, '', q, bodies('m', 3));
    await ctx.get(ch, q);
    await ctx.get(ch, q, { noAck: true });
    await ctx.get(ch, q);
    await ctx.get(ch, q);
    await counts(ctx, ch, q, 'counts with 2 unacked');
  }),

  scenario('ack-nack-requeue-redelivered', 'nack requeue=true puts the message back at the head with redelivered=true', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 3));
    const m1 = await ctx.get(ch, q);
    const m2 = await ctx.get(ch, q);
    if (m1 === undefined || m2 === undefined) return;
    ch.nack(m2, false, true);
    ch.nack(m1, false, true);
    await ctx.get(ch, q, {}, 'get after nack');
    await ctx.get(ch, q, {}, 'get after nack');
    await ctx.get(ch, q, {}, 'get after nack');
    await ctx.get(ch, q, {}, 'get after nack');
  }),

  scenario('ack-reject-drops', 'reject/nack with requeue=false drop the message', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 3));
    const m1 = await ctx.get(ch, q);
    const m2 = await ctx.get(ch, q);
    if (m1 === undefined || m2 === undefined) return;
    ch.reject(m1, false);
    ch.nack(m2, false, false);
    await counts(ctx, ch, q, 'counts after drop');
    await ctx.get(ch, q);
    await ctx.get(ch, q);
  }),

  scenario('ack-unknown-tag', 'basic.ack of a delivery tag never sent is 406 PRECONDITION_FAILED "unknown delivery tag"', async (ctx) => {
    const { conn, ch } = await open(ctx);
    ch.ack(tag(99));
    await ctx.waitChannelClosed(ch);
    const ch2 = await ctx.channel(conn);
    ch2.nack(tag(7), false, true);
    await ctx.waitChannelClosed(ch2);
    const ch3 = await ctx.channel(conn);
    ch3.reject(tag(5), true);
    await ctx.waitChannelClosed(ch3);
    const ch4 = await ctx.channel(conn);
    ch4.ack(tag(3), true);
    await ctx.waitChannelClosed(ch4);
  }),

  scenario('ack-double', 'acking the same delivery tag twice is 406; nack after ack too', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 3));
    const m1 = await ctx.get(ch, q);
    if (m1 === undefined) return;
    ch.ack(m1);
    ch.ack(m1);
    await ctx.waitChannelClosed(ch);
    const ch2 = await ctx.channel(conn);
    const m2 = await ctx.get(ch2, q);
    if (m2 === undefined) return;
    ch2.ack(m2);
    ch2.nack(m2, false, true);
    await ctx.waitChannelClosed(ch2);
    const ch3 = await ctx.channel(conn);
    await drain(ctx, ch3, q);
  }),

  scenario('ack-multiple', 'ack multiple acks everything up to the tag; ack 0 multiple acks all; the rest requeue on close', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 8));
    const got: Message[] = [];
    for (let i = 0; i < 5; i++) {
      const m = await ctx.get(ch, q);
      if (m !== undefined) got.push(m);
    }
    const third = got[2];
    if (third === undefined) return;
    ch.ack(third, true);
    await counts(ctx, ch, q, 'counts after ack multiple up to 3');
    await ch.close();
    const ch2 = await ctx.channel(conn);
    await counts(ctx, ch2, q, 'counts after close');
    for (let i = 0; i < 3; i++) await ctx.get(ch2, q);
    ch2.ackAll();
    await ch2.close();
    const ch3 = await ctx.channel(conn);
    await drain(ctx, ch3, q);
  }),

  scenario('ack-nack-multiple-order', 'nack multiple requeue=true returns messages in their original order, redelivered', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 6));
    const got: Message[] = [];
    for (let i = 0; i < 4; i++) {
      const m = await ctx.get(ch, q);
      if (m !== undefined) got.push(m);
    }
    const second = got[1];
    const fourth = got[3];
    if (second === undefined || fourth === undefined) return;
    ch.ack(second);
    ch.nack(fourth, true, true);
    await drain(ctx, ch, q);
  }),

  scenario('ack-on-noack-consumer', 'acking a message delivered with no-ack is 406 unknown delivery tag', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 2));
    const c = await ctx.consume(ch, q, { label: 'noack', noAck: true });
    await ctx.waitDeliveries(c, 2);
    const first = c.messages[0];
    if (first === undefined) return;
    ch.ack(first);
    await ctx.waitChannelClosed(ch);
    const ch2 = await ctx.channel(conn);
    await counts(ctx, ch2, q);
  }),

  scenario('ack-close-requeues-in-order', 'closing a channel returns its unacked messages to the queue in original order', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 6));
    const c = await ctx.consume(ch, q, { label: 'c' });
    await ctx.waitDeliveries(c, 6);
    const [m1, , m3, , m5] = c.messages;
    if (m1 === undefined || m3 === undefined || m5 === undefined) return;
    ch.ack(m3);
    ch.ack(m1);
    ch.reject(m5, false);
    await ch.close();
    const ch2 = await ctx.channel(conn);
    await drain(ctx, ch2, q);
  }),

  scenario('ack-connection-close-redelivers', 'messages unacked when a connection closes are redelivered to the next consumer', async (ctx) => {
    const first = await open(ctx);
    const q = await declareQueue(ctx, first.ch, 'q');
    await publishConfirmed(ctx, first.conn, '', q, bodies('m', 4));
    const c1 = await ctx.consume(first.ch, q, { label: 'first' });
    await ctx.waitDeliveries(c1, 4);
    const m2 = c1.messages[1];
    if (m2 === undefined) return;
    first.ch.ack(m2);
    await counts(ctx, first.ch, q, 'counts before close');
    await ctx.closeConnection(first.conn);
    const second = await open(ctx);
    const c2 = await ctx.consume(second.ch, q, { label: 'second' });
    await ctx.waitDeliveries(c2, 3);
  }),

  scenario('ack-recover', 'basic.recover(-async) requeue=true redelivers unacked messages (redelivered=true); requeue=false', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 3));
    const c = await ctx.consume(ch, q, { label: 'c' });
    await ctx.waitDeliveries(c, 3);
    const m2 = c.messages[1];
    if (m2 === undefined) return;
    ch.ack(m2);
    await ctx.attempt('basic.recover requeue=true', () => ch.recover(), () => 'ok');
    await ctx.waitDeliveries(c, 5);
    sendMethod(ch, 'BasicRecoverAsync', { requeue: true });
    await ctx.waitDeliveries(c, 7);
    await counts(ctx, ch, q);
    // RabbitMQ refuses requeue=false with a connection-level 540 NOT_IMPLEMENTED.
    await ctx.attempt('basic.recover requeue=false', () => rpc(ch, 'BasicRecover', { requeue: false }, 'BasicRecoverOk'), () => 'ok');
    await ctx.waitConnectionClosed(conn);
  }),

  scenario('ack-get-noack-and-ack-mix', 'get with no-ack does not consume a delivery tag slot for acking; later tags continue', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 4));
    const a = await ctx.get(ch, q, { noAck: true });
    const b = await ctx.get(ch, q);
    if (a === undefined || b === undefined) return;
    ch.ack(a);
    await ctx.waitChannelClosed(ch);
    const ch2 = await ctx.channel(conn);
    await drain(ctx, ch2, q);
  }),

  scenario('ack-nack-multiple-drop', 'nack multiple requeue=false drops everything up to the tag; later ones stay unacked', async (ctx) => {
    const { conn, ch } = await open(ctx);
    const q = await declareQueue(ctx, ch, 'q');
    await publishConfirmed(ctx, conn, '', q, bodies('m', 5));
    const got: Message[] = [];
    for (let i = 0; i < 4; i++) {
      const m = await ctx.get(ch, q);
      if (m !== undefined) got.push(m);
    }
    const third = got[2];
    if (third === undefined) return;
    ch.nack(third, true, false);
    await ch.close();
    const ch2 = await ctx.channel(conn);
    await drain(ctx, ch2, q);
  }),
];
