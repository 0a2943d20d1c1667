/**
 * Differential: Warren's Prometheus output against the reference RabbitMQ's rabbitmq_prometheus.
 * Every family the published RabbitMQ-Overview Grafana dashboard and the cluster-operator's alert
 * rules query must be served by Warren with the reference's type, help text and label names, so
 * the dashboard and alerts work unchanged. Skipped with the reason when no reference is reachable
 * (the test setup enables the plugin on a local reference: rabbitmq-plugins enable rabbitmq_prometheus).
 */
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { parsePrometheusText, type PromFamily } from '../../helpers/prometheus-text.js';
import { referencePrometheus } from '../../helpers/reference-plugins.js';

/**
 * Metric names in the expressions of rabbitmq-server's
 * deps/rabbitmq_prometheus/docker/grafana/dashboards/RabbitMQ-Overview.json (v3.10.8 and v3.13.7,
 * Grafana dashboard 10991), and of rabbitmq/cluster-operator's observability/prometheus/rules.
 */
const DASHBOARD_FAMILIES = [
  'rabbitmq_build_info', 'rabbitmq_identity_info', 'rabbitmq_channel_consumers', 'rabbitmq_channels',
  'rabbitmq_channels_closed_total', 'rabbitmq_channels_opened_total', 'rabbitmq_connections',
  'rabbitmq_connections_closed_total', 'rabbitmq_connections_opened_total', 'rabbitmq_consumers',
  'rabbitmq_disk_space_available_bytes', 'rabbitmq_global_messages_acknowledged_total',
  'rabbitmq_global_messages_confirmed_total', 'rabbitmq_global_messages_delivered_consume_auto_ack_total',
  'rabbitmq_global_messages_delivered_consume_manual_ack_total', 'rabbitmq_global_messages_delivered_get_auto_ack_total',
  'rabbitmq_global_messages_delivered_get_manual_ack_total', 'rabbitmq_global_messages_get_empty_total',
  'rabbitmq_global_messages_received_confirm_total', 'rabbitmq_global_messages_received_total',
  'rabbitmq_global_messages_redelivered_total', 'rabbitmq_global_messages_routed_total',
  'rabbitmq_global_messages_unroutable_dropped_total', 'rabbitmq_global_messages_unroutable_returned_total',
  'rabbitmq_global_publishers', 'rabbitmq_global_consumers', 'rabbitmq_global_messages_delivered_total',
  'rabbitmq_process_max_fds', 'rabbitmq_process_max_tcp_sockets', 'rabbitmq_process_open_fds',
  'rabbitmq_process_open_tcp_sockets', 'rabbitmq_process_resident_memory_bytes', 'rabbitmq_queue_messages_ready',
  'rabbitmq_queue_messages_unacked', 'rabbitmq_queues', 'rabbitmq_queues_created_total', 'rabbitmq_queues_declared_total',
  'rabbitmq_queues_deleted_total', 'rabbitmq_resident_memory_limit_bytes', 'rabbitmq_disk_space_available_limit_bytes',
  'rabbitmq_erlang_uptime_seconds',
  // alert rules
  'rabbitmq_alarms_file_descriptor_limit', 'rabbitmq_alarms_free_disk_space_watermark', 'rabbitmq_alarms_memory_used_watermark',
  'rabbitmq_channel_messages_unroutable_dropped_total', 'rabbitmq_channel_messages_unroutable_returned_total',
];
/** Per-object alert rules (queue-is-growing, queue-has-no-consumers) read these from /metrics/detailed. */
const DETAILED_FAMILIES = ['rabbitmq_detailed_queue_messages', 'rabbitmq_detailed_queue_consumers'];

/**
 * Families whose labels legitimately differ: build info names the product (product_name and
 * product_version, which RabbitMQ adds for branded builds too).
 */
const EXTRA_LABELS: Record<string, readonly string[]> = {
  rabbitmq_build_info: ['product_name', 'product_version'],
};

const reference = await referencePrometheus();
const skip = 'skip' in reference ? reference.skip : undefined;
if (skip !== undefined) console.warn(`Prometheus differential tests skipped: ${skip}`);

const ctx = useBroker({ prometheusPort: 0 });

async function scrape(base: string, path: string): Promise<Map<string, PromFamily>> {
  const res = await fetch(base + path);
  expect(res.status, `${base}${path}`).toBe(200);
  return parsePrometheusText(await res.text());
}

function labelNames(f: PromFamily): string[] {
  return [...new Set(f.samples.flatMap((s) => Object.keys(s.labels)))].sort();
}

describe.skipIf(skip !== undefined)(`Prometheus: Warren vs the reference${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  const refBase = (): string => ('url' in reference ? reference.url : '');
  const warrenBase = (): string => `http://127.0.0.1:${ctx.broker.warren!.prometheusPort!}`;

  it('serves every family the dashboard and alerts use, with the reference type, help and label names', async () => {
    const ref = await scrape(refBase(), '/metrics');
    const ours = await scrape(warrenBase(), '/metrics');
    for (const name of DASHBOARD_FAMILIES) {
      const r = ref.get(name);
      const w = ours.get(name);
      expect(w, `Warren lacks ${name}`).toBeDefined();
      if (r === undefined) continue; // a newer dashboard's family the 3.10 reference does not have
      expect(w!.type, `${name} type`).toBe(r.type);
      expect(w!.help, `${name} help`).toBe(r.help);
      const extra = EXTRA_LABELS[name] ?? [];
      expect(labelNames(w!).filter((l) => !extra.includes(l)), `${name} labels`).toEqual(labelNames(r).filter((l) => !extra.includes(l)));
    }
  });

  it('every family Warren shares with the reference has the same type and help; the rest are named here', async () => {
    const ref = await scrape(refBase(), '/metrics');
    const ours = await scrape(warrenBase(), '/metrics');
    const onlyOurs: string[] = [];
    for (const [name, w] of ours) {
      const r = ref.get(name);
      if (r === undefined) { onlyOurs.push(name); continue; }
      expect(w.type, `${name} type`).toBe(r.type);
      expect(w.help, `${name} help`).toBe(r.help);
    }
    expect(onlyOurs).toEqual([]);
  });

  it('per-object and detailed families carry the reference label names (vhost, queue)', async () => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('prom-ref');
    await ch.assertQueue(q, { exclusive: true });
    // A queue on each broker, so per-object families have samples to compare.
    const refConn = await amqp.connect(referenceAmqp());
    try {
      const refCh = await refConn.createChannel();
      await refCh.assertQueue(q, { exclusive: true });
      await compareDetailed(refBase(), warrenBase());
    } finally {
      await refConn.close();
    }
  });
});

async function compareDetailed(refBase: string, warrenBase: string): Promise<void> {
  const query = '/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count';
  const ref = await scrape(refBase, query);
    const ours = await scrape(warrenBase, query);
    for (const name of DETAILED_FAMILIES) {
      expect(ours.get(name), `Warren lacks ${name}`).toBeDefined();
      expect(labelNames(ours.get(name)!)).toEqual(labelNames(ref.get(name)!));
      expect(ours.get(name)!.type).toBe(ref.get(name)!.type);
    }
    const refPer = await scrape(refBase, '/metrics/per-object');
    const ourPer = await scrape(warrenBase, '/metrics/per-object');
    for (const name of ['rabbitmq_queue_messages_ready', 'rabbitmq_queue_messages_unacked', 'rabbitmq_queue_messages', 'rabbitmq_queue_consumers']) {
      expect(labelNames(ourPer.get(name)!), name).toEqual(labelNames(refPer.get(name)!));
    }
}

function referenceAmqp(): string {
  return process.env['REFERENCE_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
}
