/**
 * Converts between the broker model and the definitions document (RabbitMQ's definitions.json
 * shape). Field-table arguments become plain JSON as RabbitMQ exports them (strings, numbers,
 * booleans, arrays, objects); on import, integers become 'l', other numbers 'd', strings 'S'.
 */
import { tableToPlain, type FieldTable, type FieldValue } from '../core/field-value.js';
import type {
  BindingDefinition, Definitions, ExchangeDefinition, JsonArguments, JsonValue, QueueDefinition,
} from '../store/definitions.js';
import type { Broker } from './broker.js';
import { Queue } from './queue.js';

export function argsToJson(t: FieldTable): JsonArguments {
  return toJson(tableToPlain(t)) as JsonArguments;
}

function toJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return v.map(toJson);
  if (typeof v === 'object') {
    const out: { [k: string]: JsonValue } = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJson(x);
    return out;
  }
  return v as JsonValue;
}

export function argsFromJson(a: JsonArguments | undefined): FieldTable {
  if (a === undefined) return [];
  return Object.entries(a).map(([key, v]) => ({ key, value: valueFromJson(v) }));
}

function valueFromJson(v: JsonValue): FieldValue {
  if (v === null) return { type: 'V' };
  if (typeof v === 'string') return { type: 'S', value: Buffer.from(v, 'utf8') };
  if (typeof v === 'boolean') return { type: 't', value: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { type: 'l', value: v } : { type: 'd', value: v };
  if (Array.isArray(v)) return { type: 'A', value: v.map(valueFromJson) };
  return { type: 'F', value: argsFromJson(v) };
}

/** The durable part of the model as a definitions document. */
export function exportDefinitions(broker: Broker): Definitions {
  const queues: QueueDefinition[] = [];
  const exchanges: ExchangeDefinition[] = [];
  const bindings: BindingDefinition[] = [];
  for (const v of broker.vhosts.values()) {
    for (const q of v.queues.values()) {
      if (!q.durable || q.exclusive) continue;
      queues.push({ name: q.name, vhost: v.name, durable: true, auto_delete: q.autoDelete, arguments: argsToJson(q.options.arguments) });
    }
    for (const x of v.exchanges.values()) {
      if (!x.durable || x.name === '' || x.name.startsWith('amq.')) continue;
      exchanges.push({
        name: x.name, vhost: v.name, type: x.type, durable: true, auto_delete: x.autoDelete, internal: x.internal,
        arguments: argsToJson(x.args),
      });
    }
    for (const b of v.allBindings()) {
      const d = b.destination;
      const isQueue = d instanceof Queue;
      if (!b.source.durable || (isQueue ? !d.durable || d.exclusive : !d.durable)) continue;
      bindings.push({
        source: b.source.name, vhost: v.name, destination: d.name, destination_type: isQueue ? 'queue' : 'exchange',
        routing_key: b.routingKey, arguments: argsToJson(b.args),
      });
    }
  }
  return {
    product_name: 'Warren',
    product_version: '0.1.0',
    users: broker.users.all().map((u) => ({
      name: u.name, password_hash: u.passwordHash, hashing_algorithm: 'rabbit_password_hashing_sha256', tags: [...u.tags],
    })),
    vhosts: [...broker.vhosts.keys()].map((name) => ({ name })),
    permissions: broker.users.all().flatMap((u) => [...broker.vhosts.keys()].map((vhost) => ({
      user: u.name, vhost, configure: '.*', write: '.*', read: '.*',
    }))),
    policies: [],
    queues,
    exchanges,
    bindings,
  } as Definitions;
}

/** Rebuild vhosts, users, exchanges, queues and bindings from a definitions document. */
export function importDefinitions(broker: Broker, defs: Definitions): void {
  for (const v of defs.vhosts ?? []) broker.addVhost(v.name);
  for (const u of defs.users ?? []) {
    const tags = Array.isArray(u.tags) ? u.tags : u.tags.split(',').filter((t) => t !== '');
    broker.users.addHashed({ name: u.name, passwordHash: u.password_hash, tags });
  }
  for (const x of defs.exchanges ?? []) {
    const v = broker.addVhost(x.vhost);
    if (v.exchanges.has(x.name)) continue;
    v.declareExchange({
      name: x.name, type: x.type, passive: false, durable: true, autoDelete: x.auto_delete, internal: x.internal,
      args: argsFromJson(x.arguments),
    });
  }
  for (const q of defs.queues ?? []) {
    const v = broker.addVhost(q.vhost);
    v.declareQueue({
      name: q.name, passive: false, durable: true, exclusive: false, autoDelete: q.auto_delete,
      args: argsFromJson(q.arguments), connectionId: -1,
    });
  }
  for (const b of defs.bindings ?? []) {
    const v = broker.addVhost(b.vhost);
    try {
      if (b.destination_type === 'queue') v.bindQueue(b.destination, b.source, b.routing_key, argsFromJson(b.arguments), -1);
      else v.bindExchange(b.destination, b.source, b.routing_key, argsFromJson(b.arguments));
    } catch {
      // A binding whose source or destination is gone: skip it, as RabbitMQ's import does.
    }
  }
}
