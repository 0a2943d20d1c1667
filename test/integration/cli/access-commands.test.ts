/**
 * The `warren` commands that administer access (as a child process, against Warren's management
 * API): users with a password or without one, permissions, topic permissions, vhost and user limits
 * set, listed and removed, and enforced right away for AMQP clients.
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { runCli } from '../../helpers/warren-cli.js';

let b: TestBroker;
let url: string;
const cli = (...args: string[]) => runCli(['--url', url, '--json', ...args]);

beforeAll(async () => {
  b = await startTestBroker({ managementPort: 0 });
  url = b.warren!.managementUrl!;
});
afterAll(async () => {
  await b?.close();
});

describe('warren access commands', () => {
  it('users, permissions, topic permissions and limits: set, listed, enforced, removed', async () => {
    expect((await cli('declare', 'vhost', 'shop')).code).toBe(0);
    expect((await cli('declare', 'user', 'app', 's3cret', '--tags', 'management')).code).toBe(0);
    expect((await cli('declare', 'user', 'cert-only', '--password-hash', '')).code).toBe(0);
    expect(b.warren!.broker.users.get('cert-only')?.passwordHash).toBe('');
    expect((await cli('-V', 'shop', 'declare', 'permission', 'app', '--configure', '^app-', '--write', '.*', '--read', '.*')).code).toBe(0);
    expect((await cli('-V', 'shop', 'declare', 'topic-permission', 'app', '--exchange', 'amq.topic', '--write', '^{username}\\.')).code).toBe(0);
    expect((await cli('-V', 'shop', 'declare', 'vhost-limit', 'max-queues', '1')).code).toBe(0);
    expect((await cli('declare', 'user-limit', 'app', 'max-channels', '5')).code).toBe(0);

    const topic = JSON.parse((await cli('list', 'topic-permissions')).stdout) as unknown[];
    expect(topic).toEqual([{ user: 'app', vhost: 'shop', exchange: 'amq.topic', write: '^{username}\\.', read: '.*' }]);
    expect(JSON.parse((await cli('list', 'vhost-limits')).stdout)).toEqual([{ vhost: 'shop', value: { 'max-queues': 1 } }]);
    expect(JSON.parse((await cli('list', 'user-limits')).stdout)).toEqual([{ user: 'app', value: { 'max-channels': 5 } }]);

    const conn = await amqp.connect(`amqp://app:s3cret@127.0.0.1:${b.port}/shop`);
    conn.on('error', () => undefined);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.assertQueue('app-jobs', { durable: false });
    await expect(ch.assertQueue('app-more', { durable: false })).rejects.toThrow(/queue limit in vhost 'shop' \(1\) is reached/);
    const ch2 = await conn.createChannel();
    ch2.on('error', () => undefined);
    await expect(ch2.assertQueue('other', { durable: false })).rejects.toThrow(/access to queue 'other' in vhost 'shop' refused for user 'app'/);
    await conn.close();

    expect((await cli('-V', 'shop', 'delete', 'topic-permission', 'app', '--exchange', 'amq.topic')).code).toBe(0);
    expect((await cli('-V', 'shop', 'delete', 'vhost-limit', 'max-queues')).code).toBe(0);
    expect((await cli('delete', 'user-limit', 'app', 'max-channels')).code).toBe(0);
    expect(JSON.parse((await cli('list', 'topic-permissions')).stdout)).toEqual([]);
    expect(b.warren!.broker.limits.of('shop')).toEqual({});
    expect(b.warren!.broker.users.get('app')?.limits).toBeUndefined();
    // A limit RabbitMQ does not know is refused with its reason.
    const bad = await cli('-V', 'shop', 'declare', 'vhost-limit', 'max-bananas', '3');
    expect(bad.code).toBe(65);
  });
});
