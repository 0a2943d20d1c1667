/**
 * Stream queues over AMQP 0-9-1 with stock clients (amqplib and @cloudamqp/amqp-client): declare,
 * publish, consume from any offset (first, last, next, numeric, timestamp, interval) with the
 * x-stream-offset header on every delivery, acks that only return credit, the refusals RabbitMQ
 * makes (no prefetch, no-ack, basic.get, purge, nack/reject), fanout next to classic queues,
 * deletion, retention by size. These also run against the reference (WARREN_TEST_TARGET=reference).
 * The differential scenarios (interop/differential/scenarios/stream-scenarios.ts) compare the texts.
 *
 * Warren only, with the reason in each describe: exact prefetch (RabbitMQ 3.10 hands out whole
 * chunks beyond it), negative offsets, filtering (RabbitMQ 3.13+; the reference is 3.10) and
 * server-side offset tracking (a LavinMQ feature RabbitMQ does not have over AMQP 0-9-1).
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/broker.js';
import { Inbox, closedWith, expectCode, fill } from '../helpers/clients.js';
import { useBroker } from '../helpers/setup.js';

const ctx = useBroker();
const onReference = process.env['WARREN_TEST_TARGET'] === 'reference';
const STREAM = { 'x-queue-type': 'stream' };

async function stream(args: Record<string, unknown> = {}): Promise<string> {
  const ch = await ctx.clients.channel();
  const q = ctx.name('stream');
  await ch.assertQueue(q, { durable: true, arguments: { ...STREAM, ...args } });
  await ch.close();
  cleanup.push(q);
  return q;
}

const cleanup: string[] = [];
async function dropStreams(): Promise<void> {
  const ch = await ctx.clients.channel();
  for (const q of cleanup.splice(0)) await ch.deleteQueue(q);
}

/** A consumer (prefetch given, acks each message) reading `q` from `offset`. */
async function read(q: string, offset: unknown, prefetch = 1000, extra: Record<string, unknown> = {}, ack = true): Promise<{ ch: Channel; inbox: Inbox; tag: string }> {
  const ch = await ctx.clients.channel();
  await ch.prefetch(prefetch);
  const inbox = new Inbox();
  const args = offset === undefined ? { ...extra } : { 'x-stream-offset': offset, ...extra };
  const { consumerTag } = await ch.consume(q, (m) => {
    inbox.handler(m);
    if (m !== null && ack) ch.ack(m);
  }, { arguments: args });
  return { ch, inbox, tag: consumerTag };
}

function offsets(ms: ConsumeMessage[]): number[] {
  return ms.map((m) => Number(m.properties.headers?.['x-stream-offset']));
}

async function publishEach(q: string, bodies: string[]): Promise<void> {
  for (const b of bodies) await fill(ctx.clients, q, [b]); // one confirmed message: one chunk
}

describe('stream queues', () => {
  it('declares a durable stream; non-durable, exclusive, auto-delete and server-named ones are refused', async () => {
    const q = await stream({ 'x-max-age': '7D', 'x-max-length-bytes': 1_000_000_000, 'x-stream-max-segment-size-bytes': 50_000_000 });
    const ch = await ctx.clients.channel();
    expect((await ch.checkQueue(q)).queue).toBe(q);
    for (const [props, property] of [[{ durable: false }, 'non-durable'], [{ durable: true, exclusive: true }, 'exclusive-owner'],
      [{ durable: true, autoDelete: true }, 'auto-delete']] as const) {
      const c = await ctx.clients.channel();
      const name = ctx.name('bad-stream');
      const err = await expectCode(c.assertQueue(name, { ...props, arguments: STREAM }), 406);
      expect(err.message).toContain(`PRECONDITION_FAILED - invalid property '${property}' for queue '${name}' in vhost '/'`);
    }
    const c = await ctx.clients.channel();
    const err = await expectCode(c.assertQueue('', { durable: true, arguments: STREAM }), 406);
    expect(err.message).toContain('Cannot declare a server-named queue for type rabbit_stream_queue');
    await dropStreams();
  });

  it('serves first, last, next, numeric, timestamp and interval offsets with x-stream-offset on every delivery', async () => {
    const q = await stream();
    await fill(ctx.clients, q, ['a0', 'a1', 'a2', 'a3', 'a4']);
    await fill(ctx.clients, q, ['lone']);
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    const first = await read(q, 'first');
    const last = await read(q, 'last');
    const three = await read(q, 3);
    const ts = await read(q, { '!': 'timestamp', value: hourAgo });
    const interval = await read(q, '1h');
    const next = await read(q, 'next');
    const dflt = await read(q, undefined);
    await first.inbox.count(6);
    expect(first.inbox.bodies()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'lone']);
    expect(offsets(first.inbox.messages)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(typeof first.inbox.messages[0]!.properties.headers?.['x-stream-offset']).toBe('number');
    await last.inbox.count(1);
    expect(last.inbox.bodies()).toEqual(['lone']);
    await three.inbox.count(3);
    expect(offsets(three.inbox.messages)).toEqual([3, 4, 5]);
    await ts.inbox.count(6);
    await interval.inbox.count(6);
    await fill(ctx.clients, q, ['after']);
    await next.inbox.count(1);
    await dflt.inbox.count(1);
    expect(next.inbox.bodies()).toEqual(['after']);
    expect(offsets(dflt.inbox.messages)).toEqual([6]);
    await first.inbox.count(7);
    expect(first.inbox.messages.every((m) => !m.fields.redelivered)).toBe(true);
    await dropStreams();
  });

  it('never removes messages on consumption: acks only return credit; every consumer replays everything', async () => {
    const q = await stream();
    await fill(ctx.clients, q, Array.from({ length: 50 }, (_, i) => `m${i}`));
    const one = await read(q, 'first', 1);
    await one.inbox.count(50);
    expect(one.inbox.bodies()).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    await one.ch.cancel(one.tag);
    const again = await read(q, 'first', 7);
    await again.inbox.count(50);
    await dropStreams();
  });

  it('refuses what RabbitMQ refuses: no prefetch (406), no-ack, basic.get, purge, nack and reject (540)', async () => {
    const q = await stream();
    await fill(ctx.clients, q, ['x']);
    let ch = await ctx.clients.channel();
    let err = await expectCode(ch.consume(q, () => {}), 406);
    expect(err.message).toContain(`consumer prefetch count is not set for 'queue '${q}' in vhost '/''`);
    const cases: Array<[string, (c: Channel) => Promise<unknown>]> = [
      ['automatic acknowledgement not supported by stream queues', async (c) => { await c.prefetch(5); return c.consume(q, () => {}, { noAck: true }); }],
      ['basic.get not supported by stream queues', (c) => c.get(q)],
      ['queue.purge not supported by stream queues', (c) => c.purgeQueue(q)],
    ];
    for (const [text, op] of cases) {
      const conn = await ctx.clients.connect();
      conn.on('error', () => undefined);
      ch = await ctx.clients.channel(conn);
      void op(ch).catch(() => undefined);
      err = (await closedWith(conn))!;
      expect(err.message).toContain(`540 (NOT-IMPLEMENTED) with message "NOT_IMPLEMENTED - ${text} queue '${q}' in vhost '/'"`);
    }
    for (const how of ['nack', 'reject'] as const) {
      const conn = await ctx.clients.connect();
      conn.on('error', () => undefined);
      ch = await ctx.clients.channel(conn);
      await ch.prefetch(5);
      const inbox = new Inbox();
      await ch.consume(q, inbox.handler, { arguments: { 'x-stream-offset': 'first' } });
      const [m] = await inbox.count(1);
      if (how === 'nack') ch.nack(m!, false, true);
      else ch.reject(m!, false);
      err = (await closedWith(conn))!;
      expect(err.message).toContain('basic.nack and basic.reject not supported by stream queues');
    }
    await dropStreams();
  });

  it('takes a fanout next to a classic queue: each holds the message, properties intact', async () => {
    const ch = await ctx.clients.channel();
    const x = ctx.name('fan');
    await ch.assertExchange(x, 'fanout', { durable: false, autoDelete: true });
    const q = await stream();
    const { queue: cq } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(q, x, '');
    await ch.bindQueue(cq, x, '');
    const pub = await ctx.clients.confirmChannel();
    pub.publish(x, 'rk', Buffer.from('both'), { persistent: true, messageId: 'id-1', headers: { h: 'v' } });
    await pub.waitForConfirms();
    const got = await ch.get(cq, { noAck: true });
    expect(got && got.content.toString()).toBe('both');
    const r = await read(q, 'first');
    const [m] = await r.inbox.count(1);
    expect(m!.properties.messageId).toBe('id-1');
    expect(m!.properties.headers).toMatchObject({ h: 'v', 'x-stream-offset': 0 });
    expect(m!.fields.routingKey).toBe('rk');
    expect(m!.fields.exchange).toBe(x);
    await dropStreams();
  });

  it('cancels its consumers when the stream is deleted', async () => {
    const q = await stream();
    const r = await read(q, 'first');
    const ch = await ctx.clients.channel();
    await ch.deleteQueue(q);
    cleanup.splice(cleanup.indexOf(q), 1);
    await waitFor(() => r.inbox.cancelled);
  });

  it('works from @cloudamqp/amqp-client: timestamps as Dates, offsets as numbers', async () => {
    const q = await stream();
    const client = await ctx.clients.cloudamqp();
    const ch = await client.channel();
    await ch.confirmSelect();
    for (let i = 0; i < 5; i++) await ch.basicPublish('', q, `c${i}`, { deliveryMode: 2 });
    await ch.prefetch(10);
    const got: Array<[string, unknown]> = [];
    await ch.basicConsume(q, { noAck: false, args: { 'x-stream-offset': new Date(Date.now() - 60_000) } }, (msg) => {
      got.push([msg.bodyToString() ?? '', msg.properties.headers?.['x-stream-offset']]);
      void msg.ack();
    });
    await waitFor(() => got.length === 5);
    expect(got).toEqual([['c0', 0], ['c1', 1], ['c2', 2], ['c3', 3], ['c4', 4]]);
    await dropStreams();
  });
});

describe.skipIf(onReference)('Warren only: retention and counts (the reference applies retention asynchronously and reports counts from metrics)', () => {
  it('x-max-length-bytes drops whole old segments, never the active one', async () => {
    const q = await stream({ 'x-max-length-bytes': 3000, 'x-stream-max-segment-size-bytes': 1000 });
    await publishEach(q, Array.from({ length: 30 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(200)}`));
    const r = await read(q, 'first');
    await waitFor(() => r.inbox.messages.some((m) => m.content.toString().startsWith('29')));
    const offs = offsets(r.inbox.messages);
    expect(offs[0]).toBeGreaterThan(10);
    expect(offs).toEqual(offs.map((_, i) => offs[0]! + i));
    const ch = await ctx.clients.channel();
    expect((await ch.checkQueue(q)).messageCount).toBe(30 - offs[0]!);
    await dropStreams();
  });
});

describe.skipIf(onReference)('Warren only: exact prefetch (RabbitMQ 3.10 delivers whole chunks beyond the prefetch)', () => {
  it('keeps at most prefetch deliveries unacked and resumes on each ack', async () => {
    const q = await stream();
    await fill(ctx.clients, q, Array.from({ length: 20 }, (_, i) => `m${i}`));
    const r = await read(q, 'first', 3, {}, false);
    await r.inbox.count(3);
    const ch = await ctx.clients.channel();
    await ch.checkQueue(q); // a round trip: nothing more may arrive
    expect(r.inbox.messages).toHaveLength(3);
    r.ch.ack(r.inbox.messages[0]!);
    await r.inbox.count(4);
    r.ch.ack(r.inbox.messages[3]!, true);
    await r.inbox.count(7);
    await dropStreams();
  });
});

describe.skipIf(onReference)('Warren only: negative offsets, "the last n messages" (a Warren extension)', () => {
  it('x-stream-offset -3 starts three messages before the end', async () => {
    const q = await stream();
    await fill(ctx.clients, q, Array.from({ length: 10 }, (_, i) => `m${i}`));
    const r = await read(q, -3);
    await r.inbox.count(3);
    expect(r.inbox.bodies()).toEqual(['m7', 'm8', 'm9']);
    const all = await read(q, -100);
    await all.inbox.count(10);
    await dropStreams();
  });
});

describe.skipIf(onReference)('Warren only: filtering (RabbitMQ 3.13 stream filtering; the reference is 3.10)', () => {
  it('delivers the values asked for (and unfiltered messages on request); clients re-check', async () => {
    const q = await stream({ 'x-stream-filter-size-bytes': 32 });
    const pub = await ctx.clients.confirmChannel();
    const send = (body: string, value?: string): void => {
      pub.sendToQueue(q, Buffer.from(body), value === undefined ? {} : { headers: { 'x-stream-filter-value': value } });
    };
    send('ca-1', 'california');
    send('tx-1', 'texas');
    send('none-1');
    await pub.waitForConfirms();
    for (let i = 0; i < 10; i++) send(`tx-${i + 2}`, 'texas');
    await pub.waitForConfirms();
    send('ca-2', 'california');
    await pub.waitForConfirms();
    const ca = await read(q, 'first', 100, { 'x-stream-filter': 'california' });
    const both = await read(q, 'first', 100, { 'x-stream-filter': ['california', 'texas'] });
    const unf = await read(q, 'first', 100, { 'x-stream-filter': 'california', 'x-stream-match-unfiltered': true });
    await ca.inbox.count(2);
    await both.inbox.count(13);
    await unf.inbox.count(3);
    // The client-side re-check RabbitMQ's documentation asks for passes trivially: only matches arrive.
    expect(ca.inbox.messages.filter((m) => m.properties.headers?.['x-stream-filter-value'] === 'california').map((m) => m.content.toString())).toEqual(['ca-1', 'ca-2']);
    expect(unf.inbox.bodies()).toEqual(['ca-1', 'none-1', 'ca-2']);
    const ch = await ctx.clients.channel();
    await ch.checkQueue(q);
    expect(ca.inbox.messages).toHaveLength(2);
    const err = await expectCode((await ctx.clients.channel()).assertQueue(ctx.name('fs'), { durable: true, arguments: { ...STREAM, 'x-stream-filter-size-bytes': 300 } }), 406);
    expect(err.message).toContain('Invalid value for  x-stream-filter-size-bytes');
    await dropStreams();
  });
});

describe.skipIf(onReference)('Warren only: server-side offset tracking (as LavinMQ; RabbitMQ has it only in its stream protocol)', () => {
  it('a consumer with x-stream-automatic-offset-tracking resumes after its last acked message', async () => {
    const q = await stream();
    await fill(ctx.clients, q, Array.from({ length: 10 }, (_, i) => `m${i}`));
    const args = { 'x-stream-automatic-offset-tracking': true };
    const ch = await ctx.clients.channel();
    await ch.prefetch(100);
    const inbox = new Inbox();
    await ch.consume(q, (m) => {
      inbox.handler(m);
      if (m !== null && Number(m.properties.headers?.['x-stream-offset']) <= 5) ch.ack(m); // processed up to 5
    }, { consumerTag: 'billing', arguments: { 'x-stream-offset': 'first', ...args } });
    await inbox.count(10);
    await ch.close();
    const again = await ctx.clients.channel();
    await again.prefetch(100);
    const resumed = new Inbox();
    await again.consume(q, resumed.handler, { consumerTag: 'billing', arguments: { 'x-stream-offset': 'first', ...args } });
    await resumed.count(4);
    expect(resumed.bodies()).toEqual(['m6', 'm7', 'm8', 'm9']);
    // another name starts where its own x-stream-offset says
    const other = await read(q, 'first', 100, args);
    await other.inbox.count(10);
    await dropStreams();
  });
});
