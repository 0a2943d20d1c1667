/**
 * One durable definition change, as the broker hands it to the store and as the definitions journal
 * records it: `put` (create or replace) or `delete` one entry of one list of the definitions
 * document (RabbitMQ's definitions.json lists: vhosts, users, permissions, topic_permissions,
 * parameters, global_parameters, policies, queues, exchanges, bindings; any other list name works
 * too, its entries identified by vhost + name).
 *
 * Identity (what a later put replaces and a delete removes), per list:
 *   vhosts, users, global_parameters          name
 *   permissions                               user, vhost
 *   topic_permissions                         user, vhost, exchange
 *   policies, queues, exchanges               vhost, name
 *   parameters                                vhost, component, name
 *   bindings                                  vhost, source, destination_type, destination, routing_key, arguments
 *   anything else                             vhost, name
 * A delete carries at least the identity fields. Deleting a vhost also removes everything in it and
 * deleting a user its permissions (as RabbitMQ does). Deleting a queue or an exchange does NOT remove
 * its bindings here: the broker records each binding it drops (a cascade would cost a scan of every
 * binding per delete during replay).
 *
 * Replay is idempotent: applying a suffix of the changes again to a state that already contains them
 * gives the same state (each entry ends as the last change that touched it says), which is what lets
 * recovery replay a journal over a snapshot written after part of it.
 */
import { stringifyJson } from '../core/json-text.js';
import type {
  BindingDefinition, Definitions, ExchangeDefinition, GlobalParameterDefinition, ParameterDefinition,
  PermissionDefinition, PolicyDefinition, QueueDefinition, TopicPermissionDefinition, UserDefinition, VhostDefinition,
} from './definitions.js';
import { StoreError } from './store.js';

/** The value type of each list of the document. */
export interface DefinitionKinds {
  vhosts: VhostDefinition;
  users: UserDefinition;
  permissions: PermissionDefinition;
  topic_permissions: TopicPermissionDefinition;
  parameters: ParameterDefinition;
  global_parameters: GlobalParameterDefinition;
  policies: PolicyDefinition;
  queues: QueueDefinition;
  exchanges: ExchangeDefinition;
  bindings: BindingDefinition;
}

export type DefinitionKind = keyof DefinitionKinds;

/** The fields that identify an entry of each list (what a delete must carry). */
export interface DefinitionKeys {
  vhosts: Pick<VhostDefinition, 'name'>;
  users: Pick<UserDefinition, 'name'>;
  permissions: Pick<PermissionDefinition, 'user' | 'vhost'>;
  topic_permissions: Pick<TopicPermissionDefinition, 'user' | 'vhost' | 'exchange'>;
  parameters: Pick<ParameterDefinition, 'vhost' | 'component' | 'name'>;
  global_parameters: Pick<GlobalParameterDefinition, 'name'>;
  policies: Pick<PolicyDefinition, 'vhost' | 'name'>;
  queues: Pick<QueueDefinition, 'vhost' | 'name'>;
  exchanges: Pick<ExchangeDefinition, 'vhost' | 'name'>;
  bindings: Pick<BindingDefinition, 'vhost' | 'source' | 'destination_type' | 'destination' | 'routing_key' | 'arguments'>;
}

export type DefinitionPut = { [K in DefinitionKind]: { readonly op: 'put'; readonly kind: K; readonly value: DefinitionKinds[K] } }[DefinitionKind];
export type DefinitionDelete = { [K in DefinitionKind]: { readonly op: 'delete'; readonly kind: K; readonly value: DefinitionKeys[K] } }[DefinitionKind];

/** One change of the durable definitions. */
export type DefinitionChange = DefinitionPut | DefinitionDelete;

/** Largest encoded change the journal accepts (a record's length is a u32; this keeps replay sane). */
export const MAX_CHANGE_BYTES = 64 * 1024 * 1024;

/**
 * The journal payload of a change: its JSON text (UTF-8). Stack-independent (json-text.ts), so an
 * argument table nested thousands of levels deep encodes; throws StoreError INVALID for what cannot
 * be stored (a cycle, a value JSON has no form for, more than MAX_CHANGE_BYTES).
 */
export function encodeDefinitionChange(change: DefinitionChange): Buffer {
  let text: string;
  try {
    text = stringifyJson({ op: change.op, kind: change.kind, value: change.value });
  } catch (e) {
    throw new StoreError('INVALID', `definition change cannot be encoded: ${e instanceof Error ? e.message : String(e)}`);
  }
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > MAX_CHANGE_BYTES) throw new StoreError('INVALID', `definition change too large (${bytes.length} bytes)`);
  return bytes;
}

/** Parse a journal payload back into a change; throws on anything that is not one. */
export function decodeDefinitionChange(payload: Buffer): DefinitionChange {
  const raw: unknown = JSON.parse(payload.toString('utf8'));
  if (raw === null || typeof raw !== 'object') throw new Error('definition change: not an object');
  const r = raw as { op?: unknown; kind?: unknown; value?: unknown };
  if ((r.op !== 'put' && r.op !== 'delete') || typeof r.kind !== 'string' || r.value === null || typeof r.value !== 'object'
    || Array.isArray(r.value)) {
    throw new Error('definition change: bad op, kind or value');
  }
  return raw as DefinitionChange;
}

const ID_FIELDS: Readonly<Record<string, readonly string[]>> = {
  vhosts: ['name'],
  users: ['name'],
  global_parameters: ['name'],
  permissions: ['user', 'vhost'],
  topic_permissions: ['user', 'vhost', 'exchange'],
  policies: ['vhost', 'name'],
  queues: ['vhost', 'name'],
  exchanges: ['vhost', 'name'],
  parameters: ['vhost', 'component', 'name'],
  bindings: ['vhost', 'source', 'destination_type', 'destination', 'routing_key', 'arguments'],
};
const DEFAULT_ID_FIELDS = ['vhost', 'name'];

/** The identity of an entry of list `kind` as one string. */
export function definitionKey(kind: string, value: object): string {
  const fields = ID_FIELDS[kind] ?? DEFAULT_ID_FIELDS;
  const v = value as Record<string, unknown>;
  let key = '';
  for (let i = 0; i < fields.length; i++) {
    const f = v[fields[i]!];
    // Strings as they are; arguments (objects) as their JSON text. \u0000 cannot occur in either form.
    key += (i === 0 ? '' : '\u0000') + (typeof f === 'string' ? f : f === undefined ? '' : stringifyJson(f));
  }
  return key;
}

/**
 * The definitions document as one map per list, keyed by identity, so replaying a journal costs
 * O(1) per change. Lists keep insertion order (a put of an existing entry replaces it in place).
 */
export class DefinitionsState {
  private readonly lists = new Map<string, Map<string, object>>();
  /** Top-level members of the snapshot that are not lists (rabbit_version, product_name, ...). */
  private readonly other: Record<string, unknown> = {};

  constructor(doc?: Definitions) {
    if (doc === undefined) return;
    for (const [k, v] of Object.entries(doc)) {
      if (Array.isArray(v)) {
        const m = this.list(k);
        for (const item of v) {
          if (item !== null && typeof item === 'object' && !Array.isArray(item)) m.set(definitionKey(k, item), item);
        }
      } else if (v !== undefined) {
        this.other[k] = v;
      }
    }
  }

  private list(kind: string): Map<string, object> {
    let m = this.lists.get(kind);
    if (m === undefined) this.lists.set(kind, (m = new Map()));
    return m;
  }

  apply(c: DefinitionChange): void {
    const key = definitionKey(c.kind, c.value);
    if (c.op === 'put') {
      this.list(c.kind).set(key, c.value);
      return;
    }
    this.lists.get(c.kind)?.delete(key);
    const v = c.value as Record<string, unknown>;
    switch (c.kind) {
      case 'vhosts':
        for (const [kind, m] of this.lists) {
          if (kind === 'vhosts' || kind === 'users' || kind === 'global_parameters') continue;
          for (const [k, e] of m) if ((e as { vhost?: unknown }).vhost === v['name']) m.delete(k);
        }
        break;
      case 'users':
        for (const kind of ['permissions', 'topic_permissions']) {
          const m = this.lists.get(kind);
          if (m !== undefined) for (const [k, e] of m) if ((e as { user?: unknown }).user === v['name']) m.delete(k);
        }
        break;
      default:
        break;
    }
  }

  /** The document, with the RabbitMQ lists always present. */
  toDefinitions(): Definitions {
    const doc: Record<string, unknown> = { ...this.other };
    for (const k of ['users', 'vhosts', 'permissions', 'policies', 'queues', 'exchanges', 'bindings']) doc[k] = [];
    for (const [k, m] of this.lists) doc[k] = [...m.values()];
    return doc as Definitions;
  }
}
