/**
 * Durable definitions churn (issue 16): N durable queues declared and bound one by one (each
 * queue.declare and queue.bind waits for its -ok before the next is sent) by one client, then deleted
 * one by one; then the same by 10 clients in parallel (one connection each, N/10 queues each). The
 * rates are operations per second (a declare + bind is 2 operations, a delete 1) and the broker CPU
 * per operation. Every -ok of a durable change waits for the change to be on disk on both brokers,
 * so one client measures the commit latency and 10 clients how well commits are shared.
 *
 * The queues are bound to a durable direct exchange of their own with the queue name as key;
 * everything carries the run's unique prefix and is deleted at the end, even on failure.
 */
import { AMQPClient, type AMQPChannel } from '@cloudamqp/amqp-client';
import { ProcessSampler } from './broker-process.js';

export interface ChurnFigures {
  readonly declareBind1: number;
  readonly delete1: number;
  readonly declareBind10: number;
  readonly delete10: number;
  readonly cpuPerOp1: number | undefined;
  readonly cpuPerOp10: number | undefined;
}

interface Worker {
  readonly client: AMQPClient;
  readonly ch: AMQPChannel;
  readonly names: string[];
}

async function open(url: string, names: string[]): Promise<Worker> {
  const client = new AMQPClient(url);
  await client.connect();
  return { client, ch: await client.channel(), names };
}

/** Runs `body` on every worker in parallel; returns seconds and broker CPU seconds. */
async function timed(pid: number | undefined, workers: readonly Worker[], body: (w: Worker) => Promise<void>): Promise<{ s: number; cpu: number | undefined }> {
  const sampler = pid === undefined ? undefined : new ProcessSampler(pid);
  const c0 = sampler?.cpuSeconds();
  const t0 = performance.now();
  await Promise.all(workers.map(body));
  const s = (performance.now() - t0) / 1000;
  const c1 = sampler?.cpuSeconds();
  return { s, cpu: c0 === undefined || c1 === undefined ? undefined : c1 - c0 };
}

async function phase(url: string, pid: number | undefined, exchange: string, names: string[], clients: number): Promise<{
  declareBind: number; del: number; cpuPerOp: number | undefined;
}> {
  const per = Math.ceil(names.length / clients);
  const workers: Worker[] = [];
  try {
    for (let c = 0; c < clients; c++) workers.push(await open(url, names.slice(c * per, (c + 1) * per)));
    const up = await timed(pid, workers, async (w) => {
      for (const q of w.names) {
        await w.ch.queueDeclare(q, { durable: true });
        await w.ch.queueBind(q, exchange, q);
      }
    });
    const down = await timed(pid, workers, async (w) => {
      for (const q of w.names) await w.ch.queueDelete(q);
    });
    const ops = 3 * names.length;
    return {
      declareBind: (2 * names.length) / up.s,
      del: names.length / down.s,
      cpuPerOp: up.cpu === undefined || down.cpu === undefined ? undefined : ((up.cpu + down.cpu) * 1e6) / ops,
    };
  } finally {
    for (const w of workers) await w.client.close().catch(() => undefined);
  }
}

/** Delete whatever a failed run may have left (one channel per attempt: a failed delete closes it). */
async function cleanup(url: string, exchange: string, names: readonly string[]): Promise<void> {
  const client = new AMQPClient(url);
  try {
    await client.connect();
    let ch = await client.channel();
    for (const q of names) {
      try {
        await ch.queueDelete(q);
      } catch {
        ch = await client.channel();
      }
    }
    await ch.exchangeDelete(exchange).catch(() => undefined);
  } catch {
    // broker gone
  } finally {
    await client.close().catch(() => undefined);
  }
}

export async function definitionsChurn(url: string, pid: number | undefined, prefix: string, n: number): Promise<ChurnFigures> {
  const exchange = `${prefix}-churn-x`;
  const one = Array.from({ length: n }, (_, i) => `${prefix}-churn1-${i}`);
  const ten = Array.from({ length: n }, (_, i) => `${prefix}-churn10-${i}`);
  let ok = false;
  try {
    const setup = new AMQPClient(url);
    await setup.connect();
    await (await setup.channel()).exchangeDeclare(exchange, 'direct', { durable: true });
    await setup.close();
    const a = await phase(url, pid, exchange, one, 1);
    const b = await phase(url, pid, exchange, ten, 10);
    ok = true;
    return {
      declareBind1: a.declareBind, delete1: a.del, cpuPerOp1: a.cpuPerOp,
      declareBind10: b.declareBind, delete10: b.del, cpuPerOp10: b.cpuPerOp,
    };
  } finally {
    await cleanup(url, exchange, ok ? [] : [...one, ...ten]);
  }
}
