/**
 * The same users, vhosts, permissions, topic permissions and limits on both brokers, for the
 * access-control differential tests: on the reference with `rabbitmqctl import_definitions` (one
 * call; passwords hashed here with RabbitMQ's sha256 scheme, which the reference then checks) and
 * removed afterwards with `rabbitmqctl delete_vhost/delete_user`; on Warren with the same document
 * through its management API (POST /api/definitions, as `rabbitmqctl import_definitions` does).
 * Names must be unique per run (uniqueName): the reference is shared by the team.
 * Invariant: every object created on the reference is deleted by the cleanup returned.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { hashPassword } from '../../../src/broker/password-hashing.js';
import { referenceUrl, startTestBroker, type TestBroker } from '../../helpers/broker.js';

const exec = promisify(execFile);

export interface SetupUser {
  name: string;
  password: string;
  tags?: string[];
  limits?: Record<string, number>;
}

export interface SetupPermission {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export interface SetupTopicPermission {
  user: string;
  vhost: string;
  exchange: string;
  write: string;
  read: string;
}

export interface AccessSetup {
  vhosts: string[];
  users: SetupUser[];
  permissions: SetupPermission[];
  topicPermissions?: SetupTopicPermission[];
  vhostLimits?: { vhost: string; limits: Record<string, number> }[];
}

/** The setup as a definitions document (RabbitMQ 3.10's shape). */
export function definitionsOf(s: AccessSetup): Record<string, unknown> {
  return {
    rabbit_version: '3.10.8',
    users: s.users.map((u) => ({
      name: u.name, password_hash: hashPassword(u.password), hashing_algorithm: 'rabbit_password_hashing_sha256',
      tags: (u.tags ?? []).join(','), ...(u.limits === undefined ? {} : { limits: u.limits }),
    })),
    vhosts: s.vhosts.map((name) => ({ name })),
    permissions: s.permissions,
    topic_permissions: s.topicPermissions ?? [],
    parameters: (s.vhostLimits ?? []).map((l) => ({ vhost: l.vhost, component: 'vhost-limits', name: 'limits', value: l.limits })),
    global_parameters: [], policies: [], queues: [], exchanges: [], bindings: [],
  };
}

/** Why the reference cannot be set up, or undefined when it can (reachable and rabbitmqctl answers). */
export async function referenceSetupSkip(): Promise<string | undefined> {
  if ((await referenceUrl()) === undefined) return 'no reference broker reachable (set REFERENCE_AMQP_URL)';
  try {
    await exec('rabbitmqctl', ['-q', 'list_vhosts'], { timeout: 30_000 });
    return undefined;
  } catch {
    return 'rabbitmqctl cannot reach the reference broker, so its users and permissions cannot be set';
  }
}

export async function rabbitmqctl(...args: string[]): Promise<string> {
  return (await exec('rabbitmqctl', ['-q', ...args], { timeout: 60_000 })).stdout;
}

/**
 * `rabbitmqctl import_definitions <file>`. rabbitmqctl runs as the rabbitmq user (its wrapper
 * switches user and does not pass stdin), so the file is made world-readable for the call.
 */
export async function importIntoReference(definitions: unknown): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warren-access-'));
  const file = join(dir, 'definitions.json');
  try {
    await writeFile(file, JSON.stringify(definitions));
    await chmod(dir, 0o755);
    await chmod(file, 0o644);
    await rabbitmqctl('import_definitions', file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Create everything on the reference; the cleanup deletes the vhosts and users again. */
export async function setUpReference(s: AccessSetup): Promise<() => Promise<void>> {
  await importIntoReference(definitionsOf(s));
  return async () => {
    await Promise.all([
      ...s.vhosts.map((v) => rabbitmqctl('delete_vhost', v).catch(() => undefined)),
      ...s.users.map((u) => rabbitmqctl('delete_user', u.name).catch(() => undefined)),
    ]);
  };
}

/** Create everything on Warren through its management API (guest, an administrator). */
export async function setUpWarren(managementUrl: string, s: AccessSetup): Promise<void> {
  const res = await fetch(`${managementUrl}/api/definitions`, {
    method: 'POST', body: JSON.stringify(definitionsOf(s)),
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
  });
  if (res.status >= 300) throw new Error(`definitions import into Warren: ${res.status} ${await res.text()}`);
}

/** Set a user's permissions on the reference (rabbitmqctl) or Warren (management API). */
export async function setPermissions(target: { managementUrl: string } | 'reference', p: SetupPermission): Promise<void> {
  if (target === 'reference') {
    await rabbitmqctl('set_permissions', '-p', p.vhost, p.user, p.configure, p.write, p.read);
    return;
  }
  const res = await fetch(`${target.managementUrl}/api/permissions/${encodeURIComponent(p.vhost)}/${encodeURIComponent(p.user)}`, {
    method: 'PUT', body: JSON.stringify({ configure: p.configure, write: p.write, read: p.read }),
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
  });
  if (res.status >= 300) throw new Error(`set permissions on Warren: ${res.status} ${await res.text()}`);
}

/**
 * For a describe block: Warren (in-process, with its management API) and the reference, both set up
 * with `setup` before the tests and cleaned up after them.
 */
export function useBothBrokers(setup: AccessSetup): { readonly warren: TestBroker } {
  let warren: TestBroker | undefined;
  let cleanupReference: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    warren = await startTestBroker({ managementPort: 0 });
    await setUpWarren(warren.warren!.managementUrl!, setup);
    cleanupReference = await setUpReference(setup);
  }, 60_000);
  afterAll(async () => {
    await cleanupReference?.();
    await warren?.close();
  }, 60_000);
  return {
    get warren(): TestBroker {
      if (warren === undefined) throw new Error('the brokers are not set up (used outside a test?)');
      return warren;
    },
  };
}
