/**
 * GET /api/federation-links[/{vhost}]: the federation links and their state, in the shape
 * rabbitmq_federation_management answers (node, exchange/queue, upstream_exchange/upstream_queue,
 * type, vhost, upstream, id, status starting|running|error, error, uri without credentials,
 * timestamp), for monitoring users and up; a user sees the vhosts the API lets it see. The links
 * live outside this layer (src/links): the CLI hands the app a function that lists them.
 */
import { notFound } from '../http-error.js';
import type { Item } from '../list-query.js';
import { list } from '../reply.js';
import type { RouteContext, Router } from '../router.js';

function links(ctx: RouteContext, vhost?: string): Item[] {
  const source = ctx.app.federationStatus;
  if (source === undefined) throw notFound();
  const visible = new Set(ctx.app.vhostsFor(ctx.user, vhost).map((v) => v.name));
  return source(vhost).filter((l) => visible.has(String(l['vhost']))) as Item[];
}

export function federationRoutes(r: Router): void {
  r.get('/api/federation-links', 'monitoring', (ctx) => list(ctx, links(ctx), []));
  r.get('/api/federation-links/:vhost', 'monitoring', (ctx) => list(ctx, links(ctx, ctx.params['vhost']), []));
}
