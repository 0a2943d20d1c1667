/**
 * Queues: GET /api/queues[/{vhost}[/{name}]] (and /api/queues/detailed), PUT and DELETE
 * /api/queues/{vhost}/{name} (if-unused, if-empty), DELETE .../contents (purge), POST .../get,
 * POST .../actions, GET .../bindings. Every change is the vhost's or the queue's own operation (the
 * one queue.declare/delete/purge and basic.get use), and a durable change answers once it is saved,
 * as declare-ok does. JSON fields are RabbitMQ 3.10's.
 */
import { argsFromJson, argsToJson } from '../../broker/definitions-codec.js';
import type { Queue } from '../../broker/queue.js';
import { StreamQueue } from '../../broker/stream-queue.js';
import type { QueueEntry } from '../../broker/queue-entry.js';
import type { Vhost } from '../../broker/vhost.js';
import { badRequest, fromChannelCallError, notAuthorised, notFound } from '../http-error.js';
import type { Item } from '../list-query.js';
import { gaugeDetails, ratesQuery } from '../message-stats.js';
import { list, NO_CONTENT, ok, one, written } from '../reply.js';
import { bool, int, obj, queryFlag, requireKeys, str } from '../request-values.js';
import type { RouteContext, Router } from '../router.js';
import { queueBindings } from './bindings.js';
import { consumerHomes, consumerJson, isoTime } from './connections.js';

const GAUGES = ['messages', 'messages_ready', 'messages_unacknowledged'] as const;

export function queueJson(ctx: RouteContext, v: Vhost, q: Queue): Item {
  const app = ctx.app;
  const e = app.broker.policies.effective(v.name, q.name, 'queues');
  const ready = q.messageCount;
  const unacked = q.unackedCount;
  const quorum = q.settings.queueType === 'quorum';
  const stream = q instanceof StreamQueue ? q : undefined;
  const exclusiveConsumer = q.consumers.find((c) => c.exclusive);
  const query = ratesQuery(ctx.query);
  const out: Item = {
    arguments: argsToJson(q.options.arguments),
    auto_delete: q.autoDelete,
    consumer_capacity: q.consumerCount > 0 ? 1 : 0,
    consumer_utilisation: q.consumerCount > 0 ? 1 : 0,
    consumers: q.consumerCount,
    durable: q.durable,
    effective_policy_definition: e.definition,
    exclusive: q.exclusive,
    exclusive_consumer_tag: exclusiveConsumer?.tag ?? null,
    head_message_timestamp: null,
    idle_since: isoTime(q.lastUsed),
    // An estimate: message bodies plus the per-message overhead the memory meter charges.
    memory: q.backing.bytes + q.unackedBytes + (ready + unacked) * 700,
    message_bytes: q.backing.bytes + q.unackedBytes,
    message_bytes_ready: q.backing.bytes,
    message_bytes_unacknowledged: q.unackedBytes,
    messages: ready + unacked,
    messages_ready: ready,
    messages_unacknowledged: unacked,
    name: q.name,
    node: app.node.name,
    operator_policy: e.operatorPolicy?.name ?? null,
    policy: e.policy?.name ?? null,
    recoverable_slaves: null,
    single_active_consumer_tag: q.settings.singleActiveConsumer ? (q.consumers[0]?.tag ?? null) : null,
    state: 'running',
    type: stream !== undefined ? 'stream' : quorum ? 'quorum' : 'classic',
    vhost: v.name,
  };
  // Warren's delayed retries: rejected messages waiting for their next delivery (not in `messages`).
  if (q.settings.retryDelays !== undefined) out['messages_retrying'] = v.retries.pendingFor(q);
  for (const g of GAUGES) out[`${g}_details`] = app.statistics?.gaugeDetails?.('queue', q, g, query) ?? gaugeDetails(undefined, undefined, query);
  if (stream !== undefined) {
    // As RabbitMQ 3.10 shows a stream (members, online, readers per node; messages stay ready after
    // consumption), with 3.13's committed_offset and segments and Warren's first_offset.
    const s = stream.streamInfo();
    out['messages'] = ready;
    out['members'] = [app.node.name];
    out['online'] = [app.node.name];
    out['readers'] = { [app.node.name]: q.consumerCount };
    out['committed_offset'] = s.committedOffset ?? '';
    out['segments'] = s.segments;
    out['first_offset'] = s.firstOffset;
  }
  if (quorum) {
    out['leader'] = app.node.name;
    out['members'] = [app.node.name];
    out['online'] = [app.node.name];
  }
  const stats = app.statistics?.messageStats('queue', q, query);
  if (stats !== undefined) out['message_stats'] = stats;
  return sortedKeys(out);
}

/** RabbitMQ 3.10 renders a queue as an Erlang map: keys in order. */
function sortedKeys(o: Item): Item {
  const out: Item = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k];
  return out;
}

function queueOr404(ctx: RouteContext): { v: Vhost; q: Queue } {
  const v = ctx.app.vhost(ctx.params['vhost']!);
  const q = v.queues.get(ctx.params['name']!);
  if (q === undefined) throw notFound();
  return { v, q };
}

function queuesOf(ctx: RouteContext, vhost: string | undefined): Item[] {
  return ctx.app.vhostsFor(ctx.user, vhost).flatMap((v) => [...v.queues.values()].map((q) => queueJson(ctx, v, q)));
}

const ACKMODES = new Set(['ack_requeue_true', 'ack_requeue_false', 'reject_requeue_true', 'reject_requeue_false']);

/**
 * POST .../get: basic.get up to `count` messages, then settle them all as `ackmode` says
 * (requeued ones go back in their original order, as a closing channel returns them).
 */
async function getMessages(ctx: RouteContext): Promise<Item[]> {
  const body = await ctx.body();
  requireKeys(body, ['count', 'ackmode', 'encoding']);
  const count = int(body['count'], 1);
  const ackmode = str(body['ackmode'], '');
  const encoding = str(body['encoding'], 'auto');
  const truncate = body['truncate'] === undefined || body['truncate'] === null || body['truncate'] === '' ? undefined : int(body['truncate'], 0);
  if (encoding !== 'auto' && encoding !== 'base64') throw badRequest('Unsupported encoding. Please use auto or base64.');
  if (!ACKMODES.has(ackmode)) throw badRequest(['unknown_ackmode', ackmode]);
  const { v, q } = queueOr404(ctx);
  // RabbitMQ gets through an AMQP connection of the user's into the vhost: no access, no connection.
  if (!ctx.app.canOpenVhost(ctx.user, v.name)) throw notAuthorised('Access refused.');
  try {
    v.queueForRead(q.name, -1, ctx.app.access(ctx.user, v.name));
  } catch (e: unknown) {
    throw fromChannelCallError(e) ?? e;
  }
  const noAck = ackmode === 'ack_requeue_false';
  const taken: QueueEntry[] = [];
  const out: Item[] = [];
  for (let i = 0; i < count; i++) {
    const e = q.get(noAck);
    if (e === undefined) break;
    if (!noAck) taken.push(e);
    const msg = q.messageFor(e, true);
    const payload = truncate !== undefined && msg.body.length > truncate ? msg.body.subarray(0, truncate) : msg.body;
    const asString = encoding === 'auto' && isUtf8Text(payload);
    out.push({
      payload_bytes: msg.body.length,
      redelivered: e.deliveries > 1,
      exchange: msg.exchange,
      routing_key: msg.routingKey,
      message_count: q.messageCount,
      properties: propertiesOf(ctx, msg.properties),
      payload: asString ? payload.toString('utf8') : payload.toString('base64'),
      payload_encoding: asString ? 'string' : 'base64',
    });
  }
  if (ackmode === 'ack_requeue_true' || ackmode === 'reject_requeue_true') {
    for (let i = taken.length - 1; i >= 0; i--) q.requeue(taken[i]!);
  } else if (ackmode === 'reject_requeue_false') {
    for (const e of taken) q.reject(e);
  } else {
    for (const e of taken) q.settle(e);
  }
  q.dispatch();
  return out;
}

/** A message's properties; RabbitMQ renders none at all as an empty list (its empty proplist). */
export function propertiesOf(ctx: RouteContext, properties: Buffer): unknown {
  const p = ctx.app.codec.propertiesToJson(properties);
  return Object.keys(p).length === 0 ? [] : p;
}

/** RabbitMQ's `auto` encoding: a payload that is valid UTF-8 is shown as a string. */
export function isUtf8Text(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

export function queueRoutes(r: Router): void {
  r.get('/api/queues', 'management', (ctx) => list(ctx, queuesOf(ctx, undefined), ['vhost', 'name']));
  r.get('/api/queues/detailed', 'management', (ctx) => list(ctx, queuesOf(ctx, undefined), ['vhost', 'name']));
  r.get('/api/queues/:vhost', 'management', (ctx) => list(ctx, queuesOf(ctx, ctx.params['vhost']), ['vhost', 'name']));

  r.get('/api/queues/:vhost/:name', 'management', (ctx) => {
    const { v, q } = queueOr404(ctx);
    const homes = consumerHomes(ctx.app);
    return one(ctx, {
      ...queueJson(ctx, v, q),
      consumer_details: q.consumers.map((c) => consumerJson(ctx, c, homes.get(c))),
      deliveries: [],
      incoming: [],
    });
  });

  r.put('/api/queues/:vhost/:name', 'management', async (ctx) => {
    const body = await ctx.body();
    const v = ctx.app.vhostForWrite(ctx.params['vhost']!);
    const name = ctx.params['name']!;
    const existed = v.queues.has(name);
    const args = argsFromJson(obj(body['arguments'], 'arguments'));
    v.declareQueue({
      name, passive: false, durable: bool(body['durable'], false), exclusive: false,
      autoDelete: bool(body['auto_delete'], false), args, connectionId: -1,
    }, ctx.app.access(ctx.user, v.name));
    await ctx.app.saved();
    return written(!existed);
  });

  r.delete('/api/queues/:vhost/:name', 'management', async (ctx) => {
    const { v, q } = queueOr404(ctx);
    // RabbitMQ deletes through the queue itself (no exclusive-owner check): act as its owner.
    v.deleteQueue(q.name, queryFlag(ctx.query, 'if-unused'), queryFlag(ctx.query, 'if-empty'), q.options.exclusiveOwner,
      ctx.app.access(ctx.user, v.name));
    await ctx.app.saved();
    return NO_CONTENT;
  });

  r.delete('/api/queues/:vhost/:name/contents', 'management', (ctx) => {
    const { v, q } = queueOr404(ctx);
    v.queueForRead(q.name, q.options.exclusiveOwner, ctx.app.access(ctx.user, v.name)).purge();
    return NO_CONTENT;
  });

  r.post('/api/queues/:vhost/:name/get', 'management', async (ctx) => ok(await getMessages(ctx)));

  r.post('/api/queues/:vhost/:name/actions', 'management', async (ctx) => {
    const body = await ctx.body();
    queueOr404(ctx);
    const action = str(body['action'], '');
    // Mirror synchronisation: a single node has nothing to synchronise.
    if (action === 'sync' || action === 'cancel_sync') return NO_CONTENT;
    throw badRequest(['unknown', action]);
  });

  r.get('/api/queues/:vhost/:name/bindings', 'management', (ctx) => {
    const { v, q } = queueOr404(ctx);
    return list(ctx, queueBindings(v, q), []);
  });
}
