/**
 * Queue length limits (rabbitmq.com/docs/maxlength): x-max-length counts ready messages,
 * x-max-length-bytes counts body bytes only; x-overflow drop-head (default: the OLDEST messages are
 * dropped or dead-lettered with reason maxlen), reject-publish (the newest is refused: basic.nack to a
 * confirming publisher, never dead-lettered) and reject-publish-dlx (refused AND dead-lettered).
 * Unacknowledged messages do not count towards the limit.
 */
import { describe, expect, it } from 'vitest';
import type { ConfirmChannel } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { expectCode, roundTrip } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';
import { drain, getEventually, xDeathOf } from './extension-helpers.js';

const ctx = useBroker();

/** Publish with confirms; resolve to 'ack' or 'nack' per message, in publish order. */
async function publishConfirmed(ch: ConfirmChannel, queue: string, bodies: readonly string[]): Promise<Array<'ack' | 'nack'>> {
  const outcomes = bodies.map((b) => new Promise<'ack' | 'nack'>((resolve) => {
    ch.sendToQueue(queue, Buffer.from(b), {}, (err: unknown) => resolve(err === null || err === undefined ? 'ack' : 'nack'));
  }));
  return Promise.all(outcomes);
}

describe('x-max-length with drop-head (the default)', () => {
  it('keeps the newest messages, dropping from the head', async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = ctx.name('maxlen');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length': 2 } });
    expect(await publishConfirmed(ch, q, ['1', '2', '3', '4'])).toEqual(['ack', 'ack', 'ack', 'ack']);
    expect((await ch.checkQueue(q)).messageCount).toBe(2);
    expect(await drain(ch, q)).toEqual(['3', '4']);
  });

  it('explicit x-overflow drop-head dead-letters the dropped messages with reason maxlen', async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = ctx.name('maxlen-dlx');
    const dead = ctx.name('maxlen-dead');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, {
      exclusive: true,
      arguments: { 'x-max-length': 1, 'x-overflow': 'drop-head', 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead },
    });
    await publishConfirmed(ch, q, ['old', 'new']);
    expect(await drain(ch, q)).toEqual(['new']);
    const d = await getEventually(ch, dead);
    expect(d.content.toString()).toBe('old');
    const [death] = xDeathOf(d);
    expect(death).toMatchObject({ count: 1, reason: 'maxlen', queue: q, exchange: '', 'routing-keys': [q] });
    expect(d.properties.headers?.['x-first-death-reason']).toBe('maxlen');
  });

  it('unacknowledged messages do not count towards the limit', async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = ctx.name('maxlen-unacked');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length': 1 } });
    await publishConfirmed(ch, q, ['a']);
    const held = await ch.get(q, { noAck: false });
    expect(held !== false && held.content.toString()).toBe('a');
    await publishConfirmed(ch, q, ['b']);
    expect((await ch.checkQueue(q)).messageCount).toBe(1);
    if (held !== false) ch.nack(held, false, true);
    await roundTrip(ch);
    // The requeued message goes back to the head, making 2 ready: drop-head enforces the limit
    // again and drops it (RabbitMQ 3.10 observed: only 'b' remains).
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
    expect(await drain(ch, q)).toEqual(['b']);
  });

  it('x-max-length 0 drops every message', async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = ctx.name('maxlen-zero');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length': 0 } });
    await publishConfirmed(ch, q, ['x', 'y']);
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
  });
});

describe('x-max-length-bytes', () => {
  it('limits the total of body sizes (properties not counted), dropping from the head', async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = ctx.name('maxbytes');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length-bytes': 10 } });
    const headers = { big: 'x'.repeat(500) }; // properties do not count
    for (const b of ['aaaa', 'bbbb', 'cccc']) ch.sendToQueue(q, Buffer.from(b), { headers });
    await ch.waitForConfirms();
    expect(await drain(ch, q)).toEqual(['bbbb', 'cccc']);
  });

  it('a single message larger than the limit is dropped', async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = ctx.name('maxbytes-big');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length-bytes': 10 } });
    await publishConfirmed(ch, q, ['small', 'this-is-far-too-big']);
    expect(await drain(ch, q)).toEqual([]);
  });
});

describe('x-overflow reject-publish', () => {
  it('nacks publishes beyond the limit and does not enqueue them (nor dead-letter them)', async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = ctx.name('rejpub');
    const dead = ctx.name('rejpub-dead');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, {
      exclusive: true,
      arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish', 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead },
    });
    expect(await publishConfirmed(ch, q, ['1', '2', '3'])).toEqual(['ack', 'ack', 'nack']);
    expect(await drain(ch, q)).toEqual(['1', '2']);
    // Room again: accepted.
    expect(await publishConfirmed(ch, q, ['4'])).toEqual(['ack']);
    expect(await drain(ch, q)).toEqual(['4']);
    await roundTrip(ch);
    expect((await ch.checkQueue(dead)).messageCount).toBe(0);
  });

  it('without confirms the excess message is silently dropped (channel stays open)', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('rejpub-noconfirm');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    ch.sendToQueue(q, Buffer.from('kept'));
    ch.sendToQueue(q, Buffer.from('dropped'));
    await roundTrip(ch);
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
    expect(await drain(ch, q)).toEqual(['kept']);
  });

  it('x-max-length-bytes with reject-publish nacks the message that would exceed it', async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = ctx.name('rejpub-bytes');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-max-length-bytes': 8, 'x-overflow': 'reject-publish' } });
    expect(await publishConfirmed(ch, q, ['aaaa', 'bbbb', 'cccc'])).toEqual(['ack', 'ack', 'nack']);
    expect(await drain(ch, q)).toEqual(['aaaa', 'bbbb']);
  });

  it('a message routed to a full and a non-full queue is nacked (all queues must accept)', async () => {
    const ch = await ctx.clients.confirmChannel();
    const ex = ctx.name('rejpub-fan');
    const full = ctx.name('rejpub-full');
    const open = ctx.name('rejpub-open');
    await ch.assertExchange(ex, 'fanout', { autoDelete: true });
    await ch.assertQueue(full, { exclusive: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    await ch.assertQueue(open, { exclusive: true });
    await ch.bindQueue(full, ex, '');
    await ch.bindQueue(open, ex, '');
    const results = await Promise.all(['first', 'second'].map((b) => new Promise<string>((resolve) => {
      ch.publish(ex, '', Buffer.from(b), {}, (err: unknown) => resolve(err === null || err === undefined ? 'ack' : 'nack'));
    })));
    expect(results).toEqual(['ack', 'nack']);
    expect(await drain(ch, full)).toEqual(['first']);
    expect(await drain(ch, open)).toEqual(['first', 'second']);
    await ch.deleteExchange(ex);
  });
});

describe('x-overflow reject-publish-dlx', () => {
  it('nacks the excess message and dead-letters it with reason maxlen', async () => {
    const ch = await ctx.clients.confirmChannel();
    const q = ctx.name('rejdlx');
    const dead = ctx.name('rejdlx-dead');
    await ch.assertQueue(dead, { exclusive: true });
    await ch.assertQueue(q, {
      exclusive: true,
      arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead },
    });
    expect(await publishConfirmed(ch, q, ['in', 'out'])).toEqual(['ack', 'nack']);
    expect(await drain(ch, q)).toEqual(['in']);
    const d = await getEventually(ch, dead);
    expect(d.content.toString()).toBe('out');
    expect(xDeathOf(d)[0]).toMatchObject({ count: 1, reason: 'maxlen', queue: q });
  });
});

describe('argument validation', () => {
  it('an unknown x-overflow value is refused with 406', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('overflow-bad');
    const err = await expectCode(ch.assertQueue(q, { arguments: { 'x-overflow': 'bogus' } }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - invalid arg 'x-overflow' for queue '${q}' in vhost '/': invalid_overflow`);
  });

  it('a negative x-max-length is refused with 406', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('maxlen-neg');
    const err = await expectCode(ch.assertQueue(q, { arguments: { 'x-max-length': -1 } }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - invalid arg 'x-max-length' for queue '${q}' in vhost '/': {value_negative,-1}`);
  });
});
