/**
 * Message TTL and queue expiry, as RabbitMQ documents them (rabbitmq.com/docs/ttl):
 * per-queue x-message-ttl, per-message `expiration`, the lower of the two applying; expired messages
 * are only discarded at the head of the queue (a long-lived head blocks expired ones behind it, for
 * per-message TTL), basic.get never returns an expired message, TTL 0 means "deliver now or never",
 * and x-expires deletes a queue left unused (no consumers, no basic.get, no redeclare).
 * Never asserts timings: waits past a TTL with small sleeps and polls for outcomes.
 */
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { Inbox, expectCode, roundTrip } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';
import { drain, getEventually, xDeathOf } from './extension-helpers.js';

const ctx = useBroker();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('per-queue message TTL (x-message-ttl)', () => {
  it('messages left in the queue longer than the TTL disappear', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('ttl-q');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-message-ttl': 50 } });
    ch.sendToQueue(q, Buffer.from('a'));
    ch.sendToQueue(q, Buffer.from('b'));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 0);
    expect(await ch.get(q)).toBe(false);
  });

  it('a message consumed before its TTL is delivered normally', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('ttl-q');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-message-ttl': 60_000 } });
    ch.sendToQueue(q, Buffer.from('kept'));
    const m = await getEventually(ch, q);
    expect(m.content.toString()).toBe('kept');
    // RabbitMQ does not add an expiration property for a queue TTL.
    expect(m.properties.expiration).toBeUndefined();
  });

  it('expired messages are dead-lettered with reason expired (no original-expiration for a queue TTL)', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('ttl-q');
    const dead = ctx.name('ttl-dead');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, {
      exclusive: true,
      arguments: { 'x-message-ttl': 20, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead },
    });
    ch.sendToQueue(q, Buffer.from('one'));
    ch.sendToQueue(q, Buffer.from('two'));
    const first = await getEventually(ch, dead);
    const second = await getEventually(ch, dead);
    expect([first.content.toString(), second.content.toString()]).toEqual(['one', 'two']);
    const [death] = xDeathOf(first);
    expect(death).toMatchObject({ count: 1, reason: 'expired', queue: q, exchange: '', 'routing-keys': [q] });
    expect(death).not.toHaveProperty('original-expiration');
  });

  it('a queue TTL lower than the message expiration wins', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('ttl-min');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-message-ttl': 20 } });
    ch.sendToQueue(q, Buffer.from('x'), { expiration: '600000' });
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 0);
  });

  it('x-message-ttl 0: a message is delivered only if a consumer can take it at once', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('ttl-zero');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-message-ttl': 0 } });
    ch.sendToQueue(q, Buffer.from('nobody-home'));
    await roundTrip(ch);
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 0);
    expect(await ch.get(q)).toBe(false);
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler, { noAck: true });
    ch.sendToQueue(q, Buffer.from('consumer-ready'));
    await inbox.count(1);
    expect(inbox.bodies()).toEqual(['consumer-ready']);
  });
});

describe('per-message TTL (expiration property)', () => {
  it('an expired message is never returned by basic.get', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('pm-ttl');
    await ch.assertQueue(q, { exclusive: true });
    ch.sendToQueue(q, Buffer.from('short'), { expiration: '10' });
    await roundTrip(ch);
    await sleep(60);
    expect(await ch.get(q)).toBe(false);
  });

  it('the expiration property is delivered as published while the message is alive', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('pm-ttl');
    await ch.assertQueue(q, { exclusive: true });
    ch.sendToQueue(q, Buffer.from('alive'), { expiration: '600000' });
    const m = await getEventually(ch, q);
    expect(m.properties.expiration).toBe('600000');
  });

  it('expiry happens at the head: a long-lived head blocks an expired message behind it', async () => {
    // RabbitMQ (docs/ttl, "Caveats"): with per-message TTL, expired messages are only discarded or
    // dead-lettered when they reach the head of the queue; a queue's counts still include them.
    const ch = await ctx.clients.channel();
    const q = ctx.name('pm-head');
    const dead = ctx.name('pm-head-dead');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead } });
    ch.sendToQueue(q, Buffer.from('long'), { expiration: '600000' });
    ch.sendToQueue(q, Buffer.from('short'), { expiration: '10' });
    await roundTrip(ch);
    await sleep(100); // past the short TTL
    expect((await ch.checkQueue(q)).messageCount).toBe(2);
    expect((await ch.checkQueue(dead)).messageCount).toBe(0);
    // Taking the head exposes the expired message, which is then dead-lettered, never delivered.
    const head = await ch.get(q, { noAck: true });
    expect(head !== false && head.content.toString()).toBe('long');
    expect(await ch.get(q)).toBe(false);
    const d = await getEventually(ch, dead);
    expect(d.content.toString()).toBe('short');
    expect(xDeathOf(d)[0]).toMatchObject({ reason: 'expired', queue: q, 'original-expiration': '10' });
    expect(d.properties.expiration).toBeUndefined();
  });

  it('expired messages at the head are dropped while live ones behind them stay, in order', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('pm-order');
    await ch.assertQueue(q, { exclusive: true });
    ch.sendToQueue(q, Buffer.from('e1'), { expiration: '10' });
    ch.sendToQueue(q, Buffer.from('live1'));
    ch.sendToQueue(q, Buffer.from('e2'), { expiration: '10' });
    ch.sendToQueue(q, Buffer.from('live2'), { expiration: '600000' });
    await roundTrip(ch);
    await sleep(100);
    expect(await drain(ch, q)).toEqual(['live1', 'live2']);
  });

  it('expiration 0: delivered to a ready consumer, dropped (dead-lettered) when nobody can take it', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('pm-zero');
    const dead = ctx.name('pm-zero-dead');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead } });
    ch.sendToQueue(q, Buffer.from('no-consumer'), { expiration: '0' });
    const d = await getEventually(ch, dead);
    expect(d.content.toString()).toBe('no-consumer');
    expect(xDeathOf(d)[0]).toMatchObject({ reason: 'expired', 'original-expiration': '0' });
    expect(await ch.get(q)).toBe(false);
    const inbox = new Inbox();
    await ch.consume(q, inbox.handler, { noAck: true });
    ch.sendToQueue(q, Buffer.from('consumer-ready'), { expiration: '0' });
    await inbox.count(1);
    expect(inbox.bodies()).toEqual(['consumer-ready']);
  });

  it('an invalid expiration closes the channel with 406', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('pm-bad');
    await ch.assertQueue(q, { exclusive: true });
    ch.sendToQueue(q, Buffer.from('x'), { expiration: 'soon' });
    const err = await expectCode(ch.checkQueue(q), 406);
    expect(err.message).toContain("PRECONDITION_FAILED - invalid expiration 'soon': no_integer");
  });
});

describe('TTL and unacknowledged messages', () => {
  it.each([
    ['queue TTL', { 'x-message-ttl': 50 }, {}],
    ['per-message TTL', {}, { expiration: '50' }],
  ] as const)('%s: a message held unacked past its TTL expires when requeued (dead-lettered, not redelivered)', async (_label, args, props) => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('ttl-held');
    const dead = ctx.name('ttl-held-dead');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, { exclusive: true, arguments: { ...args, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead } });
    // A consumer waiting before the publish takes the message as it is enqueued, whatever the load
    // (a basic.get after the publish could come later than the 50 ms TTL on a loaded machine, and
    // find the message already expired).
    const inbox = new Inbox();
    const { consumerTag } = await ch.consume(q, inbox.handler, { noAck: false });
    ch.sendToQueue(q, Buffer.from('held'), props);
    const [m] = await inbox.count(1);
    await ch.cancel(consumerTag); // held by this channel, with no consumer to redeliver it to
    await sleep(150); // unacked messages do not expire while held...
    expect((await ch.checkQueue(dead)).messageCount).toBe(0);
    ch.nack(m!, false, true); // ...but expire as soon as they are back in the queue
    const d = await getEventually(ch, dead);
    expect(d.content.toString()).toBe('held');
    expect(d.fields.redelivered).toBe(false);
    expect(xDeathOf(d)[0]).toMatchObject({ reason: 'expired', queue: q });
    expect(await ch.get(q)).toBe(false);
  });
});

describe('queue expiry (x-expires)', () => {
  /**
   * Whether the queue still exists, WITHOUT touching it: in RabbitMQ a passive queue.declare is a
   * "stat" call that renews the x-expires lease, so probing with it would keep the queue alive.
   * queue.bind only looks the queue up (404 when gone); the probe binding dies with the queue.
   */
  async function exists(q: string): Promise<boolean> {
    const conn = await ctx.clients.connect();
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    try {
      await ch.bindQueue(q, 'amq.direct', `probe-${q}`);
      return true;
    } catch {
      return false;
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  it('an unused queue is deleted after x-expires', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('exp-q');
    await ch.assertQueue(q, { arguments: { 'x-expires': 100 } });
    ch.sendToQueue(q, Buffer.from('does not keep it alive'));
    await waitFor(async () => !(await exists(q)));
  });

  it('a consumer keeps the queue alive; after cancel it expires', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('exp-cons');
    await ch.assertQueue(q, { arguments: { 'x-expires': 100 } });
    const { consumerTag } = await ch.consume(q, () => undefined, { noAck: true });
    await sleep(400);
    expect(await exists(q)).toBe(true);
    await ch.cancel(consumerTag);
    await waitFor(async () => !(await exists(q)));
  });

  it('redeclaring resets the expiry timer', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('exp-redecl');
    await ch.assertQueue(q, { arguments: { 'x-expires': 1000 } });
    for (let i = 0; i < 15; i++) {
      await sleep(100);
      await ch.assertQueue(q, { arguments: { 'x-expires': 1000 } });
    }
    // 1.5 s have passed since the first declare, more than x-expires: only the redeclares kept it.
    expect(await exists(q)).toBe(true);
    await waitFor(async () => !(await exists(q)));
  });

  it('a passive declare renews the lease too (it is a stat of the queue)', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('exp-passive');
    await ch.assertQueue(q, { arguments: { 'x-expires': 1000 } });
    for (let i = 0; i < 15; i++) {
      await sleep(100);
      await ch.checkQueue(q);
    }
    expect(await exists(q)).toBe(true);
    await waitFor(async () => !(await exists(q)));
  });

  it('basic.get counts as use and resets the timer', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('exp-get');
    await ch.assertQueue(q, { arguments: { 'x-expires': 1000 } });
    for (let i = 0; i < 15; i++) {
      await sleep(100);
      await ch.get(q, { noAck: true });
    }
    expect(await exists(q)).toBe(true);
    await waitFor(async () => !(await exists(q)));
  });

  it('messages of an expired queue are discarded, not dead-lettered', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('exp-dlx');
    const witness = ctx.name('exp-dlx-witness');
    await ch.assertQueue(witness, { exclusive: true });
    await ch.assertQueue(q, { arguments: { 'x-expires': 100, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': witness } });
    ch.sendToQueue(q, Buffer.from('inside'));
    await roundTrip(ch);
    await waitFor(async () => !(await exists(q)));
    await roundTrip(ch);
    expect((await ch.checkQueue(witness)).messageCount).toBe(0);
  });

  it('x-expires must be positive (0 is refused with 406)', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('exp-zero');
    const err = await expectCode(ch.assertQueue(q, { arguments: { 'x-expires': 0 } }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - invalid arg 'x-expires' for queue '${q}' in vhost '/': {value_zero,0}`);
  });
});
