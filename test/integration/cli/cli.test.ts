/**
 * The `warren` management commands run as a process against Warren (in-process, management API
 * and AMQP on ephemeral ports): the same scenarios as against the reference's API, plus the
 * commands that need live clients (connections, channels, consumers, close-connection).
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/broker.js';
import { runCli } from '../../helpers/warren-cli.js';
import { closedWith } from '../helpers/clients.js';
import { useBroker } from '../helpers/setup.js';
import { defineCliScenarios } from './cli-scenarios.js';

const ctx = useBroker({ managementPort: 0 });
const url = (): string => ctx.broker.warren!.managementUrl!;

// Every case spawns several CLI processes (node start-up each): generous on a loaded machine.
describe('warren CLI against Warren', { timeout: 120_000 }, () => {
  defineCliScenarios(() => ({ url: url(), amqpPort: ctx.port }));

  it('lists live connections, channels and consumers, and closes a connection with 320 and the reason', async () => {
    const conn = await ctx.clients.connect();
    const ch = await conn.createChannel();
    const q = ctx.name('cli-live');
    await ch.assertQueue(q, { exclusive: true });
    await ch.consume(q, () => undefined, { consumerTag: 'cli-tag' });
    const list = async <T>(kind: string): Promise<T[]> => {
      const r = await runCli(['--url', url(), 'list', kind, '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as T[];
    };
    type Row = { name: string; user: string; channels: number };
    const conns: Row[] = await waitFor(async () => {
      const l = await list<Row>('connections');
      return l.length === 1 ? l : undefined;
    }) as Row[];
    expect(conns[0]).toMatchObject({ user: 'guest', channels: 1 });
    expect((await list<{ name: string }>('channels')).map((c) => c.name)).toEqual([`${conns[0]!.name} (1)`]);
    expect(await list('consumers')).toEqual([expect.objectContaining({ consumer_tag: 'cli-tag', queue: expect.objectContaining({ name: q }) })]);
    const table = await runCli(['--url', url(), 'list', 'connections']);
    expect(table.stdout.split('\n')[0]).toMatch(/^name\s+user\s+vhost\s+channels\s+state$/);

    const closed = await runCli(['--url', url(), 'close-connection', conns[0]!.name, '--reason', 'bye from the CLI']);
    expect(closed.code, closed.stderr).toBe(0);
    const err = await closedWith(conn);
    expect(err?.message).toMatch(/320/);
    expect(err?.message).toMatch(/bye from the CLI/);
    const missing = await runCli(['--url', url(), 'close-connection', conns[0]!.name]);
    expect(missing.code).toBe(66);
  });
});
