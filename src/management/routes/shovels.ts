/**
 * Shovel status and control, as rabbitmq_shovel_management serves them: GET /api/shovels and
 * /api/shovels/{vhost} (the statuses of the vhosts the user may see), DELETE
 * /api/shovels/vhost/{vhost}/{name}/restart (204, 404 when there is no such shovel) and DELETE
 * /api/shovels/vhost/{vhost}/{name} (deletes the shovel's parameter). Shovels are created and changed
 * through /api/parameters/shovel/... (policies.ts), as in RabbitMQ.
 */
import { SHOVEL_PARAMETER_COMPONENT } from '../../broker/parameters.js';
import { notFound } from '../http-error.js';
import type { Item } from '../list-query.js';
import { list, NO_CONTENT } from '../reply.js';
import type { RouteContext, Router } from '../router.js';

export function shovelRoutes(r: Router): void {
  const visible = (ctx: RouteContext, vhost?: string): Item[] => {
    const source = ctx.app.shovels;
    if (source === undefined) return [];
    const vhosts = new Set(ctx.app.vhostsFor(ctx.user, vhost).map((v) => v.name));
    return source.status(vhost).filter((s) => vhosts.has(String(s['vhost'])));
  };
  r.get('/api/shovels', 'management', (ctx) => list(ctx, visible(ctx), []));
  r.get('/api/shovels/:vhost', 'management', (ctx) => list(ctx, visible(ctx, ctx.params['vhost']), []));
  r.delete('/api/shovels/vhost/:vhost/:name/restart', 'policymaker', (ctx) => {
    const vhost = ctx.app.vhost(ctx.params['vhost']!).name;
    if (ctx.app.shovels?.restart(vhost, ctx.params['name']!) !== true) throw notFound();
    return NO_CONTENT;
  });
  r.delete('/api/shovels/vhost/:vhost/:name', 'policymaker', async (ctx) => {
    const vhost = ctx.app.vhost(ctx.params['vhost']!).name;
    if (!ctx.app.broker.parameters.clear(SHOVEL_PARAMETER_COMPONENT, vhost, ctx.params['name']!)) throw notFound();
    await ctx.app.saved();
    return NO_CONTENT;
  });
}
