/**
 * Memory probes: the broker's resident memory growth for N idle connections and for N empty queues,
 * scaled to "per 1,000 connections" and "per 10,000 queues". Deltas of VmRSS taken after a short
 * settle; on a broker shared with other users (the reference) unrelated activity adds noise, so the
 * figures are indicative. Everything opened or declared here is closed or deleted before returning.
 */
import amqplib from 'amqplib';
import type { ChannelModel } from 'amqplib';
import { ProcessSampler } from './broker-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ProbeResult {
  readonly count: number;
  readonly beforeMb: number | undefined;
  readonly afterMb: number | undefined;
  /** MiB of RSS growth per `per` objects, or undefined when RSS is not observable. */
  readonly mbPer: number | undefined;
  readonly seconds: number;
}

function scaled(before: number | undefined, after: number | undefined, count: number, per: number): number | undefined {
  return before === undefined || after === undefined ? undefined : ((after - before) / count) * per;
}

export async function probeIdleConnections(url: string, pid: number | undefined, count: number, settleMs: number): Promise<ProbeResult> {
  const sampler = pid === undefined ? undefined : new ProcessSampler(pid);
  const before = sampler?.rssMb();
  const conns: ChannelModel[] = [];
  const t0 = performance.now();
  try {
    for (let i = 0; i < count; i += 50) {
      const batch: Promise<ChannelModel>[] = [];
      for (let j = i; j < Math.min(count, i + 50); j++) batch.push(amqplib.connect(url));
      for (const c of await Promise.all(batch)) { c.on('error', () => {}); conns.push(c); }
    }
    const seconds = (performance.now() - t0) / 1000;
    await sleep(settleMs);
    const after = sampler?.rssMb();
    return { count, beforeMb: before, afterMb: after, mbPer: scaled(before, after, count, 1000), seconds };
  } finally {
    for (let i = 0; i < conns.length; i += 100) {
      await Promise.all(conns.slice(i, i + 100).map((c) => c.close().catch(() => {})));
    }
  }
}

export async function probeEmptyQueues(url: string, pid: number | undefined, count: number, prefix: string, settleMs: number): Promise<ProbeResult> {
  const sampler = pid === undefined ? undefined : new ProcessSampler(pid);
  const conn = await amqplib.connect(url);
  conn.on('error', () => {});
  const names = Array.from({ length: count }, (_, i) => `${prefix}-empty-${i}`);
  const before = sampler?.rssMb();
  const t0 = performance.now();
  let deleted = 0;
  try {
    const ch = await conn.createChannel();
    for (let i = 0; i < count; i += 200) {
      await Promise.all(names.slice(i, i + 200).map((n) => ch.assertQueue(n, { durable: false, autoDelete: false })));
    }
    const seconds = (performance.now() - t0) / 1000;
    await sleep(settleMs);
    const after = sampler?.rssMb();
    for (let i = 0; i < count; i += 200) {
      await Promise.all(names.slice(i, i + 200).map((n) => ch.deleteQueue(n)));
      deleted = i + 200;
    }
    return { count, beforeMb: before, afterMb: after, mbPer: scaled(before, after, count, 10_000), seconds };
  } finally {
    // After a failure, delete what may remain one by one (each failed delete closes its channel).
    for (let i = deleted; i < count; i++) {
      try {
        const ch = await conn.createChannel();
        ch.on('error', () => {});
        await ch.deleteQueue(names[i] ?? '');
        await ch.close();
      } catch { /* not declared, or connection gone */ }
    }
    await conn.close().catch(() => {});
  }
}
