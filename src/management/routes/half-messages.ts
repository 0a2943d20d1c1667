/**
 * Half messages (Warren extension, broker/half-messages.ts) over the management API:
 *
 *   GET  /api/half-messages[/{vhost}]                         every pending half message
 *   GET  /api/exchanges/{vhost}/{name}/half-messages          those of one x-transactional exchange
 *   POST /api/exchanges/{vhost}/{name}/half-messages/{id}/commit
 *   POST /api/exchanges/{vhost}/{name}/half-messages/{id}/rollback
 *
 * A row: vhost, exchange, transaction_id, routing_key, published_at (ms since the epoch), age (ms),
 * checks (check requests sent), last_check_at, next_check_at, payload_bytes, durable, reply_to.
 * An operator's decision is the producer's decision (Vhost.decideHalfMessage): 200
 * {"decision", "routed", "queues"} once durable; 404 not_found when the transaction is unknown (or
 * the exchange is not x-transactional), 400 with the text when it was already decided. It needs
 * write permission on the exchange, as publishing to it does.
 */
import type { Exchange } from '../../broker/exchange.js';
import type { Decision } from '../../broker/half-messages.js';
import { NOT_WRITTEN } from '../../broker/publish.js';
import type { Vhost } from '../../broker/vhost.js';
import { HttpError, fromBrokerError, notAuthorised, notFound } from '../http-error.js';
import type { Item } from '../list-query.js';
import { list, ok } from '../reply.js';
import type { RouteContext, Router } from '../router.js';
import { exchangeName } from './bindings.js';

function rows(v: Vhost, x: Exchange, now: number): Item[] {
  return v.halfMessages.list(x).map((h) => ({
    vhost: v.name, exchange: x.name, transaction_id: h.transactionId, routing_key: h.routingKey,
    published_at: h.publishedAt, age: Math.max(0, now - h.publishedAt), checks: h.checks,
    last_check_at: h.lastCheckAt ?? null, next_check_at: h.nextCheckAt, payload_bytes: h.payloadBytes,
    durable: h.durable, reply_to: h.replyTo ?? null,
  }));
}

function allRows(ctx: RouteContext, vhost: string | undefined): Item[] {
  const now = Date.now();
  const out: Item[] = [];
  for (const v of ctx.app.vhostsFor(ctx.user, vhost)) {
    for (const x of v.exchanges.values()) if (x.transactional) out.push(...rows(v, x, now));
  }
  return out;
}

/** Decide as an operator: write permission on the exchange, then the vhost's operation. */
async function decide(ctx: RouteContext, decision: Decision) {
  const v = ctx.app.broker.vhosts.get(ctx.params['vhost']!);
  if (v === undefined || !ctx.app.canOpenVhost(ctx.user, v.name)) throw notAuthorised('Access refused.');
  const name = exchangeName(ctx.params['name']!);
  let outcome;
  try {
    ctx.app.access(ctx.user, v.name).check('exchange', name, 'write');
    outcome = v.decideHalfMessage(name, ctx.params['id']!, decision);
  } catch (err: unknown) {
    throw fromBrokerError(err) ?? err;
  }
  if (!outcome.ok) {
    const detail = outcome.text.replace(/^[A-Z_]+ - /, '');
    throw outcome.code === 404 ? new HttpError(404, 'not_found', detail) : new HttpError(400, 'bad_request', detail);
  }
  // Answered once the settle (and the committed message's writes) are on disk.
  if (outcome.durableAt !== NOT_WRITTEN) await new Promise<void>((resolve, reject) => ctx.app.broker.whenDurable({
    onDurable: (_seq, err) => (err === null ? resolve() : reject(err)),
  }));
  return ok({ decision, routed: outcome.routed, queues: outcome.queues });
}

export function halfMessageRoutes(r: Router): void {
  r.get('/api/half-messages', 'management', (ctx) => list(ctx, allRows(ctx, undefined), ['vhost', 'exchange', 'published_at']));
  r.get('/api/half-messages/:vhost', 'management', (ctx) => list(ctx, allRows(ctx, ctx.params['vhost']), ['exchange', 'published_at']));
  r.get('/api/exchanges/:vhost/:name/half-messages', 'management', (ctx) => {
    const v = ctx.app.vhost(ctx.params['vhost']!);
    const x = v.exchanges.get(exchangeName(ctx.params['name']!));
    if (x === undefined || !x.transactional) throw notFound();
    return list(ctx, rows(v, x, Date.now()), ['published_at']);
  });
  r.post('/api/exchanges/:vhost/:name/half-messages/:id/commit', 'management', (ctx) => decide(ctx, 'commit'));
  r.post('/api/exchanges/:vhost/:name/half-messages/:id/rollback', 'management', (ctx) => decide(ctx, 'rollback'));
}
