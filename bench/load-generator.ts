/**
 * Main-thread side of the load generator: declares a scenario's topology, spreads producers and
 * consumers over worker threads, drives the phases (setup -> warm-up -> measure -> stop) through the
 * shared control word, and turns counters, histograms and CPU samples into one result. CPU is read
 * with process.cpuUsage(), which covers every thread of this process, so the generator's own share
 * is visible next to the broker's. Everything declared is deleted again, even on failure.
 */
import { Worker } from 'node:worker_threads';
import net from 'node:net';
import amqplib from 'amqplib';
import hdr from 'hdr-histogram-js';
import type { ClientKind } from './client-adapter.js';
import { ProcessSampler } from './broker-process.js';
import {
  controlView, counterView, Counter, createShared, Phase, total,
  type FlowSpec, type Topology, type WorkerConfig, type WorkerReport, type WorkerTask,
} from './workload.js';

export interface RunOptions {
  readonly url: string;
  readonly client: ClientKind;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Broker process to sample for CPU/RSS; undefined when not observable. */
  readonly brokerPid: number | undefined;
  /** Worker threads per role (producers / consumers). */
  readonly threadsPerRole: number;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p75: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface FlowResult {
  readonly seconds: number;
  readonly publishRate: number;
  readonly confirmRate: number;
  readonly consumeRate: number;
  readonly consumeBytesRate: number;
  readonly opsRate: number;
  /** Totals at the end of the measure window (since the workers started). */
  readonly published: number;
  readonly consumed: number;
  /** Milliseconds, end-to-end publish -> deliver. */
  readonly latency: LatencySummary | undefined;
  /** CPU cores used by the generator (all its threads) and by the broker during the measure window. */
  readonly generatorCpu: number;
  readonly brokerCpu: number | undefined;
  readonly brokerRssMb: number | undefined;
  readonly errors: readonly string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- topology

export async function declareTopology(url: string, topo: Topology): Promise<void> {
  const conn = await amqplib.connect(url);
  try {
    const ch = await conn.createChannel();
    if (topo.exchange !== undefined) await ch.assertExchange(topo.exchange.name, topo.exchange.type, { durable: false, autoDelete: false });
    for (const q of topo.queues) await ch.assertQueue(q.name, { durable: q.durable, autoDelete: false });
    for (const b of topo.bindings) await ch.bindQueue(b.queue, topo.exchange?.name ?? '', b.key, b.args);
    await ch.close();
  } finally {
    await conn.close().catch(() => {});
  }
}

export async function deleteTopology(url: string, topo: Topology): Promise<void> {
  const conn = await amqplib.connect(url);
  conn.on('error', () => {});
  try {
    for (const q of topo.queues) {
      // A fresh channel per delete: a failed delete closes its channel (e.g. already gone).
      const ch = await conn.createChannel();
      ch.on('error', () => {});
      await ch.deleteQueue(q.name).catch(() => {});
      await ch.close().catch(() => {});
    }
    if (topo.exchange !== undefined) {
      const ch = await conn.createChannel();
      ch.on('error', () => {});
      await ch.deleteExchange(topo.exchange.name).catch(() => {});
      await ch.close().catch(() => {});
    }
  } finally {
    await conn.close().catch(() => {});
  }
}

/** Declares `topo`, runs `body`, and deletes `topo` again whatever happened. */
export async function withTopology<T>(url: string, topo: Topology, body: () => Promise<T>): Promise<T> {
  try {
    await declareTopology(url, topo);
    return await body();
  } finally {
    await deleteTopology(url, topo);
  }
}

// ---------------------------------------------------------------- workers

class WorkerSet {
  private readonly workers: Worker[] = [];
  private readonly ready: Promise<void>[] = [];
  private readonly done: Promise<{ histogram: string | undefined; errors: readonly string[] }>[] = [];
  readonly shared = createShared();
  readonly control = controlView(this.shared);
  readonly counters = counterView(this.shared);

  constructor(private readonly url: string, private readonly client: ClientKind) {}

  add(task: WorkerTask): void {
    const slot = this.workers.length;
    const cfg: WorkerConfig = { url: this.url, client: this.client, slot, shared: this.shared, task };
    const w = new Worker(new URL('./load-worker.js', import.meta.url), { workerData: cfg });
    this.workers.push(w);
    let resolveReady: () => void = () => {};
    let rejectReady: (e: Error) => void = () => {};
    this.ready.push(new Promise<void>((res, rej) => { resolveReady = res; rejectReady = rej; }));
    this.done.push(new Promise((resolve, reject) => {
      w.on('message', (m: WorkerReport) => {
        if (m.type === 'ready') resolveReady();
        else if (m.type === 'done') resolve({ histogram: m.histogram, errors: m.errors });
        else { const e = new Error(`worker ${slot}: ${m.message}`); rejectReady(e); reject(e); }
      });
      w.on('error', (e) => { rejectReady(e); reject(e); });
      w.on('exit', (code) => { const e = new Error(`worker ${slot} exited (${code})`); rejectReady(e); reject(e); });
    }));
    // Attach no-op handlers so an early failure is reported through allReady/finish, not unhandled.
    this.done[slot]?.catch(() => {});
  }

  async allReady(timeoutMs = 60_000): Promise<void> {
    await withTimeout(Promise.all(this.ready), timeoutMs, 'workers did not become ready');
  }

  start(): void {
    Atomics.store(this.control, 0, Phase.Run);
    for (const w of this.workers) w.postMessage({ type: 'start' });
  }

  setPhase(p: number): void { Atomics.store(this.control, 0, p); }

  async finish(timeoutMs = 30_000): Promise<{ histogram: hdr.Histogram | undefined; errors: string[] }> {
    Atomics.store(this.control, 0, Phase.Stop);
    for (const w of this.workers) w.postMessage({ type: 'finish' });
    const errors: string[] = [];
    let merged: hdr.Histogram | undefined;
    try {
      const reports = await withTimeout(Promise.allSettled(this.done), timeoutMs, 'workers did not finish');
      for (const r of reports) {
        if (r.status === 'rejected') { errors.push(String(r.reason)); continue; }
        errors.push(...r.value.errors);
        if (r.value.histogram !== undefined) {
          const h = hdr.decodeFromCompressedBase64(r.value.histogram);
          if (merged === undefined) merged = h; else merged.add(h);
        }
      }
    } catch (e) {
      errors.push(String(e));
    }
    await this.terminate();
    return { histogram: merged, errors };
  }

  async terminate(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`${what} within ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** Splits ids 0..n-1 over k buckets round-robin. */
function spread(n: number, k: number): number[][] {
  const buckets: number[][] = Array.from({ length: Math.max(1, Math.min(n, k)) }, () => []);
  for (let i = 0; i < n; i++) buckets[i % buckets.length]?.push(i);
  return n === 0 ? [] : buckets;
}

function summarize(h: hdr.Histogram | undefined): LatencySummary | undefined {
  if (h === undefined || h.totalCount === 0) return undefined;
  const ms = (us: number): number => us / 1000;
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p75: ms(h.getValueAtPercentile(75)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

interface Snapshot { t: number; pub: number; conf: number; cons: number; bytes: number; ops: number; cpu: NodeJS.CpuUsage }

function snapshot(counters: Float64Array): Snapshot {
  return {
    t: performance.now(),
    pub: total(counters, Counter.Published),
    conf: total(counters, Counter.Confirmed),
    cons: total(counters, Counter.Consumed),
    bytes: total(counters, Counter.Bytes),
    ops: total(counters, Counter.Ops),
    cpu: process.cpuUsage(),
  };
}

/**
 * Runs workers through warm-up and a timed measure window. `tasks` are the worker tasks; the result's
 * rates cover the measure window only.
 */
export async function runTimed(opts: RunOptions, tasks: readonly WorkerTask[]): Promise<FlowResult> {
  const set = new WorkerSet(opts.url, opts.client);
  for (const t of tasks) set.add(t);
  try {
    await set.allReady();
  } catch (e) {
    await set.terminate();
    throw e;
  }
  const sampler = opts.brokerPid === undefined ? undefined : new ProcessSampler(opts.brokerPid);
  set.start();
  await sleep(opts.warmupMs);
  const a = snapshot(set.counters);
  const brokerA = sampler?.cpuSeconds();
  set.setPhase(Phase.Measure);
  await sleep(opts.durationMs);
  const b = snapshot(set.counters);
  const brokerB = sampler?.cpuSeconds();
  const rss = sampler?.rssMb();
  const { histogram, errors } = await set.finish();
  const seconds = (b.t - a.t) / 1000;
  const cpuSeconds = (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1e6;
  return {
    seconds,
    publishRate: (b.pub - a.pub) / seconds,
    confirmRate: (b.conf - a.conf) / seconds,
    consumeRate: (b.cons - a.cons) / seconds,
    consumeBytesRate: (b.bytes - a.bytes) / seconds,
    opsRate: (b.ops - a.ops) / seconds,
    published: b.pub,
    consumed: b.cons,
    latency: summarize(histogram),
    generatorCpu: cpuSeconds / seconds,
    brokerCpu: brokerA === undefined || brokerB === undefined ? undefined : (brokerB - brokerA) / seconds,
    brokerRssMb: rss,
    errors,
  };
}

/**
 * The worker tasks for a producer/consumer flow, producers and consumers on separate threads. Four or
 * more consumers get at least two threads: one thread tops out near 130k deliveries/s (see
 * generator-ceiling), and fanout-10 measured 75k -> 198k msg/s against Warren going from one to two.
 */
export function flowTasks(spec: FlowSpec, threadsPerRole: number): WorkerTask[] {
  const tasks: WorkerTask[] = [];
  const consumerThreads = spec.consumers >= 4 ? Math.max(2, threadsPerRole) : threadsPerRole;
  for (const consumerIds of spread(spec.consumers, consumerThreads)) tasks.push({ kind: 'flow', spec, producerIds: [], consumerIds });
  for (const producerIds of spread(spec.producers, threadsPerRole)) tasks.push({ kind: 'flow', spec, producerIds, consumerIds: [] });
  return tasks;
}

export interface CountedResult {
  readonly messages: number;
  readonly seconds: number;
  readonly rate: number;
  readonly generatorCpu: number;
  readonly brokerCpu: number | undefined;
  readonly brokerRssMb: number | undefined;
  readonly errors: readonly string[];
}

/**
 * Runs a flow until `target` reaches `count` (e.g. all publishes confirmed, or all messages consumed),
 * timing from 'start' to the moment the counter gets there (polled every 2 ms).
 */
export async function runCounted(opts: RunOptions, tasks: readonly WorkerTask[], target: Counter, count: number, timeoutMs: number): Promise<CountedResult> {
  const set = new WorkerSet(opts.url, opts.client);
  for (const t of tasks) set.add(t);
  try {
    await set.allReady();
  } catch (e) {
    await set.terminate();
    throw e;
  }
  const sampler = opts.brokerPid === undefined ? undefined : new ProcessSampler(opts.brokerPid);
  const cpu0 = process.cpuUsage();
  const broker0 = sampler?.cpuSeconds();
  const t0 = performance.now();
  set.start();
  set.setPhase(Phase.Measure);
  const errors: string[] = [];
  while (total(set.counters, target) < count) {
    if (performance.now() - t0 > timeoutMs) { errors.push(`timed out at ${total(set.counters, target)}/${count}`); break; }
    await sleep(2);
  }
  const t1 = performance.now();
  const cpu1 = process.cpuUsage();
  const broker1 = sampler?.cpuSeconds();
  const rss = sampler?.rssMb();
  const fin = await set.finish();
  errors.push(...fin.errors);
  const seconds = (t1 - t0) / 1000;
  const done = total(set.counters, target);
  return {
    messages: done,
    seconds,
    rate: done / seconds,
    generatorCpu: (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / 1e6 / seconds,
    brokerCpu: broker0 === undefined || broker1 === undefined ? undefined : (broker1 - broker0) / seconds,
    brokerRssMb: rss,
    errors,
  };
}

// ---------------------------------------------------------------- raw TCP

/**
 * Raw loopback TCP throughput for comparison with 1 MiB AMQP messages: a plain socket pair, a worker
 * thread writing `chunkSize` chunks as fast as the socket drains, the main thread reading; bytes/s.
 */
export async function runTcpLoopback(opts: Pick<RunOptions, 'warmupMs' | 'durationMs'>, chunkSize: number): Promise<FlowResult> {
  let received = 0;
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('data', (chunk: Buffer) => { received += chunk.length; });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const set = new WorkerSet('', 'amqplib');
  try {
    set.add({ kind: 'tcp-source', port, chunkSize });
    await set.allReady();
    set.start();
    await sleep(opts.warmupMs);
    const a = { t: performance.now(), bytes: received, cpu: process.cpuUsage() };
    set.setPhase(Phase.Measure);
    await sleep(opts.durationMs);
    const b = { t: performance.now(), bytes: received, cpu: process.cpuUsage() };
    const { errors } = await set.finish();
    const seconds = (b.t - a.t) / 1000;
    return {
      seconds, publishRate: 0, confirmRate: 0, consumeRate: 0,
      consumeBytesRate: (b.bytes - a.bytes) / seconds, opsRate: 0, published: 0, consumed: 0, latency: undefined,
      generatorCpu: (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1e6 / seconds,
      brokerCpu: undefined, brokerRssMb: undefined, errors,
    };
  } finally {
    await set.terminate();
    for (const s of sockets) s.destroy();
    server.close();
  }
}
