/**
 * Users as rabbit_auth_backend_internal keeps them: logins with each hashing algorithm, blank
 * passwords refused, passwordless users (certificate logins look them up by name), and PUT's three
 * forms (password, hash, neither).
 */
import { describe, expect, it } from 'vitest';
import { MD5, SHA512 } from '../../../src/broker/password-hashing.js';
import { UserStore } from '../../../src/broker/user-store.js';

describe('UserStore logins', () => {
  it('logs in with the password, refuses anything else with the reason RabbitMQ logs', () => {
    const users = new UserStore();
    users.put('alice', { password: 'pw' }, ['management']);
    expect(users.login('alice', 'pw').user?.tags).toEqual(['management']);
    expect(users.login('alice', 'PW')).toEqual({ refused: "user 'alice' - invalid credentials" });
    expect(users.login('bob', 'pw')).toEqual({ refused: "user 'bob' - invalid credentials" });
    expect(users.authenticate('alice', 'pw')?.name).toBe('alice');
  });

  it('a blank password never logs in, even when it is the password set', () => {
    const users = new UserStore();
    users.put('blank', { password: '' }, []);
    expect(users.login('blank', '').refused).toMatch(/attempted to log in with a blank password/);
  });

  it('imported sha512 and md5 hashes log in', () => {
    const users = new UserStore();
    users.put('s512', {
      passwordHash: 'kI3GCpKeWEce0hoj6ecQA1N7ChDxjZKzOCCOKWJM3C8cCNjP3Hhj2Tg4dMVw2idQEutWvTGDqjwauUW6EXFmisnCkl0=',
      hashingAlgorithm: SHA512,
    }, []);
    users.put('m5', { passwordHash: 'kI3GCtdKokEOUxASeepKz6TZAEg=', hashingAlgorithm: MD5 }, []);
    expect(users.login('s512', 's3cret-pässword').user?.hashingAlgorithm).toBe(SHA512);
    expect(users.login('m5', 's3cret-pässword').user?.hashingAlgorithm).toBe(MD5);
    expect(users.login('m5', 'other').user).toBeUndefined();
  });

  it('passwordless users exist for certificate logins and never log in with a password', () => {
    const users = new UserStore();
    users.put('cert-only', { passwordHash: '' }, []);
    expect(users.login('cert-only', 'anything').user).toBeUndefined();
    expect(users.loginWithoutPassword('cert-only').user?.name).toBe('cert-only');
    expect(users.loginWithoutPassword('nobody')).toEqual({ refused: "user 'nobody' - invalid credentials" });
  });

  it('PUT with neither password nor hash: a new user gets the empty password hashed, an existing one loses its password', () => {
    const users = new UserStore();
    users.put('n', { none: true }, []);
    expect(Buffer.from(users.get('n')!.passwordHash, 'base64').length).toBe(36);
    users.put('e', { password: 'pw' }, []);
    users.put('e', { none: true }, ['monitoring']);
    expect(users.get('e')).toMatchObject({ passwordHash: '', tags: ['monitoring'] });
    expect(users.login('e', 'pw').user).toBeUndefined();
  });
});
