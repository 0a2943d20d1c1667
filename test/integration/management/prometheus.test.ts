/**
 * The Prometheus endpoint (RabbitMQ's rabbitmq_prometheus, port 15692 in production, an ephemeral
 * port here): /metrics, /metrics/per-object and /metrics/detailed parse strictly as the text
 * format, carry RabbitMQ's family names, types and labels, and values come from the broker at
 * scrape time; unknown paths and methods get the plugin's answers.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { startTestBroker, waitFor } from '../../helpers/broker.js';
import { parsePrometheusText, valueOf, type PromFamily } from '../../helpers/prometheus-text.js';

const ctx = useBroker({ prometheusPort: 0 });

function base(): string {
  const port = ctx.broker.warren!.prometheusPort;
  if (port === undefined) throw new Error('Prometheus is not enabled');
  return `http://127.0.0.1:${port}`;
}

async function scrape(path = '/metrics'): Promise<Map<string, PromFamily>> {
  const res = await fetch(base() + path);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4');
  return parsePrometheusText(await res.text());
}

describe('Prometheus /metrics (aggregated)', () => {
  it('parses strictly and carries the families the RabbitMQ-Overview dashboard and common alerts use', async () => {
    const m = await scrape();
    const expected: [string, string][] = [
      ['rabbitmq_identity_info', 'untyped'], ['rabbitmq_build_info', 'untyped'],
      ['rabbitmq_queue_messages_ready', 'gauge'], ['rabbitmq_queue_messages_unacked', 'gauge'], ['rabbitmq_queue_messages', 'gauge'],
      ['rabbitmq_connections', 'gauge'], ['rabbitmq_channels', 'gauge'], ['rabbitmq_queues', 'gauge'], ['rabbitmq_consumers', 'gauge'],
      ['rabbitmq_channel_consumers', 'gauge'],
      ['rabbitmq_global_messages_received_total', 'counter'], ['rabbitmq_global_messages_routed_total', 'counter'],
      ['rabbitmq_global_messages_delivered_total', 'counter'], ['rabbitmq_global_messages_acknowledged_total', 'counter'],
      ['rabbitmq_global_messages_confirmed_total', 'counter'], ['rabbitmq_global_messages_redelivered_total', 'counter'],
      ['rabbitmq_global_messages_unroutable_dropped_total', 'counter'], ['rabbitmq_global_messages_unroutable_returned_total', 'counter'],
      ['rabbitmq_global_publishers', 'gauge'], ['rabbitmq_global_consumers', 'gauge'],
      ['rabbitmq_connections_opened_total', 'counter'], ['rabbitmq_connections_closed_total', 'counter'],
      ['rabbitmq_channels_opened_total', 'counter'], ['rabbitmq_channels_closed_total', 'counter'],
      ['rabbitmq_queues_declared_total', 'counter'], ['rabbitmq_queues_created_total', 'counter'], ['rabbitmq_queues_deleted_total', 'counter'],
      ['rabbitmq_process_resident_memory_bytes', 'gauge'], ['rabbitmq_resident_memory_limit_bytes', 'gauge'],
      ['rabbitmq_disk_space_available_bytes', 'gauge'], ['rabbitmq_disk_space_available_limit_bytes', 'gauge'],
      ['rabbitmq_process_open_fds', 'gauge'], ['rabbitmq_process_max_fds', 'gauge'],
      ['rabbitmq_process_open_tcp_sockets', 'gauge'], ['rabbitmq_process_max_tcp_sockets', 'gauge'],
      ['rabbitmq_channel_messages_unroutable_dropped_total', 'counter'], ['rabbitmq_channel_messages_unroutable_returned_total', 'counter'],
      ['rabbitmq_channel_messages_published_total', 'counter'],
      ['rabbitmq_alarms_memory_used_watermark', 'untyped'], ['rabbitmq_alarms_free_disk_space_watermark', 'untyped'],
      ['rabbitmq_alarms_file_descriptor_limit', 'untyped'],
    ];
    for (const [name, type] of expected) {
      expect(m.get(name)?.type, name).toBe(type);
      expect(m.get(name)?.help, name).toBeTruthy();
      expect(m.get(name)?.samples.length, name).toBeGreaterThan(0);
    }
    // Aggregated families have no labels, as RabbitMQ's /metrics.
    expect(m.get('rabbitmq_queue_messages_ready')!.samples[0]!.labels).toEqual({});
    const id = m.get('rabbitmq_identity_info')!.samples[0]!;
    expect(Object.keys(id.labels).sort()).toEqual(['rabbitmq_cluster', 'rabbitmq_cluster_permanent_id', 'rabbitmq_node']);
    expect(m.get('rabbitmq_build_info')!.samples[0]!.labels['rabbitmq_version']).toBe('3.13.7');
    const delivered = m.get('rabbitmq_global_messages_delivered_total')!.samples.map((s) => s.labels);
    expect(delivered).toContainEqual({ protocol: 'amqp091', queue_type: 'rabbit_classic_queue' });
    expect(valueOf(m, 'rabbitmq_global_messages_received_total', { protocol: 'amqp091' })).toBeGreaterThanOrEqual(0);
    expect(valueOf(m, 'rabbitmq_process_resident_memory_bytes')).toBeGreaterThan(1024 * 1024);
    expect(valueOf(m, 'rabbitmq_disk_space_available_limit_bytes')).toBe(50_000_000);
    expect(valueOf(m, 'rabbitmq_alarms_memory_used_watermark')).toBe(0);
  });

  it('reads queues, consumers and connections when scraped', async () => {
    const ch = await ctx.clients.channel();
    const a = ctx.name('prom-a');
    const b = ctx.name('prom-b');
    await ch.assertQueue(a, { exclusive: true });
    await ch.assertQueue(b, { exclusive: true });
    for (let i = 0; i < 3; i++) ch.sendToQueue(a, Buffer.from('x'));
    ch.sendToQueue(b, Buffer.from('y'));
    await waitFor(async () => (await ch.checkQueue(a)).messageCount === 3);
    await ch.prefetch(1);
    await ch.consume(b, () => undefined, { noAck: false });
    await waitFor(async () => valueOf(await scrape(), 'rabbitmq_queue_messages_unacked') === 1);
    const m = await scrape();
    expect(valueOf(m, 'rabbitmq_queue_messages_ready')).toBe(3);
    expect(valueOf(m, 'rabbitmq_queue_messages')).toBe(4);
    expect(valueOf(m, 'rabbitmq_queues')).toBe(2);
    expect(valueOf(m, 'rabbitmq_consumers')).toBe(1);
    expect(valueOf(m, 'rabbitmq_connections')).toBe(1);
    expect(valueOf(m, 'rabbitmq_global_consumers', { protocol: 'amqp091' })).toBe(1);
    expect(valueOf(m, 'rabbitmq_channels')).toBe(1);
    expect(valueOf(m, 'rabbitmq_channel_consumers')).toBe(1);
    expect(valueOf(m, 'rabbitmq_channel_messages_unacked')).toBe(1);
    expect(valueOf(m, 'rabbitmq_consumer_prefetch')).toBe(1);
    expect(valueOf(m, 'rabbitmq_connection_channels')).toBe(1);
    expect(valueOf(m, 'rabbitmq_connection_incoming_bytes_total')).toBeGreaterThan(0);
    expect(valueOf(m, 'rabbitmq_global_publishers', { protocol: 'amqp091' })).toBe(1);

    const per = await scrape('/metrics/per-object');
    expect(valueOf(per, 'rabbitmq_queue_messages_ready', { vhost: '/', queue: a })).toBe(3);
    expect(valueOf(per, 'rabbitmq_queue_messages_unacked', { vhost: '/', queue: b })).toBe(1);
    expect(valueOf(per, 'rabbitmq_queue_consumers', { vhost: '/', queue: b })).toBe(1);
    expect(valueOf(per, 'rabbitmq_queue_messages_ready_bytes', { vhost: '/', queue: a })).toBe(3);
    expect(valueOf(per, 'rabbitmq_queue_messages_unacked_bytes', { vhost: '/', queue: b })).toBe(1);
    expect(valueOf(per, 'rabbitmq_queue_messages_bytes', { vhost: '/', queue: a })).toBe(3);
    expect(valueOf(per, 'rabbitmq_queues')).toBe(2);
    // Channels and connections are labelled as RabbitMQ labels them: channel="<pid-like id>".
    const ch1 = per.get('rabbitmq_channel_messages_published_total')!.samples;
    expect(ch1).toHaveLength(1);
    expect(ch1[0]!.labels['channel']).toMatch(/^<0\.\d+\.1>$/);
    expect(ch1[0]!.value).toBe(4);
    expect(per.get('rabbitmq_connection_incoming_bytes_total')!.samples[0]!.labels['channel']).toMatch(/^<0\.\d+\.0>$/);
  });

  it('serves gzip when asked, HEAD without a body, and answers other paths and methods as the plugin', async () => {
    const zipped = await fetch(base() + '/metrics', { headers: { 'accept-encoding': 'gzip' } });
    expect(zipped.status).toBe(200);
    // fetch decompresses transparently; the header shows what went over the wire.
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    expect(parsePrometheusText(await zipped.text()).has('rabbitmq_queues')).toBe(true);
    const raw = await new Promise<Buffer>((resolve, reject) => {
      void import('node:http').then(({ get }) => {
        get(base() + '/metrics', { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve(Buffer.concat(parts)));
        }).on('error', reject);
      });
    });
    expect(gunzipSync(raw).toString('utf8')).toContain('# TYPE rabbitmq_queues gauge');
    const head = await fetch(base() + '/metrics', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const missing = await fetch(base() + '/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'Object Not Found', reason: 'Not Found' });
    const post = await fetch(base() + '/metrics', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('HEAD, GET, OPTIONS');
    expect((await fetch(base() + '/metrics/', { method: 'GET' })).status).toBe(200);
  });
});

describe('Prometheus /metrics/detailed', () => {
  it('emits only the families asked for, prefixed rabbitmq_detailed_, queues filtered by vhost', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('prom-d');
    await ch.assertQueue(q, { exclusive: true });
    ch.sendToQueue(q, Buffer.from('x'));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
    const m = await scrape('/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count&family=connection_churn_metrics');
    expect([...m.keys()].sort()).toEqual([
      'rabbitmq_build_info', 'rabbitmq_detailed_channels_closed_total', 'rabbitmq_detailed_channels_opened_total',
      'rabbitmq_detailed_connections_closed_total', 'rabbitmq_detailed_connections_opened_total',
      'rabbitmq_detailed_queue_consumers', 'rabbitmq_detailed_queue_messages', 'rabbitmq_detailed_queue_messages_ready',
      'rabbitmq_detailed_queue_messages_unacked', 'rabbitmq_detailed_queues_created_total',
      'rabbitmq_detailed_queues_declared_total', 'rabbitmq_detailed_queues_deleted_total', 'rabbitmq_identity_info',
    ]);
    expect(valueOf(m, 'rabbitmq_detailed_queue_messages', { vhost: '/', queue: q })).toBe(1);
    expect(valueOf(m, 'rabbitmq_detailed_queue_consumers', { vhost: '/', queue: q })).toBe(0);
    const other = await scrape('/metrics/detailed?family=queue_coarse_metrics&vhost=elsewhere');
    expect(other.get('rabbitmq_detailed_queue_messages')!.samples).toEqual([]);
    const none = await scrape('/metrics/detailed');
    expect([...none.keys()].sort()).toEqual(['rabbitmq_build_info', 'rabbitmq_identity_info']);
  });

  it('serves the cluster families: vhost status, exchanges and their binding counts', async () => {
    const ch = await ctx.clients.channel();
    const x = ctx.name('prom-x');
    const q = ctx.name('prom-xq');
    await ch.assertExchange(x, 'topic', { autoDelete: true });
    await ch.assertQueue(q, { exclusive: true });
    await ch.bindQueue(q, x, 'a.#');
    await ch.bindQueue(q, x, 'b.#');
    const m = await scrape('/metrics/detailed?family=vhost_status&family=exchange_bindings&family=exchange_names');
    expect(valueOf(m, 'rabbitmq_cluster_vhost_status', { vhost: '/' })).toBe(1);
    expect(valueOf(m, 'rabbitmq_cluster_exchange_bindings', { vhost: '/', exchange: x, type: 'topic' })).toBe(2);
    expect(valueOf(m, 'rabbitmq_cluster_exchange_name', { vhost: '/', exchange: 'amq.fanout', type: 'fanout' })).toBe(1);
    // RabbitMQ leaves out the default exchange.
    expect(m.get('rabbitmq_cluster_exchange_name')!.samples.some((s) => s.labels['exchange'] === '')).toBe(false);
  });
});

describe('Prometheus listener start-up', () => {
  async function occupiedPort(): Promise<{ port: number; close(): Promise<void> }> {
    const { createServer } = await import('node:net');
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    return { port, close: () => new Promise<void>((r) => srv.close(() => r())) };
  }

  it('a taken port fails the start and releases the AMQP port; best effort runs without metrics', async () => {
    const taken = await occupiedPort();
    try {
      await expect(startTestBroker({ prometheusPort: taken.port })).rejects.toThrow(/EADDRINUSE/);
      const b = await startTestBroker({ prometheusPort: taken.port, prometheusBestEffort: true });
      try {
        expect(b.warren!.prometheusPort).toBeUndefined();
      } finally {
        await b.close();
      }
    } finally {
      await taken.close();
    }
  });

  it('is off unless asked for', async () => {
    const b = await startTestBroker();
    try {
      expect(b.warren!.prometheusPort).toBeUndefined();
    } finally {
      await b.close();
    }
  });
});
