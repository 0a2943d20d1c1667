/**
 * The `warren` management commands, run as a process against a management API (Warren's, or the
 * reference RabbitMQ's: the commands speak RabbitMQ's API, so the same scenarios run on both).
 * Every object gets a unique name and is deleted by its scenario (the reference is shared).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { uniqueName } from '../../helpers/broker.js';
import { runCli, type CliResult } from '../../helpers/warren-cli.js';

export interface CliTarget {
  /** Management API base URL (http://host:port). */
  url: string;
  /** AMQP port of the same broker (for check port-listener). */
  amqpPort: number;
}

export interface CliScenarioOptions {
  /**
   * Put messages into a queue for the get/purge scenario; default: the `warren publish` command
   * itself (through the default exchange).
   */
  put?: (queue: string, bodies: readonly string[]) => Promise<void>;
  /** Whether the broker has POST /api/exchanges/{vhost}/{name}/publish (default true). */
  publishEndpoint?: boolean;
}

export function defineCliScenarios(target: () => CliTarget, options: CliScenarioOptions = {}): void {
  let dir = '';
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'warren-cli-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  const cli = (...args: string[]): Promise<CliResult> => runCli(['--url', target().url, ...args]);
  const ok = async (...args: string[]): Promise<CliResult> => {
    const r = await cli(...args);
    expect({ code: r.code, stderr: r.stderr }, `warren ${args.join(' ')}`).toEqual({ code: 0, stderr: '' });
    return r;
  };
  const json = async <T>(...args: string[]): Promise<T> => JSON.parse((await ok(...args, '--json')).stdout) as T;

  it('ping, status and health checks answer with rabbitmq-diagnostics exit codes', async () => {
    expect((await ok('ping')).stdout).toMatch(/^Ping succeeded/);
    const status = await ok('status');
    expect(status.stdout).toMatch(/^Status of node /);
    expect(status.stdout).toMatch(/Listeners: .*amqp/);
    expect((await json<{ overview: { node: string } }>('status')).overview.node).toBeTruthy();
    expect((await ok('check', 'alarms')).stdout).toBe('check alarms passed\n');
    expect((await ok('check', 'local-alarms')).stdout).toBe('check local-alarms passed\n');
    expect((await ok('check', 'virtual-hosts')).stdout).toBe('check virtual-hosts passed\n');
    expect((await ok('check', 'port-listener', String(target().amqpPort))).stdout).toBe('check port-listener passed\n');
    expect((await ok('check', 'protocol-listener', 'amqp')).stdout).toBe('check protocol-listener passed\n');
    expect((await ok('check', 'port-connectivity')).stdout).toMatch(/^Successfully connected to ports .*\d/);
    const closedPort = await cli('check', 'port-listener', '1');
    expect(closedPort.code).toBe(69);
    expect(closedPort.stderr).toMatch(/^check port-listener failed: /);
    expect((await cli('check', 'port-listener')).code).toBe(64);
    expect((await cli('check', 'nonsense')).code).toBe(64);
  });

  const put = options.put ?? (async (queue: string, bodies: readonly string[]) => {
    for (const b of bodies) await ok('publish', '-k', queue, '--payload', b);
  });

  it('declares, lists and deletes queues, exchanges and bindings', async () => {
    const q = uniqueName('cli-q');
    const x = uniqueName('cli-x');
    try {
      await ok('declare', 'queue', q, '--arguments', '{"x-max-length": 100}');
      await ok('declare', 'exchange', x, '--type', 'topic', '--no-durable');
      await ok('declare', 'binding', '--source', x, '--destination', q, '--routing-key', 'a.#');
      const queues = await json<Record<string, unknown>[]>('list', 'queues', '-V', '/');
      const mine = queues.find((r) => r['name'] === q);
      expect(mine).toMatchObject({ name: q, durable: true, arguments: { 'x-max-length': 100 } });
      const table = (await ok('list', 'queues', '--columns', 'name,arguments.x-max-length')).stdout.split('\n');
      expect(table[0]).toMatch(/^name\s+arguments\.x-max-length$/);
      expect(table.some((l) => new RegExp(`^${q}\\s+100$`).test(l))).toBe(true);
      const exchanges = await json<{ name: string; type: string; durable: boolean }[]>('list', 'exchanges');
      expect(exchanges.find((e) => e.name === x)).toMatchObject({ type: 'topic', durable: false });
      const bindings = await json<{ source: string; destination: string; routing_key: string }[]>('list', 'bindings', '-V', '/');
      expect(bindings.some((b) => b.source === x && b.destination === q && b.routing_key === 'a.#')).toBe(true);
      await ok('delete', 'binding', '--source', x, '--destination', q, '--routing-key', 'a.#');
      const again = await cli('delete', 'binding', '--source', x, '--destination', q, '--routing-key', 'a.#');
      expect(again.code).toBe(66);
      expect(again.stderr).toMatch(/no binding/);
      const inUse = await cli('delete', 'queue', q, '--if-empty', '--if-unused');
      expect(inUse.code, inUse.stderr).toBe(0);
    } finally {
      await cli('delete', 'exchange', x);
      await cli('delete', 'queue', q);
    }
    const gone = await cli('delete', 'queue', q);
    expect(gone.code).toBe(66);
    expect(gone.stderr).toMatch(/^Error: not found: DELETE \/api\/queues\/%2F\//);
  });

  it('gets (peeks at) and purges messages', async () => {
    const q = uniqueName('cli-m');
    try {
      await ok('declare', 'queue', q, '--no-durable');
      await put(q, ['hello', 'world']);
      const got = await json<{ payload: string; routing_key: string; payload_encoding: string }[]>('get', q, '--count', '5');
      expect(got.map((m) => m.payload)).toEqual(['hello', 'world']);
      // The default ackmode puts them back: a second look sees them again.
      expect(await json<unknown[]>('get', q, '--count', '5')).toHaveLength(2);
      const shown = (await ok('get', q, '--columns', 'payload,routing_key')).stdout;
      expect(shown).toBe(`payload  routing_key\nhello    ${q}\n`);
      const notEmpty = await cli('delete', 'queue', q, '--if-empty');
      expect(notEmpty.code).toBe(65);
      await ok('purge', q);
      expect(await json<unknown[]>('get', q)).toEqual([]);
      expect((await cli('purge', uniqueName('cli-none'))).code).toBe(66);
    } finally {
      await cli('delete', 'queue', q);
    }
  });

  if (options.publishEndpoint !== false) it('publishes through an exchange and says whether the message was routed', async () => {
    const q = uniqueName('cli-pq');
    const x = uniqueName('cli-px');
    try {
      await ok('declare', 'queue', q, '--no-durable');
      await ok('declare', 'exchange', x, '--type', 'topic', '--no-durable');
      await ok('declare', 'binding', '--source', x, '--destination', q, '--routing-key', 'a.#');
      expect((await ok('publish', '-e', x, '-k', 'a.b', '--payload', 'hello')).stdout).toBe('message published\n');
      expect((await ok('publish', '-e', x, '-k', 'z', '--payload', 'lost')).stdout).toBe('message published but NOT routed (no queue matched)\n');
      expect(await json('publish', '-k', q, '--payload', 'direct', '--properties', '{"headers": {"h": 1}}')).toEqual({ routed: true });
      const got = await json<{ payload: string; routing_key: string; properties: { headers?: unknown } }[]>('get', q, '--count', '5', '--ackmode', 'ack_requeue_false');
      expect(got.map((m) => [m.payload, m.routing_key])).toEqual([['hello', 'a.b'], ['direct', q]]);
      expect(got[1]!.properties.headers).toEqual({ h: 1 });
      const missing = await cli('publish', '-e', uniqueName('cli-nox'), '--payload', 'x');
      expect(missing.code).toBe(66);
      expect(missing.stderr).toMatch(/404 NOT_FOUND - no exchange/);
    } finally {
      await cli('delete', 'exchange', x);
      await cli('delete', 'queue', q);
    }
  });

  it('manages vhosts, users, permissions and policies', async () => {
    const v = uniqueName('cli-v');
    const u = uniqueName('cli-u');
    const p = uniqueName('cli-p');
    try {
      await ok('declare', 'vhost', v, '--description', 'for a test');
      await ok('declare', 'user', u, 's3cret', '--tags', 'monitoring');
      await ok('declare', 'permission', u, '-V', v, '--configure', '^cli-', '--write', '.*', '--read', '.*');
      await ok('declare', 'policy', p, '-V', v, '--pattern', '^cli-', '--definition', '{"max-length": 5}', '--apply-to', 'queues', '--priority', '3');
      expect((await json<{ name: string }[]>('list', 'vhosts')).some((r) => r.name === v)).toBe(true);
      const users = await json<{ name: string; tags: unknown }[]>('list', 'users');
      const user = users.find((r) => r.name === u);
      expect(user === undefined ? undefined : [user.tags].flat().join(',')).toBe('monitoring');
      // (The user creating a vhost gets full permissions there too, as on RabbitMQ.)
      expect(await json('list', 'permissions', '-V', v)).toContainEqual(expect.objectContaining({ user: u, vhost: v, configure: '^cli-', write: '.*', read: '.*' }));
      expect(await json('list', 'policies', '-V', v)).toEqual([expect.objectContaining({ name: p, pattern: '^cli-', priority: 3, 'apply-to': 'queues', definition: { 'max-length': 5 } })]);
      // The new user can use the API with its own credentials (monitoring may list).
      const asUser = await runCli(['--url', target().url, '-u', u, '-p', 's3cret', 'list', 'vhosts', '--json']);
      expect(asUser.code).toBe(0);
      const wrong = await runCli(['--url', target().url, '-u', u, '-p', 'nope', 'list', 'queues']);
      expect(wrong.code).toBe(77);
      expect(wrong.stderr).toMatch(/access refused for user/);
      await ok('delete', 'policy', p, '-V', v);
      await ok('delete', 'permission', u, '-V', v);
      expect((await json<{ user: string }[]>('list', 'permissions', '-V', v)).some((r) => r.user === u)).toBe(false);
    } finally {
      await cli('delete', 'user', u);
      await cli('delete', 'vhost', v);
    }
    expect((await cli('delete', 'vhost', v)).code).toBe(66);
  });

  it('exports and imports definitions', async () => {
    const v = uniqueName('cli-dv');
    const q = uniqueName('cli-dq');
    const file = join(dir, 'defs.json');
    try {
      await ok('declare', 'vhost', v);
      await ok('declare', 'queue', q, '-V', v);
      await ok('export', file, '-V', v);
      const defs = JSON.parse(await readFile(file, 'utf8')) as { queues: { name: string }[] };
      expect(defs.queues.map((x) => x.name)).toEqual([q]);
      await ok('delete', 'queue', q, '-V', v);
      await ok('import', file, '-V', v);
      expect((await json<{ name: string }[]>('list', 'queues', '-V', v)).map((x) => x.name)).toEqual([q]);
      const all = JSON.parse((await ok('export', '-')).stdout) as { vhosts: { name: string }[] };
      expect(all.vhosts.some((x) => x.name === v)).toBe(true);
      await writeFile(join(dir, 'bad.json'), '{ not json');
      const bad = await cli('import', join(dir, 'bad.json'));
      expect(bad.code).toBe(65);
      expect(bad.stderr).toMatch(/is not valid JSON/);
      expect((await cli('import', join(dir, 'missing.json'))).code).toBe(66);
    } finally {
      await cli('delete', 'vhost', v);
    }
  });

  it('refuses bad command lines with 64 and says why', async () => {
    const kind = await cli('list', 'things');
    expect(kind.code).toBe(64);
    expect(kind.stderr).toMatch(/unknown kind 'things'/);
    expect((await cli('list')).code).toBe(64);
    const badJson = await cli('declare', 'queue', uniqueName('cli-bad'), '--arguments', '{oops');
    expect(badJson.code).toBe(64);
    expect(badJson.stderr).toMatch(/--arguments is not valid JSON/);
    expect((await cli('declare', 'policy', 'p')).code).toBe(64);
  });
}
