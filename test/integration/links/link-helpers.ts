/**
 * Shared by the links tests (test/integration/links, interop/links): a port nothing listens on, and
 * amqplib one-liners over a durable queue whose messages are `m<i>` (persistent, confirmed), and a
 * child-process Warren that can be killed with SIGKILL and restarted on the same port and data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import amqp from 'amqplib';
import { waitFor } from '../../helpers/broker.js';
import { CLI } from '../../helpers/warren-cli.js';

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Publish m<from>..m<from+n-1> persistent to a durable queue (declared), confirmed in batches. */
export async function publish(url: string, queue: string, n: number, from = 0): Promise<void> {
  const c = await amqp.connect(url);
  const ch = await c.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true });
  for (let i = from; i < from + n; i++) {
    ch.sendToQueue(queue, Buffer.from(`m${i}`), { persistent: true, messageId: `id${i}` });
    if (i % 500 === 499) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await c.close();
}

/** Messages ready in a queue. */
export async function depth(url: string, queue: string): Promise<number> {
  const c = await amqp.connect(url);
  try {
    return (await (await c.createChannel()).checkQueue(queue)).messageCount;
  } finally {
    await c.close().catch(() => undefined);
  }
}

/** Empty a queue with basic.get: its bodies in order. */
export async function drain(url: string, queue: string): Promise<string[]> {
  const c = await amqp.connect(url);
  const ch = await c.createChannel();
  const out: string[] = [];
  for (let m = await ch.get(queue, { noAck: true }); m !== false; m = await ch.get(queue, { noAck: true })) out.push(m.content.toString());
  await c.close();
  return out;
}

/** A Warren in a child process (kill -9 tests). */
export interface Child { proc: ChildProcess; exited: Promise<unknown> }

/** Start `warren start` on `port` with `dataDir` (reused across restarts); resolves once it listens. */
export async function spawnWarren(port: number, dataDir: string): Promise<Child> {
  const proc = spawn(process.execPath, [CLI, 'start', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir,
    '--management-port', '0', '--prometheus-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  proc.stdout?.on('data', (d: Buffer) => { logs += d.toString(); });
  proc.stderr?.on('data', (d: Buffer) => { logs += d.toString(); });
  const exited = new Promise((r) => proc.once('exit', r));
  await waitFor(() => logs.includes('Warren listening on') || proc.exitCode !== null, 60_000, 20);
  if (proc.exitCode !== null) throw new Error(`warren exited: ${logs}`);
  return { proc, exited };
}

/** SIGKILL (no shutdown hooks run) and wait for the exit. */
export async function kill9(c: Child): Promise<void> {
  c.proc.kill('SIGKILL');
  await c.exited;
}
