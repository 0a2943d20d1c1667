/**
 * @cloudamqp/amqp-client's high-level session API used as its README shows (queues, exchanges,
 * subscriptions with manual ack and prefetch, publish with confirms, RPC), unchanged, against the
 * broker under test.
 */
import { afterEach, expect, it } from 'vitest';
import { AMQPSession, type AMQPMessage } from '@cloudamqp/amqp-client';
import { useBroker } from '../helpers/setup.js';
import { waitFor } from '../../helpers/broker.js';

const ctx = useBroker();
const sessions: AMQPSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.stop().catch(() => undefined);
});

async function session(): Promise<AMQPSession> {
  const s = await AMQPSession.connect(ctx.url, { logger: null, maxRetries: 0 });
  sessions.push(s);
  return s;
}

it('queue publish (confirmed) and subscribe with manual acks and prefetch', async () => {
  const s = await session();
  const q = await s.queue(ctx.name('session-q'), { autoDelete: true });
  const got: string[] = [];
  const sub = await q.subscribe({ prefetch: 2, manualAck: true }, async (msg: AMQPMessage) => {
    got.push(msg.bodyToString() ?? '');
    await msg.ack();
  });
  for (const b of ['a', 'b', 'c', 'd']) await q.publish(b, { confirm: true });
  await waitFor(() => got.length === 4);
  expect(got).toEqual(['a', 'b', 'c', 'd']);
  await sub.cancel();
});

it('topic exchange binding routes to a bound queue', async () => {
  const s = await session();
  const ex = await s.topicExchange(ctx.name('session-topic'), { autoDelete: true });
  const q = await s.queue('', { exclusive: true });
  await q.bind(ex, 'orders.*');
  await ex.publish('new order', { routingKey: 'orders.new', confirm: true });
  await ex.publish('ignored', { routingKey: 'billing.new', confirm: true });
  const m = await q.get({ noAck: true });
  expect(m?.bodyToString()).toBe('new order');
  expect(await q.get({ noAck: true })).toBeNull();
});

it('rpcServer / rpcCall round trip', async () => {
  const s = await session();
  const queue = ctx.name('session-rpc');
  await s.rpcServer(queue, (msg) => `echo:${msg.bodyToString() ?? ''}`);
  const reply = await s.rpcCall(queue, 'ping', { timeout: 5000 });
  expect(reply.bodyToString()).toBe('echo:ping');
  const cleanup = await ctx.clients.channel();
  await cleanup.deleteQueue(queue);
});
