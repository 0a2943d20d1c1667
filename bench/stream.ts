/**
 * Stream benchmarks over AMQP 0-9-1, measured, never asserted (npm run build first; run under
 * `flock /tmp/warren-heavy.lock`).
 *
 *   node dist/bench/stream.js replay [--messages 500000] [--size 100] [--consumers 5] [--only warren|reference]
 *     1 publisher with confirms fills a stream, then `consumers` consumers replay it from `first` at
 *     the same time (prefetch 1000, acks every 100): publish rate and each consumer's read rate, for
 *     Warren (child process) and the reference side by side, with broker CPU and RSS.
 *   node dist/bench/stream.js retain [--messages 10000000] [--size 100]
 *     Warren only (the reference is shared: a 10M-message stream would take its disk and minutes
 *     of everyone's time): fills a stream with 10M messages, samples Warren's RSS while publishing and
 *     while one consumer reads everything back from `first`; reports rates, peak RSS and disk use.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { Command } from 'commander';
import { ProcessSampler, findReferencePid, startWarrenProcess } from './broker-process.js';

interface Options { messages: number; size: number; consumers: number; only?: string; json?: string }

const REFERENCE = process.env['REFERENCE_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

function diskMiB(dir: string): number {
  return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) / 1024;
}

async function declare(url: string, stream: string): Promise<void> {
  const c = new AMQPClient(url);
  await c.connect();
  const ch = await c.channel();
  await ch.queueDeclare(stream, { durable: true }, { 'x-queue-type': 'stream' });
  await c.close();
}

async function drop(url: string, stream: string): Promise<void> {
  const c = new AMQPClient(url);
  await c.connect();
  const ch = await c.channel();
  await ch.queueDelete(stream);
  await c.close();
}

/** One publisher with a window of 1000 unconfirmed messages; returns msg/s. */
async function publish(url: string, stream: string, n: number, size: number, onProgress?: (done: number) => void): Promise<number> {
  const c = new AMQPClient(url);
  await c.connect();
  const ch = await c.channel();
  await ch.confirmSelect();
  const body = new Uint8Array(size).fill(0x61);
  const t0 = performance.now();
  let inflight: Promise<number>[] = [];
  for (let i = 0; i < n; i++) {
    inflight.push(ch.basicPublish('', stream, body, { deliveryMode: 2 }));
    if (inflight.length >= 1000) {
      await Promise.all(inflight);
      inflight = [];
      onProgress?.(i + 1);
    }
  }
  await Promise.all(inflight);
  const rate = n / ((performance.now() - t0) / 1000);
  await c.close();
  return rate;
}

/** A consumer reading `n` messages from `first`; resolves with its msg/s. */
async function replay(url: string, stream: string, n: number): Promise<number> {
  const c = new AMQPClient(url);
  await c.connect();
  const ch = await c.channel();
  await ch.prefetch(1000);
  const t0 = performance.now();
  let got = 0;
  await new Promise<void>((resolve) => {
    void ch.basicConsume(stream, { noAck: false, args: { 'x-stream-offset': 'first' } }, (msg) => {
      got++;
      if (got % 100 === 0 || got === n) void msg.ack(true);
      if (got === n) resolve();
    });
  });
  const rate = n / ((performance.now() - t0) / 1000);
  await c.close();
  return rate;
}

async function replayRun(name: string, url: string, pid: number | undefined, o: Options): Promise<Record<string, number | undefined>> {
  const stream = `bench-stream-${process.pid}-${Date.now().toString(36)}`;
  const sampler = pid === undefined ? undefined : new ProcessSampler(pid);
  await declare(url, stream);
  try {
    const cpu0 = sampler?.cpuSeconds();
    const t0 = performance.now();
    const publishRate = await publish(url, stream, o.messages, o.size);
    const pubCpu = sampler?.cpuSeconds();
    const pubSecs = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const rates = await Promise.all(Array.from({ length: o.consumers }, () => replay(url, stream, o.messages)));
    const readSecs = (performance.now() - t1) / 1000;
    const cpu1 = sampler?.cpuSeconds();
    const out: Record<string, number | undefined> = {
      'publish msg/s': Math.round(publishRate),
      'read msg/s per consumer (min)': Math.round(Math.min(...rates)),
      'read msg/s per consumer (max)': Math.round(Math.max(...rates)),
      'read msg/s all consumers': Math.round((o.messages * o.consumers) / readSecs),
      'broker CPU per published msg µs': cpu0 === undefined || pubCpu === undefined ? undefined : Math.round(((pubCpu - cpu0) * 1e6) / o.messages),
      'broker CPU per delivered msg µs': pubCpu === undefined || cpu1 === undefined ? undefined : Math.round(((cpu1 - pubCpu) * 1e6) / (o.messages * o.consumers)),
      'broker RSS MiB': sampler?.rssMb(),
      'publish seconds': Math.round(pubSecs * 10) / 10,
    };
    console.error(`${name}: ${JSON.stringify(out)}`);
    return out;
  } finally {
    await drop(url, stream).catch(() => undefined);
  }
}

async function replayCommand(o: Options): Promise<void> {
  const results: Record<string, Record<string, number | undefined>> = {};
  if (o.only !== 'reference') {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-stream-'));
    const w = await startWarrenProcess({ dataDir, timeoutMs: 60_000 });
    try {
      results['warren'] = await replayRun('warren', w.url, w.pid, o);
    } finally {
      await w.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  if (o.only !== 'warren') results['reference'] = await replayRun('reference', REFERENCE, findReferencePid(), o);
  const w = results['warren'];
  const r = results['reference'];
  if (w !== undefined && r !== undefined) {
    const ratio: Record<string, number | undefined> = {};
    for (const k of Object.keys(w)) {
      const a = w[k];
      const b = r[k];
      ratio[k] = a === undefined || b === undefined || b === 0 ? undefined : Math.round((a / b) * 100) / 100;
    }
    results['warren / reference'] = ratio;
  }
  report({ scenario: 'stream replay: 1 publisher, then consumers replaying from first', options: o, results }, o.json);
}

async function retainCommand(o: Options): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-stream-retain-'));
  const w = await startWarrenProcess({ dataDir, timeoutMs: 600_000 });
  const s = new ProcessSampler(w.pid);
  const stream = 'bench-retain';
  const results: Record<string, number | undefined> = {};
  try {
    await declare(w.url, stream);
    results['idle RSS MiB'] = s.rssMb();
    let peak = 0;
    const samples: Array<[number, number]> = [];
    const publishRate = await publish(w.url, stream, o.messages, o.size, (done) => {
      if (done % 100_000 === 0) {
        const rss = s.rssMb() ?? 0;
        peak = Math.max(peak, rss);
        if (done % 1_000_000 === 0) samples.push([done, Math.round(rss)]);
      }
    });
    results['publish msg/s'] = Math.round(publishRate);
    results['peak RSS while publishing MiB'] = Math.round(peak);
    results['RSS with stream retained MiB'] = s.rssMb();
    results['disk use MiB'] = Math.round(diskMiB(dataDir));
    const timer = setInterval(() => { peak = Math.max(peak, s.rssMb() ?? 0); }, 200);
    peak = 0;
    results['replay msg/s (1 consumer)'] = Math.round(await replay(w.url, stream, o.messages));
    clearInterval(timer);
    results['peak RSS while replaying MiB'] = Math.round(peak);
    report({ scenario: `stream retain: ${o.messages} messages of ${o.size} bytes`, options: o, results, rssByMillion: samples }, o.json);
  } finally {
    await w.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function report(out: unknown, json: string | undefined): void {
  const text = JSON.stringify({ date: new Date().toISOString(), ...(out as object) }, null, 2);
  console.log(text);
  if (json !== undefined) execFileSync('tee', [json], { input: text, stdio: ['pipe', 'ignore', 'inherit'] });
}

const program = new Command('stream');
for (const [cmd, fn, messages] of [['replay', replayCommand, 500_000], ['retain', retainCommand, 10_000_000]] as const) {
  program.command(cmd)
    .option('--messages <n>', 'messages', (v) => Number(v), messages)
    .option('--size <bytes>', 'body size', (v) => Number(v), 100)
    .option('--consumers <n>', 'consumers replaying from first', (v) => Number(v), 5)
    .option('--only <broker>', 'warren or reference')
    .option('--json <file>', 'also write the results here')
    .action(async (opts: Options) => { await fn(opts); });
}
program.parseAsync().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
