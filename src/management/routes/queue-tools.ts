/**
 * Warren's test endpoints on one queue (issue 14; no RabbitMQ equivalent), under the queue's own
 * path so the usual vhost authorisation applies:
 *   GET  /api/queues/{vhost}/{name}/peek    a page of its unacked and ready messages, no side effect
 *   POST /api/queues/{vhost}/{name}/inject  put a message straight into it (no exchange)
 *   GET  /api/queues/{vhost}/{name}/wait    long-poll until it holds >= N messages / is empty / has N consumers
 * Each one is a broker operation (broker/queue-peek.ts, queue-inject.ts, queue-wait.ts) behind the
 * same permission checks an AMQP channel makes: peek needs read on the queue, as basic.get; inject
 * write on it, as a binding to it; wait only reads counts, as GET /api/queues/{vhost}/{name}. Messages render as POST .../get renders
 * them (properties, payload and payload_encoding). Shapes: README "Test endpoints".
 */
import { injectMessage } from '../../broker/queue-inject.js';
import { NOT_WRITTEN } from '../../broker/publish.js';
import { describeCondition, waitForQueue, type WaitCondition } from '../../broker/queue-wait.js';
import { peekQueue, type PeekedMessage, type PeekState } from '../../broker/queue-peek.js';
import type { Queue } from '../../broker/queue.js';
import { StreamQueue } from '../../broker/stream-queue.js';
import type { Vhost } from '../../broker/vhost.js';
import { badRequest, fromChannelCallError, notFound } from '../http-error.js';
import { ok } from '../reply.js';
import { int, str } from '../request-values.js';
import type { Reply, RouteContext, Router } from '../router.js';
import { buildMessage, checkMessageSize, payload, properties } from './publish.js';
import { isoTime } from './connections.js';
import { isUtf8Text, propertiesOf } from './queues.js';

/** Most messages one peek returns. */
const MAX_PEEK = 1000;
const STATES: readonly PeekState[] = ['all', 'ready', 'unacked'];

function queueOr404(ctx: RouteContext): { v: Vhost; q: Queue } {
  const v = ctx.app.vhost(ctx.params['vhost']!);
  const q = v.queues.get(ctx.params['name']!);
  if (q === undefined) throw notFound();
  return { v, q };
}

/** Run a broker check, mapped to the API's errors as the AMQP-backed routes map them. */
function checked<T>(f: () => T): T {
  try {
    return f();
  } catch (e: unknown) {
    throw fromChannelCallError(e) ?? e;
  }
}

function queryInt(ctx: RouteContext, key: string, dflt: number, min: number): number {
  const n = int(ctx.query.get(key) ?? undefined, dflt);
  if (n < min) throw badRequest(`${key} must be at least ${min}`);
  return n;
}

function messageJson(ctx: RouteContext, m: PeekedMessage, position: number, encoding: string, truncate: number | undefined): Record<string, unknown> {
  const msg = m.msg;
  const payload = truncate !== undefined && msg.body.length > truncate ? msg.body.subarray(0, truncate) : msg.body;
  const asString = encoding === 'auto' && isUtf8Text(payload);
  const out: Record<string, unknown> = {
    position,
    state: m.state,
    exchange: msg.exchange,
    routing_key: msg.routingKey,
    redelivered: m.redelivered,
    delivery_count: m.deliveries,
    payload_bytes: msg.body.length,
    payload: asString ? payload.toString('utf8') : payload.toString('base64'),
    payload_encoding: asString ? 'string' : 'base64',
    properties: propertiesOf(ctx, msg.properties),
    expires_at: m.expiresAt === Infinity ? null : isoTime(m.expiresAt),
  };
  if (m.streamOffset !== undefined) out['stream_offset'] = m.streamOffset;
  const h = m.holder;
  if (h !== undefined) {
    out['channel'] = `${h.connection.snapshot().name} (${h.channel})`;
    out['delivery_tag'] = h.deliveryTag;
    out['consumer_tag'] = h.consumerTag;
  }
  return out;
}

function peek(ctx: RouteContext): Record<string, unknown> {
  const offset = queryInt(ctx, 'offset', 0, 0);
  const count = Math.min(queryInt(ctx, 'count', 20, 0), MAX_PEEK);
  const state = (ctx.query.get('state') ?? 'all') as PeekState;
  if (!STATES.includes(state)) throw badRequest(`state must be one of ${STATES.join(', ')}`);
  const encoding = ctx.query.get('encoding') ?? 'auto';
  if (encoding !== 'auto' && encoding !== 'base64') throw badRequest('Unsupported encoding. Please use auto or base64.');
  const truncate = ctx.query.has('truncate') ? queryInt(ctx, 'truncate', 0, 0) : undefined;
  const { v, q } = queueOr404(ctx);
  // Read on the queue, as basic.get; the owner of an exclusive queue is not needed to look at it.
  checked(() => v.queueForRead(q.name, q.options.exclusiveOwner, ctx.app.access(ctx.user, v.name)));
  const page = peekQueue(q, ctx.app.broker.connections, state, offset, count);
  return {
    vhost: v.name,
    queue: q.name,
    type: q instanceof StreamQueue ? 'stream' : q.settings.queueType === 'quorum' ? 'quorum' : 'classic',
    messages_ready: q.messageCount,
    messages_unacknowledged: q.unackedCount,
    state,
    offset,
    count,
    total: page.total,
    messages: page.messages.map((m, i) => messageJson(ctx, m, offset + i, encoding, truncate)),
  };
}

/**
 * POST .../inject {properties, payload, payload_encoding, routing_key?}: the message as the API's
 * publish builds it (exchange "", routing key the queue's name unless given), enqueued directly;
 * answered once a persistent message in a durable queue is on disk, as a confirm.
 */
async function inject(ctx: RouteContext): Promise<Reply> {
  const { v, q } = queueOr404(ctx);
  const body = await ctx.body();
  const props = properties(body['properties']);
  const bytes = payload({ payload: body['payload'] ?? '', payload_encoding: body['payload_encoding'] ?? 'string' });
  const routingKey = str(body['routing_key'], q.name);
  const result = checked(() => {
    checkMessageSize(ctx, bytes);
    return injectMessage(v, q.name, buildMessage(ctx, '', routingKey, props, bytes), ctx.app.access(ctx.user, v.name), ctx.app.broker.persistence);
  });
  if (result.durableAt !== NOT_WRITTEN) {
    await new Promise<void>((resolve, reject) => ctx.app.broker.whenDurable({
      onDurable: (_seq, err) => (err === null ? resolve() : reject(err)),
    }));
  }
  return ok({ enqueued: result.enqueued });
}

/** Longest wait one request may ask for (5 minutes); the default is 5 s. */
const MAX_WAIT_MS = 300_000;

/**
 * GET .../wait?messages=N|empty=true|consumers=N&timeout=ms: 200 with the counts once the condition
 * holds, 408 with them (and what was awaited) at the timeout.
 */
async function wait(ctx: RouteContext): Promise<Reply> {
  const q = ctx.query;
  const optional = (key: string): number | undefined => (q.has(key) ? queryInt(ctx, key, 0, 0) : undefined);
  const condition: WaitCondition = {
    messages: optional('messages'),
    empty: q.has('empty') ? q.get('empty') !== 'false' : undefined,
    consumers: optional('consumers'),
  };
  if (condition.messages === undefined && condition.empty === undefined && condition.consumers === undefined) {
    throw badRequest('say what to wait for: messages=N, empty=true or consumers=N');
  }
  const timeout = Math.min(queryInt(ctx, 'timeout', 5000, 0), MAX_WAIT_MS);
  const { v, q: queue } = queueOr404(ctx);
  const out = await waitForQueue(v, queue.name, condition, timeout);
  const n = out.counts;
  const counts = {
    vhost: v.name, queue: queue.name, messages: n.messages, messages_ready: n.messagesReady,
    messages_unacknowledged: n.messagesUnacknowledged, consumers: n.consumers, exists: n.exists, waited_ms: out.waitedMs,
  };
  if (out.met) return ok(counts);
  return {
    status: 408,
    body: {
      error: 'timeout',
      reason: `queue '${queue.name}' in vhost '${v.name}' has ${n.messages} messages and ${n.consumers} consumers ` +
        `after ${out.waitedMs} ms; waited for ${describeCondition(condition)}`,
      ...counts,
    },
  };
}

export function queueToolRoutes(r: Router): void {
  r.get('/api/queues/:vhost/:name/peek', 'management', (ctx) => ok(peek(ctx)));
  r.post('/api/queues/:vhost/:name/inject', 'management', inject);
  r.get('/api/queues/:vhost/:name/wait', 'management', wait);
}
