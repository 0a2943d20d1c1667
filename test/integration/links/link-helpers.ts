/**
 * Shared by the links tests (test/integration/links, interop/links): a port nothing listens on, and
 * amqplib one-liners over a durable queue whose messages are `m<i>` (persistent, confirmed).
 */
import net from 'node:net';
import amqp from 'amqplib';

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
