/**
 * RabbitMQ's password hashing (rabbit_password with rabbit_password_hashing_sha256, _sha512 and
 * _md5), so users and their hashes move between Warren and RabbitMQ through definitions.json
 * unchanged. A stored hash is base64(salt ++ H(salt ++ utf8(password))) with a 4-byte random salt
 * (rabbit_password:generate_salt/0 draws a 32-bit integer), H the user's algorithm.
 *
 * Rules kept from rabbit_auth_backend_internal:user_login_authentication/2:
 * - a stored hash that is not salt(4) ++ digest never matches (an empty hash is a passwordless
 *   user: nobody logs in with a password as that user; certificate logins look the user up by name);
 * - an algorithm RabbitMQ does not ship (a custom module in an imported file) never matches either
 *   (RabbitMQ would fail calling the missing module and refuse the login);
 * - a user without an algorithm is md5 (rabbit_password:hashing_mod(undefined)); definitions import
 *   decides which algorithm a hash without one had (see definitions-control.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SHA256 = 'rabbit_password_hashing_sha256';
export const SHA512 = 'rabbit_password_hashing_sha512';
export const MD5 = 'rabbit_password_hashing_md5';

/** RabbitMQ's default (password_hashing_module), used for every password Warren hashes. */
export const DEFAULT_HASHING_ALGORITHM = SHA256;

const DIGESTS: Readonly<Record<string, string>> = { [SHA256]: 'sha256', [SHA512]: 'sha512', [MD5]: 'md5' };

export function isKnownHashingAlgorithm(name: string): boolean {
  return DIGESTS[name] !== undefined;
}

/** base64(salt ++ H(salt ++ password)); throws for an algorithm RabbitMQ does not ship. */
export function hashPassword(password: string, algorithm: string = DEFAULT_HASHING_ALGORITHM, salt: Buffer = randomBytes(4)): string {
  const digest = DIGESTS[algorithm];
  if (digest === undefined) throw new Error(`unknown password hashing algorithm '${algorithm}'`);
  return Buffer.concat([salt, saltedDigest(digest, salt, password)]).toString('base64');
}

/** Whether `password` matches a stored hash made with `algorithm` (constant time in the digest). */
export function passwordMatches(password: string, stored: string, algorithm: string): boolean {
  const digest = DIGESTS[algorithm];
  if (digest === undefined || stored === '') return false;
  const raw = Buffer.from(stored, 'base64');
  if (raw.length <= 4) return false;
  const expected = saltedDigest(digest, raw.subarray(0, 4), password);
  const actual = raw.subarray(4);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function saltedDigest(digest: string, salt: Buffer, password: string): Buffer {
  return createHash(digest).update(salt).update(password, 'utf8').digest();
}
