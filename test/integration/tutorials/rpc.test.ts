/**
 * RabbitMQ tutorial 6 (RPC), run unchanged: rpc_client.js sends a request with reply_to (its
 * exclusive server-named queue) and a correlation id; rpc_server.js (prefetch 1, manual ack)
 * replies through the default exchange.
 */
import { expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { useTutorials } from './harness.js';

const ctx = useBroker();
const t = useTutorials(ctx);

const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2));

it('rpc_client.js gets fib(30) from rpc_server.js', async () => {
  const server = t.h.run('rpc-server.js');
  await server.ready();
  const client = t.h.run('rpc-client.js', ['30']);
  expect(await client.exited()).toBe(0);
  expect(client.output).toEqual([' [x] Requesting fib(30)', ' [.] Got 832040']);
  expect(server.output).toEqual([' [x] Awaiting RPC requests', ' [.] fib(30)']);
});

it('several clients at once each get their own answer', async () => {
  const server1 = t.h.run('rpc-server.js');
  const server2 = t.h.run('rpc-server.js');
  await server1.ready();
  await server2.ready();
  const ns = [1, 5, 10, 15, 20, 22];
  const clients = ns.map((n) => t.h.run('rpc-client.js', [String(n)]));
  for (const [i, c] of clients.entries()) {
    expect(await c.exited()).toBe(0);
    expect(c.output[1]).toBe(` [.] Got ${fib(ns[i]!)}`);
  }
  const served = [...server1.output, ...server2.output].filter((l) => l.startsWith(' [.] fib('));
  expect(served.length).toBe(ns.length);
});

it('rpc_client.js without arguments prints its usage and exits 1', async () => {
  const c = t.h.run('rpc-client.js');
  expect(await c.exited()).toBe(1);
  expect(c.output[0]).toBe('Usage: rpc_client.js num');
});
