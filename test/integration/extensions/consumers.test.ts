/**
 * Consumer-side extensions: single active consumer (x-single-active-consumer: one consumer gets
 * everything; on cancel or channel close the next one in subscription order takes over, with the
 * unacknowledged messages), consumer priorities (x-priority: higher-priority consumers get messages
 * while they have credit, lower ones only when they are blocked), exclusive consumers (403 for any
 * other consumer and for an exclusive consume beside an existing consumer), and the server-sent
 * basic.cancel when a consumed queue is deleted (consumer_cancel_notify).
 */
import { describe, expect, it } from 'vitest';
import type { Channel } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { Inbox, expectCode, fill, roundTrip } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';

const ctx = useBroker();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function consumeOn(ch: Channel, q: string, opts: { noAck?: boolean; priority?: number } = {}): Promise<{ inbox: Inbox; tag: string }> {
  const inbox = new Inbox();
  const options = opts.priority === undefined ? { noAck: opts.noAck ?? true } : { noAck: opts.noAck ?? true, priority: opts.priority };
  const { consumerTag } = await ch.consume(q, inbox.handler, options);
  return { inbox, tag: consumerTag };
}

describe('single active consumer (x-single-active-consumer)', () => {
  it('only the first consumer gets messages; on cancel the next in subscription order takes over', async () => {
    const conn = await ctx.clients.connect();
    const setup = await ctx.clients.channel(conn);
    const q = ctx.name('sac');
    await setup.assertQueue(q, { exclusive: true, arguments: { 'x-single-active-consumer': true } });
    const chans = await Promise.all([1, 2, 3].map(() => ctx.clients.channel(conn)));
    const [c1, c2, c3] = chans as [Channel, Channel, Channel];
    const a = await consumeOn(c1, q);
    const b = await consumeOn(c2, q);
    const c = await consumeOn(c3, q);
    await fill(ctx.clients, q, ['1', '2', '3', '4'], conn);
    await a.inbox.count(4);
    await roundTrip(c2);
    await roundTrip(c3);
    expect(b.inbox.messages).toHaveLength(0);
    expect(c.inbox.messages).toHaveLength(0);
    await c1.cancel(a.tag);
    await fill(ctx.clients, q, ['5', '6'], conn);
    await b.inbox.count(2);
    expect(b.inbox.bodies()).toEqual(['5', '6']);
    expect(c.inbox.messages).toHaveLength(0);
    await c2.cancel(b.tag);
    await fill(ctx.clients, q, ['7'], conn);
    await c.inbox.count(1);
    expect(c.inbox.bodies()).toEqual(['7']);
    expect(a.inbox.bodies()).toEqual(['1', '2', '3', '4']);
  });

  it('when the active consumer\'s channel closes, its unacked messages go to the next consumer', async () => {
    const conn = await ctx.clients.connect();
    const setup = await ctx.clients.channel(conn);
    const q = ctx.name('sac-close');
    await setup.assertQueue(q, { exclusive: true, arguments: { 'x-single-active-consumer': true } });
    const c1 = await ctx.clients.channel(conn);
    const c2 = await ctx.clients.channel(conn);
    const a = await consumeOn(c1, q, { noAck: false });
    const b = await consumeOn(c2, q, { noAck: false });
    await fill(ctx.clients, q, ['x', 'y'], conn);
    await a.inbox.count(2);
    await c1.close();
    const got = await b.inbox.count(2);
    expect(b.inbox.bodies()).toEqual(['x', 'y']);
    expect(got.every((m) => m.fields.redelivered)).toBe(true);
  });

  it('the active consumer\'s prefetch limits it; the others still get nothing', async () => {
    const conn = await ctx.clients.connect();
    const setup = await ctx.clients.channel(conn);
    const q = ctx.name('sac-prefetch');
    await setup.assertQueue(q, { exclusive: true, arguments: { 'x-single-active-consumer': true } });
    const c1 = await ctx.clients.channel(conn);
    await c1.prefetch(1);
    const c2 = await ctx.clients.channel(conn);
    const a = await consumeOn(c1, q, { noAck: false });
    const b = await consumeOn(c2, q, { noAck: false });
    await fill(ctx.clients, q, ['1', '2', '3'], conn);
    await a.inbox.count(1);
    await sleep(50);
    await roundTrip(c2);
    expect(a.inbox.messages).toHaveLength(1);
    expect(b.inbox.messages).toHaveLength(0);
    expect((await setup.checkQueue(q)).messageCount).toBe(2);
  });

  it('consumer priorities do not pick the active consumer: the first subscriber is active (RabbitMQ 3.10)', async () => {
    const conn = await ctx.clients.connect();
    const setup = await ctx.clients.channel(conn);
    const q = ctx.name('sac-prio');
    await setup.assertQueue(q, { exclusive: true, arguments: { 'x-single-active-consumer': true } });
    const first = await consumeOn(await ctx.clients.channel(conn), q, { priority: 0 });
    const urgent = await consumeOn(await ctx.clients.channel(conn), q, { priority: 10 });
    await fill(ctx.clients, q, ['1', '2'], conn);
    await first.inbox.count(2);
    expect(urgent.inbox.messages).toHaveLength(0);
  });

  it('x-single-active-consumer must be a boolean (406 otherwise)', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('sac-bad');
    const err = await expectCode(ch.assertQueue(q, { arguments: { 'x-single-active-consumer': 'yes' } }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - invalid arg 'x-single-active-consumer' for queue '${q}' in vhost '/'`);
  });
});

describe('consumer priorities (x-priority)', () => {
  it('the higher-priority consumer gets every message while it has credit', async () => {
    const conn = await ctx.clients.connect();
    const setup = await ctx.clients.channel(conn);
    const q = ctx.name('cprio');
    await setup.assertQueue(q, { exclusive: true });
    const low = await consumeOn(await ctx.clients.channel(conn), q, { priority: 0 });
    const high = await consumeOn(await ctx.clients.channel(conn), q, { priority: 10 });
    const dflt = await consumeOn(await ctx.clients.channel(conn), q);
    await fill(ctx.clients, q, ['1', '2', '3', '4', '5', '6'], conn);
    await high.inbox.count(6);
    expect(low.inbox.messages).toHaveLength(0);
    expect(dflt.inbox.messages).toHaveLength(0);
  });

  it('a blocked high-priority consumer (prefetch used up) lets lower ones receive', async () => {
    const conn = await ctx.clients.connect();
    const setup = await ctx.clients.channel(conn);
    const q = ctx.name('cprio-blocked');
    await setup.assertQueue(q, { exclusive: true });
    const hch = await ctx.clients.channel(conn);
    await hch.prefetch(1);
    const high = await consumeOn(hch, q, { noAck: false, priority: 5 });
    const low = await consumeOn(await ctx.clients.channel(conn), q, { noAck: true, priority: -5 });
    await fill(ctx.clients, q, ['1', '2', '3'], conn);
    await high.inbox.count(1);
    await low.inbox.count(2);
    expect(high.inbox.bodies()).toEqual(['1']);
    expect(low.inbox.bodies()).toEqual(['2', '3']);
    // Credit back: the high-priority consumer is preferred again.
    const first = high.inbox.messages[0];
    if (first === undefined) throw new Error('unreachable');
    hch.ack(first);
    await roundTrip(hch);
    await fill(ctx.clients, q, ['4'], conn);
    await high.inbox.count(2);
    expect(high.inbox.bodies()).toEqual(['1', '4']);
    expect(low.inbox.messages).toHaveLength(2);
  });

  it('equal priorities share messages round robin', async () => {
    const conn = await ctx.clients.connect();
    const setup = await ctx.clients.channel(conn);
    const q = ctx.name('cprio-rr');
    await setup.assertQueue(q, { exclusive: true });
    const a = await consumeOn(await ctx.clients.channel(conn), q, { priority: 3 });
    const b = await consumeOn(await ctx.clients.channel(conn), q, { priority: 3 });
    await fill(ctx.clients, q, ['1', '2', '3', '4'], conn);
    await waitFor(() => a.inbox.messages.length + b.inbox.messages.length === 4);
    expect(a.inbox.messages.length).toBe(2);
    expect(b.inbox.messages.length).toBe(2);
  });
});

describe('exclusive consumers', () => {
  it('an exclusive consumer gets every message; another consume is refused with 403', async () => {
    const conn = await ctx.clients.connect();
    const setup = await ctx.clients.channel(conn);
    const q = ctx.name('xcons');
    await setup.assertQueue(q, { exclusive: true });
    const ex = new Inbox();
    await setup.consume(q, ex.handler, { noAck: true, exclusive: true });
    const other = await ctx.clients.channel(conn);
    const err = await expectCode(other.consume(q, () => undefined, { noAck: true }), 403);
    expect(err.message).toContain(`ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`);
    expect([err.classId, err.methodId]).toEqual([60, 20]);
    await fill(ctx.clients, q, ['a', 'b'], conn);
    await ex.count(2);
  });

  it('an exclusive consume beside an existing consumer is refused with 403', async () => {
    const conn = await ctx.clients.connect();
    const setup = await ctx.clients.channel(conn);
    const q = ctx.name('xcons-late');
    await setup.assertQueue(q, { exclusive: true });
    await setup.consume(q, () => undefined, { noAck: true });
    const other = await ctx.clients.channel(conn);
    const err = await expectCode(other.consume(q, () => undefined, { noAck: true, exclusive: true }), 403);
    expect(err.message).toContain(`ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`);
  });

  it('after the exclusive consumer cancels, others may consume', async () => {
    const conn = await ctx.clients.connect();
    const setup = await ctx.clients.channel(conn);
    const q = ctx.name('xcons-cancel');
    await setup.assertQueue(q, { exclusive: true });
    const { consumerTag } = await setup.consume(q, () => undefined, { noAck: true, exclusive: true });
    await setup.cancel(consumerTag);
    const other = await ctx.clients.channel(conn);
    const inbox = new Inbox();
    await other.consume(q, inbox.handler, { noAck: true });
    await fill(ctx.clients, q, ['ok'], conn);
    await inbox.count(1);
  });
});

describe('consumer cancel notification', () => {
  it('deleting a consumed queue sends basic.cancel to its consumers (the channel stays open)', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('cancel-notify');
    await ch.assertQueue(q, { exclusive: false });
    const a = new Inbox();
    const b = new Inbox();
    await ch.consume(q, a.handler, { noAck: true });
    const other = await ctx.clients.channel();
    await other.consume(q, b.handler, { noAck: true });
    const deleter = await ctx.clients.channel();
    await deleter.deleteQueue(q);
    await waitFor(() => a.cancelled && b.cancelled);
    // The channels remain usable.
    await roundTrip(ch);
    await roundTrip(other);
  });

  it('a deleted queue\'s consumer with unacked messages is cancelled; acking them afterwards is fine', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('cancel-unacked');
    await ch.assertQueue(q, { exclusive: false });
    const a = new Inbox();
    await ch.consume(q, a.handler, { noAck: false });
    await fill(ctx.clients, q, ['u']);
    const [m] = await a.count(1);
    const deleter = await ctx.clients.channel();
    await deleter.deleteQueue(q);
    await waitFor(() => a.cancelled);
    if (m !== undefined) ch.ack(m);
    await roundTrip(ch); // a 406 for the ack would have closed the channel and failed this
  });
});
