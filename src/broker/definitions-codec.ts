/**
 * Converts between the broker model and the definitions document (RabbitMQ's definitions.json
 * shape): topology here, users/vhosts/permissions/parameters/policies in definitions-control. Field-table arguments become plain JSON as RabbitMQ exports them (strings, numbers,
 * booleans, arrays, objects); on import, integers become 'l', other numbers 'd', strings 'S'.
 */
import { AmqpError } from '../core/amqp-error.js';
import { tableToPlain, type FieldEntry, type FieldTable, type FieldValue } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import type {
  BindingDefinition, Definitions, ExchangeDefinition, JsonArguments, JsonValue, QueueDefinition,
} from '../store/definitions.js';
import { UNRESTRICTED } from './access-control.js';
import type { Binding } from './binding.js';
import type { Broker } from './broker.js';
import type { Exchange } from './exchange.js';
import { missing } from './control-error.js';
import { exportControl, importControl, type ImportMode } from './definitions-control.js';
import { Queue } from './queue.js';

/** A table as the plain JSON object RabbitMQ exports (first of duplicate keys wins). */
export function argsToJson(t: FieldTable): JsonArguments {
  return toJson(tableToPlain(t)) as JsonArguments;
}

/**
 * Plain values (tableToPlain's output) to JSON values: bigints become numbers, Buffers UTF-8
 * strings. Nested arrays and objects are converted from a work list, never by recursion: a queue's
 * arguments may nest thousands of levels deep and must still be storable (RabbitMQ stores them).
 */
function toJson(v: unknown): JsonValue {
  if (!isContainer(v)) return scalarToJson(v);
  const root: JsonValue[] | { [k: string]: JsonValue } = Array.isArray(v) ? [] : {};
  const work: { src: unknown[] | Record<string, unknown>; out: JsonValue[] | { [k: string]: JsonValue } }[] = [{ src: v, out: root }];
  while (work.length > 0) {
    const { src, out } = work.pop()!;
    const keys = Array.isArray(src) ? undefined : Object.keys(src);
    const n = keys === undefined ? (src as unknown[]).length : keys.length;
    for (let i = 0; i < n; i++) {
      const x = keys === undefined ? (src as unknown[])[i] : (src as Record<string, unknown>)[keys[i]!];
      let json: JsonValue;
      if (isContainer(x)) {
        const child: JsonValue[] | { [k: string]: JsonValue } = Array.isArray(x) ? [] : {};
        work.push({ src: x, out: child });
        json = child;
      } else {
        json = scalarToJson(x);
      }
      if (keys === undefined) (out as JsonValue[]).push(json);
      else Object.defineProperty(out, keys[i]!, { value: json, enumerable: true, writable: true, configurable: true });
    }
  }
  return root;
}

function isContainer(v: unknown): v is unknown[] | Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Buffer.isBuffer(v);
}

function scalarToJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return v as JsonValue;
}

/** JSON arguments back to a field table: integers 'l', other numbers 'd', strings 'S' (work list, any depth). */
export function argsFromJson(a: JsonArguments | undefined): FieldTable {
  if (a === undefined) return [];
  const root: FieldEntry[] = [];
  const work: { src: JsonValue[] | { [k: string]: JsonValue }; out: FieldEntry[] | FieldValue[] }[] = [{ src: a, out: root }];
  while (work.length > 0) {
    const { src, out } = work.pop()!;
    const keys = Array.isArray(src) ? undefined : Object.keys(src);
    const n = keys === undefined ? (src as JsonValue[]).length : keys.length;
    for (let i = 0; i < n; i++) {
      const x = keys === undefined ? (src as JsonValue[])[i]! : (src as { [k: string]: JsonValue })[keys[i]!]!;
      let value: FieldValue;
      if (x !== null && typeof x === 'object') {
        const child: FieldEntry[] | FieldValue[] = [];
        value = Array.isArray(x) ? { type: 'A', value: child as FieldValue[] } : { type: 'F', value: child as FieldEntry[] };
        work.push({ src: x, out: child });
      } else {
        value = scalarFromJson(x);
      }
      if (keys === undefined) (out as FieldValue[]).push(value);
      else (out as FieldEntry[]).push({ key: keys[i]!, value });
    }
  }
  return root;
}

function scalarFromJson(v: null | boolean | number | string): FieldValue {
  if (v === null) return { type: 'V' };
  if (typeof v === 'string') return { type: 'S', value: Buffer.from(v, 'utf8') };
  if (typeof v === 'boolean') return { type: 't', value: v };
  return Number.isInteger(v) ? { type: 'l', value: v } : { type: 'd', value: v };
}

/**
 * Arguments as stored, or a clean refusal (406) when they cannot be converted: the change is then
 * refused before it is applied (a durable declare must never half-happen).
 */
function storedArgs(t: FieldTable, what: string): JsonArguments {
  try {
    return argsToJson(t);
  } catch (e: unknown) {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `cannot store ${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A queue as definitions.json lists it (also the value of its journal record). */
export function queueDefinition(vhost: string, name: string, durable: boolean, autoDelete: boolean, args: FieldTable): QueueDefinition {
  return { name, vhost, durable, auto_delete: autoDelete, arguments: storedArgs(args, `queue '${name}' in vhost '${vhost}'`) };
}

export function exchangeDefinition(x: Exchange): ExchangeDefinition {
  return {
    name: x.name, vhost: x.vhost, type: x.type, durable: x.durable, auto_delete: x.autoDelete, internal: x.internal,
    arguments: storedArgs(x.args, `exchange '${x.name}' in vhost '${x.vhost}'`),
  };
}

export function bindingDefinition(vhost: string, source: string, destination: Queue | Exchange, routingKey: string,
  args: FieldTable): BindingDefinition {
  return {
    source, vhost, destination: destination.name, destination_type: destination instanceof Queue ? 'queue' : 'exchange',
    routing_key: routingKey, arguments: storedArgs(args, `binding of '${destination.name}' to '${source}' in vhost '${vhost}'`),
  };
}

/** Is this binding part of the durable definitions (both ends durable, the queue not exclusive)? */
export function bindingIsDurable(b: Binding): boolean {
  const d = b.destination;
  return b.source.durable && (d instanceof Queue ? d.durable && !d.exclusive : d.durable);
}

export interface ExportOptions {
  /**
   * Also list transient (non-exclusive) queues, exchanges and bindings, as a management export
   * does. The saved document lists durable ones only (they are what survives a restart).
   */
  includeTransient?: boolean;
}

/** The durable part of the model (everything, with includeTransient) as a definitions document. */
export function exportDefinitions(broker: Broker, options: ExportOptions = {}): Definitions {
  const all = options.includeTransient === true;
  const queues: QueueDefinition[] = [];
  const exchanges: ExchangeDefinition[] = [];
  const bindings: BindingDefinition[] = [];
  for (const v of broker.vhosts.values()) {
    for (const q of v.queues.values()) {
      if (q.exclusive || (!q.durable && !all)) continue;
      queues.push(queueDefinition(v.name, q.name, q.durable, q.autoDelete, q.options.arguments));
    }
    for (const x of v.exchanges.values()) {
      if ((!x.durable && !all) || x.name === '' || x.name.startsWith('amq.')) continue;
      exchanges.push(exchangeDefinition(x));
    }
    for (const b of v.allBindings()) {
      const d = b.destination;
      const isQueue = d instanceof Queue;
      if (isQueue && d.exclusive) continue;
      if (!all && (!b.source.durable || !d.durable)) continue;
      bindings.push(bindingDefinition(v.name, b.source.name, d, b.routingKey, b.args));
    }
  }
  return {
    product_name: 'Warren',
    product_version: '0.1.0',
    ...exportControl(broker),
    queues,
    exchanges,
    bindings,
  };
}

/**
 * Rebuild vhosts, users, permissions, parameters, policies, exchanges, queues and bindings from a
 * definitions document. `recover` (the default) restores what was saved; `apply` is a management
 * import: validated, and objects that already exist are left as they are (RabbitMQ's import does not
 * redeclare them).
 */
export function importDefinitions(broker: Broker, defs: Definitions, mode: ImportMode = 'recover'): void {
  const apply = mode === 'apply';
  importControl(broker, defs, mode);
  const vhostOf = (name: string) => {
    const v = broker.vhosts.get(name);
    if (v !== undefined) return v;
    if (apply) throw missing(`vhost_not_found: ${name}`);
    return broker.addVhost(name);
  };
  for (const x of defs.exchanges ?? []) {
    const v = vhostOf(x.vhost);
    if (v.exchanges.has(x.name)) continue;
    v.declareExchange({
      name: x.name, type: x.type, passive: false, durable: x.durable !== false, autoDelete: x.auto_delete === true,
      internal: x.internal === true, args: argsFromJson(x.arguments),
    }, UNRESTRICTED);
  }
  for (const q of defs.queues ?? []) {
    const v = vhostOf(q.vhost);
    if (apply && v.queues.has(q.name)) continue;
    v.declareQueue({
      name: q.name, passive: false, durable: q.durable !== false, exclusive: false, autoDelete: q.auto_delete === true,
      args: argsFromJson(q.arguments), connectionId: -1,
    }, UNRESTRICTED);
  }
  for (const b of defs.bindings ?? []) {
    const v = vhostOf(b.vhost);
    try {
      if (b.destination_type === 'queue') v.bindQueue(b.destination, b.source, b.routing_key, argsFromJson(b.arguments), -1, UNRESTRICTED);
      else v.bindExchange(b.destination, b.source, b.routing_key, argsFromJson(b.arguments), UNRESTRICTED);
    } catch {
      // A binding whose source or destination is gone: skip it, as RabbitMQ's import does.
    }
  }
}
