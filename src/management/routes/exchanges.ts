/**
 * Exchanges: GET /api/exchanges[/{vhost}[/{name}]], PUT/DELETE /api/exchanges/{vhost}/{name}
 * (if-unused), GET .../bindings/source|destination. The default exchange is "amq.default" in URLs
 * and "" in JSON, as in RabbitMQ. Changes are the vhost's exchange.declare/delete operations and
 * answer once a durable change is saved. (POST .../publish lives in publish.ts.)
 */
import { argsFromJson, argsToJson } from '../../broker/definitions-codec.js';
import type { Exchange } from '../../broker/exchange.js';
import type { Vhost } from '../../broker/vhost.js';
import { notFound } from '../http-error.js';
import type { Item } from '../list-query.js';
import { ratesQuery } from '../message-stats.js';
import { list, NO_CONTENT, one, written } from '../reply.js';
import { bool, obj, queryFlag, str } from '../request-values.js';
import type { RouteContext, Router } from '../router.js';
import { exchangeBindings, exchangeName } from './bindings.js';

export function exchangeJson(ctx: RouteContext, v: Vhost, x: Exchange): Item {
  const out: Item = {
    arguments: argsToJson(x.args), auto_delete: x.autoDelete, durable: x.durable, internal: x.internal, name: x.name,
    type: x.type, user_who_performed_action: x.name === '' || x.name.startsWith('amq.') ? 'rmq-internal' : ctx.user.name,
    vhost: v.name,
  };
  const policy = ctx.app.broker.policies.effective(v.name, x.name, 'exchanges').policy;
  if (policy !== undefined) out['policy'] = policy.name;
  // Warren's x-transactional exchanges: how many half messages wait for a decision.
  if (x.transactional) out['half_messages'] = v.halfMessages.count(x);
  const stats = ctx.app.statistics?.messageStats('exchange', x, ratesQuery(ctx.query));
  if (stats !== undefined) out['message_stats'] = stats;
  return out;
}

export function exchangeOr404(ctx: RouteContext): { v: Vhost; x: Exchange } {
  const v = ctx.app.vhost(ctx.params['vhost']!);
  const x = v.exchanges.get(exchangeName(ctx.params['name']!));
  if (x === undefined) throw notFound();
  return { v, x };
}

function exchangesOf(ctx: RouteContext, vhost: string | undefined): Item[] {
  return ctx.app.vhostsFor(ctx.user, vhost).flatMap((v) => [...v.exchanges.values()].map((x) => exchangeJson(ctx, v, x)));
}

export function exchangeRoutes(r: Router): void {
  r.get('/api/exchanges', 'management', (ctx) => list(ctx, exchangesOf(ctx, undefined), ['vhost', 'name']));
  r.get('/api/exchanges/:vhost', 'management', (ctx) => list(ctx, exchangesOf(ctx, ctx.params['vhost']), ['vhost', 'name']));

  r.get('/api/exchanges/:vhost/:name', 'management', (ctx) => {
    const { v, x } = exchangeOr404(ctx);
    return one(ctx, { ...exchangeJson(ctx, v, x), incoming: [], outgoing: [] });
  });

  r.put('/api/exchanges/:vhost/:name', 'management', async (ctx) => {
    const body = await ctx.body();
    const v = ctx.app.vhostForWrite(ctx.params['vhost']!);
    const name = exchangeName(ctx.params['name']!);
    const existed = v.exchanges.has(name);
    v.declareExchange({
      name, type: str(body['type'], 'direct'), passive: false, durable: bool(body['durable'], false),
      autoDelete: bool(body['auto_delete'], false), internal: bool(body['internal'], false),
      args: argsFromJson(obj(body['arguments'], 'arguments')),
    }, ctx.app.access(ctx.user, v.name));
    await ctx.app.saved();
    return written(!existed);
  });

  r.delete('/api/exchanges/:vhost/:name', 'management', async (ctx) => {
    const { v, x } = exchangeOr404(ctx);
    v.deleteExchange(x.name, queryFlag(ctx.query, 'if-unused'), ctx.app.access(ctx.user, v.name));
    await ctx.app.saved();
    return NO_CONTENT;
  });

  r.get('/api/exchanges/:vhost/:name/bindings/source', 'management', (ctx) => {
    const { v, x } = exchangeOr404(ctx);
    return list(ctx, exchangeBindings(v, x.name, 'source'), []);
  });
  r.get('/api/exchanges/:vhost/:name/bindings/destination', 'management', (ctx) => {
    const { v, x } = exchangeOr404(ctx);
    return list(ctx, exchangeBindings(v, x.name, 'destination'), []);
  });
}
