/**
 * Permissions (configure/write/read regexes per user and vhost) and topic permissions (write/read
 * regexes per user, vhost and topic exchange), as rabbit_auth_backend_internal stores them.
 * Stored, returned and saved in definitions.json; enforced by access-control.ts at the operations
 * both doors share. The management API uses them as RabbitMQ does to decide which vhosts a
 * non-administrator can see.
 * Invariants: every regex set through `set`/`setTopic` compiled when it was set (JS syntax, close
 * to RabbitMQ's PCRE); `version` grows with every change (callers caching decisions compare it).
 */
import type { DefinitionChange } from '../store/definition-changes.js';
import { invalid } from './control-error.js';

export interface Permission {
  readonly user: string;
  readonly vhost: string;
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

export interface TopicPermission {
  readonly user: string;
  readonly vhost: string;
  readonly exchange: string;
  readonly write: string;
  readonly read: string;
}

export class PermissionStore {
  private readonly perms = new Map<string, Permission>();
  private readonly topics = new Map<string, TopicPermission>();
  /** Called before every change with its journal record (set by the broker; may throw to refuse it). */
  onChange: ((change: DefinitionChange) => void) | undefined;
  /** Bumped by every change: UserAccess recompiles and forgets its cached answers when it moves. */
  version = 0;

  /** Set (create or replace); true when created. Throws ControlError('invalid') for a bad regex. */
  set(p: Permission): boolean {
    for (const re of [p.configure, p.write, p.read]) checkRegex(re);
    const key = permKey(p.user, p.vhost);
    const created = !this.perms.has(key);
    const value = { user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read };
    this.onChange?.({ op: 'put', kind: 'permissions', value });
    this.perms.set(key, value);
    this.version++;
    return created;
  }

  get(user: string, vhost: string): Permission | undefined {
    return this.perms.get(permKey(user, vhost));
  }

  clear(user: string, vhost: string): boolean {
    if (!this.perms.has(permKey(user, vhost))) return false;
    this.onChange?.({ op: 'delete', kind: 'permissions', value: { user, vhost } });
    this.perms.delete(permKey(user, vhost));
    this.version++;
    return true;
  }

  list(filter: { user?: string; vhost?: string } = {}): Permission[] {
    return [...this.perms.values()].filter((p) =>
      (filter.user === undefined || p.user === filter.user) && (filter.vhost === undefined || p.vhost === filter.vhost));
  }

  // ---- topic permissions -------------------------------------------------------------------

  setTopic(p: TopicPermission): boolean {
    for (const re of [p.write, p.read]) checkRegex(re);
    const key = topicKey(p.user, p.vhost, p.exchange);
    const created = !this.topics.has(key);
    const value = { user: p.user, vhost: p.vhost, exchange: p.exchange, write: p.write, read: p.read };
    this.onChange?.({ op: 'put', kind: 'topic_permissions', value });
    this.topics.set(key, value);
    this.version++;
    return created;
  }

  /** The topic permission of a user for one exchange of a vhost. */
  getTopic(user: string, vhost: string, exchange: string): TopicPermission | undefined {
    return this.topics.get(topicKey(user, vhost, exchange));
  }

  /** Clear one exchange's topic permission, or all of the user's in the vhost when `exchange` is undefined. */
  clearTopic(user: string, vhost: string, exchange?: string): boolean {
    const gone = this.listTopic({ user, vhost }).filter((p) => exchange === undefined || p.exchange === exchange);
    for (const p of gone) this.dropTopic(p);
    return gone.length > 0;
  }

  listTopic(filter: { user?: string; vhost?: string } = {}): TopicPermission[] {
    return [...this.topics.values()].filter((p) =>
      (filter.user === undefined || p.user === filter.user) && (filter.vhost === undefined || p.vhost === filter.vhost));
  }

  // ---- cascades ----------------------------------------------------------------------------

  /** A user or a vhost was deleted: its permissions go with it. */
  forget(what: { user?: string; vhost?: string }): void {
    for (const p of this.list(what)) this.clear(p.user, p.vhost);
    for (const p of this.listTopic(what)) this.dropTopic(p);
  }

  private dropTopic(p: TopicPermission): void {
    this.onChange?.({ op: 'delete', kind: 'topic_permissions', value: { user: p.user, vhost: p.vhost, exchange: p.exchange } });
    this.topics.delete(topicKey(p.user, p.vhost, p.exchange));
    this.version++;
  }

  /** Restore saved entries without notifying (recovery). */
  restore(p: Permission): void {
    this.perms.set(permKey(p.user, p.vhost), p);
    this.version++;
  }

  restoreTopic(p: TopicPermission): void {
    this.topics.set(topicKey(p.user, p.vhost, p.exchange), p);
    this.version++;
  }
}

/** RabbitMQ refuses a regex it cannot compile ({invalid_regexp, Re, {Reason, Pos}}). */
export function checkRegex(re: string): void {
  try {
    new RegExp(re);
  } catch (e: unknown) {
    throw invalid(`invalid_regexp: ${re}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function permKey(user: string, vhost: string): string {
  return `${user}\u0000${vhost}`;
}

function topicKey(user: string, vhost: string, exchange: string): string {
  return `${user}\u0000${vhost}\u0000${exchange}`;
}
