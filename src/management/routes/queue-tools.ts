/**
 * Warren's test endpoints on one queue (issue 14; no RabbitMQ equivalent), under the queue's own
 * path so the usual vhost authorisation applies:
 *   GET  /api/queues/{vhost}/{name}/peek    a page of its unacked and ready messages, no side effect
 * Each one is a broker operation (broker/queue-peek.ts ...) behind the same permission checks an AMQP
 * channel makes: peek needs read on the queue, as basic.get. Messages render as POST .../get renders
 * them (properties, payload and payload_encoding). Shapes: README "Test endpoints".
 */
import { peekQueue, type PeekedMessage, type PeekState } from '../../broker/queue-peek.js';
import type { Queue } from '../../broker/queue.js';
import { StreamQueue } from '../../broker/stream-queue.js';
import type { Vhost } from '../../broker/vhost.js';
import { badRequest, fromChannelCallError, notFound } from '../http-error.js';
import { ok } from '../reply.js';
import { int } from '../request-values.js';
import type { RouteContext, Router } from '../router.js';
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

export function queueToolRoutes(r: Router): void {
  r.get('/api/queues/:vhost/:name/peek', 'management', (ctx) => ok(peek(ctx)));
}
