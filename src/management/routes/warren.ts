/**
 * Warren's own vhost-wide test endpoints (issue 14; no RabbitMQ equivalent), namespaced under
 * /api/warren/ and for administrators (they delete everything in a vhost and close its connections):
 *   POST /api/warren/reset/{vhost}      the vhost back to empty (broker/vhost-reset.ts)
 *   GET  /api/warren/snapshot/{vhost}   its definitions plus every queue's messages, as one JSON document
 *   POST /api/warren/restore/{vhost}    reset it, then load such a document back
 * The snapshot format (version 1, documented in README "Snapshot and restore"):
 *   {"warren_snapshot": 1, "created_at": ISO, "vhost": name,
 *    "definitions": GET /api/definitions/{vhost}'s document,
 *    "messages": [{"queue": name, "messages": [{"exchange", "routing_key", "properties", "payload" (base64),
 *                  "payload_encoding": "base64"}]}]}
 * Messages are listed in queue order (unacked ones first: they were ahead), read by peek (no side
 * effect), and restored with inject (the queue's rules apply), all as fresh messages.
 */
import { UNRESTRICTED } from '../../broker/access-control.js';
import type { Definitions } from '../../broker/definitions-control.js';
import { NOT_WRITTEN } from '../../broker/publish.js';
import { injectMessage } from '../../broker/queue-inject.js';
import { peekQueue } from '../../broker/queue-peek.js';
import { OFFSET_HEADER, StreamQueue } from '../../broker/stream-queue.js';
import { resetVhost, type ResetResult } from '../../broker/vhost-reset.js';
import { badRequest, fromChannelCallError } from '../http-error.js';
import type { PropertiesJson } from '../management-app.js';
import { ok } from '../reply.js';
import type { JsonObject } from '../request-values.js';
import type { RouteContext, Router } from '../router.js';
import { exportVhost, importIntoVhost } from './definitions.js';
import { buildMessage, payload, properties } from './publish.js';

export const SNAPSHOT_VERSION = 1;

function resetJson(r: ResetResult): Record<string, number> {
  return {
    connections_closed: r.connectionsClosed, queues_deleted: r.queuesDeleted, messages_deleted: r.messagesDeleted,
    exchanges_deleted: r.exchangesDeleted, bindings_deleted: r.bindingsDeleted, policies_deleted: r.policiesDeleted,
  };
}

function snapshot(ctx: RouteContext, vhost: string): Record<string, unknown> {
  const v = ctx.app.vhost(vhost);
  const messages: { queue: string; messages: Record<string, unknown>[] }[] = [];
  for (const q of v.queues.values()) {
    const page = peekQueue(q, ctx.app.broker.connections, 'all', 0, Number.MAX_SAFE_INTEGER);
    if (page.messages.length === 0) continue;
    messages.push({
      queue: q.name,
      messages: page.messages.map((m) => {
        const props = ctx.app.codec.propertiesToJson(m.msg.properties);
        if (q instanceof StreamQueue) dropHeader(props, OFFSET_HEADER);
        return {
          exchange: m.msg.exchange, routing_key: m.msg.routingKey, properties: props,
          payload: m.msg.body.toString('base64'), payload_encoding: 'base64',
        };
      }),
    });
  }
  return {
    warren_snapshot: SNAPSHOT_VERSION, created_at: new Date().toISOString(), vhost: v.name,
    definitions: exportVhost(ctx, v.name), messages,
  };
}

/** A stream stamps its offset on every read; the restored message gets a new one. */
function dropHeader(props: PropertiesJson, key: string): void {
  const h = props['headers'];
  if (h === undefined || h === null || typeof h !== 'object' || Array.isArray(h)) return;
  delete (h as Record<string, unknown>)[key];
  if (Object.keys(h).length === 0) delete props['headers'];
}

function isObject(x: unknown): x is JsonObject {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

async function restore(ctx: RouteContext, vhost: string): Promise<Record<string, unknown>> {
  const v = ctx.app.vhost(vhost);
  const doc = await ctx.body();
  if (doc['warren_snapshot'] !== SNAPSHOT_VERSION) throw badRequest(`not a Warren snapshot (version ${SNAPSHOT_VERSION})`);
  const defs = doc['definitions'];
  const lists = doc['messages'] ?? [];
  if (!isObject(defs) || !Array.isArray(lists)) throw badRequest('a snapshot has "definitions" (an object) and "messages" (a list)');
  // Check every message before changing anything.
  const planned: { queue: string; exchange: string; routingKey: string; props: PropertiesJson; body: Buffer }[] = [];
  for (const item of lists) {
    if (!isObject(item) || typeof item['queue'] !== 'string' || !Array.isArray(item['messages'])) {
      throw badRequest('each "messages" item is {"queue": name, "messages": [...]}');
    }
    for (const m of item['messages']) {
      if (!isObject(m)) throw badRequest(`a message of queue '${item['queue']}' is not an object`);
      planned.push({
        queue: item['queue'], exchange: typeof m['exchange'] === 'string' ? m['exchange'] : '',
        routingKey: typeof m['routing_key'] === 'string' ? m['routing_key'] : item['queue'],
        props: properties(m['properties']),
        body: payload({ payload: m['payload'] ?? '', payload_encoding: m['payload_encoding'] ?? 'base64' }),
      });
    }
  }
  const reset = resetVhost(ctx.app.broker, v.name);
  importIntoVhost(ctx, v.name, defs as Partial<Definitions>);
  const p = ctx.app.broker.persistence;
  let written = false;
  let restored = 0;
  try {
    for (const m of planned) {
      const r = injectMessage(v, m.queue, buildMessage(ctx, m.exchange, m.routingKey, m.props, m.body, false), UNRESTRICTED, p);
      if (r.durableAt !== NOT_WRITTEN) written = true;
      if (r.enqueued) restored++;
    }
  } catch (e: unknown) {
    throw fromChannelCallError(e) ?? e;
  }
  await ctx.app.saved();
  if (written) {
    await new Promise<void>((resolve, reject) => ctx.app.broker.whenDurable({
      onDurable: (_seq, err) => (err === null ? resolve() : reject(err)),
    }));
  }
  return { ...resetJson(reset), queues: v.queues.size, messages_restored: restored };
}

export function warrenRoutes(r: Router): void {
  r.post('/api/warren/reset/:vhost', 'administrator', async (ctx) => {
    const v = ctx.app.vhost(ctx.params['vhost']!);
    const result = resetVhost(ctx.app.broker, v.name);
    await ctx.app.saved();
    return ok(resetJson(result));
  });
  r.get('/api/warren/snapshot/:vhost', 'administrator', (ctx) => ok(snapshot(ctx, ctx.params['vhost']!)));
  r.post('/api/warren/restore/:vhost', 'administrator', async (ctx) => ok(await restore(ctx, ctx.params['vhost']!)));
}
