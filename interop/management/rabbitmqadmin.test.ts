/**
 * RabbitMQ's own `rabbitmqadmin` (Debian's rabbitmq-server ships /usr/bin/rabbitmqadmin, a python3
 * script), unchanged, against Warren's management API: list, show, declare, publish, get, purge,
 * delete, export, import, and its error output. When the reference's management API is reachable
 * the same commands run against it too and every output must be the same (names are unique per run
 * and removed afterwards). Skipped with the reason when rabbitmqadmin or python3 is missing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../test/helpers/broker.js';
import { referenceManagement } from '../../test/helpers/reference-plugins.js';
import { useManagement } from '../../test/integration/management/api-client.js';

const ADMIN = '/usr/bin/rabbitmqadmin';
const m = useManagement();
const missing = !existsSync(ADMIN) ? `${ADMIN} not installed (Debian package rabbitmq-server)` : undefined;
let referencePort: number | undefined;
let tmp = '';

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'warren-rabbitmqadmin-'));
  const r = await referenceManagement();
  if ('url' in r) referencePort = Number(new URL(r.url).port);
}, 90_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: string;
}

function admin(port: number, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile('python3', [ADMIN, '-H', '127.0.0.1', '-P', String(port), '-u', 'guest', '-p', 'guest', ...args],
      { timeout: 30_000 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, out: (stdout + stderr).trim() });
      });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The scenario: what rabbitmqadmin printed at each step, with the run's own port left out. */
async function scenario(port: number, n: Record<string, string>, file: string): Promise<Record<string, Run>> {
  const out: Record<string, Run> = {};
  const V = ['-V', n['vhost']!];
  const json = ['-f', 'raw_json'];
  const step = async (label: string, args: string[], input?: string) => {
    const r = await admin(port, args, input);
    out[label] = { code: r.code, out: r.out.split(file).join('FILE') };
  };
  try {
    await step('declare vhost', ['declare', 'vhost', `name=${n['vhost']}`]);
    await step('declare permission', ['declare', 'permission', `vhost=${n['vhost']}`, 'user=guest', 'configure=.*', 'write=.*', 'read=.*']);
    await step('declare exchange', [...V, 'declare', 'exchange', `name=${n['x']}`, 'type=topic', 'durable=false']);
    await step('declare queue', [...V, 'declare', 'queue', `name=${n['q']}`, 'durable=true', 'arguments={"x-max-length":10}']);
    await step('declare binding', [...V, 'declare', 'binding', `source=${n['x']}`, `destination=${n['q']}`, 'routing_key=a.#']);
    await step('list queues', [...V, ...json, 'list', 'queues', 'name', 'durable', 'auto_delete', 'arguments']);
    await step('list exchanges', [...V, ...json, 'list', 'exchanges', 'name', 'type', 'durable']);
    await step('list bindings', [...V, ...json, 'list', 'bindings', 'source', 'destination', 'routing_key', 'properties_key']);
    await step('publish', [...V, 'publish', `exchange=${n['x']}`, 'routing_key=a.b', 'payload=hello', 'properties={"content_type":"text/plain","headers":{"k":"v"}}']);
    await step('publish unrouted', [...V, 'publish', `exchange=${n['x']}`, 'routing_key=z', 'payload=lost']);
    await step('publish stdin', [...V, 'publish', `exchange=${n['x']}`, 'routing_key=a.c'], 'from stdin');
    await step('get', [...V, ...json, 'get', `queue=${n['q']}`, 'count=5', 'ackmode=ack_requeue_true']);
    await step('get table', [...V, 'get', `queue=${n['q']}`, 'count=1']);
    await step('purge', [...V, 'purge', 'queue', `name=${n['q']}`]);
    await step('get empty', [...V, ...json, 'get', `queue=${n['q']}`]);
    await step('export', [...V, 'export', file]);
    await step('delete binding', [...V, 'delete', 'binding', `source=${n['x']}`, 'destination_type=queue', `destination=${n['q']}`, 'properties_key=a.%23']);
    await step('delete queue', [...V, 'delete', 'queue', `name=${n['q']}`]);
    await step('delete exchange', [...V, 'delete', 'exchange', `name=${n['x']}`]);
    await step('delete missing', [...V, 'delete', 'queue', `name=${n['q']}`]);
    await step('import', [...V, 'import', file]);
    await step('after import', [...V, ...json, 'list', 'queues', 'name', 'durable', 'arguments']);
    await step('declare policy', [...V, 'declare', 'policy', `name=${n['p']}`, 'pattern=^q', 'definition={"max-length":1}', 'apply-to=queues']);
    await step('list policies', [...V, ...json, 'list', 'policies', 'vhost', 'name', 'pattern', 'apply-to', 'definition', 'priority']);
    await step('delete policy', [...V, 'delete', 'policy', `name=${n['p']}`]);
    await step('declare user', ['declare', 'user', `name=${n['user']}`, 'password=pw', 'tags=monitoring']);
    await step('list users', [...json, 'list', 'users', 'name', 'tags']);
    await step('delete user', ['delete', 'user', `name=${n['user']}`]);
    await step('show overview', [...json, 'show', 'overview', 'rates_mode']);
    await step('bad declare', [...V, 'declare', 'queue', `name=${n['q']}`, 'durable=false']);
    await step('bad login', ['-p', 'wrong', 'list', 'queues']);
  } finally {
    await admin(port, ['delete', 'vhost', `name=${n['vhost']}`]);
    await admin(port, ['delete', 'user', `name=${n['user']}`]);
  }
  // Only the run's own users and vhosts matter in lists of the whole broker.
  const users = JSON.parse(out['list users']!.out) as { name: string }[];
  out['list users'] = { code: out['list users']!.code, out: JSON.stringify(users.filter((u) => u.name === n['user'])) };
  // rabbitmqadmin lists policies of every vhost (/api/policies): other suites running at the same
  // time on the shared reference (federation, shovels) have theirs there.
  const policies = JSON.parse(out['list policies']!.out) as { vhost: string }[];
  out['list policies'] = { code: out['list policies']!.code, out: JSON.stringify(policies.filter((p) => p.vhost === n['vhost'])) };
  return out;
}

describe.skipIf(missing !== undefined)(`rabbitmqadmin against Warren${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  // About 60 python3 runs (two brokers): minutes on a loaded machine, so a generous timeout.
  it('runs every command, and prints what it prints against RabbitMQ', { timeout: 180_000 }, async () => {
    const names = { vhost: uniqueName('ra-vh'), x: uniqueName('ra-x'), q: uniqueName('ra-q'), p: uniqueName('ra-p'), user: uniqueName('ra-u') };
    const port = Number(new URL(m.api().base).port);
    const warren = await scenario(port, names, join(tmp, 'warren.json'));
    for (const [label, r] of Object.entries(warren)) {
      const failing = ['delete missing', 'bad declare', 'bad login'].includes(label);
      expect(r.code, `${label}: ${r.out}`).toBe(failing ? 1 : 0);
    }
    expect(JSON.parse(warren['list queues']!.out)).toEqual([{ name: names.q, durable: true, auto_delete: false, arguments: { 'x-max-length': 10 } }]);
    expect(warren['publish']!.out).toBe('Message published');
    expect(warren['publish unrouted']!.out).toBe('Message published but NOT routed');
    const got = JSON.parse(warren['get']!.out) as { payload: string; properties: unknown }[];
    expect(got.map((g) => g.payload)).toEqual(['hello', 'from stdin']);
    expect(got[0]!.properties).toEqual({ content_type: 'text/plain', headers: { k: 'v' } });
    expect(warren['delete missing']!.out).toBe(`*** Not found: /api/queues/${names.vhost}/${names.q}`);
    const exported = JSON.parse(await readFile(join(tmp, 'warren.json'), 'utf8')) as { queues: unknown[] };
    expect(exported.queues).toEqual([{ name: names.q, durable: true, auto_delete: false, arguments: { 'x-max-length': 10 } }]);
    expect(JSON.parse(warren['after import']!.out)).toEqual(JSON.parse(warren['list queues']!.out).map(
      ({ auto_delete: _a, ...rest }: Record<string, unknown>) => rest));

    if (referencePort === undefined) {
      console.warn('rabbitmqadmin: the reference management API is not reachable; Warren checked alone');
      return;
    }
    const rabbit = await scenario(referencePort, names, join(tmp, 'reference.json'));
    // JSON outputs are compared as JSON (key order is not part of what tools read).
    const parsed = (r: Run | undefined) => {
      try {
        return { code: r?.code, json: JSON.parse(r?.out ?? '') as unknown };
      } catch {
        return r;
      }
    };
    for (const label of Object.keys(rabbit)) expect(parsed(warren[label]), label).toEqual(parsed(rabbit[label]));
    const theirs = JSON.parse(await readFile(join(tmp, 'reference.json'), 'utf8')) as Record<string, unknown>;
    const ours = JSON.parse(await readFile(join(tmp, 'warren.json'), 'utf8')) as Record<string, unknown>;
    for (const key of ['parameters', 'policies', 'queues', 'exchanges', 'bindings']) expect(ours[key], key).toEqual(theirs[key]);
  });
});
