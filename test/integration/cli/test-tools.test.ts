/**
 * Warren's test commands run as a process (`warren peek|inject|wait|reset|snapshot|restore`) against
 * an in-process Warren (management API and AMQP on ephemeral ports), checked with amqplib clients
 * and the API: output, exit codes, files.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/warren-cli.js';
import { useBroker } from '../helpers/setup.js';

const ctx = useBroker({ managementPort: 0 });
const cli = (...args: string[]) => runCli(['--url', ctx.broker.warren!.managementUrl!, ...args]);

async function newVhost(): Promise<string> {
  const v = ctx.name('cli-vh');
  expect((await cli('declare', 'vhost', v)).code).toBe(0);
  expect((await cli('-V', v, 'declare', 'permission', 'guest', '--configure', '.*', '--write', '.*', '--read', '.*')).code).toBe(0);
  return v;
}

describe('warren test commands', () => {
  it('inject, peek (no side effect), wait', async () => {
    const q = ctx.name('cli-q');
    const conn = await ctx.clients.connect();
    const ch = await conn.createChannel();
    await ch.assertQueue(q);
    const waiting = cli('wait', q, '--messages', '2', '--wait-timeout', '20000');
    let r = await cli('inject', q, '--payload', 'hello', '--properties', '{"headers":{"a":1},"content_type":"text/plain"}');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`message injected into '${q}'\n`);
    expect((await cli('inject', q, '--payload', 'second', '-k', 'custom')).code).toBe(0);
    const w = await waiting;
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toMatch(/messages:\s+2\n/);

    r = await cli('peek', q, '--json');
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(rows.map((m) => [m['payload'], m['routing_key'], m['redelivered']])).toEqual([['hello', q, false], ['second', 'custom', false]]);
    expect(rows[0]!['properties']).toEqual({ headers: { a: 1 }, content_type: 'text/plain' });
    r = await cli('peek', q, '--offset', '1');
    expect(r.stdout.split('\n')[0]).toMatch(/^position\s+state\s+routing_key/);
    expect(r.stdout).toContain('second');
    expect(r.stdout).not.toContain('hello');

    const got = await ch.get(q, { noAck: true });
    expect(got !== false && [got.content.toString(), got.fields.redelivered]).toEqual(['hello', false]);
    await ch.get(q, { noAck: true });
    r = await cli('wait', q, '--empty', '--wait-timeout', '20000');
    expect(r.code, r.stderr).toBe(0);
    r = await cli('wait', q, '--consumers', '1', '--wait-timeout', '100');
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(/waited for consumers = 1/);
    expect((await cli('wait', q)).code).toBe(64);
    expect((await cli('peek', ctx.name('missing'))).code).toBe(66);
  });

  it('snapshot, reset, restore', async () => {
    const v = await newVhost();
    const dir = await mkdtemp(join(tmpdir(), 'warren-snap-'));
    try {
      expect((await cli('-V', v, 'declare', 'queue', 'jobs')).code).toBe(0);
      expect((await cli('-V', v, 'inject', 'jobs', '--payload', 'job-1')).code).toBe(0);
      const file = join(dir, 'state.json');
      let r = await cli('-V', v, 'snapshot', file);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`snapshot of vhost '${v}' (1 messages) written to ${file}\n`);
      const doc = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      expect(doc).toMatchObject({ warren_snapshot: 1, vhost: v });

      r = await cli('-V', v, 'reset', '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ queues_deleted: 1, messages_deleted: 1 });
      expect(JSON.parse((await cli('-V', v, 'list', 'queues', '--json')).stdout)).toEqual([]);

      r = await cli('-V', v, 'restore', file);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/messages_restored:\s+1\n/);
      const rows = JSON.parse((await cli('-V', v, 'peek', 'jobs', '--json')).stdout) as Record<string, unknown>[];
      expect(rows.map((m) => m['payload'])).toEqual(['job-1']);
      expect((await cli('-V', v, 'restore', join(dir, 'nope.json'))).code).toBe(66);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await cli('delete', 'vhost', v);
    }
  });
});
