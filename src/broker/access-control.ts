/**
 * Authorisation: who may configure, write and read which queues and exchanges, and which routing
 * keys on topic exchanges (rabbit_access_control + rabbit_auth_backend_internal). Every broker
 * operation a client can run takes an `Access` (the caller's identity: user and vhost) and asks it
 * at the points where rabbit_channel asks rabbit_access_control, so AMQP channels and the
 * management API refuse the same things with the same texts ("one operation, two doors").
 *
 * Rules (rabbit_auth_backend_internal:check_resource_access/check_topic_access):
 * - a user without a permission entry in the vhost may do nothing there;
 * - a permission is a regular expression searched (not anchored) in the resource name; the empty
 *   expression means "nothing" (^$); the default exchange is named amq.default for the check;
 * - topic permissions apply to topic exchanges only, and only when the user has an entry for that
 *   exchange in that vhost (no entry: every routing key is allowed); their expressions may use the
 *   variables {username} and {vhost} (and whatever else the connection's variable map holds:
 *   RabbitMQ fills {client_id} for MQTT clients only, so over AMQP 0-9-1 it stays as written).
 *
 * Cost: a UserAccess compiles its user's expressions once per change of the permission store
 * (PermissionStore.version) and remembers the names it allowed, so a publisher repeating the same
 * exchange pays a Map lookup. Permission changes reach open channels at their next operation: the
 * version check drops the remembered answers, as RabbitMQ's channels refresh their caches.
 * Invariant: a refusal throws AmqpError 403 ACCESS_REFUSED with RabbitMQ's text and changes nothing.
 */
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';
import type { PermissionStore } from './permission-store.js';

export type Permission = 'configure' | 'write' | 'read';
export type ResourceKind = 'queue' | 'exchange';

/** The caller of a broker operation, as the operation sees it. */
export interface Access {
  /** The user ('' for the broker itself). */
  readonly user: string;
  /**
   * The broker acting on its own (recovery, definitions import): no permission is checked and the
   * limits that protect the broker from clients (max-queues) do not apply, as rabbit_amqqueue:declare
   * called outside rabbit_channel does not check them.
   */
  readonly internal: boolean;
  /** Throws 403 unless `permission` on the resource is granted. */
  check(kind: ResourceKind, name: string, permission: Permission): void;
  /** For a topic exchange: throws 403 unless the routing key is granted (other types: nothing to check). */
  checkTopic(exchange: { readonly name: string; readonly type: string }, routingKey: string, permission: 'write' | 'read'): void;
}

/** The broker acting on its own (recovery, definitions import, dead-lettering): nothing is checked. */
export const UNRESTRICTED: Access = {
  user: '',
  internal: true,
  check(): void {},
  checkTopic(): void {},
};

/** Remembered allowed names per permission, dropped when they grow past this. */
const MAX_REMEMBERED = 64;

interface TopicPatterns { write: RegExp | null; read: RegExp | null }

export class UserAccess implements Access {
  readonly internal = false;
  private version = -1;
  private configure: RegExp | null = null;
  private write: RegExp | null = null;
  private read: RegExp | null = null;
  /** Names already allowed, per kind and permission (checked with the current version). */
  private readonly allowed: Record<ResourceKind, Record<Permission, Set<string>>> = {
    exchange: { configure: new Set(), write: new Set(), read: new Set() },
    queue: { configure: new Set(), write: new Set(), read: new Set() },
  };
  /** Topic expressions per exchange (null: no topic permission for it, so any key goes). */
  private readonly topics = new Map<string, TopicPatterns | null>();

  /**
   * @param variables the connection's topic variables besides {username} and {vhost} (RabbitMQ's
   *   authz context; empty for AMQP 0-9-1 connections).
   */
  constructor(private readonly permissions: PermissionStore, readonly user: string, readonly vhost: string,
    private readonly variables: Readonly<Record<string, string>> = {}) {}

  check(kind: ResourceKind, name: string, permission: Permission): void {
    if (this.version !== this.permissions.version) this.refresh();
    const seen = this.allowed[kind][permission];
    if (seen.has(name)) return;
    // rabbit_access_control:check_resource_access: the default exchange is checked as amq.default.
    const resource = kind === 'exchange' && name === '' ? 'amq.default' : name;
    const re = permission === 'configure' ? this.configure : permission === 'write' ? this.write : this.read;
    if (re === null || !re.test(resource)) {
      throw new AmqpError(ReplyCode.ACCESS_REFUSED,
        `access to ${kind} '${resource}' in vhost '${this.vhost}' refused for user '${this.user}'`);
    }
    if (seen.size >= MAX_REMEMBERED) seen.clear();
    seen.add(name);
  }

  checkTopic(exchange: { readonly name: string; readonly type: string }, routingKey: string, permission: 'write' | 'read'): void {
    if (exchange.type !== 'topic') return;
    if (this.version !== this.permissions.version) this.refresh();
    let patterns = this.topics.get(exchange.name);
    if (patterns === undefined) {
      patterns = this.topicPatterns(exchange.name);
      this.topics.set(exchange.name, patterns);
    }
    if (patterns === null) return;
    const re = patterns[permission];
    if (re === null || !re.test(routingKey)) {
      // rabbit_access_control:check_topic_access (text as RabbitMQ 3.10 sends it).
      throw new AmqpError(ReplyCode.ACCESS_REFUSED,
        `access to topic '${routingKey}' in exchange '${exchange.name}' in vhost '${this.vhost}' refused for user '${this.user}'`);
    }
  }

  /** The permission store changed: recompile this user's expressions, forget remembered answers. */
  private refresh(): void {
    this.version = this.permissions.version;
    const p = this.permissions.get(this.user, this.vhost);
    this.configure = p === undefined ? null : compile(p.configure);
    this.write = p === undefined ? null : compile(p.write);
    this.read = p === undefined ? null : compile(p.read);
    for (const byPermission of Object.values(this.allowed)) for (const set of Object.values(byPermission)) set.clear();
    this.topics.clear();
  }

  private topicPatterns(exchange: string): TopicPatterns | null {
    const p = this.permissions.getTopic(this.user, this.vhost, exchange);
    if (p === undefined) return null;
    // rabbit_channel:build_topic_variable_map: the connection's variables, then vhost and username.
    const vars: Record<string, string> = { ...this.variables, vhost: this.vhost, username: this.user };
    return { write: compile(expand(p.write, vars)), read: compile(expand(p.read, vars)) };
  }
}

/**
 * rabbit_auth_backend_internal:check_vhost_access: the user has a permission entry in the vhost
 * (whatever its expressions say). The caller checks that the vhost exists.
 */
export function canAccessVhost(permissions: PermissionStore, user: string, vhost: string): boolean {
  return permissions.get(user, vhost) !== undefined;
}

/** A stored expression as RabbitMQ runs it; '' matches only the empty name; one that fails to compile matches nothing. */
function compile(re: string): RegExp | null {
  try {
    return new RegExp(re === '' ? '^$' : re);
  } catch {
    return null;
  }
}

/** rabbit_auth_backend_internal:expand_topic_permission: every {key} replaced by its value, verbatim. */
function expand(pattern: string, vars: Readonly<Record<string, string>>): string {
  let out = pattern;
  for (const [k, v] of Object.entries(vars)) out = out.split(`{${k}}`).join(v);
  return out;
}
