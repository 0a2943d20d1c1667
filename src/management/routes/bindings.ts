/**
 * Bindings: GET /api/bindings[/{vhost}], GET|POST /api/bindings/{vhost}/e/{source}/q|e/{destination},
 * GET|DELETE .../{props}, and the binding lists of queues and exchanges. Every queue shows its
 * implicit binding from the default exchange, as RabbitMQ lists it. A binding is named in URLs by
 * RabbitMQ's properties key: the routing key quoted as mochiweb's quote_plus does (with '~' as %7E),
 * then '~' and a hash of the arguments when there are any ("~" alone for an empty key without
 * arguments). The hash differs from RabbitMQ's (erlang:phash2 of the Erlang term), so keys of
 * bindings with arguments are Warren's own; tools read them from the listing, never compute them.
 * Changes go through the vhost's bind/unbind operations, durable as over AMQP.
 */
import { createHash } from 'node:crypto';
import { argsFromJson, argsToJson } from '../../broker/definitions-codec.js';
import type { Binding } from '../../broker/binding.js';
import { Queue } from '../../broker/queue.js';
import { stringifyJson } from '../../core/json-text.js';
import type { Vhost } from '../../broker/vhost.js';
import { notFound } from '../http-error.js';
import type { Item } from '../list-query.js';
import { list, NO_CONTENT, one } from '../reply.js';
import { obj, str } from '../request-values.js';
import type { RouteContext, Router } from '../router.js';

/** In URLs the default exchange is called amq.default. */
export function exchangeName(urlName: string): string {
  return urlName === 'amq.default' ? '' : urlName;
}

/** mochiweb's quote_plus, with '~' escaped (rabbit_mgmt_format:quote_binding). */
export function quoteBinding(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9._-]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** RabbitMQ's properties key of a binding (rabbit_mgmt_format:pack_binding_props). */
export function propertiesKey(routingKey: string, args: Record<string, unknown>): string {
  if (Object.keys(args).length === 0) return routingKey === '' ? '~' : quoteBinding(routingKey);
  const hash = createHash('sha256').update(canonicalJson(args)).digest().subarray(0, 4).toString('base64url');
  return `${quoteBinding(routingKey)}~${quoteBinding(hash)}`;
}

/** JSON with sorted keys, at any depth (binding arguments may nest thousands of levels). */
function canonicalJson(v: unknown): string {
  return stringifyJson(v, true) ?? 'null';
}

export function bindingJson(vhost: string, b: Binding): Item {
  const d = b.destination;
  const args = argsToJson(b.args);
  return {
    source: b.source.name, vhost, destination: d.name, destination_type: d instanceof Queue ? 'queue' : 'exchange',
    routing_key: b.routingKey, arguments: args, properties_key: propertiesKey(b.routingKey, args),
  };
}

function defaultBindingJson(vhost: string, queue: string): Item {
  return {
    source: '', vhost, destination: queue, destination_type: 'queue', routing_key: queue, arguments: {},
    properties_key: propertiesKey(queue, {}),
  };
}

/** Every binding of a vhost in RabbitMQ's order: the default exchange's first, then by source and destination. */
export function vhostBindings(v: Vhost): Item[] {
  const defaults = [...v.queues.keys()].sort(byBytes).map((q) => defaultBindingJson(v.name, q));
  const others = v.allBindings().map((b) => bindingJson(v.name, b)).sort(bindingOrder);
  return [...defaults, ...others];
}

export function queueBindings(v: Vhost, queue: Queue): Item[] {
  return vhostBindings(v).filter((b) => b['destination_type'] === 'queue' && b['destination'] === queue.name);
}

export function exchangeBindings(v: Vhost, exchange: string, side: 'source' | 'destination'): Item[] {
  return v.allBindings().map((b) => bindingJson(v.name, b)).sort(bindingOrder).filter((b) =>
    side === 'source' ? b['source'] === exchange : b['destination_type'] === 'exchange' && b['destination'] === exchange);
}

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function bindingOrder(a: Item, b: Item): number {
  for (const k of ['source', 'destination_type', 'destination', 'routing_key', 'properties_key']) {
    const c = byBytes(String(a[k]), String(b[k]));
    if (c !== 0) return c;
  }
  return 0;
}

/** The bindings from a source exchange to a destination, checking both exist (404 otherwise). */
function between(ctx: RouteContext): { v: Vhost; kind: 'queue' | 'exchange'; found: { b: Binding | undefined; json: Item }[] } {
  const v = ctx.app.vhost(ctx.params['vhost']!);
  const source = exchangeName(ctx.params['source']!);
  const kind = ctx.params['kind'] === 'q' ? 'queue' : ctx.params['kind'] === 'e' ? 'exchange' : undefined;
  if (kind === undefined) throw notFound();
  const destination = kind === 'exchange' ? exchangeName(ctx.params['destination']!) : ctx.params['destination']!;
  const x = v.exchanges.get(source);
  const d = kind === 'queue' ? v.queues.get(destination) : v.exchanges.get(destination);
  if (x === undefined || d === undefined) throw notFound();
  const found: { b: Binding | undefined; json: Item }[] = [];
  if (source === '' && d instanceof Queue) found.push({ b: undefined, json: defaultBindingJson(v.name, d.name) });
  for (const b of x.bindings) if (b.destination === d) found.push({ b, json: bindingJson(v.name, b) });
  found.sort((a, c) => bindingOrder(a.json, c.json));
  return { v, kind, found };
}

export function bindingRoutes(r: Router): void {
  r.get('/api/bindings', 'management', (ctx) =>
    list(ctx, ctx.app.visibleVhosts(ctx.user).flatMap(vhostBindings), []));
  r.get('/api/bindings/:vhost', 'management', (ctx) => list(ctx, vhostBindings(ctx.app.vhost(ctx.params['vhost']!)), []));
  r.get('/api/bindings/:vhost/e/:source/:kind/:destination', 'management', (ctx) =>
    list(ctx, between(ctx).found.map((f) => f.json), []));

  r.post('/api/bindings/:vhost/e/:source/:kind/:destination', 'management', async (ctx) => {
    const body = await ctx.body();
    const routingKey = str(body['routing_key'], '');
    const args = argsFromJson(obj(body['arguments'], 'arguments'));
    const v = ctx.app.vhost(ctx.params['vhost']!);
    const source = exchangeName(ctx.params['source']!);
    const kind = ctx.params['kind'];
    const access = ctx.app.access(ctx.user, v.name);
    if (kind === 'q') v.bindQueue(ctx.params['destination']!, source, routingKey, args, -1, access);
    else if (kind === 'e') v.bindExchange(exchangeName(ctx.params['destination']!), source, routingKey, args, access);
    else throw notFound();
    await ctx.app.saved();
    const key = propertiesKey(routingKey, argsToJson(args));
    return { status: 201, headers: { location: `${encodeURIComponent(ctx.params['destination']!)}/${encodeURIComponent(key)}` } };
  });

  r.get('/api/bindings/:vhost/e/:source/:kind/:destination/:props', 'management', (ctx) => {
    const f = between(ctx).found.find((i) => i.json['properties_key'] === ctx.params['props']);
    if (f === undefined) throw notFound();
    return one(ctx, f.json);
  });

  r.delete('/api/bindings/:vhost/e/:source/:kind/:destination/:props', 'management', async (ctx) => {
    const { v, found } = between(ctx);
    const f = found.find((i) => i.json['properties_key'] === ctx.params['props']);
    if (f === undefined) throw notFound();
    const b = f.b;
    // The default exchange's implicit bindings cannot be removed: the vhost refuses, as RabbitMQ does.
    const access = ctx.app.access(ctx.user, v.name);
    if (b === undefined) v.unbindQueue(String(f.json['destination']), '', '', [], -1, access);
    else if (b.destination instanceof Queue) {
      v.unbindQueue(b.destination.name, b.source.name, b.routingKey, b.args, b.destination.options.exclusiveOwner, access);
    } else v.unbindExchange(b.destination.name, b.source.name, b.routingKey, b.args, access);
    await ctx.app.saved();
    return NO_CONTENT;
  });
}
