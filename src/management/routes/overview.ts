/**
 * The node as a whole: GET /api/overview, /api/nodes[/{name}], /api/whoami, /api/extensions (no UI
 * extensions), and the listeners the health checks look at. Field names and shapes are RabbitMQ
 * 3.10's (rabbitmqadmin's `show overview` reads rabbitmq_version, cluster_name,
 * queue_totals.messages and object_totals.queues; monitoring tools read mem_used, disk_free, ...).
 */
import { EXCHANGE_TYPES } from '../../broker/router.js';
import type { Item } from '../list-query.js';
import { gaugeDetails, ratesQuery } from '../message-stats.js';
import type { Listener } from '../management-app.js';
import { notFound } from '../http-error.js';
import { ok, one } from '../reply.js';
import type { RouteContext, Router } from '../router.js';

const EXCHANGE_DESCRIPTIONS: Record<string, string> = {
  direct: 'AMQP direct exchange, as per the AMQP specification',
  fanout: 'AMQP fanout exchange, as per the AMQP specification',
  headers: 'AMQP headers exchange, as per the AMQP specification',
  topic: 'AMQP topic exchange, as per the AMQP specification',
  'x-delayed-message': 'Delayed Message Exchange',
  'x-transactional': 'Half messages with check-back (Warren extension)',
};

function exchangeTypes(): Item[] {
  return [...EXCHANGE_TYPES].sort().map((name) => ({ name, description: EXCHANGE_DESCRIPTIONS[name] ?? name, enabled: true }));
}

export function listenersJson(ctx: RouteContext): Item[] {
  return ctx.app.node.listeners.map((l: Listener) => ({
    node: ctx.app.node.name, protocol: l.protocol, ip_address: l.host, port: l.port, socket_opts: {},
  }));
}

function totals(ctx: RouteContext): { ready: number; unacked: number; queues: number; exchanges: number; consumers: number } {
  let ready = 0;
  let unacked = 0;
  let queues = 0;
  let exchanges = 0;
  let consumers = 0;
  for (const v of ctx.app.visibleVhosts(ctx.user)) {
    exchanges += v.exchanges.size;
    for (const q of v.queues.values()) {
      queues++;
      ready += q.messageCount;
      unacked += q.unackedCount;
      consumers += q.consumerCount;
    }
  }
  return { ready, unacked, queues, exchanges, consumers };
}

function overview(ctx: RouteContext): Item {
  const app = ctx.app;
  const node = app.node;
  const t = totals(ctx);
  const query = ratesQuery(ctx.query);
  let channels = 0;
  const conns = app.broker.connections.all();
  for (const c of conns) channels += c.snapshot().channels;
  const queueTotals: Item = { messages: t.ready + t.unacked, messages_ready: t.ready, messages_unacknowledged: t.unacked };
  for (const g of ['messages', 'messages_ready', 'messages_unacknowledged']) {
    queueTotals[`${g}_details`] = app.statistics?.gaugeDetails?.('overview', app.broker, g, query) ?? gaugeDetails(undefined, undefined, query);
  }
  return {
    management_version: node.rabbitmqVersion,
    rates_mode: 'basic',
    sample_retention_policies: { global: [600, 3600, 28800, 86400], basic: [600, 3600], detailed: [600] },
    exchange_types: exchangeTypes(),
    product_version: node.productVersion,
    product_name: node.product,
    rabbitmq_version: node.rabbitmqVersion,
    cluster_name: app.clusterName(),
    erlang_version: process.versions.node,
    erlang_full_version: `Node.js ${process.version}`,
    release_series_support_status: 'supported',
    disable_stats: false,
    enable_queue_totals: false,
    message_stats: app.statistics?.messageStats('overview', app.broker, query) ?? {},
    churn_rates: {},
    queue_totals: queueTotals,
    object_totals: { channels, connections: conns.length, consumers: t.consumers, exchanges: t.exchanges, queues: t.queues },
    statistics_db_event_queue: 0,
    node: node.name,
    listeners: listenersJson(ctx),
    contexts: [{ node: node.name, description: 'RabbitMQ Management', path: '/', port: String(managementPort(ctx)) }],
  };
}

function managementPort(ctx: RouteContext): number {
  const listeners = ctx.app.node.listeners;
  return (listeners.find((l) => l.protocol === 'http') ?? listeners.find((l) => l.protocol === 'https'))?.port ?? 0;
}

function nodeJson(ctx: RouteContext): Item {
  const app = ctx.app;
  const node = app.node;
  const rss = process.memoryUsage.rss();
  const meter = app.broker.meter;
  const diskFree = node.diskFree();
  const sockets = app.broker.connections.size;
  const fds = node.fds();
  return {
    name: node.name,
    type: 'disc',
    running: true,
    os_pid: String(process.pid),
    mem_used: rss,
    // Publishers are blocked when held message bytes pass the watermark: the RSS at which that
    // happens is the watermark plus what the process holds besides messages (as Prometheus says).
    mem_limit: meter.highWatermark + Math.max(0, rss - meter.used),
    mem_alarm: meter.memoryAlarmOn,
    mem_calculation_strategy: 'rss',
    disk_free: diskFree ?? 0,
    disk_free_limit: node.diskFreeLimit,
    disk_free_alarm: meter.diskAlarmOn,
    fd_used: fds.used ?? sockets,
    fd_total: fds.total ?? 1024,
    sockets_used: sockets,
    sockets_total: fds.total ?? 1024,
    proc_used: 0,
    proc_total: 1048576,
    uptime: Date.now() - node.startedAt,
    run_queue: 0,
    processors: 1,
    partitions: [],
    net_ticktime: 60,
    rates_mode: 'basic',
    exchange_types: exchangeTypes(),
    auth_mechanisms: [
      { name: 'PLAIN', description: 'SASL PLAIN authentication mechanism', enabled: true },
      { name: 'AMQPLAIN', description: 'QPid AMQPLAIN mechanism', enabled: true },
    ],
    applications: [{ name: 'warren', description: node.product, version: node.productVersion }],
    contexts: [{ description: 'RabbitMQ Management', path: '/', port: String(managementPort(ctx)) }],
    log_files: ['<stdout>'],
    db_dir: '',
    config_files: [],
    enabled_plugins: ['rabbitmq_management'],
  };
}

export function overviewRoutes(r: Router): void {
  r.get('/api/overview', 'management', (ctx) => one(ctx, overview(ctx)));
  r.get('/api/nodes', 'monitoring', (ctx) => ok([nodeJson(ctx)]));
  r.get('/api/nodes/:node', 'monitoring', (ctx) => {
    if (ctx.params['node'] !== ctx.app.node.name) throw notFound();
    return one(ctx, nodeJson(ctx));
  });
  r.get('/api/whoami', 'management', (ctx) => ok({ name: ctx.user.name, tags: [...ctx.user.tags] }));
  r.get('/api/extensions', 'management', () => ok([]));
}
