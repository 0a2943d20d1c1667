/**
 * Direct reply-to (rabbitmq.com/docs/direct-reply-to): an RPC client consumes from the pseudo-queue
 * amq.rabbitmq.reply-to in no-ack mode and publishes requests with reply_to=amq.rabbitmq.reply-to on
 * the SAME channel; the broker rewrites reply_to to amq.rabbitmq.reply-to.<opaque>, and a server
 * publishing to the default exchange with that routing key reaches the client directly. RabbitMQ's
 * 406 rules: the reply consumer must be no-ack; publishing with that reply_to needs the consumer first.
 */
import { describe, expect, it } from 'vitest';
import type { Channel, ConsumeMessage } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { Inbox, closedWith, expectCode, roundTrip } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';

const ctx = useBroker();
const REPLY_TO = 'amq.rabbitmq.reply-to';

/** An RPC server: answers each request with `f(body)` to its reply_to, echoing correlation_id. */
async function rpcServer(ch: Channel, queue: string, f: (body: string) => string, seen: ConsumeMessage[] = []): Promise<void> {
  await ch.consume(queue, (m) => {
    if (m === null) return;
    seen.push(m);
    const replyTo = m.properties.replyTo as string;
    ch.publish('', replyTo, Buffer.from(f(m.content.toString())), { correlationId: m.properties.correlationId as string });
    ch.ack(m);
  }, { noAck: false });
}

describe('direct reply-to (amq.rabbitmq.reply-to)', () => {
  it('an RPC round trip without a reply queue; reply_to is rewritten to amq.rabbitmq.reply-to.<id>', async () => {
    const serverCh = await ctx.clients.channel();
    const rpcQueue = ctx.name('rpc');
    await serverCh.assertQueue(rpcQueue, { exclusive: true });
    const seen: ConsumeMessage[] = [];
    await rpcServer(serverCh, rpcQueue, (b) => b.toUpperCase(), seen);

    const client = await ctx.clients.channel();
    const replies = new Inbox();
    const { consumerTag } = await client.consume(REPLY_TO, replies.handler, { noAck: true });
    client.sendToQueue(rpcQueue, Buffer.from('hello'), { replyTo: REPLY_TO, correlationId: 'c-1' });
    const [reply] = await replies.count(1);
    expect(reply?.content.toString()).toBe('HELLO');
    expect(reply?.properties.correlationId).toBe('c-1');
    expect(reply?.fields.consumerTag).toBe(consumerTag);
    expect(reply?.fields.exchange).toBe('');
    const rewritten = seen[0]?.properties.replyTo as string;
    expect(rewritten.startsWith(`${REPLY_TO}.`)).toBe(true);
    expect(rewritten.length).toBeGreaterThan(REPLY_TO.length + 1);
    expect(reply?.fields.routingKey).toBe(rewritten);
  });

  it('many concurrent requests are matched by correlation id', async () => {
    const serverCh = await ctx.clients.channel();
    const rpcQueue = ctx.name('rpc-many');
    await serverCh.assertQueue(rpcQueue, { exclusive: true });
    await rpcServer(serverCh, rpcQueue, (b) => String(Number(b) * 2));
    const client = await ctx.clients.channel();
    const replies = new Inbox();
    await client.consume(REPLY_TO, replies.handler, { noAck: true });
    for (let i = 0; i < 20; i++) client.sendToQueue(rpcQueue, Buffer.from(String(i)), { replyTo: REPLY_TO, correlationId: `id-${i}` });
    await replies.count(20);
    const byId = new Map(replies.messages.map((m) => [m.properties.correlationId as string, m.content.toString()]));
    for (let i = 0; i < 20; i++) expect(byId.get(`id-${i}`)).toBe(String(i * 2));
  });

  it('two clients get only their own replies', async () => {
    const serverCh = await ctx.clients.channel();
    const rpcQueue = ctx.name('rpc-two');
    await serverCh.assertQueue(rpcQueue, { exclusive: true });
    await rpcServer(serverCh, rpcQueue, (b) => `re:${b}`);
    const a = await ctx.clients.channel();
    const b = await ctx.clients.channel();
    const ra = new Inbox();
    const rb = new Inbox();
    await a.consume(REPLY_TO, ra.handler, { noAck: true });
    await b.consume(REPLY_TO, rb.handler, { noAck: true });
    a.sendToQueue(rpcQueue, Buffer.from('from-a'), { replyTo: REPLY_TO });
    b.sendToQueue(rpcQueue, Buffer.from('from-b'), { replyTo: REPLY_TO });
    await ra.count(1);
    await rb.count(1);
    await roundTrip(a);
    await roundTrip(b);
    expect(ra.bodies()).toEqual(['re:from-a']);
    expect(rb.bodies()).toEqual(['re:from-b']);
  });

  it('consuming amq.rabbitmq.reply-to with acknowledgements is refused with 406', async () => {
    const ch = await ctx.clients.channel();
    const err = await expectCode(ch.consume(REPLY_TO, () => undefined, { noAck: false }), 406);
    expect(err.message).toContain('PRECONDITION_FAILED - reply consumer cannot acknowledge');
    expect([err.classId, err.methodId]).toEqual([60, 20]);
  });

  it('publishing with reply_to=amq.rabbitmq.reply-to before consuming closes the channel with 406', async () => {
    const setup = await ctx.clients.channel();
    const q = ctx.name('rpc-noconsumer');
    await setup.assertQueue(q, { exclusive: true });
    const ch = await ctx.clients.channel();
    ch.sendToQueue(q, Buffer.from('req'), { replyTo: REPLY_TO });
    const err = await closedWith(ch);
    expect(err?.code).toBe(406);
    expect(err?.message).toContain('PRECONDITION_FAILED - fast reply consumer does not exist');
    expect([err?.classId, err?.methodId]).toEqual([60, 40]);
    await roundTrip(setup);
    expect((await setup.checkQueue(q)).messageCount).toBe(0);
  });

  it('a second reply consumer on the same channel is refused with 406', async () => {
    const ch = await ctx.clients.channel();
    await ch.consume(REPLY_TO, () => undefined, { noAck: true });
    const err = await expectCode(ch.consume(REPLY_TO, () => undefined, { noAck: true }), 406);
    expect(err.message).toContain('PRECONDITION_FAILED - reply consumer already set');
  });

  it('after the reply consumer is cancelled, publishing with reply_to is refused again', async () => {
    const setup = await ctx.clients.channel();
    const q = ctx.name('rpc-cancelled');
    await setup.assertQueue(q, { exclusive: true });
    const ch = await ctx.clients.channel();
    const { consumerTag } = await ch.consume(REPLY_TO, () => undefined, { noAck: true });
    await ch.cancel(consumerTag);
    ch.sendToQueue(q, Buffer.from('req'), { replyTo: REPLY_TO });
    const err = await closedWith(ch);
    expect(err?.code).toBe(406);
    expect(err?.message).toContain('PRECONDITION_FAILED - fast reply consumer does not exist');
  });

  it('a reply to a client that has gone away is dropped (and returned when mandatory)', async () => {
    const serverCh = await ctx.clients.channel();
    const rpcQueue = ctx.name('rpc-gone');
    await serverCh.assertQueue(rpcQueue, { exclusive: true });
    const requests: ConsumeMessage[] = [];
    await serverCh.consume(rpcQueue, (m) => { if (m !== null) requests.push(m); }, { noAck: true });
    const clientConn = await ctx.clients.connect();
    const client = await ctx.clients.channel(clientConn);
    await client.consume(REPLY_TO, () => undefined, { noAck: true });
    client.sendToQueue(rpcQueue, Buffer.from('req'), { replyTo: REPLY_TO });
    await waitFor(() => requests.length === 1);
    await clientConn.close();
    const returned: string[] = [];
    serverCh.on('return', (m: ConsumeMessage) => returned.push(`${m.fields.exchange}|${m.content.toString()}`));
    const replyTo = requests[0]?.properties.replyTo as string;
    serverCh.publish('', replyTo, Buffer.from('late'), { mandatory: true });
    await waitFor(() => returned.length === 1);
    expect(returned).toEqual(['|late']);
    await roundTrip(serverCh);
  });
});
