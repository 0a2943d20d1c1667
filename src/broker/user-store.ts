/**
 * Users (rabbit_auth_backend_internal): credentials, tags and limits. Passwords are hashed as
 * RabbitMQ hashes them (password-hashing.ts: sha256 by default; sha512 and md5 hashes imported
 * from RabbitMQ log in too), so users move between Warren and RabbitMQ through definitions.json
 * with their hashes unchanged.
 *
 * Two ways to log in, as RabbitMQ's internal backend has them:
 * - `login(name, password)`: PLAIN/AMQPLAIN and HTTP Basic. A blank password is always refused,
 *   whatever the stored hash (RabbitMQ refuses it so that a passwordless user can never be entered
 *   with an empty password).
 * - `loginWithoutPassword(name)`: for mechanisms that authenticate elsewhere (EXTERNAL: the TLS
 *   client certificate's CN); the user only has to exist. Passwordless users (empty hash: created
 *   with `password_hash: ""`, or updated with neither password nor hash) exist for this.
 *
 * Invariant: User objects are immutable; a change calls `onChange` with its journal record (before
 * the change is made: the broker may refuse it) and then replaces the object.
 */
import type { DefinitionChange } from '../store/definition-changes.js';
import type { JsonValue, UserDefinition } from '../store/definitions.js';
import { erlangTerm, invalid } from './control-error.js';
import { DEFAULT_HASHING_ALGORITHM, hashPassword, passwordMatches } from './password-hashing.js';

export { DEFAULT_HASHING_ALGORITHM, hashPassword } from './password-hashing.js';

/** The per-user limits RabbitMQ knows (rabbit_auth_backend_internal). */
const USER_LIMITS = new Set(['max-connections', 'max-channels']);

export interface User {
  readonly name: string;
  readonly passwordHash: string;
  readonly tags: readonly string[];
  /** RabbitMQ's algorithm name; absent means the default (sha256). */
  readonly hashingAlgorithm?: string;
  /** Per-user limits (max-connections, max-channels; negative = none), enforced at connection.open and channel.open. */
  readonly limits?: Readonly<Record<string, number>>;
}

/** A login attempt's outcome: the user, or why it was refused (RabbitMQ's words, for the log only). */
export type Login = { readonly user: User; readonly refused?: undefined } | { readonly user?: undefined; readonly refused: string };

/** How a user's password is set by `put`. */
export type Credentials =
  | { password: string }
  | { passwordHash: string; hashingAlgorithm?: string }
  | { none: true };

export class UserStore {
  private readonly users = new Map<string, User>();
  /** Called before every change made through put/delete/setLimits (the broker journals it; may throw). */
  onChange: ((change: DefinitionChange) => void) | undefined;

  /** Create a user without notifying (the broker's configured default user, tests). */
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
   * Neither password nor hash (rabbit_auth_backend_internal:put_user): a new user gets the hash of
   * the empty password, an existing one has its password cleared; either way no password logs in.
   */
  put(name: string, credentials: Credentials, tags: readonly string[]): boolean {
    const old = this.users.get(name);
    let passwordHash = '';
    let hashingAlgorithm: string | undefined;
    if ('password' in credentials) passwordHash = hashPassword(credentials.password);
    else if ('none' in credentials && old === undefined) passwordHash = hashPassword('');
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
    return this.login(name, password).user;
  }

  /** rabbit_auth_backend_internal:user_login_authentication with a password. */
  login(name: string, password: string): Login {
    if (password === '') {
      return { refused: `user '${name}' attempted to log in with a blank password, which is prohibited by the internal authN backend.` };
    }
    const u = this.users.get(name);
    if (u !== undefined && passwordMatches(password, u.passwordHash, u.hashingAlgorithm ?? DEFAULT_HASHING_ALGORITHM)) return { user: u };
    return { refused: `user '${name}' - invalid credentials` };
  }

  /**
   * rabbit_auth_backend_internal:user_login_authentication without credentials: the user exists.
   * For mechanisms whose proof is not a password (EXTERNAL: a verified client certificate).
   */
  loginWithoutPassword(name: string): Login {
    const u = this.users.get(name);
    return u === undefined ? { refused: `user '${name}' - invalid credentials` } : { user: u };
  }
}

/** A user as definitions.json lists it (also its journal record). */
export function userDefinition(u: User): UserDefinition {
  return {
    name: u.name, password_hash: u.passwordHash, hashing_algorithm: u.hashingAlgorithm ?? DEFAULT_HASHING_ALGORITHM,
    tags: [...u.tags], limits: { ...(u.limits ?? {}) },
  };
}
