/**
 * Consumer acknowledgement timeout (rabbitmq.com/docs/consumers#acknowledgement-timeout). RabbitMQ
 * closes the CHANNEL (not the connection) holding a delivery unacknowledged for longer than
 * consumer_timeout, with channel.close 406 and the text
 *   PRECONDITION_FAILED - delivery acknowledgement on channel N timed out. Timeout value used: X ms.
 *   This timeout value can be configured, see consumers doc guide to learn more
 * (class/method 0/0: no method caused it); the unacked messages are requeued as on any channel close.
 * Warren-only: the reference's timeout (30 min default, rabbitmq.conf only in 3.10) cannot be set per
 * test, so these tests skip on the reference. Warren's option: broker.consumerTimeout (ms).
 */
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { Inbox, closedWith, fill, isClosed, roundTrip } from '../helpers/clients.js';
import { startTestBroker } from '../../helpers/broker.js';
import { extensionOptions } from './extension-helpers.js';

const TIMEOUT = 200;
const ctx = useBroker(extensionOptions({ consumerTimeout: TIMEOUT }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const REASON = 'the reference broker\'s consumer_timeout is fixed in rabbitmq.conf (30 min): not configurable per test';

describe('consumer acknowledgement timeout', () => {
  it('closes the channel with 406 and RabbitMQ\'s text; the connection and other channels live on; the message is requeued', async (t) => {
    t.skip(ctx.isReference, REASON);
    const conn = await ctx.clients.connect();
    const slow = await ctx.clients.channel(conn); // channel 1 of this connection
    const other = await ctx.clients.channel(conn);
    const q = ctx.name('ack-timeout');
    await other.assertQueue(q, { exclusive: true });
    const inbox = new Inbox();
    await slow.consume(q, inbox.handler, { noAck: false });
    await fill(ctx.clients, q, ['slow-job'], conn);
    await inbox.count(1);
    const err = await closedWith(slow, 10_000);
    expect(err?.code).toBe(406);
    expect(err?.message).toContain(
      `PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: ${TIMEOUT} ms. ` +
      'This timeout value can be configured, see consumers doc guide to learn more',
    );
    expect([err?.classId, err?.methodId]).toEqual([0, 0]);
    await roundTrip(other);
    expect(isClosed(conn)).toBe(false);
    const again = new Inbox();
    await other.consume(q, again.handler, { noAck: true });
    const [m] = await again.count(1);
    expect(m?.content.toString()).toBe('slow-job');
    expect(m?.fields.redelivered).toBe(true);
  });

  it('the channel number in the text is the one that timed out', async (t) => {
    t.skip(ctx.isReference, REASON);
    const conn = await ctx.clients.connect();
    const first = await ctx.clients.channel(conn);
    await ctx.clients.channel(conn);
    const third = await ctx.clients.channel(conn);
    const q = ctx.name('ack-timeout-ch');
    await first.assertQueue(q, { exclusive: true });
    const inbox = new Inbox();
    await third.consume(q, inbox.handler, { noAck: false });
    await fill(ctx.clients, q, ['x'], conn);
    await inbox.count(1);
    const err = await closedWith(third, 10_000);
    expect(err?.message).toContain('delivery acknowledgement on channel 3 timed out');
    await roundTrip(first);
  });

  it('deliveries acknowledged in time, and no-ack consumers, are never timed out', async (t) => {
    t.skip(ctx.isReference, REASON);
    const conn = await ctx.clients.connect();
    const acking = await ctx.clients.channel(conn);
    const noAck = await ctx.clients.channel(conn);
    const q1 = ctx.name('ack-in-time');
    const q2 = ctx.name('no-ack');
    await acking.assertQueue(q1, { exclusive: true });
    await acking.assertQueue(q2, { exclusive: true });
    await acking.consume(q1, (m) => { if (m !== null) acking.ack(m); }, { noAck: false });
    const inbox = new Inbox();
    await noAck.consume(q2, inbox.handler, { noAck: true });
    await fill(ctx.clients, q1, ['a', 'b'], conn);
    await fill(ctx.clients, q2, ['c'], conn);
    await inbox.count(1);
    await sleep(TIMEOUT * 4);
    await roundTrip(acking);
    await roundTrip(noAck);
    expect(isClosed(acking) || isClosed(noAck)).toBe(false);
  });

  it('defaults to RabbitMQ\'s 30 minutes (1 800 000 ms)', async (t) => {
    t.skip(ctx.isReference, REASON);
    const b = await startTestBroker();
    try {
      const config = b.warren?.broker.config as unknown as Record<string, unknown> | undefined;
      expect(config?.['consumerTimeout']).toBe(1_800_000);
    } finally {
      await b.close();
    }
  });
});
