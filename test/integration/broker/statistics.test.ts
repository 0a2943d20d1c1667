/**
 * Message statistics end to end: real clients publish, consume, get, ack, reject and confirm; the
 * counters of queues, exchanges, channels, connections and vhosts move as RabbitMQ's message_stats
 * do; the sampler turns them into rates in the management JSON; Prometheus' global and churn
 * counters come from the same numbers and never go down when objects go away.
 */
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { waitFor } from '../../helpers/broker.js';
import { parsePrometheusText, valueOf } from '../../helpers/prometheus-text.js';
import type { MessageStats } from '../../../src/broker/statistics.js';

const ctx = useBroker({ managementPort: 0, prometheusPort: 0 });

const broker = () => ctx.broker.warren!.broker;
const vhost = () => broker().vhosts.get('/')!;

function pick(s: MessageStats): Partial<MessageStats> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(s)) if (v !== 0) out[k] = v as number;
  return out;
}

async function api(path: string): Promise<Record<string, unknown>> {
  const res = await fetch(ctx.broker.warren!.managementUrl! + path, { headers: { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64') } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function metrics(): Promise<ReturnType<typeof parsePrometheusText>> {
  const res = await fetch(`http://127.0.0.1:${ctx.broker.warren!.prometheusPort!}/metrics`);
  return parsePrometheusText(await res.text());
}

describe('message statistics', () => {
  it('count publishes, deliveries, gets, acks, redeliveries, confirms and unroutables per object', async () => {
    const before = { ...vhost().stats };
    const conn = await ctx.clients.connect();
    const ch = await conn.createConfirmChannel();
    const q = ctx.name('st-q');
    const x = ctx.name('st-x');
    await ch.assertQueue(q, { exclusive: true });
    await ch.assertExchange(x, 'fanout', { autoDelete: true });
    const q2 = ctx.name('st-q2');
    await ch.assertQueue(q2, { exclusive: true });
    await ch.bindQueue(q, x, '');
    await ch.bindQueue(q2, x, '');
    for (let i = 0; i < 3; i++) ch.publish(x, '', Buffer.from(`m${i}`));
    ch.publish('amq.direct', 'nowhere', Buffer.from('dropped'));
    ch.publish('amq.direct', 'nowhere', Buffer.from('returned'), { mandatory: true });
    await ch.waitForConfirms();

    const queue = vhost().queues.get(q)!;
    const exchange = vhost().exchanges.get(x)!;
    expect(pick(exchange.stats)).toEqual({ publishIn: 3, publishOut: 6 });
    expect(pick(queue.stats)).toEqual({ publish: 3 });
    // RabbitMQ's exchange message_stats: publish_in, publish_out (once per queue reached).
    expect((await api(`/api/exchanges/%2F/${x}`))['message_stats']).toMatchObject({ publish_in: 3, publish_out: 6 });

    // Consume with manual ack: ack the first, requeue the second (redelivered), ack all.
    const got: amqp.ConsumeMessage[] = [];
    await ch.prefetch(10);
    const { consumerTag } = await ch.consume(q, (m) => { if (m !== null) got.push(m); });
    await waitFor(() => got.length === 3);
    ch.ack(got[0]!);
    ch.nack(got[1]!, false, true);
    await waitFor(() => got.length === 4);
    expect(got[3]!.fields.redelivered).toBe(true);
    ch.ack(got[2]!);
    ch.ack(got[3]!);
    await ch.cancel(consumerTag);
    // basic.get on the second queue: manual ack, auto ack, then empty.
    const g1 = await ch.get(q2, { noAck: false });
    expect(g1).not.toBe(false);
    ch.ack(g1 as amqp.GetMessage);
    expect(await ch.get(q2, { noAck: true })).not.toBe(false);
    await ch.get(q2, { noAck: true });
    expect(await ch.get(q2, { noAck: true })).toBe(false);
    await waitFor(() => queue.stats.ack === 3);

    expect(pick(queue.stats)).toEqual({ publish: 3, deliver: 4, redeliver: 1, ack: 3 });
    expect(pick(vhost().queues.get(q2)!.stats)).toEqual({ publish: 3, get: 1, getNoAck: 2, getEmpty: 1, ack: 1 });
    const v = vhost().stats;
    expect(v.publish - before.publish).toBe(5);
    expect(v.confirm - before.confirm).toBe(5);
    expect(v.dropUnroutable - before.dropUnroutable).toBe(1);
    expect(v.returnUnroutable - before.returnUnroutable).toBe(1);
    expect(v.deliver - before.deliver).toBe(4);
    expect(v.get - before.get).toBe(1);
    expect(v.getNoAck - before.getNoAck).toBe(2);
    expect(v.getEmpty - before.getEmpty).toBe(1);
    expect(v.ack - before.ack).toBe(4);
    expect(v.redeliver - before.redeliver).toBe(1);

    // The connection's counts: its open channel's now, kept when the channel closes.
    const server = [...ctx.broker.warren!.listener.openConnections()][0]!;
    expect(pick(server.stats)).toMatchObject({ publish: 5, confirm: 5, deliver: 4, ack: 4 });
    // The management API renders channels' and connections' message_stats from the same counters.
    const channels = (await api('/api/channels')) as unknown as { message_stats?: Record<string, number> }[];
    expect(channels.map((c) => c.message_stats?.['publish'])).toEqual([5]);
    const connections = (await api('/api/connections')) as unknown as { message_stats?: Record<string, number> }[];
    expect(connections[0]?.message_stats).toMatchObject({ publish: 5, confirm: 5, deliver: 4, ack: 4, return_unroutable: 1, drop_unroutable: 1 });
    await ch.close();
    await waitFor(() => server.stats.publish === 5 && [...ctx.broker.warren!.listener.openConnections()].length === 1);
    expect(pick(server.stats)).toMatchObject({ publish: 5, confirm: 5, deliver: 4, ack: 4, getEmpty: 1 });
  });

  it('count auto-ack deliveries, and rates appear in the management JSON once sampled', async () => {
    const sampler = broker().statistics.sampler;
    sampler.stop();
    const ch = await ctx.clients.channel();
    const q = ctx.name('st-rate');
    await ch.assertQueue(q, { exclusive: true });
    const t0 = Date.now();
    sampler.sample(t0);
    for (let i = 0; i < 10; i++) ch.sendToQueue(q, Buffer.from('x'));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 10);
    sampler.sample(t0 + 5000);
    let n = 0;
    await ch.consume(q, () => { n++; }, { noAck: true });
    await waitFor(() => n === 10);
    sampler.sample(t0 + 10_000);
    const json = await api(`/api/queues/%2F/${q}?msg_rates_age=10&msg_rates_incr=5`);
    const ms = json['message_stats'] as Record<string, { rate: number; samples?: unknown[] } | number>;
    expect(ms['publish']).toBe(10);
    expect(ms['deliver_no_ack']).toBe(10);
    expect(ms['deliver_get']).toBe(10);
    expect((ms['deliver_no_ack_details'] as { rate: number }).rate).toBe(2);
    expect((ms['publish_details'] as { rate: number }).rate).toBe(0);
    expect((ms['publish_details'] as { samples: unknown[] }).samples).toHaveLength(3);
    expect(json['messages_ready_details']).toEqual({ rate: -2 });
    const overview = await api('/api/overview');
    expect((overview['message_stats'] as Record<string, number>)['publish']).toBeGreaterThanOrEqual(10);
    const vh = await api('/api/vhosts/%2F');
    expect((vh['message_stats'] as Record<string, number>)['deliver_no_ack']).toBeGreaterThanOrEqual(10);
    sampler.start();
  });

  it('feed Prometheus: global counters by queue type, churn, dead letters; totals survive deletions', async () => {
    const m0 = await metrics();
    const g0 = (name: string, labels: Record<string, string> = { protocol: 'amqp091' }) => valueOf(m0, name, labels) ?? 0;
    const conn = await ctx.clients.connect();
    const ch = await conn.createChannel();
    const q = ctx.name('st-prom');
    await ch.assertQueue(q, { exclusive: true });
    for (let i = 0; i < 4; i++) ch.sendToQueue(q, Buffer.from('x'));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 4);
    const got: amqp.ConsumeMessage[] = [];
    await ch.consume(q, (m) => { if (m !== null) got.push(m); });
    await waitFor(() => got.length === 4);
    ch.ack(got[0]!);
    ch.reject(got[1]!, false); // no dead-letter exchange: counted as dead-lettered "disabled"
    ch.ack(got[2]!);
    ch.ack(got[3]!);
    await waitFor(() => vhost().queues.get(q)?.stats.ack === 3);
    await ch.deleteQueue(q);
    const failed = amqp.connect(ctx.url.replace('guest:guest', 'guest:wrong'));
    await expect(failed).rejects.toThrow();

    const m = await metrics();
    const delta = (name: string, labels: Record<string, string> = { protocol: 'amqp091' }) => (valueOf(m, name, labels) ?? 0) - g0(name, labels);
    const classic = { protocol: 'amqp091', queue_type: 'rabbit_classic_queue' };
    expect(delta('rabbitmq_global_messages_received_total')).toBe(4);
    expect(delta('rabbitmq_global_messages_routed_total')).toBe(4);
    expect(delta('rabbitmq_global_messages_delivered_total', classic)).toBe(4);
    expect(delta('rabbitmq_global_messages_delivered_consume_manual_ack_total', classic)).toBe(4);
    // The queue is gone: its acks stay in the totals.
    expect(delta('rabbitmq_global_messages_acknowledged_total', classic)).toBe(3);
    expect(delta('rabbitmq_global_messages_dead_lettered_rejected_total', { queue_type: 'rabbit_classic_queue', dead_letter_strategy: 'disabled' })).toBe(1);
    expect(delta('rabbitmq_queues_declared_total', {})).toBe(1);
    expect(delta('rabbitmq_queues_created_total', {})).toBe(1);
    expect(delta('rabbitmq_queues_deleted_total', {})).toBe(1);
    expect(delta('rabbitmq_channel_messages_published_total', {})).toBe(4);
    expect(delta('rabbitmq_channel_messages_acked_total', {})).toBe(3);
    expect(delta('rabbitmq_auth_attempts_failed_total')).toBe(1);
    expect(delta('rabbitmq_auth_attempts_succeeded_total')).toBe(1);
    // A connection counts as opened once its handshake completed (the refused login does not).
    expect(delta('rabbitmq_connections_opened_total', {})).toBe(1);
    expect(valueOf(m, 'rabbitmq_channels')).toBe(1);
    await conn.close();
    await waitFor(async () => valueOf(await metrics(), 'rabbitmq_channels') === 0);
    const after = await metrics();
    expect((valueOf(after, 'rabbitmq_channels_closed_total') ?? 0) - (valueOf(m0, 'rabbitmq_channels_closed_total') ?? 0)).toBe(1);
    // Closed channels do not take their counts with them.
    expect((valueOf(after, 'rabbitmq_channel_messages_published_total') ?? 0) - (valueOf(m0, 'rabbitmq_channel_messages_published_total') ?? 0)).toBe(4);
  });
});
