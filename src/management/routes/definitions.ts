/**
 * Definitions: GET|POST /api/definitions[/{vhost}], RabbitMQ's definitions.json (the shape
 * `rabbitmqctl export_definitions` writes), so files move between Warren and RabbitMQ. Export lists
 * transient queues and exchanges too, as RabbitMQ's does; import goes through the broker's validated
 * operations (importDefinitions in `apply` mode): existing queues and exchanges are left as they
 * are, a bad item answers 400 with RabbitMQ's reason, and the answer waits for the save.
 */
import { ControlError } from '../../broker/control-error.js';
import { exportDefinitions, importDefinitions } from '../../broker/definitions-codec.js';
import { AmqpError } from '../../core/amqp-error.js';
import type { Definitions } from '../../broker/definitions-control.js';
import { amqpDetail, badRequest, validationFailed } from '../http-error.js';
import { NO_CONTENT, ok } from '../reply.js';
import type { RouteContext, Router } from '../router.js';

const LISTS = ['users', 'vhosts', 'permissions', 'topic_permissions', 'parameters', 'global_parameters', 'policies',
  'queues', 'exchanges', 'bindings'] as const;

function exportAll(ctx: RouteContext): Record<string, unknown> {
  const node = ctx.app.node;
  const defs = exportDefinitions(ctx.app.broker, { includeTransient: true });
  const out: Record<string, unknown> = {
    rabbit_version: node.rabbitmqVersion, rabbitmq_version: node.rabbitmqVersion,
    product_name: node.product, product_version: node.productVersion,
  };
  for (const k of LISTS) out[k] = defs[k] ?? [];
  return out;
}

/** One vhost's part: queues, exchanges and bindings without their vhost field (RabbitMQ's shape). */
export function exportVhost(ctx: RouteContext, vhost: string): Record<string, unknown> {
  const all = exportAll(ctx);
  const mine = (list: unknown) => (list as { vhost: string }[]).filter((i) => i.vhost === vhost);
  const strip = (list: unknown) => mine(list).map(({ vhost: _v, ...rest }) => rest);
  return {
    rabbit_version: all['rabbit_version'],
    parameters: mine(all['parameters']),
    policies: mine(all['policies']),
    queues: strip(all['queues']),
    exchanges: strip(all['exchanges']),
    bindings: strip(all['bindings']),
  };
}

async function parseUpload(ctx: RouteContext): Promise<Partial<Definitions>> {
  let doc: unknown;
  try {
    doc = JSON.parse((await ctx.rawBody()).toString('utf8'));
  } catch {
    throw badRequest('failed_to_parse_json');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw badRequest('failed_to_parse_json');
  for (const k of LISTS) {
    const v = (doc as Record<string, unknown>)[k];
    if (v !== undefined && !Array.isArray(v)) throw badRequest('failed_to_parse_json');
  }
  return doc as Partial<Definitions>;
}

/** Every vhost an upload names must exist or be created by it (RabbitMQ: no_such_vhost). */
function checkVhosts(ctx: RouteContext, defs: Partial<Definitions>): void {
  const known = new Set([...ctx.app.broker.vhosts.keys(), ...(defs.vhosts ?? []).map((v) => v.name)]);
  for (const k of ['queues', 'exchanges', 'bindings', 'policies', 'parameters', 'permissions', 'topic_permissions'] as const) {
    for (const item of (defs[k] ?? []) as { vhost?: string }[]) {
      if (item.vhost !== undefined && !known.has(item.vhost)) throw badRequest(['no_such_vhost', item.vhost]);
    }
  }
}

function apply(ctx: RouteContext, defs: Partial<Definitions>): void {
  checkVhosts(ctx, defs);
  try {
    importDefinitions(ctx.app.broker, { users: [], vhosts: [], permissions: [], policies: [], queues: [], exchanges: [], bindings: [], ...defs }, 'apply');
  } catch (e: unknown) {
    if (e instanceof AmqpError) throw badRequest(amqpDetail(e));
    if (e instanceof ControlError) throw e.kind === 'invalid' ? validationFailed(e.reason) : badRequest(e.reason);
    throw e;
  }
}

/** Import a vhost's export (no vhost fields: everything in it belongs to `vhost`). */
export function importIntoVhost(ctx: RouteContext, vhost: string, doc: Partial<Definitions>): void {
  const here = <T extends object>(list: T[] | undefined): (T & { vhost: string })[] => (list ?? []).map((i) => ({ ...i, vhost }));
  apply(ctx, {
    queues: here(doc.queues), exchanges: here(doc.exchanges), bindings: here(doc.bindings),
    policies: here(doc.policies), parameters: here(doc.parameters),
  });
}

export function definitionRoutes(r: Router): void {
  r.get('/api/definitions', 'administrator', (ctx) => ok(exportAll(ctx)));
  r.get('/api/definitions/:vhost', 'administrator', (ctx) => ok(exportVhost(ctx, ctx.app.vhost(ctx.params['vhost']!).name)));

  r.post('/api/definitions', 'administrator', async (ctx) => {
    apply(ctx, await parseUpload(ctx));
    await ctx.app.saved();
    return NO_CONTENT;
  });

  r.post('/api/definitions/:vhost', 'administrator', async (ctx) => {
    const vhost = ctx.app.vhost(ctx.params['vhost']!).name;
    importIntoVhost(ctx, vhost, await parseUpload(ctx));
    await ctx.app.saved();
    return NO_CONTENT;
  });
}
