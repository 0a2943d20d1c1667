/**
 * Users and their password hashes, on both brokers: the same definitions (users hashed with sha256,
 * sha512 and md5, a passwordless user) are imported into the reference with rabbitmqctl and into
 * Warren through its management API, and every login gives the same answer. Hashes travel both
 * ways: a user made by the reference (rabbitmqctl add_user) logs in on Warren with its exported
 * hash, and a user made by Warren logs in on the reference with Warren's hash.
 * Skipped with a reason when the reference (or rabbitmqctl) is not reachable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MD5, SHA512 } from '../../../src/broker/password-hashing.js';
import { referenceUrl, startTestBroker, uniqueName, type TestBroker } from '../../helpers/broker.js';
import { importIntoReference, rabbitmqctl, referenceSetupSkip } from '../helpers/access-setup.js';
import { PROTOCOL_HEADER, decodeClose, longstr, methodFrame, plainResponse, rawConnect, shortstr, table } from '../helpers/raw-amqp.js';

const skip = await referenceSetupSkip();
const refPort = Number(new URL((await referenceUrl()) ?? 'amqp://x:5672').port || 5672);
const REF_API = 'http://127.0.0.1:15672';
const GUEST = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

/** 'tuned' when the login got to connection.tune, else the close (code and text) or 'dropped'. */
async function login(port: number, user: string, pass: string): Promise<string> {
  const c = await rawConnect(port);
  try {
    c.send(PROTOCOL_HEADER);
    await c.expectMethod(10, 10);
    c.send(methodFrame(0, 10, 11, [
      table({ capabilities: { authentication_failure_close: true } }), shortstr('PLAIN'), longstr(plainResponse(user, pass)), shortstr('en_US'),
    ]));
    const f = await c.next(10_000);
    if (f === undefined) return 'dropped';
    if (f.classId === 10 && f.methodId === 30) return 'tuned';
    if (f.classId === 10 && f.methodId === 50) {
      const cl = decodeClose(f);
      return `${cl.replyCode} ${cl.replyText}`;
    }
    return `frame ${f.classId}/${f.methodId}`;
  } finally {
    c.destroy();
  }
}

async function api(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(base + path, {
    method, headers: { authorization: GUEST, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

const SALTED = 's3cret-pässword';
const run = uniqueName('users');
const names = {
  sha256: `${run}-sha256`, sha512: `${run}-sha512`, md5: `${run}-md5`, nopass: `${run}-nopass`,
  byReference: `${run}-by-ref`, byWarren: `${run}-by-warren`,
};

describe.skipIf(skip !== undefined)(`users and password hashes on both brokers${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  let warren: TestBroker;
  let warrenApi: string;

  beforeAll(async () => {
    warren = await startTestBroker({ managementPort: 0 });
    warrenApi = warren.warren!.managementUrl!;
    const defs = {
      rabbit_version: '3.10.8', vhosts: [], permissions: [], policies: [], queues: [], exchanges: [], bindings: [],
      users: [
        // Hashes of SALTED with the salt 90 8d c6 0a (test/unit/broker/password-hashing.test.ts).
        { name: names.sha512, hashing_algorithm: SHA512, tags: '',
          password_hash: 'kI3GCpKeWEce0hoj6ecQA1N7ChDxjZKzOCCOKWJM3C8cCNjP3Hhj2Tg4dMVw2idQEutWvTGDqjwauUW6EXFmisnCkl0=' },
        { name: names.md5, hashing_algorithm: MD5, tags: '', password_hash: 'kI3GCtdKokEOUxASeepKz6TZAEg=' },
        { name: names.sha256, hashing_algorithm: 'rabbit_password_hashing_sha256', tags: 'management',
          password_hash: 'kI3GCidmNbrOt8TsAIURNU42QFSob6HaggBL31do0qiYjt7i' },
        { name: names.nopass, hashing_algorithm: 'rabbit_password_hashing_sha256', tags: '', password_hash: '' },
      ],
    };
    await importIntoReference(defs);
    expect((await api(warrenApi, 'POST', '/api/definitions', defs)).status).toBe(204);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(Object.values(names).map((n) => rabbitmqctl('delete_user', n).catch(() => undefined)));
    await warren?.close();
  }, 60_000);

  it.each([
    ['sha256', names.sha256, SALTED], ['sha256 wrong password', names.sha256, 'nope'], ['sha512', names.sha512, SALTED],
    ['sha512 wrong password', names.sha512, 'x'], ['md5', names.md5, SALTED], ['md5 wrong password', names.md5, 'y'],
    ['blank password', names.sha256, ''], ['passwordless user, blank password', names.nopass, ''],
    ['passwordless user, any password', names.nopass, 'anything'], ['unknown user', `${run}-nobody`, 'pw'],
  ])('%s: the same answer on both brokers', async (_label, user, pass) => {
    const ref = await login(refPort, user, pass);
    expect(await login(warren.port, user, pass)).toBe(ref);
  });

  it('a user created by the reference logs in on Warren with the hash the reference made', async () => {
    await rabbitmqctl('add_user', names.byReference, 'made-by-rabbit');
    const u = (await api(REF_API, 'GET', `/api/users/${names.byReference}`)).json as Record<string, unknown>;
    expect(u['hashing_algorithm']).toBe('rabbit_password_hashing_sha256');
    expect((await api(warrenApi, 'PUT', `/api/users/${names.byReference}`, {
      password_hash: u['password_hash'], hashing_algorithm: u['hashing_algorithm'], tags: '',
    })).status).toBe(201);
    expect(await login(warren.port, names.byReference, 'made-by-rabbit')).toBe('tuned');
    expect(await login(warren.port, names.byReference, 'made-by-warren')).toMatch(/^403 /);
  });

  it('a user created by Warren logs in on the reference with the hash Warren made, and the export keeps it', async () => {
    expect((await api(warrenApi, 'PUT', `/api/users/${names.byWarren}`, { password: 'made-by-warren', tags: 'monitoring' })).status).toBe(201);
    const exported = (await api(warrenApi, 'GET', '/api/definitions')).json as { users: Record<string, unknown>[] };
    const u = exported.users.find((x) => x['name'] === names.byWarren)!;
    expect(u).toMatchObject({ hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['monitoring'] });
    expect((await api(REF_API, 'PUT', `/api/users/${names.byWarren}`, {
      password_hash: u['password_hash'], hashing_algorithm: u['hashing_algorithm'], tags: 'monitoring',
    })).status).toBe(201);
    expect(await login(refPort, names.byWarren, 'made-by-warren')).toBe('tuned');
    // And the imported hashes come back out of Warren unchanged.
    const md5 = exported.users.find((x) => x['name'] === names.md5)!;
    expect(md5).toMatchObject({ password_hash: 'kI3GCtdKokEOUxASeepKz6TZAEg=', hashing_algorithm: MD5 });
  });
});
