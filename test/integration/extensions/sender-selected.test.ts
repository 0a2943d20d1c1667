/**
 * Sender-selected distribution (rabbitmq.com/docs/sender-selected): the CC and BCC headers, arrays
 * of strings, add routing keys on the same exchange. BCC is removed from the message before it is
 * stored/delivered; CC stays. Every copy carries the original routing key in basic.deliver, a queue
 * reached by several keys gets one copy, and a message routed only through CC is not "unroutable".
 * A CC/BCC header that is not an array makes the message invalid (RabbitMQ: channel error 406).
 */
import { describe, expect, it } from 'vitest';
import type { Channel, ConsumeMessage, GetMessage } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { closedWith, roundTrip } from '../helpers/clients.js';
import { waitFor } from '../../helpers/broker.js';
import { drain, getEventually } from './extension-helpers.js';

const ctx = useBroker();

async function bound(ch: Channel, exchange: string, keys: readonly string[]): Promise<string[]> {
  const names: string[] = [];
  for (const k of keys) {
    const q = ctx.name(`ssd-${k.replace(/[^a-z0-9]/gi, '')}`);
    await ch.assertQueue(q, { exclusive: true });
    await ch.bindQueue(q, exchange, k);
    names.push(q);
  }
  return names;
}

describe('CC and BCC headers', () => {
  it('route to the extra keys; BCC is stripped from every copy, CC kept; deliver shows the original key', async () => {
    const ch = await ctx.clients.channel();
    const ex = ctx.name('ssd-direct');
    await ch.assertExchange(ex, 'direct', { autoDelete: true });
    const [qa, qb, qc, qd] = await bound(ch, ex, ['a', 'b', 'c', 'd']) as [string, string, string, string];
    ch.publish(ex, 'a', Buffer.from('hi'), { CC: ['b'], BCC: ['c'], headers: { other: 'kept' } });
    const copies: GetMessage[] = [];
    for (const q of [qa, qb, qc]) copies.push(await getEventually(ch, q));
    for (const m of copies) {
      expect(m.content.toString()).toBe('hi');
      expect(m.fields.routingKey).toBe('a');
      expect(m.properties.headers?.['CC']).toEqual(['b']);
      expect(m.properties.headers).not.toHaveProperty('BCC');
      expect(m.properties.headers?.['other']).toBe('kept');
    }
    await roundTrip(ch);
    expect((await ch.checkQueue(qd)).messageCount).toBe(0);
    await ch.deleteExchange(ex);
  });

  it('several CC/BCC keys; a queue reached by more than one key gets a single copy', async () => {
    const ch = await ctx.clients.channel();
    const ex = ctx.name('ssd-multi');
    await ch.assertExchange(ex, 'direct', { autoDelete: true });
    const [q1, q2, q3] = await bound(ch, ex, ['k1', 'k2', 'k3']) as [string, string, string];
    await ch.bindQueue(q1, ex, 'k1-alias');
    ch.publish(ex, 'k1', Buffer.from('m'), { CC: ['k2', 'k1-alias'], BCC: ['k3', 'k2'] });
    for (const q of [q1, q2, q3]) await getEventually(ch, q);
    await roundTrip(ch);
    for (const q of [q1, q2, q3]) expect(await drain(ch, q)).toEqual([]);
    await ch.deleteExchange(ex);
  });

  it('CC keys are matched against topic bindings like the routing key', async () => {
    const ch = await ctx.clients.channel();
    const ex = ctx.name('ssd-topic');
    await ch.assertExchange(ex, 'topic', { autoDelete: true });
    const [orders, audit] = await bound(ch, ex, ['orders.*', 'audit.#']) as [string, string];
    ch.publish(ex, 'orders.created', Buffer.from('o'), { BCC: ['audit.orders.created'] });
    expect((await getEventually(ch, orders)).fields.routingKey).toBe('orders.created');
    const a = await getEventually(ch, audit);
    expect(a.fields.routingKey).toBe('orders.created');
    expect(a.properties.headers ?? {}).not.toHaveProperty('BCC');
    await ch.deleteExchange(ex);
  });

  it('on the default exchange CC/BCC name queues directly', async () => {
    const ch = await ctx.clients.channel();
    const q1 = ctx.name('ssd-def1');
    const q2 = ctx.name('ssd-def2');
    const q3 = ctx.name('ssd-def3');
    for (const q of [q1, q2, q3]) await ch.assertQueue(q, { exclusive: true });
    ch.sendToQueue(q1, Buffer.from('d'), { CC: [q2], BCC: [q3] });
    for (const q of [q1, q2, q3]) expect((await getEventually(ch, q)).content.toString()).toBe('d');
  });

  it('a mandatory message routed only through CC/BCC is not returned', async () => {
    const ch = await ctx.clients.channel();
    const ex = ctx.name('ssd-mand');
    await ch.assertExchange(ex, 'direct', { autoDelete: true });
    const [qb] = await bound(ch, ex, ['b']) as [string];
    const returned: ConsumeMessage[] = [];
    ch.on('return', (m: ConsumeMessage) => returned.push(m));
    ch.publish(ex, 'nobody', Buffer.from('via-bcc'), { mandatory: true, BCC: ['b'] });
    ch.publish(ex, 'nobody', Buffer.from('unroutable'), { mandatory: true, BCC: ['nobody-either'] });
    expect((await getEventually(ch, qb)).content.toString()).toBe('via-bcc');
    await waitFor(() => returned.length === 1);
    await roundTrip(ch);
    expect(returned.map((m) => m.content.toString())).toEqual(['unroutable']);
    await ch.deleteExchange(ex);
  });

  it.each(['CC', 'BCC'])('a %s header that is not an array closes the channel with 406 (invalid message)', async (header) => {
    const setup = await ctx.clients.channel();
    const q = ctx.name('ssd-str');
    await setup.assertQueue(q, { exclusive: true });
    const ch = await ctx.clients.channel();
    ch.sendToQueue(q, Buffer.from('s'), { headers: { [header]: 'b' } });
    const err = await closedWith(ch);
    expect(err?.code).toBe(406);
    expect(err?.message).toContain(`PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"${header}",longstr}`);
    expect([err?.classId, err?.methodId]).toEqual([60, 40]);
    expect((await setup.checkQueue(q)).messageCount).toBe(0);
  });
});
