/**
 * The control-plane part of the definitions document (RabbitMQ's definitions.json): users, vhosts,
 * permissions, topic_permissions, parameters, global_parameters and policies. Export reads the
 * broker's stores; import writes them, in two modes: `recover` restores what Warren saved (no
 * validation, no change notifications: the document is the truth), `apply` goes through the same
 * validated operations the management API uses (POST /api/definitions), so a bad document is
 * refused with RabbitMQ's reasons.
 * Shapes follow `rabbitmqctl export_definitions` (3.10 and later) so files move both ways.
 */
import type {
  Definitions, GlobalParameterDefinition, JsonValue, ParameterDefinition, PermissionDefinition, PolicyDefinition,
  TopicPermissionDefinition, UserDefinition, VhostDefinition,
} from '../store/definitions.js';
import type { Broker } from './broker.js';
import { missing } from './control-error.js';
import { POLICY_COMPONENT, type ApplyTo } from './policy-store.js';
import { DEFAULT_HASHING_ALGORITHM, MD5 } from './password-hashing.js';
import { userDefinition } from './user-store.js';

export type ImportMode = 'recover' | 'apply';

export interface ControlDefinitions {
  users: UserDefinition[];
  vhosts: VhostDefinition[];
  permissions: PermissionDefinition[];
  topic_permissions: TopicPermissionDefinition[];
  parameters: ParameterDefinition[];
  global_parameters: GlobalParameterDefinition[];
  policies: PolicyDefinition[];
}

/** Users, vhosts, permissions, parameters and policies, optionally of one vhost only. */
export function exportControl(broker: Broker, vhost?: string): ControlDefinitions {
  const inScope = (v: string) => vhost === undefined || v === vhost;
  return {
    users: broker.users.all().map(userDefinition),
    vhosts: [...broker.vhosts.keys()].filter(inScope).map((name) => vhostDefinition(broker, name)),
    permissions: broker.permissions.list().filter((p) => inScope(p.vhost)).map((p) => ({
      user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read,
    })),
    topic_permissions: broker.permissions.listTopic().filter((p) => inScope(p.vhost)).map((p) => ({
      user: p.user, vhost: p.vhost, exchange: p.exchange, write: p.write, read: p.read,
    })),
    parameters: broker.parameters.list(undefined, vhost).filter((p) => p.component !== POLICY_COMPONENT).map((p) => ({
      value: p.value, vhost: p.vhost, component: p.component, name: p.name,
    })),
    global_parameters: broker.parameters.listGlobal().map((p) => ({ name: p.name, value: p.value })),
    policies: broker.policies.list('policy', vhost).map((p) => ({
      vhost: p.vhost ?? '/', name: p.name, pattern: p.pattern, 'apply-to': p.applyTo, definition: { ...p.definition },
      priority: p.priority,
    })),
  };
}

/** A vhost as 3.10 exports it ({name}), with description/tags/metadata as newer versions add them when set. */
export function vhostDefinition(broker: Broker, name: string): VhostDefinition {
  const m = broker.vhostMetadata.get(name);
  if (m === undefined || (m.description === '' && m.tags.length === 0 && m.defaultQueueType === undefined)) return { name };
  const metadata: { [k: string]: JsonValue } = { description: m.description, tags: [...m.tags] };
  if (m.defaultQueueType !== undefined) metadata['default_queue_type'] = m.defaultQueueType;
  return { name, description: m.description, tags: [...m.tags], metadata };
}

/**
 * Users, vhosts, permissions, parameters and policies from a document. Vhosts come first (everything
 * else belongs to one). In `apply` mode every item is validated as the API validates it and the
 * first bad item throws (items before it stay applied, as in RabbitMQ's import).
 */
export function importControl(broker: Broker, defs: Partial<Definitions>, mode: ImportMode): void {
  const apply = mode === 'apply';
  for (const v of defs.vhosts ?? []) {
    const exists = broker.vhosts.has(v.name);
    const meta = vhostMetadataOf(v);
    if (apply && !exists) broker.putVhost(v.name, meta);
    else if (!exists || mode === 'recover') {
      broker.addVhost(v.name);
      broker.vhostMetadata.set(v.name, meta);
    }
  }
  const version = typeof defs.rabbit_version === 'string' ? defs.rabbit_version : undefined;
  for (const u of defs.users ?? []) {
    const tags = Array.isArray(u.tags) ? u.tags : String(u.tags ?? '').split(',').filter((t) => t !== '');
    const plain = (u as { password?: unknown }).password;
    const algorithm = u.hashing_algorithm ?? hashingAlgorithmOf(version);
    if (apply) {
      broker.users.put(u.name, typeof plain === 'string' ? { password: plain }
        : { passwordHash: u.password_hash ?? '', hashingAlgorithm: algorithm }, tags);
    } else {
      broker.users.addHashed({
        name: u.name, passwordHash: u.password_hash ?? '', tags,
        ...(algorithm === DEFAULT_HASHING_ALGORITHM ? {} : { hashingAlgorithm: algorithm }),
      });
    }
    const limits = numericRecord(u.limits);
    if (Object.keys(limits).length > 0) {
      if (apply) broker.users.setLimits(u.name, limits);
      else broker.users.addHashed({ ...broker.users.get(u.name)!, limits });
    }
  }
  for (const p of defs.permissions ?? []) {
    if (apply) {
      requireUserAndVhost(broker, p.user, p.vhost);
      broker.permissions.set(p);
    } else broker.permissions.restore({ user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read });
  }
  for (const p of defs.topic_permissions ?? []) {
    if (apply) {
      requireUserAndVhost(broker, p.user, p.vhost);
      broker.permissions.setTopic(p);
    } else broker.permissions.restoreTopic({ user: p.user, vhost: p.vhost, exchange: p.exchange, write: p.write, read: p.read });
  }
  for (const p of defs.global_parameters ?? []) {
    if (apply) broker.parameters.setGlobal(p.name, p.value);
    else broker.parameters.restoreGlobal({ name: p.name, value: p.value });
  }
  for (const p of defs.parameters ?? []) {
    if (apply) broker.parameters.set(p.component, p.vhost, p.name, p.value);
    else broker.parameters.restore({ component: p.component, vhost: p.vhost, name: p.name, value: p.value });
  }
  for (const p of defs.policies ?? []) {
    const value: JsonValue = {
      pattern: p.pattern, definition: p.definition, priority: p.priority ?? 0, 'apply-to': (p['apply-to'] ?? 'all') as ApplyTo,
    };
    if (apply) broker.parameters.set(POLICY_COMPONENT, p.vhost, p.name, value);
    else broker.parameters.restore({ component: POLICY_COMPONENT, vhost: p.vhost, name: p.name, value });
  }
}

/**
 * The algorithm of a hash listed without one (rabbit_auth_backend_internal:hashing_algorithm/2):
 * files from RabbitMQ 3.0-3.5 hashed with md5, anything later with the default (sha256).
 */
function hashingAlgorithmOf(rabbitVersion: string | undefined): string {
  return rabbitVersion !== undefined && /^3\.[0-5]\./.test(rabbitVersion) ? MD5 : DEFAULT_HASHING_ALGORITHM;
}

function requireUserAndVhost(broker: Broker, user: string, vhost: string): void {
  if (broker.users.get(user) === undefined || !broker.vhosts.has(vhost)) throw missing('vhost_or_user_not_found');
}

function vhostMetadataOf(v: VhostDefinition): { description: string; tags: string[]; defaultQueueType?: string; tracing: boolean } {
  const meta = (v.metadata ?? {}) as { description?: unknown; tags?: unknown; default_queue_type?: unknown };
  const description = typeof v.description === 'string' ? v.description : typeof meta.description === 'string' ? meta.description : '';
  const rawTags: unknown = v.tags ?? meta.tags ?? [];
  const tags = Array.isArray(rawTags) ? rawTags.map(String) : String(rawTags).split(',').filter((t) => t !== '');
  const top = (v as { default_queue_type?: unknown }).default_queue_type;
  const dqt = typeof meta.default_queue_type === 'string' ? meta.default_queue_type : typeof top === 'string' ? top : undefined;
  return { description, tags, ...(dqt === undefined ? {} : { defaultQueueType: dqt }), tracing: false };
}

function numericRecord(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'number') out[k] = x;
  return out;
}

/** The document's types, for layers that read the broker but not the store (management). */
export type { Definitions, JsonArguments, JsonValue } from '../store/definitions.js';
