/**
 * Peak shaving per queue kind (issue 16): a burst of N persistent 1 KiB messages (publisher
 * confirms, 1,000 outstanding) into a queue of one kind while a slow consumer (prefetch 1, one ack
 * per millisecond at most) takes a few, then the backlog drained at full speed (prefetch 1000, ack
 * multiple every 100). Kinds: `ttl-maxlen-dlx` (x-message-ttl 1 h, x-max-length N, a dead-letter
 * exchange: nothing expires or overflows during the run, the point is that such a queue pages) and
 * `priority` (x-max-priority 10, priorities 0-9 round robin).
 *
 * Figures: publish rate over the burst, drain rate, the broker's peak RSS during the run (sampled
 * every 250 ms; for the shared reference this is its whole RSS), its RSS growth over the run, and the
 * disk the broker's data directory grew by at the end of the burst (Warren: its data dir; the
 * reference: /var/lib/rabbitmq when readable, shared with everyone else's queues).
 */
import { execFileSync } from 'node:child_process';
import { AMQPClient, type AMQPChannel } from '@cloudamqp/amqp-client';
import { ProcessSampler } from './broker-process.js';

export type PeakKind = 'ttl-maxlen-dlx' | 'priority';

export interface PeakFigures {
  readonly publishRate: number;
  readonly drainRate: number;
  readonly peakRssMb: number | undefined;
  readonly rssGrowthMb: number | undefined;
  readonly diskMb: number | undefined;
  readonly slowConsumed: number;
}

const WINDOW = 1000;

export function duMb(dir: string | undefined): number | undefined {
  if (dir === undefined) return undefined;
  try {
    return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\t')[0]) / 1024;
  } catch {
    return undefined;
  }
}

async function channel(url: string): Promise<{ client: AMQPClient; ch: AMQPChannel }> {
  const client = new AMQPClient(url);
  await client.connect();
  return { client, ch: await client.channel() };
}

export async function peakShaving(url: string, pid: number | undefined, dataDir: string | undefined, prefix: string, kind: PeakKind,
  n: number): Promise<PeakFigures> {
  const q = `${prefix}-peak-${kind}`;
  const dlx = `${prefix}-peak-dlx`;
  const args: Record<string, unknown> = kind === 'priority'
    ? { 'x-max-priority': 10 }
    : { 'x-message-ttl': 3_600_000, 'x-max-length': n, 'x-dead-letter-exchange': dlx };
  const admin = await channel(url);
  const sampler = pid === undefined ? undefined : new ProcessSampler(pid);
  let peak = sampler?.rssMb();
  const rss0 = peak;
  const timer = setInterval(() => {
    const r = sampler?.rssMb();
    if (r !== undefined && (peak === undefined || r > peak)) peak = r;
  }, 250);
  const disk0 = duMb(dataDir);
  const conns: AMQPClient[] = [];
  try {
    if (kind === 'ttl-maxlen-dlx') await admin.ch.exchangeDeclare(dlx, 'fanout', { durable: true });
    await admin.ch.queueDeclare(q, { durable: true }, args);

    // The slow consumer, during the burst.
    const slow = await channel(url);
    conns.push(slow.client);
    await slow.ch.prefetch(1);
    let slowConsumed = 0;
    let slowStopped = false;
    const slowConsumer = await slow.ch.basicConsume(q, { noAck: false }, (msg) => {
      setTimeout(() => {
        if (slowStopped) return;
        slowConsumed++;
        void msg.ack().catch(() => undefined);
      }, 1);
    });

    // The burst.
    const pub = await channel(url);
    conns.push(pub.client);
    await pub.ch.confirmSelect();
    const body = new Uint8Array(1024);
    const t0 = performance.now();
    let inflight: Promise<number>[] = [];
    for (let i = 0; i < n; i++) {
      inflight.push(pub.ch.basicPublish('', q, body, { deliveryMode: 2, priority: kind === 'priority' ? i % 10 : 0 }));
      if (inflight.length >= WINDOW) {
        await Promise.all(inflight);
        inflight = [];
      }
    }
    await Promise.all(inflight);
    const publishSeconds = (performance.now() - t0) / 1000;
    const diskMb = duMb(dataDir);

    // Drain the rest at full speed.
    slowStopped = true;
    await slowConsumer.cancel();
    await slow.client.close().catch(() => undefined);
    const fast = await channel(url);
    conns.push(fast.client);
    await fast.ch.prefetch(1000);
    const { messageCount } = await fast.ch.queueDeclare(q, { passive: true });
    const t1 = performance.now();
    let got = 0;
    if (messageCount > 0) {
      await new Promise<void>((resolve) => {
        void fast.ch.basicConsume(q, { noAck: false }, (msg) => {
          got++;
          if (got % 100 === 0 || got === messageCount) void msg.ack(true).catch(() => undefined);
          if (got === messageCount) resolve();
        });
      });
    }
    const drainSeconds = (performance.now() - t1) / 1000;
    return {
      publishRate: n / publishSeconds,
      drainRate: messageCount / Math.max(drainSeconds, 1e-3),
      peakRssMb: peak,
      rssGrowthMb: peak === undefined || rss0 === undefined ? undefined : peak - rss0,
      diskMb: diskMb === undefined || disk0 === undefined ? undefined : diskMb - disk0,
      slowConsumed,
    };
  } finally {
    clearInterval(timer);
    for (const c of conns) await c.close().catch(() => undefined);
    const cleanup = await channel(url).catch(() => undefined);
    if (cleanup !== undefined) {
      await cleanup.ch.queueDelete(q).catch(() => undefined);
      if (kind === 'ttl-maxlen-dlx') await (await cleanup.client.channel()).exchangeDelete(dlx).catch(() => undefined);
      await cleanup.client.close().catch(() => undefined);
    }
    await admin.client.close().catch(() => undefined);
  }
}
