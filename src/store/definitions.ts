/**
 * The definitions document: vhosts, users, permissions, exchanges, queues, bindings and policies,
 * with RabbitMQ's definitions.json field names so a file exported from one broker can be imported
 * into the other (`rabbitmqctl export_definitions` / management "Export definitions").
 * Arguments are plain JSON values (not AMQP field tables): the broker converts at its edge.
 * The store treats the document as opaque JSON; unknown top-level keys are preserved.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonArguments = { [key: string]: JsonValue };

export interface UserDefinition {
  name: string;
  password_hash: string;
  /** RabbitMQ names: rabbit_password_hashing_sha256 (default), rabbit_password_hashing_sha512, ... */
  hashing_algorithm: string;
  /** RabbitMQ 3.10 exports a comma-separated string; newer ones an array. Both accepted. */
  tags: string | string[];
  limits?: JsonArguments;
}

export interface VhostDefinition {
  name: string;
  description?: string;
  tags?: string[];
  metadata?: JsonArguments;
}

export interface PermissionDefinition {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export interface TopicPermissionDefinition {
  user: string;
  vhost: string;
  exchange: string;
  write: string;
  read: string;
}

/** A runtime parameter (vhost-limits, operator_policy, shovel, federation-upstream, ...). */
export interface ParameterDefinition {
  component: string;
  vhost: string;
  name: string;
  value: JsonValue;
}

export interface GlobalParameterDefinition {
  name: string;
  value: JsonValue;
}

export interface QueueDefinition {
  name: string;
  vhost: string;
  /** Absent in old documents: durable. A management export also lists transient queues. */
  durable: boolean;
  auto_delete: boolean;
  arguments: JsonArguments;
}

export interface ExchangeDefinition {
  name: string;
  vhost: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: JsonArguments;
}

export interface BindingDefinition {
  source: string;
  vhost: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  arguments: JsonArguments;
}

export interface PolicyDefinition {
  vhost: string;
  name: string;
  pattern: string;
  'apply-to': 'queues' | 'exchanges' | 'all' | string;
  priority: number;
  definition: JsonArguments;
}

export interface Definitions {
  rabbit_version?: string;
  rabbitmq_version?: string;
  product_name?: string;
  product_version?: string;
  users: UserDefinition[];
  vhosts: VhostDefinition[];
  permissions: PermissionDefinition[];
  topic_permissions?: TopicPermissionDefinition[];
  parameters?: ParameterDefinition[];
  global_parameters?: GlobalParameterDefinition[];
  policies: PolicyDefinition[];
  queues: QueueDefinition[];
  exchanges: ExchangeDefinition[];
  bindings: BindingDefinition[];
  [extra: string]: JsonValue | undefined | object;
}

export function emptyDefinitions(): Definitions {
  return { users: [], vhosts: [], permissions: [], policies: [], queues: [], exchanges: [], bindings: [] };
}

const LIST_KEYS = ['users', 'vhosts', 'permissions', 'policies', 'queues', 'exchanges', 'bindings'] as const;

/**
 * Parse a definitions document (ours or one exported by RabbitMQ): missing lists become empty,
 * anything that is not an object with list-valued known keys is rejected.
 */
export function parseDefinitions(text: string): Definitions {
  const raw: unknown = JSON.parse(text);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error('definitions: the document is not a JSON object');
  }
  const doc = raw as Record<string, unknown>;
  for (const key of LIST_KEYS) {
    const v = doc[key];
    if (v === undefined) doc[key] = [];
    else if (!Array.isArray(v)) throw new Error(`definitions: "${key}" is not a list`);
  }
  return doc as unknown as Definitions;
}
