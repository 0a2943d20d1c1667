/**
 * Users and their credentials, tags and limits. Password hashes use RabbitMQ's default scheme
 * (rabbit_password_hashing_sha256: base64(salt(4) ++ sha256(salt ++ password))) so users move
 * between Warren and RabbitMQ through definitions.json unchanged. A hash stored with another
 * algorithm (imported) is kept and exported as is, but only sha256 hashes log in for now
 * (issue 13 adds RabbitMQ's other algorithms). An empty hash means "no password": nobody logs in
 * with a password as that user, as in RabbitMQ.
 * Invariant: User objects are immutable; a change calls `onChange` with its journal record (before
 * the change is made: the broker may refuse it) and then replaces the object.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DefinitionChange } from '../store/definition-changes.js';
import type { JsonValue, UserDefinition } from '../store/definitions.js';
import { erlangTerm, invalid } from './control-error.js';

/** The per-user limits RabbitMQ knows (rabbit_auth_backend_internal). */
const USER_LIMITS = new Set(['max-connections', 'max-channels']);

export const DEFAULT_HASHING_ALGORITHM = 'rabbit_password_hashing_sha256';

export interface User {
  readonly name: string;
  readonly passwordHash: string;
  readonly tags: readonly string[];
  /** RabbitMQ's algorithm name; absent means the default (sha256). */
  readonly hashingAlgorithm?: string;
  /** Per-user limits (max-connections, max-channels): stored, not enforced yet (issue 13). */
  readonly limits?: Readonly<Record<string, number>>;
}

/** How a user's password is set by `put`. */
export type Credentials =
  | { password: string }
  | { passwordHash: string; hashingAlgorithm?: string }
  | { none: true };

export class UserStore {
  private readonly users = new Map<string, User>();
  /** Called before every change made through put/delete/setLimits (the broker journals it; may throw). */
  onChange: ((change: DefinitionChange) => void) | undefined;

  add(name: string, password: string, tags: readonly string[] = []): User {
    const u: User = { name, passwordHash: hashPassword(password), tags };
    this.users.set(name, u);
    return u;
  }

  addHashed(u: User): void {
    this.users.set(u.name, u);
  }

  /**
   * Create or update a user (PUT /api/users/{name}); true when created. Limits are kept on update.
   */
  put(name: string, credentials: Credentials, tags: readonly string[]): boolean {
    const old = this.users.get(name);
    let passwordHash = '';
    let hashingAlgorithm: string | undefined;
    if ('password' in credentials) passwordHash = hashPassword(credentials.password);
    else if ('passwordHash' in credentials) {
      passwordHash = credentials.passwordHash;
      if (credentials.hashingAlgorithm !== undefined && credentials.hashingAlgorithm !== DEFAULT_HASHING_ALGORITHM) {
        hashingAlgorithm = credentials.hashingAlgorithm;
      }
    }
    const u: User = {
      name, passwordHash, tags: [...tags],
      ...(hashingAlgorithm === undefined ? {} : { hashingAlgorithm }),
      ...(old?.limits === undefined ? {} : { limits: old.limits }),
    };
    this.onChange?.({ op: 'put', kind: 'users', value: userDefinition(u) });
    this.users.set(name, u);
    return old === undefined;
  }

  delete(name: string): boolean {
    if (!this.users.has(name)) return false;
    this.onChange?.({ op: 'delete', kind: 'users', value: { name } });
    this.users.delete(name);
    return true;
  }

  /** Replace the user's limits ({} removes them). False when the user does not exist. */
  setLimits(name: string, limits: Readonly<Record<string, number>>): boolean {
    const u = this.users.get(name);
    if (u === undefined) return false;
    const { limits: _old, ...rest } = u;
    const next = Object.keys(limits).length === 0 ? rest : { ...rest, limits: { ...limits } };
    this.onChange?.({ op: 'put', kind: 'users', value: userDefinition(next) });
    this.users.set(name, next);
    return true;
  }

  /**
   * Set one limit (PUT /api/user-limits/{user}/{name}); false when the user does not exist.
   * Throws ControlError('invalid') with RabbitMQ's text for an unknown limit or a non-number.
   */
  setLimit(name: string, key: string, value: JsonValue): boolean {
    const u = this.users.get(name);
    if (u === undefined) return false;
    if (!USER_LIMITS.has(key)) throw invalid(`Unrecognised terms [{${erlangTerm(key)},${erlangTerm(value)}}] in user limits`);
    if (typeof value !== 'number') throw invalid(`${key} should be a number, actually was ${erlangTerm(value)}`);
    return this.setLimits(name, { ...(u.limits ?? {}), [key]: value });
  }

  /** Remove one limit; false when the user or the limit does not exist. */
  clearLimit(name: string, key: string): boolean {
    const u = this.users.get(name);
    if (u?.limits === undefined || !(key in u.limits)) return false;
    const rest: Record<string, number> = { ...u.limits };
    delete rest[key];
    return this.setLimits(name, rest);
  }

  get(name: string): User | undefined {
    return this.users.get(name);
  }

  all(): User[] {
    return [...this.users.values()];
  }

  /** The user when the password matches, else undefined. */
  authenticate(name: string, password: string): User | undefined {
    const u = this.users.get(name);
    if (u === undefined || (u.hashingAlgorithm ?? DEFAULT_HASHING_ALGORITHM) !== DEFAULT_HASHING_ALGORITHM) return undefined;
    return checkPassword(password, u.passwordHash) ? u : undefined;
  }
}

/** A user as definitions.json lists it (also its journal record). */
export function userDefinition(u: User): UserDefinition {
  return {
    name: u.name, password_hash: u.passwordHash, hashing_algorithm: u.hashingAlgorithm ?? DEFAULT_HASHING_ALGORITHM,
    tags: [...u.tags], limits: { ...(u.limits ?? {}) },
  };
}

export function hashPassword(password: string, salt: Buffer = randomBytes(4)): string {
  const digest = createHash('sha256').update(salt).update(password, 'utf8').digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

export function checkPassword(password: string, stored: string): boolean {
  const raw = Buffer.from(stored, 'base64');
  if (raw.length !== 36) return false;
  const expected = Buffer.from(hashPassword(password, raw.subarray(0, 4)), 'base64');
  return timingSafeEqual(raw, expected);
}
