/**
 * RabbitMQ's salted password hashes: base64(salt(4) ++ H(salt ++ utf8(password))) for sha256 (the
 * default), sha512 and md5. The vectors were computed independently (Python's hashlib) for the salt
 * 90 8d c6 0a; the differential test (test/integration/server/users.test.ts) checks hashes made by
 * the reference RabbitMQ itself.
 */
import { describe, expect, it } from 'vitest';
import { hashPassword, isKnownHashingAlgorithm, MD5, passwordMatches, SHA256, SHA512 } from '../../../src/broker/password-hashing.js';

const SALT = Buffer.from('908dc60a', 'hex');
const PASSWORD = 's3cret-pässword';
const VECTORS: [string, string][] = [
  [SHA256, 'kI3GCidmNbrOt8TsAIURNU42QFSob6HaggBL31do0qiYjt7i'],
  [SHA512, 'kI3GCpKeWEce0hoj6ecQA1N7ChDxjZKzOCCOKWJM3C8cCNjP3Hhj2Tg4dMVw2idQEutWvTGDqjwauUW6EXFmisnCkl0='],
  [MD5, 'kI3GCtdKokEOUxASeepKz6TZAEg='],
];

describe('password hashing (rabbit_password)', () => {
  it.each(VECTORS)('%s: hashes as RabbitMQ encodes it, and the hash checks', (algorithm, expected) => {
    expect(hashPassword(PASSWORD, algorithm, SALT)).toBe(expected);
    expect(passwordMatches(PASSWORD, expected, algorithm)).toBe(true);
    expect(passwordMatches('s3cret-passwörd', expected, algorithm)).toBe(false);
    expect(passwordMatches('', expected, algorithm)).toBe(false);
  });

  it('a hash checked with another algorithm than its own never matches', () => {
    expect(passwordMatches(PASSWORD, VECTORS[0]![1], SHA512)).toBe(false);
    expect(passwordMatches(PASSWORD, VECTORS[2]![1], SHA256)).toBe(false);
  });

  it('sha256 is the default and salts are random', () => {
    const a = hashPassword('pw');
    const b = hashPassword('pw');
    expect(a).not.toBe(b);
    expect(Buffer.from(a, 'base64').length).toBe(36);
    expect(passwordMatches('pw', a, SHA256)).toBe(true);
  });

  it('empty, truncated and salt-only hashes never match (passwordless users)', () => {
    for (const stored of ['', 'kI3GCg==', 'kI3GCidm', '!!!!']) {
      expect(passwordMatches('', stored, SHA256)).toBe(false);
      expect(passwordMatches('x', stored, SHA256)).toBe(false);
    }
  });

  it('an algorithm RabbitMQ does not ship never matches and cannot hash', () => {
    expect(isKnownHashingAlgorithm('rabbit_password_hashing_bcrypt')).toBe(false);
    expect(passwordMatches(PASSWORD, VECTORS[0]![1], 'rabbit_password_hashing_bcrypt')).toBe(false);
    expect(() => hashPassword('x', 'nope')).toThrow(/unknown password hashing algorithm/);
  });
});
