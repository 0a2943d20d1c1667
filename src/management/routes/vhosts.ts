/**
 * Virtual hosts: GET /api/vhosts[/{name}], PUT (create, or update description/tags; the creator is
 * given full permissions, as RabbitMQ's management does), DELETE (everything in the vhost goes and
 * its connections are closed with 320: Broker.deleteVhost), and the vhost's permission lists.
 * Creating and deleting vhosts needs the administrator tag.
 */
import type { Vhost } from '../../broker/vhost.js';
import { notFound } from '../http-error.js';
import type { Item } from '../list-query.js';
import { gaugeDetails, ratesQuery } from '../message-stats.js';
import { list, NO_CONTENT, one, written } from '../reply.js';
import { bool, str } from '../request-values.js';
import type { RouteContext, Router } from '../router.js';
import type { JsonValue } from '../../broker/definitions-control.js';

export function vhostJson(ctx: RouteContext, v: Vhost): Item {
  const app = ctx.app;
  const m = app.broker.vhostMetadata.get(v.name) ?? { description: '', tags: [], tracing: false };
  let ready = 0;
  let unacked = 0;
  for (const q of v.queues.values()) {
    ready += q.messageCount;
    unacked += q.unackedCount;
  }
  const query = ratesQuery(ctx.query);
  const out: Item = {
    cluster_state: { [app.node.name]: 'running' },
    default_queue_type: m.defaultQueueType ?? 'undefined',
    description: m.description,
    messages: ready + unacked,
    messages_ready: ready,
    messages_unacknowledged: unacked,
    metadata: { description: m.description, tags: [...m.tags] },
    name: v.name,
    tags: [...m.tags],
    tracing: m.tracing,
  };
  for (const g of ['messages', 'messages_ready', 'messages_unacknowledged']) {
    out[`${g}_details`] = app.statistics?.gaugeDetails?.('vhost', v, g, query) ?? gaugeDetails(undefined, undefined, query);
  }
  const stats = app.statistics?.messageStats('vhost', v, query);
  if (stats !== undefined) out['message_stats'] = stats;
  return out;
}

/** Tags as RabbitMQ takes them: a comma-separated string or a list. */
export function tagList(v: JsonValue | undefined): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map((t) => String(t).trim()).filter((t) => t !== '');
  return String(v).split(',').map((t) => t.trim()).filter((t) => t !== '');
}

export function vhostRoutes(r: Router): void {
  r.get('/api/vhosts', 'management', (ctx) => list(ctx, ctx.app.visibleVhosts(ctx.user).map((v) => vhostJson(ctx, v)), ['name']));

  r.get('/api/vhosts/:vhost', 'management', (ctx) => one(ctx, vhostJson(ctx, ctx.app.vhost(ctx.params['vhost']!))));

  r.put('/api/vhosts/:vhost', 'administrator', async (ctx) => {
    const body = await ctx.body();
    const dqt = body['default_queue_type'];
    const created = ctx.app.broker.putVhost(ctx.params['vhost']!, {
      description: str(body['description'], ''),
      tags: tagList(body['tags']),
      ...(typeof dqt === 'string' && dqt !== '' ? { defaultQueueType: dqt } : {}),
      tracing: bool(body['tracing'], false),
    }, ctx.user.name);
    await ctx.app.saved();
    return written(created);
  });

  r.delete('/api/vhosts/:vhost', 'administrator', async (ctx) => {
    if (!ctx.app.broker.deleteVhost(ctx.params['vhost']!)) throw notFound();
    await ctx.app.saved();
    return NO_CONTENT;
  });

  r.get('/api/vhosts/:vhost/permissions', 'administrator', (ctx) => {
    const v = ctx.app.vhost(ctx.params['vhost']!);
    return list(ctx, ctx.app.broker.permissions.list({ vhost: v.name }).map((p) => ({
      vhost: p.vhost, user: p.user, configure: p.configure, write: p.write, read: p.read,
    })), []);
  });

  r.get('/api/vhosts/:vhost/topic-permissions', 'administrator', (ctx) => {
    const v = ctx.app.vhost(ctx.params['vhost']!);
    return list(ctx, ctx.app.broker.permissions.listTopic({ vhost: v.name }).map((p) => ({
      vhost: p.vhost, user: p.user, exchange: p.exchange, write: p.write, read: p.read,
    })), []);
  });
}
