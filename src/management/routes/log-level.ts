/**
 * Warren's own route (RabbitMQ has none: it changes levels with `rabbitmqctl set_log_level`):
 * GET /api/warren/log-level answers {"level": "info"}; PUT with {"level": "debug"} changes the
 * level of every logger of the process at once, without a restart. Administrator only, both
 * ways. 400 for a level that does not exist (the reason lists those that do); 404 when the node
 * was started without a level control (tests that build the app directly).
 */
import { badRequest, notFound } from '../http-error.js';
import type { LogLevelControl } from '../management-app.js';
import { NO_CONTENT, ok } from '../reply.js';
import { requireKeys } from '../request-values.js';
import type { RouteContext, Router } from '../router.js';

function control(ctx: RouteContext): LogLevelControl {
  const c = ctx.app.node.logLevel;
  if (c === undefined) throw notFound();
  return c;
}

export function logLevelRoutes(r: Router): void {
  r.get('/api/warren/log-level', 'administrator', (ctx) => ok({ level: control(ctx).get(), levels: [...control(ctx).levels] }));
  r.put('/api/warren/log-level', 'administrator', async (ctx) => {
    const c = control(ctx);
    const body = await ctx.body();
    requireKeys(body, ['level']);
    const level = body['level'];
    if (typeof level !== 'string' || !c.levels.includes(level)) throw badRequest(`unknown log level; use one of ${c.levels.join(', ')}`);
    c.set(level);
    return NO_CONTENT;
  });
}
