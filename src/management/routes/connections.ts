/**
 * Connections, channels and consumers, read from the broker's connection registry (the server
 * registers every open connection; management never touches a socket): GET /api/connections[/{name}],
 * DELETE /api/connections/{name} (closes it with 320 CONNECTION_FORCED and the X-Reason header as
 * the text), /api/connections/{name}/channels, /api/channels[/{name}], /api/vhosts/{vhost}/connections
 * and /channels, /api/consumers[/{vhost}]. Users without the administrator or monitoring tag see
 * only their own connections, as in RabbitMQ.
 */
import { argsToJson } from '../../broker/definitions-codec.js';
import type { ChannelSnapshot, ConnectionSnapshot, ManagedConnection } from '../../broker/connection-registry.js';
import type { Consumer } from '../../broker/consumer.js';
import { StreamQueue } from '../../broker/stream-queue.js';
import type { User } from '../../broker/user-store.js';
import { fieldString, tableGet } from '../../core/field-value.js';
import { notFound } from '../http-error.js';
import type { Item } from '../list-query.js';
import { ratesQuery } from '../message-stats.js';
import type { ManagementApp } from '../management-app.js';
import { list, NO_CONTENT, one } from '../reply.js';
import type { RouteContext, Router } from '../router.js';

/** RabbitMQ's timestamp format for idle_since. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

function visibleConnections(app: ManagementApp, user: User, vhost?: string): ManagedConnection[] {
  const all = user.tags.includes('administrator') || user.tags.includes('monitoring');
  return app.broker.connections.all().filter((c) => {
    const s = c.snapshot();
    return (vhost === undefined || s.vhost === vhost) && (all || s.user === user.name) && app.canSeeVhost(user, s.vhost);
  });
}

export function connectionJson(ctx: RouteContext, c: ManagedConnection): Item {
  const s = c.snapshot();
  const out: Item = {
    auth_mechanism: s.authMechanism, channel_max: s.channelMax, channels: s.channels,
    client_properties: argsToJson(s.clientProperties), connected_at: s.connectedAt, frame_max: s.frameMax,
    host: s.host, name: s.name, node: ctx.app.node.name, peer_cert_issuer: null, peer_cert_subject: null,
    peer_cert_validity: null, peer_host: s.peerHost, peer_port: s.peerPort, port: s.port, protocol: s.protocol,
    recv_cnt: s.recvCnt, recv_oct: s.recvOct, recv_oct_details: { rate: 0 }, send_cnt: s.sendCnt, send_oct: s.sendOct,
    send_oct_details: { rate: 0 }, send_pend: 0, ssl: s.ssl, ssl_cipher: null, ssl_hash: null, ssl_key_exchange: null,
    ssl_protocol: null, state: s.state, timeout: s.heartbeat, type: 'network', user: s.user,
    user_who_performed_action: s.user, vhost: s.vhost,
  };
  const provided = fieldString(tableGet(s.clientProperties, 'connection_name'));
  if (provided !== undefined) out['user_provided_name'] = provided;
  const stats = ctx.app.statistics?.messageStats('connection', c, ratesQuery(ctx.query));
  if (stats !== undefined) out['message_stats'] = stats;
  return out;
}

function channelName(conn: ConnectionSnapshot, ch: ChannelSnapshot): string {
  return `${conn.name} (${ch.number})`;
}

export function channelJson(ctx: RouteContext, conn: ConnectionSnapshot, ch: ChannelSnapshot): Item {
  const out: Item = {
    acks_uncommitted: ch.acksUncommitted, confirm: ch.confirm,
    connection_details: { name: conn.name, peer_host: conn.peerHost, peer_port: conn.peerPort },
    consumer_count: ch.consumers.length, global_prefetch_count: ch.globalPrefetchCount,
    messages_unacknowledged: ch.messagesUnacknowledged, messages_uncommitted: ch.messagesUncommitted,
    messages_unconfirmed: ch.messagesUnconfirmed, name: channelName(conn, ch), node: ctx.app.node.name, number: ch.number,
    pending_raft_commands: 0, prefetch_count: ch.prefetchCount, state: ch.state, transactional: ch.transactional,
    user: ch.user, user_who_performed_action: ch.user, vhost: ch.vhost,
  };
  if (ch.idleSince !== undefined) out['idle_since'] = isoTime(ch.idleSince);
  const stats = ctx.app.statistics?.messageStats('channel', ch.ref, ratesQuery(ctx.query));
  if (stats !== undefined) out['message_stats'] = stats;
  return out;
}

interface ConsumerHome {
  conn: ConnectionSnapshot;
  ch: ChannelSnapshot;
}

/** Which channel each consumer belongs to (for consumer_details' channel_details). */
export function consumerHomes(app: ManagementApp): Map<Consumer, ConsumerHome> {
  const homes = new Map<Consumer, ConsumerHome>();
  for (const c of app.broker.connections.all()) {
    const conn = c.snapshot();
    for (const ch of c.channels()) for (const consumer of ch.consumers) homes.set(consumer, { conn, ch });
  }
  return homes;
}

export function consumerJson(ctx: RouteContext, c: Consumer, home: ConsumerHome | undefined): Item {
  const q = c.queue;
  const sac = q.settings.singleActiveConsumer;
  const active = !sac || q.consumers[0] === c;
  return {
    arguments: argsToJson(c.args), ack_required: !c.noAck, active,
    activity_status: sac ? (active ? 'single_active' : 'waiting') : 'up',
    channel_details: home === undefined ? {} : {
      connection_name: home.conn.name, name: channelName(home.conn, home.ch), node: ctx.app.node.name, number: home.ch.number,
      peer_host: home.conn.peerHost, peer_port: home.conn.peerPort, user: home.ch.user,
    },
    consumer_tag: c.tag, exclusive: c.exclusive, prefetch_count: c.prefetch, queue: { name: q.name, vhost: q.vhost },
    ...streamPosition(q, c),
  };
}

/** Stream consumers (Warren): the next offset the consumer reads and how far behind the committed end it is. */
function streamPosition(q: Consumer['queue'], c: Consumer): Item {
  const p = q instanceof StreamQueue ? q.consumerPosition(c) : undefined;
  return p === undefined ? {} : { offset: p.offset, offset_lag: p.lag };
}

function channelsOf(ctx: RouteContext, conns: ManagedConnection[]): Item[] {
  return conns.flatMap((c) => {
    const s = c.snapshot();
    return c.channels().map((ch) => channelJson(ctx, s, ch));
  });
}

function connectionByName(ctx: RouteContext): ManagedConnection {
  const c = visibleConnections(ctx.app, ctx.user).find((x) => x.snapshot().name === ctx.params['name']);
  if (c === undefined) throw notFound();
  return c;
}

function consumers(ctx: RouteContext, vhost?: string): Item[] {
  const homes = consumerHomes(ctx.app);
  return ctx.app.vhostsFor(ctx.user, vhost).flatMap((v) =>
    [...v.queues.values()].flatMap((q) => q.consumers.map((c) => consumerJson(ctx, c, homes.get(c)))));
}

export function connectionRoutes(r: Router): void {
  r.get('/api/connections', 'management', (ctx) =>
    list(ctx, visibleConnections(ctx.app, ctx.user).map((c) => connectionJson(ctx, c)), ['name']));
  r.get('/api/connections/:name', 'management', (ctx) => one(ctx, connectionJson(ctx, connectionByName(ctx))));
  r.delete('/api/connections/:name', 'management', (ctx) => {
    const c = connectionByName(ctx);
    const reason = ctx.headers['x-reason'];
    c.close(typeof reason === 'string' && reason !== '' ? reason : 'Closed via management plugin');
    return NO_CONTENT;
  });
  r.get('/api/connections/:name/channels', 'management', (ctx) => list(ctx, channelsOf(ctx, [connectionByName(ctx)]), ['name']));
  r.get('/api/vhosts/:vhost/connections', 'management', (ctx) => {
    ctx.app.vhost(ctx.params['vhost']!);
    return list(ctx, visibleConnections(ctx.app, ctx.user, ctx.params['vhost']).map((c) => connectionJson(ctx, c)), ['name']);
  });
  r.get('/api/channels', 'management', (ctx) => list(ctx, channelsOf(ctx, visibleConnections(ctx.app, ctx.user)), ['name']));
  r.get('/api/vhosts/:vhost/channels', 'management', (ctx) => {
    ctx.app.vhost(ctx.params['vhost']!);
    return list(ctx, channelsOf(ctx, visibleConnections(ctx.app, ctx.user, ctx.params['vhost'])), ['name']);
  });
  r.get('/api/channels/:name', 'management', (ctx) => {
    const homes = consumerHomes(ctx.app);
    for (const c of visibleConnections(ctx.app, ctx.user)) {
      const s = c.snapshot();
      for (const ch of c.channels()) {
        if (channelName(s, ch) !== ctx.params['name']) continue;
        return one(ctx, {
          ...channelJson(ctx, s, ch),
          consumer_details: ch.consumers.map((x) => consumerJson(ctx, x, homes.get(x))), deliveries: [], publishes: [],
        });
      }
    }
    throw notFound();
  });
  r.get('/api/consumers', 'management', (ctx) => list(ctx, consumers(ctx), []));
  r.get('/api/consumers/:vhost', 'management', (ctx) => list(ctx, consumers(ctx, ctx.params['vhost']), []));
}
