/**
 * The metric families Warren exposes to Prometheus, with RabbitMQ's names, types, help texts and
 * labels (rabbitmq_prometheus 3.10: prometheus_rabbitmq_core_metrics_collector, the global and
 * alarm collectors), so the published RabbitMQ-Overview Grafana dashboard and the usual alerts
 * work unchanged. Values are read from broker snapshots when Prometheus scrapes, never pushed.
 *
 * Three views, as RabbitMQ's endpoints:
 * - `aggregated` (/metrics): one unlabelled sample per family (sums over queues, channels,
 *   connections). Channel message counters are the broker's totals, which include closed
 *   channels, so they never go down (RabbitMQ's drop when a channel closes).
 * - `per-object` (/metrics/per-object): one sample per queue / channel / connection.
 * - `detailed` (/metrics/detailed?family=...&vhost=...): per-object, only the families asked
 *   for, `rabbitmq_detailed_` prefix, queues filtered by vhost; plus the cluster families
 *   (`rabbitmq_cluster_vhost_status`, `_exchange_bindings`, `_exchange_name`).
 * Families RabbitMQ has that mean nothing here (Erlang VM, Raft, Mnesia, reductions) are left out.
 */
import type { Broker } from '../broker/broker.js';
import type { Queue } from '../broker/queue.js';
import { queueTypeOf } from '../broker/vhost.js';
import {
  MessageStats, type DeadLetterReasonName, type DeadLetterStrategy, type QueueTypeName,
} from '../broker/statistics.js';
import { ExpositionWriter, labelText, type MetricType } from './prometheus-format.js';

/** One open channel, as the management registry's snapshots describe it. */
export interface ScrapedChannel {
  readonly number: number;
  readonly vhost: string;
  readonly prefetchCount: number;
  readonly globalPrefetchCount: number;
  readonly messagesUnacknowledged: number;
  readonly messagesUnconfirmed: number;
  readonly messagesUncommitted: number;
  readonly acksUncommitted: number;
  readonly consumers: readonly unknown[];
  /** The channel itself (its `stats: MessageStats` are the channel's live counters). */
  readonly ref?: object;
}

/** A connection's counters; a field the source cannot read is left out of the output. */
export interface ScrapedConnectionSnapshot {
  readonly recvOct?: number;
  readonly sendOct?: number;
  readonly channels?: number;
}

/** One open connection (the management registry's ManagedConnection fits this shape). */
export interface ScrapedConnection {
  readonly id: number;
  snapshot(): ScrapedConnectionSnapshot;
  channels(): readonly ScrapedChannel[];
}

/** Process and node facts, read at scrape time. */
export interface NodeFacts {
  residentMemoryBytes: number;
  /** RSS at which publishers get blocked (see README: derived from the held-message watermark). */
  residentMemoryLimitBytes: number;
  diskFreeBytes: number | undefined;
  diskFreeLimitBytes: number;
  openFds: number | undefined;
  maxFds: number | undefined;
  uptimeSeconds: number;
  memoryAlarm: boolean;
  diskAlarm: boolean;
}

export interface Identity {
  /** RabbitMQ-compatible version clients see (server-properties `version`). */
  rabbitmqVersion: string;
  productName: string;
  productVersion: string;
  node: string;
  cluster: string;
  clusterId: string;
}

export interface PrometheusSource {
  readonly broker: Broker;
  readonly identity: Identity;
  connections(): Iterable<ScrapedConnection>;
  node(): NodeFacts;
}

export type MetricsView = 'aggregated' | 'per-object' | 'detailed';

export interface ScrapeRequest {
  view: MetricsView;
  /** detailed: the families asked for (RabbitMQ's `family` parameter, repeatable). */
  families?: ReadonlySet<string>;
  /** detailed: only queues of these vhosts (RabbitMQ's `vhost` parameter, repeatable). */
  vhosts?: ReadonlySet<string>;
}

interface ChannelRow { readonly label: string; readonly ch: ScrapedChannel; readonly stats: MessageStats }
interface ConnectionRow { readonly label: string; readonly snap: ScrapedConnectionSnapshot }

const QUEUE_TYPES: readonly QueueTypeName[] = ['classic', 'quorum', 'stream'];
const ZERO = new MessageStats();

/** Everything one scrape reads, gathered once. */
class Scrape {
  readonly queues: Queue[] = [];
  readonly channels: ChannelRow[] = [];
  readonly connections: ConnectionRow[] = [];
  /** Broker-wide message counts (every vhost, live or deleted). */
  readonly totals = new MessageStats();
  /** Queue-level counts by queue type, deleted queues included. */
  readonly byType: Record<QueueTypeName, MessageStats> = { classic: new MessageStats(), quorum: new MessageStats(), stream: new MessageStats() };
  readonly node: NodeFacts;
  consumers = 0;
  queueCount = 0;
  publishers = 0;

  constructor(readonly source: PrometheusSource, vhosts: ReadonlySet<string> | undefined) {
    const b = source.broker;
    const st = b.statistics;
    st.totals(b.vhosts.values(), this.totals);
    for (const t of QUEUE_TYPES) this.byType[t].add(st.retiredQueues[t]);
    for (const v of b.vhosts.values()) {
      for (const q of v.queues.values()) {
        this.queueCount++;
        this.consumers += q.consumerCount;
        this.byType[queueTypeOf(q)].add(q.stats);
        if (vhosts === undefined || vhosts.has(q.vhost)) this.queues.push(q);
      }
    }
    for (const c of source.connections()) {
      const snap = c.snapshot();
      this.connections.push({ label: labelText([['channel', `<0.${c.id}.0>`]]), snap });
      for (const ch of c.channels()) {
        const s = (ch.ref as { stats?: unknown } | undefined)?.stats;
        const stats = s instanceof MessageStats ? s : ZERO;
        if (stats.publish > 0) this.publishers++;
        this.channels.push({ label: labelText([['channel', `<0.${c.id}.${ch.number}>`]]), ch, stats });
      }
    }
    this.node = source.node();
  }
}


// ------------------------------------------------------------------------------------------------
// The catalogue

interface Family<R> {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  /** The value for one row; undefined leaves the row out. */
  readonly value: (row: R, s: Scrape) => number | undefined;
  /** The aggregated value when it is not the sum of the rows (monotonic totals). */
  readonly total?: (s: Scrape) => number;
}

interface Group<R> {
  /** RabbitMQ's family name for /metrics/detailed?family=. */
  readonly name: string;
  /** The rows: one per object, or a single row for node-wide groups. */
  readonly rows: (s: Scrape) => readonly R[];
  readonly labels: (row: R) => string;
  /** Node-wide: aggregated output keeps the row's labels (e.g. protocol="amqp091"). */
  readonly single?: boolean;
  readonly families: readonly Family<R>[];
}

const one = (s: Scrape): readonly Scrape[] => [s];
const noLabels = (): string => '';

function family<R>(name: string, type: MetricType, help: string, value: Family<R>['value'], total?: Family<R>['total']): Family<R> {
  return total === undefined ? { name, type, help, value } : { name, type, help, value, total };
}

const queueLabels = (q: Queue): string => labelText([['vhost', q.vhost], ['queue', q.name]]);

/** Channel message counters: per channel, and aggregated from the broker totals (monotonic). */
function channelCounter(name: string, help: string, pick: (s: MessageStats) => number): Family<ChannelRow> {
  return family<ChannelRow>(name, 'counter', help, (r) => pick(r.stats), (s) => pick(s.totals));
}

/** A group with its row type erased: it knows how to write itself. */
interface ErasedGroup {
  readonly name: string;
  write(w: ExpositionWriter, s: Scrape, prefix: string, perObject: boolean, only?: (family: string) => boolean): void;
}

function group<R>(g: Group<R>): ErasedGroup {
  return { name: g.name, write: (w, s, prefix, perObject, only) => writeGroup(w, s, g, prefix, perObject, only) };
}

const GROUPS: readonly ErasedGroup[] = [
  group<Scrape>({
    name: 'connection_churn_metrics', rows: one, labels: noLabels, single: true, families: [
      family<Scrape>('connections_opened_total', 'counter', 'Total number of connections opened', (s) => s.source.broker.statistics.churn.connectionsOpened),
      family<Scrape>('connections_closed_total', 'counter', 'Total number of connections closed or terminated', (s) => s.source.broker.statistics.churn.connectionsClosed),
      family<Scrape>('channels_opened_total', 'counter', 'Total number of channels opened', (s) => s.source.broker.statistics.churn.channelsOpened),
      family<Scrape>('channels_closed_total', 'counter', 'Total number of channels closed', (s) => s.source.broker.statistics.churn.channelsClosed),
      family<Scrape>('queues_declared_total', 'counter', 'Total number of queues declared', (s) => s.source.broker.statistics.churn.queuesDeclared),
      family<Scrape>('queues_created_total', 'counter', 'Total number of queues created', (s) => s.source.broker.statistics.churn.queuesCreated),
      family<Scrape>('queues_deleted_total', 'counter', 'Total number of queues deleted', (s) => s.source.broker.statistics.churn.queuesDeleted),
    ],
  }),
  group<Scrape>({
    name: 'node_coarse_metrics', rows: one, labels: noLabels, single: true, families: [
      family<Scrape>('process_open_fds', 'gauge', 'Open file descriptors', (s) => s.node.openFds),
      family<Scrape>('process_open_tcp_sockets', 'gauge', 'Open TCP sockets', (s) => s.connections.length),
      family<Scrape>('process_resident_memory_bytes', 'gauge', 'Memory used in bytes', (s) => s.node.residentMemoryBytes),
      family<Scrape>('disk_space_available_bytes', 'gauge', 'Disk space available in bytes', (s) => s.node.diskFreeBytes),
    ],
  }),
  group<Scrape>({
    name: 'node_metrics', rows: one, labels: noLabels, single: true, families: [
      family<Scrape>('process_max_fds', 'gauge', 'Open file descriptors limit', (s) => s.node.maxFds),
      family<Scrape>('process_max_tcp_sockets', 'gauge', 'Open TCP sockets limit', (s) => s.node.maxFds),
      family<Scrape>('resident_memory_limit_bytes', 'gauge', 'Memory high watermark in bytes', (s) => s.node.residentMemoryLimitBytes),
      family<Scrape>('disk_space_available_limit_bytes', 'gauge', 'Free disk space low watermark in bytes', (s) => s.node.diskFreeLimitBytes),
      family<Scrape>('erlang_uptime_seconds', 'gauge', 'Node uptime', (s) => s.node.uptimeSeconds),
    ],
  }),
  group<Scrape>({
    name: 'auth_attempt_metrics', rows: one, labels: () => labelText([['protocol', 'amqp091']]), single: true, families: [
      family<Scrape>('auth_attempts_total', 'counter', 'Total number of authorization attempts', (s) => s.source.broker.statistics.churn.authAttempts),
      family<Scrape>('auth_attempts_succeeded_total', 'counter', 'Total number of successful authentication attempts', (s) => s.source.broker.statistics.churn.authSucceeded),
      family<Scrape>('auth_attempts_failed_total', 'counter', 'Total number of failed authentication attempts', (s) => s.source.broker.statistics.churn.authFailed),
    ],
  }),
  group<Queue>({
    name: 'queue_coarse_metrics', rows: (s) => s.queues, labels: queueLabels, families: [
      family<Queue>('queue_messages_ready', 'gauge', 'Messages ready to be delivered to consumers', (q) => q.messageCount),
      family<Queue>('queue_messages_unacked', 'gauge', 'Messages delivered to consumers but not yet acknowledged', (q) => q.unackedCount),
      family<Queue>('queue_messages', 'gauge', 'Sum of ready and unacknowledged messages - total queue depth', (q) => q.messageCount + q.unackedCount),
    ],
  }),
  group<Queue>({
    name: 'queue_metrics', rows: (s) => s.queues, labels: queueLabels, families: [
      family<Queue>('queue_consumers', 'gauge', 'Consumers on a queue', (q) => q.consumerCount),
      family<Queue>('queue_messages_bytes', 'gauge', 'Size in bytes of ready and unacknowledged messages', (q) => q.backing.bytes + q.unackedBytes),
      family<Queue>('queue_messages_ready_bytes', 'gauge', 'Size in bytes of ready messages', (q) => q.backing.bytes),
      family<Queue>('queue_messages_unacked_bytes', 'gauge', 'Size in bytes of all unacknowledged messages', (q) => q.unackedBytes),
    ],
  }),
  group<ChannelRow>({
    name: 'channel_metrics', rows: (s) => s.channels, labels: (r) => r.label, families: [
      family<ChannelRow>('channel_consumers', 'gauge', 'Consumers on a channel', (r) => r.ch.consumers.length),
      family<ChannelRow>('channel_messages_unacked', 'gauge', 'Delivered but not yet acknowledged messages', (r) => r.ch.messagesUnacknowledged),
      family<ChannelRow>('channel_messages_unconfirmed', 'gauge', 'Published but not yet confirmed messages', (r) => r.ch.messagesUnconfirmed),
      family<ChannelRow>('channel_messages_uncommitted', 'gauge', 'Messages received in a transaction but not yet committed', (r) => r.ch.messagesUncommitted),
      family<ChannelRow>('channel_acks_uncommitted', 'gauge', 'Message acknowledgements in a transaction not yet committed', (r) => r.ch.acksUncommitted),
      family<ChannelRow>('consumer_prefetch', 'gauge', 'Limit of unacknowledged messages for each consumer', (r) => r.ch.prefetchCount),
      family<ChannelRow>('channel_prefetch', 'gauge', 'Total limit of unacknowledged messages for all consumers on a channel', (r) => r.ch.globalPrefetchCount),
    ],
  }),
  group<ChannelRow>({
    name: 'channel_exchange_metrics', rows: (s) => s.channels, labels: (r) => r.label, families: [
      channelCounter('channel_messages_published_total', 'Total number of messages published into an exchange on a channel', (m) => m.publish),
      channelCounter('channel_messages_confirmed_total', 'Total number of messages published into an exchange and confirmed on the channel', (m) => m.confirm),
      channelCounter('channel_messages_unroutable_returned_total', 'Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable', (m) => m.returnUnroutable),
      channelCounter('channel_messages_unroutable_dropped_total', 'Total number of messages published as non-mandatory into an exchange and dropped as unroutable', (m) => m.dropUnroutable),
    ],
  }),
  group<ChannelRow>({
    name: 'channel_queue_metrics', rows: (s) => s.channels, labels: (r) => r.label, families: [
      channelCounter('channel_get_ack_total', 'Total number of messages fetched with basic.get in manual acknowledgement mode', (m) => m.get),
      channelCounter('channel_get_total', 'Total number of messages fetched with basic.get in automatic acknowledgement mode', (m) => m.getNoAck),
      channelCounter('channel_messages_delivered_ack_total', 'Total number of messages delivered to consumers in manual acknowledgement mode', (m) => m.deliver),
      channelCounter('channel_messages_delivered_total', 'Total number of messages delivered to consumers in automatic acknowledgement mode', (m) => m.deliverNoAck),
      channelCounter('channel_messages_redelivered_total', 'Total number of messages redelivered to consumers', (m) => m.redeliver),
      channelCounter('channel_messages_acked_total', 'Total number of messages acknowledged by consumers', (m) => m.ack),
      channelCounter('channel_get_empty_total', 'Total number of times basic.get operations fetched no message', (m) => m.getEmpty),
    ],
  }),
  group<ConnectionRow>({
    name: 'connection_coarse_metrics', rows: (s) => s.connections, labels: (r) => r.label, families: [
      family<ConnectionRow>('connection_incoming_bytes_total', 'counter', 'Total number of bytes received on a connection', (r) => r.snap.recvOct),
      family<ConnectionRow>('connection_outgoing_bytes_total', 'counter', 'Total number of bytes sent on a connection', (r) => r.snap.sendOct),
    ],
  }),
  group<ConnectionRow>({
    name: 'connection_metrics', rows: (s) => s.connections, labels: (r) => r.label, families: [
            family<ConnectionRow>('connection_channels', 'gauge', 'Channels on a connection', (r) => r.snap.channels),
    ],
  }),
  group<Queue>({
    // RabbitMQ labels these per (channel, queue, exchange); Warren counts per queue only.
    name: 'channel_queue_exchange_metrics', rows: (s) => s.queues,
    labels: (q) => labelText([['queue_vhost', q.vhost], ['queue', q.name]]), families: [
      family<Queue>('queue_messages_published_total', 'counter', 'Total number of messages published to queues',
        (q) => q.stats.publish, (s) => QUEUE_TYPES.reduce((n, t) => n + s.byType[t].publish, 0)),
    ],
  }),
];

/** /metrics/detailed only (RabbitMQ's METRICS_CLUSTER, prefix rabbitmq_cluster_). */
interface ClusterRow { readonly labels: string; readonly value: number }
const CLUSTER_GROUPS: readonly { name: string; family: string; help: string; rows: (s: Scrape) => ClusterRow[] }[] = [
  {
    name: 'vhost_status', family: 'vhost_status', help: 'Whether a given vhost is running',
    rows: (s) => [...s.source.broker.vhosts.keys()].map((v) => ({ labels: labelText([['vhost', v]]), value: 1 })),
  },
  {
    name: 'exchange_bindings', family: 'exchange_bindings', help: 'Number of bindings for an exchange. This value is cluster-wide.',
    rows: (s) => exchangeRows(s, (x) => x.bindings.length),
  },
  {
    name: 'exchange_names', family: 'exchange_name',
    help: 'Enumerates exchanges without any additional info. This value is cluster-wide. A cheaper alternative to `exchange_bindings`',
    rows: (s) => exchangeRows(s, () => 1),
  },
];

function exchangeRows(s: Scrape, value: (x: { bindings: readonly unknown[] }) => number): ClusterRow[] {
  const rows: ClusterRow[] = [];
  for (const v of s.source.broker.vhosts.values()) {
    for (const x of v.exchanges.values()) {
      // RabbitMQ leaves out internal exchanges and the default exchange.
      if (x.internal || x.name === '') continue;
      rows.push({ labels: labelText([['vhost', v.name], ['exchange', x.name], ['type', x.type]]), value: value(x) });
    }
  }
  return rows;
}

/** Every family name a `family=` parameter may ask for. */
export const DETAILED_FAMILIES: readonly string[] = [...GROUPS.map((g) => g.name), 'queue_consumer_count', ...CLUSTER_GROUPS.map((g) => g.name)];

// ------------------------------------------------------------------------------------------------
// Rendering

/** The exposition text for one scrape. */
export function renderMetrics(source: PrometheusSource, req: ScrapeRequest): string {
  const detailed = req.view === 'detailed';
  const s = new Scrape(source, detailed ? req.vhosts : undefined);
  const w = new ExpositionWriter();
  if (!detailed) writeAlarms(w, s);
  const prefix = detailed ? 'rabbitmq_detailed_' : 'rabbitmq_';
  const wanted = req.families ?? new Set<string>();
  for (const g of GROUPS) {
    if (!detailed) {
      g.write(w, s, prefix, req.view === 'per-object');
    } else if (wanted.has(g.name)) {
      g.write(w, s, prefix, true);
    } else if (g.name === 'queue_metrics' && wanted.has('queue_consumer_count')) {
      // queue_consumer_count: the consumers family alone (RabbitMQ: a cheaper subset of queue_metrics).
      g.write(w, s, prefix, true, (f) => f === 'queue_consumers');
    }
  }
  if (detailed) {
    for (const c of CLUSTER_GROUPS) {
      if (!wanted.has(c.name)) continue;
      const name = `rabbitmq_cluster_${c.family}`;
      w.family(name, 'gauge', c.help);
      for (const r of c.rows(s)) w.sample(name, r.labels, r.value);
    }
  } else {
    writeTotals(w, s);
  }
  writeIdentity(w, s);
  if (!detailed) writeGlobal(w, s);
  return w.text();
}

function writeGroup<R>(w: ExpositionWriter, s: Scrape, g: Group<R>, prefix: string, perObject: boolean,
  only?: (family: string) => boolean): void {
  const rows = g.rows(s);
  for (const f of g.families) {
    if (only !== undefined && !only(f.name)) continue;
    const name = prefix + f.name;
    w.family(name, f.type, f.help);
    if (g.single === true || perObject) {
      for (const r of rows) {
        const v = f.value(r, s);
        if (v !== undefined) w.sample(name, g.labels(r), v);
      }
    } else if (f.total !== undefined) {
      w.sample(name, '', f.total(s));
    } else {
      let sum = 0;
      let known = 0;
      for (const r of rows) {
        const v = f.value(r, s);
        if (v !== undefined) { sum += v; known++; }
      }
      // Nothing to sum is 0; rows whose value nobody knows leave the family empty.
      if (known > 0 || rows.length === 0) w.sample(name, '', sum);
    }
  }
}

function writeAlarms(w: ExpositionWriter, s: Scrape): void {
  const alarms: [string, string, boolean][] = [
    ['file_descriptor_limit', 'is 1 if file descriptor limit alarm is in effect', false],
    ['free_disk_space_watermark', 'is 1 if free disk space watermark alarm is in effect', s.node.diskAlarm],
    ['memory_used_watermark', 'is 1 if VM memory watermark alarm is in effect', s.node.memoryAlarm],
  ];
  for (const [n, help, on] of alarms) {
    w.family(`rabbitmq_alarms_${n}`, 'untyped', help);
    w.sample(`rabbitmq_alarms_${n}`, '', on ? 1 : 0);
  }
}

function writeTotals(w: ExpositionWriter, s: Scrape): void {
  const totals: [string, string, number][] = [
    ['connections', 'Connections currently open', s.connections.length],
    // Opened minus closed: exact whether or not the connections' channels are listed.
    ['channels', 'Channels currently open', Math.max(s.channels.length,
      s.source.broker.statistics.churn.channelsOpened - s.source.broker.statistics.churn.channelsClosed)],
    ['consumers', 'Consumers currently connected', s.consumers],
    ['queues', 'Queues available', s.queueCount],
  ];
  for (const [n, help, v] of totals) {
    w.family(`rabbitmq_${n}`, 'gauge', help);
    w.sample(`rabbitmq_${n}`, '', v);
  }
}

function writeIdentity(w: ExpositionWriter, s: Scrape): void {
  const id = s.source.identity;
  w.family('rabbitmq_build_info', 'untyped', 'RabbitMQ & Erlang/OTP version info');
  w.sample('rabbitmq_build_info', labelText([
    ['product_name', id.productName], ['product_version', id.productVersion], ['rabbitmq_version', id.rabbitmqVersion],
    ['prometheus_plugin_version', id.productVersion], ['prometheus_client_version', id.productVersion],
    ['erlang_version', process.version],
  ]), 1);
  w.family('rabbitmq_identity_info', 'untyped', 'RabbitMQ node & cluster identity info');
  w.sample('rabbitmq_identity_info', labelText([
    ['rabbitmq_node', id.node], ['rabbitmq_cluster', id.cluster], ['rabbitmq_cluster_permanent_id', id.clusterId],
  ]), 1);
}

const RABBIT_TYPE: Record<QueueTypeName, string> = {
  classic: 'rabbit_classic_queue', quorum: 'rabbit_quorum_queue', stream: 'rabbit_stream_queue',
};
const PROTOCOL = labelText([['protocol', 'amqp091']]);

/** rabbitmq_global_* (RabbitMQ's rabbit_global_counters), from the same statistics as the API. */
function writeGlobal(w: ExpositionWriter, s: Scrape): void {
  const t = s.totals;
  const g = s.source.broker.statistics.global;
  const protocolOnly: [string, string, 'counter' | 'gauge', number][] = [
    ['consumers', 'Current number of consumers', 'gauge', s.consumers],
    ['messages_confirmed_total', 'Total number of messages confirmed to publishers', 'counter', t.confirm],
    ['messages_received_confirm_total', 'Total number of messages received from publishers expecting confirmations', 'counter', g.receivedConfirm],
    ['messages_received_total', 'Total number of messages received from publishers', 'counter', t.publish],
    ['messages_routed_total', 'Total number of messages routed to queues or streams', 'counter',
      Math.max(0, t.publish - t.dropUnroutable - t.returnUnroutable)],
    ['messages_unroutable_dropped_total', 'Total number of messages published as non-mandatory into an exchange and dropped as unroutable', 'counter', t.dropUnroutable],
    ['messages_unroutable_returned_total', 'Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable', 'counter', t.returnUnroutable],
    ['publishers', 'Current number of publishers', 'gauge', s.publishers],
  ];
  const perType: [string, string, (m: MessageStats) => number][] = [
    ['messages_acknowledged_total', 'Total number of messages acknowledged by consumers', (m) => m.ack],
    ['messages_delivered_consume_auto_ack_total', 'Total number of messages delivered to consumers using basic.consume with automatic acknowledgment', (m) => m.deliverNoAck],
    ['messages_delivered_consume_manual_ack_total', 'Total number of messages delivered to consumers using basic.consume with manual acknowledgment', (m) => m.deliver],
    ['messages_delivered_get_auto_ack_total', 'Total number of messages delivered to consumers using basic.get with automatic acknowledgment', (m) => m.getNoAck],
    ['messages_delivered_get_manual_ack_total', 'Total number of messages delivered to consumers using basic.get with manual acknowledgment', (m) => m.get],
    ['messages_delivered_total', 'Total number of messages delivered to consumers', (m) => m.deliver + m.deliverNoAck + m.get + m.getNoAck],
    ['messages_get_empty_total', 'Total number of times basic.get operations fetched no message', (m) => m.getEmpty],
    ['messages_redelivered_total', 'Total number of messages redelivered to consumers', (m) => m.redeliver],
  ];
  const byName = new Map<string, () => void>();
  for (const [n, help, type, v] of protocolOnly) {
    byName.set(n, () => { w.family(`rabbitmq_global_${n}`, type, help); w.sample(`rabbitmq_global_${n}`, PROTOCOL, v); });
  }
  for (const [n, help, pick] of perType) {
    byName.set(n, () => {
      w.family(`rabbitmq_global_${n}`, 'counter', help);
      for (const qt of QUEUE_TYPES) {
        w.sample(`rabbitmq_global_${n}`, labelText([['protocol', 'amqp091'], ['queue_type', RABBIT_TYPE[qt]]]), pick(s.byType[qt]));
      }
    });
  }
  for (const [reason, help, combos] of DEAD_LETTER_FAMILIES) {
    const n = `messages_dead_lettered_${reason}_total`;
    byName.set(n, () => {
      w.family(`rabbitmq_global_${n}`, 'counter', help);
      for (const [qt, strategy] of combos) {
        const v = reason === 'confirmed' ? 0 : g.deadLetteredCount(qt, reason, strategy);
        w.sample(`rabbitmq_global_${n}`, labelText([['queue_type', RABBIT_TYPE[qt]], ['dead_letter_strategy', strategy]]), v);
      }
    });
  }
  // RabbitMQ writes these in name order.
  for (const n of [...byName.keys()].sort()) byName.get(n)!();
}

type Combo = readonly [QueueTypeName, DeadLetterStrategy];
const CLASSIC_COMBOS: readonly Combo[] = [['classic', 'at_most_once'], ['classic', 'disabled']];
const QUORUM_COMBOS: readonly Combo[] = [['quorum', 'at_least_once'], ['quorum', 'at_most_once'], ['quorum', 'disabled']];
/** Label combinations as RabbitMQ 3.10 emits them. */
const DEAD_LETTER_FAMILIES: readonly (readonly [DeadLetterReasonName | 'confirmed', string, readonly Combo[]])[] = [
  ['confirmed', 'Total number of messages dead-lettered and confirmed by target queues', [['quorum', 'at_least_once']]],
  ['delivery_limit', 'Total number of messages dead-lettered due to delivery-limit exceeded', QUORUM_COMBOS],
  ['expired', 'Total number of messages dead-lettered due to message TTL exceeded', [...CLASSIC_COMBOS, ...QUORUM_COMBOS]],
  ['maxlen', 'Total number of messages dead-lettered due to overflow drop-head or reject-publish-dlx',
    [...CLASSIC_COMBOS, ['quorum', 'at_most_once'], ['quorum', 'disabled']]],
  ['rejected', 'Total number of messages dead-lettered due to basic.reject or basic.nack', [...CLASSIC_COMBOS, ...QUORUM_COMBOS]],
];
