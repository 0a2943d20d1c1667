/**
 * Users and their credentials. Password hashes use RabbitMQ's default scheme
 * (rabbit_password_hashing_sha256: base64(salt(4) ++ sha256(salt ++ password))) so users move
 * between Warren and RabbitMQ through definitions.json unchanged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface User {
  readonly name: string;
  readonly passwordHash: string;
  readonly tags: readonly string[];
}

export class UserStore {
  private readonly users = new Map<string, User>();

  add(name: string, password: string, tags: readonly string[] = []): User {
    const u: User = { name, passwordHash: hashPassword(password), tags };
    this.users.set(name, u);
    return u;
  }

  addHashed(u: User): void {
    this.users.set(u.name, u);
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
    if (u === undefined) return undefined;
    return checkPassword(password, u.passwordHash) ? u : undefined;
  }
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
