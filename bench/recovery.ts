/**
 * Backlog and recovery benchmark (Warren only: the reference broker is shared and cannot be
 * restarted here). Publishes N persistent messages with confirms into a durable queue, records peak
 * RSS and disk use, kill -9s the broker, restarts it over the same data directory and measures the
 * time to the first AMQP handshake and the RSS after recovery, then drains everything and records
 * the drain rate and the disk use left. Measured, never asserted.
 *
 *   node dist/bench/recovery.js [--messages 1000000] [--size 16] [--json out.json]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { Command } from 'commander';
import { ProcessSampler, startWarrenProcess } from './broker-process.js';

interface Options { messages: number; size: number; json?: string }

function diskMiB(dir: string): number {
  return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) / 1024;
}

function hwmMiB(pid: number): number | undefined {
  try {
    const status = execFileSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' });
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m === null ? undefined : Number(m[1]) / 1024;
  } catch {
    return undefined;
  }
}

async function publish(url: string, queue: string, n: number, size: number): Promise<number> {
  const client = new AMQPClient(url);
  await client.connect();
  const ch = await client.channel();
  await ch.queueDeclare(queue, { durable: true });
  await ch.confirmSelect();
  const body = new Uint8Array(size);
  const t0 = performance.now();
  const window = 2000;
  let inflight: Promise<number>[] = [];
  for (let i = 0; i < n; i++) {
    inflight.push(ch.basicPublish('', queue, body, { deliveryMode: 2 }));
    if (inflight.length >= window) {
      await Promise.all(inflight);
      inflight = [];
    }
  }
  await Promise.all(inflight);
  const rate = n / ((performance.now() - t0) / 1000);
  await client.close();
  return rate;
}

async function drain(url: string, queue: string, n: number): Promise<number> {
  const client = new AMQPClient(url);
  await client.connect();
  const ch = await client.channel();
  await ch.prefetch(1000);
  const t0 = performance.now();
  let got = 0;
  await new Promise<void>((resolve) => {
    void ch.basicConsume(queue, { noAck: false }, (msg) => {
      got++;
      if (got % 100 === 0 || got === n) void msg.ack(true);
      if (got === n) resolve();
    });
  });
  const rate = n / ((performance.now() - t0) / 1000);
  await client.close();
  return rate;
}

async function main(o: Options): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-recovery-'));
  const queue = 'recovery-backlog';
  const results: Record<string, number | undefined> = {};
  try {
    let w = await startWarrenProcess({ dataDir, timeoutMs: 60_000 });
    const idle = new ProcessSampler(w.pid).rssMb();
    results['publish msg/s'] = await publish(w.url, queue, o.messages, o.size);
    results['RSS with backlog MiB'] = new ProcessSampler(w.pid).rssMb();
    results['RSS growth for backlog MiB'] = (results['RSS with backlog MiB'] ?? 0) - (idle ?? 0);
    results['peak RSS while publishing MiB'] = hwmMiB(w.pid);
    results['disk use with backlog MiB'] = diskMiB(dataDir);
    process.kill(w.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    w = await startWarrenProcess({ dataDir, timeoutMs: 600_000 });
    results['recovery: restart to AMQP handshake ms'] = w.startupMs;
    results['RSS after recovery MiB'] = new ProcessSampler(w.pid).rssMb();
    results['drain msg/s'] = await drain(w.url, queue, o.messages);
    results['peak RSS while draining MiB'] = hwmMiB(w.pid);
    await new Promise((r) => setTimeout(r, 500));
    results['disk use after drain MiB'] = diskMiB(dataDir);
    await w.stop();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  const out = { date: new Date().toISOString(), messages: o.messages, size: o.size, results };
  console.log(JSON.stringify(out, null, 2));
  if (o.json !== undefined) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(o.json, JSON.stringify(out, null, 2));
  }
}

const program = new Command('recovery')
  .option('--messages <n>', 'backlog size', (v) => Number(v), 1_000_000)
  .option('--size <bytes>', 'message size', (v) => Number(v), 16)
  .option('--json <file>', 'also write the results here');
program.parse();
main(program.opts<Options>()).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
