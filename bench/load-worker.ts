/**
 * Worker-thread entry of the load generator: runs the producers and consumers (or churn / raw TCP
 * loops) it is given, counting into its own slot of the shared counters, and reports the latency
 * histogram when finished. Hot loops follow DESIGN.md: no closure or Promise per message (except
 * where a client library imposes one), bodies reused, timestamps written as two uint32 so both
 * Buffer and Uint8Array bodies are read without allocation.
 * Phases come from the shared control word: producers start on 'start', latency is recorded only
 * during Measure, everything winds down at Stop and connections close on 'finish'.
 */
import { parentPort, workerData } from 'node:worker_threads';
import net from 'node:net';
import hdr from 'hdr-histogram-js';
import { connect, type BenchChannel, type BenchConnection } from './client-adapter.js';
import {
  controlView, counterView, Counter, COUNTERS_PER_SLOT, Phase, MAX_SLOTS,
  type FlowSpec, type WorkerCommand, type WorkerConfig, type WorkerReport,
} from './workload.js';

const config = workerData as WorkerConfig;
const control = controlView(config.shared);
const counters = counterView(config.shared);
const base = config.slot * COUNTERS_PER_SLOT;
const errors: string[] = [];
const closers: (() => Promise<void>)[] = [];

function post(report: WorkerReport): void { parentPort?.postMessage(report); }
function phase(): number { return control[0] ?? Phase.Setup; }
function noteError(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  if (errors.length < 20) errors.push(msg);
}

/** Monotonic microseconds, shared by all threads of the process (CLOCK_MONOTONIC). */
function nowMicros(): number { return Number(process.hrtime.bigint() / 1000n); }

const TWO32 = 4294967296;
function stamp(body: Buffer): void {
  const t = nowMicros();
  const lo = t % TWO32;
  body.writeUInt32LE(lo, 0);
  body.writeUInt32LE((t - lo) / TWO32, 4);
}
function readStamp(b: Uint8Array): number {
  const lo = (b[0] ?? 0) + (b[1] ?? 0) * 256 + (b[2] ?? 0) * 65536 + (b[3] ?? 0) * 16777216;
  const hi = (b[4] ?? 0) + (b[5] ?? 0) * 256 + (b[6] ?? 0) * 65536 + (b[7] ?? 0) * 16777216;
  return hi * TWO32 + lo;
}

function sumCounter(which: number): number {
  let s = 0;
  for (let i = 0; i < MAX_SLOTS; i++) s += counters[i * COUNTERS_PER_SLOT + which] ?? 0;
  return s;
}

function add(which: number, n: number): void {
  counters[base + which] = (counters[base + which] ?? 0) + n;
}

const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });

// ---------------------------------------------------------------- producers

const BATCH = 200;

class Producer {
  private readonly bodies: Buffer[];
  private bodyIndex = 0;
  private keyIndex = 0;
  private outstanding = 0;
  private waiting = false;
  private scheduled = false;
  sent = 0;
  done = false;

  constructor(private readonly ch: BenchChannel, private readonly spec: FlowSpec, private readonly limited: boolean) {
    // Small bodies are copied by the client synchronously, so one buffer suffices. Large bodies may be
    // queued by reference until the socket drains; rotate a few (backpressure bounds how many queue up).
    const count = spec.messageSize > 2048 ? 8 : 1;
    this.bodies = [];
    for (let i = 0; i < count; i++) this.bodies.push(Buffer.alloc(spec.messageSize, 0x61));
    ch.onConfirm(this.onConfirm);
  }

  private readonly onConfirm = (count: number): void => {
    this.outstanding -= count;
    add(Counter.Confirmed, count);
    if (this.waiting && this.outstanding < this.spec.confirmWindow) {
      this.waiting = false;
      if (!this.limited) this.schedule();
    }
  };

  private readonly onDrain = (): void => {
    this.waiting = false;
    if (!this.limited) this.schedule();
  };

  schedule(): void {
    if (this.scheduled || this.done) return;
    this.scheduled = true;
    setImmediate(this.pump);
  }

  /** Unlimited-rate loop: a batch per macrotask so the consumer side of this thread also runs. */
  private readonly pump = (): void => {
    this.scheduled = false;
    if (phase() >= Phase.Stop) { this.done = true; return; }
    const spec = this.spec;
    if (spec.maxInFlight > 0 && spec.consumers > 0) {
      const inFlight = sumCounter(Counter.Published) * spec.deliveriesPerPublish - sumCounter(Counter.Consumed);
      if (inFlight > spec.maxInFlight) { setTimeout(this.retry, 1); return; }
    }
    this.publishUpTo(BATCH);
    if (!this.waiting && !this.done) this.schedule();
  };

  private readonly retry = (): void => { this.schedule(); };

  /** Publishes at most n messages, stopping early on confirm window, socket backpressure or limit. */
  publishUpTo(n: number): void {
    if (this.waiting || this.done) return;
    const spec = this.spec;
    const ch = this.ch;
    const keys = spec.routingKeys;
    const headers = spec.headers;
    ch.cork();
    for (let i = 0; i < n; i++) {
      if (spec.messagesPerProducer > 0 && this.sent >= spec.messagesPerProducer) { this.done = true; break; }
      if (spec.confirmWindow > 0 && this.outstanding >= spec.confirmWindow) { this.waiting = true; break; }
      const body = this.bodies[this.bodyIndex] as Buffer;
      if (++this.bodyIndex === this.bodies.length) this.bodyIndex = 0;
      if (spec.messageSize >= 8) stamp(body);
      const key = keys[this.keyIndex % keys.length] ?? '';
      const hdrs = headers === undefined ? undefined : headers[this.keyIndex % headers.length];
      this.keyIndex++;
      if (spec.confirmWindow > 0) this.outstanding++;
      const ok = ch.publish(spec.exchange, key, body, spec.persistent, hdrs);
      this.sent++;
      add(Counter.Published, 1);
      if (!ok) { this.waiting = true; ch.onDrain(this.onDrain); break; }
    }
    ch.uncork();
  }
}

/** Fixed-rate producers share one timer per worker (500 producers must not mean 500 timers). */
function runRateLimited(producers: Producer[], rate: number): void {
  const start = performance.now();
  const maxCatchUp = Math.max(1, Math.ceil(rate / 10));
  const timer = setInterval(() => {
    if (phase() >= Phase.Stop) { clearInterval(timer); return; }
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    for (const p of producers) {
      const owed = due - p.sent;
      if (owed > 0) p.publishUpTo(Math.min(owed, maxCatchUp));
    }
  }, 5);
}

// ---------------------------------------------------------------- consumers

function startConsumer(ch: BenchChannel, queue: string, spec: FlowSpec): Promise<void> {
  let unacked = 0;
  let received = 0;
  const ackEvery = spec.multiAckEvery;
  const size = spec.messageSize;
  const onMessage = (body: Uint8Array, tag: number): void => {
    counters[base + Counter.Consumed] = (counters[base + Counter.Consumed] ?? 0) + 1;
    counters[base + Counter.Bytes] = (counters[base + Counter.Bytes] ?? 0) + body.length;
    if (size >= 8 && body.length >= 8 && control[0] === Phase.Measure) {
      const sent = readStamp(body);
      if (sent > 0) { // 0: not stamped by us (the fake broker's canned deliveries)
        const latency = nowMicros() - sent;
        histogram.recordValue(latency > 0 ? latency : 1);
      }
    }
    if (!spec.autoAck) {
      if (ackEvery <= 1) ch.ack(tag, false);
      else if (++unacked >= ackEvery) { ch.ack(tag, true); unacked = 0; }
    }
    received++;
    if (spec.messagesPerConsumer > 0 && received === spec.messagesPerConsumer && !spec.autoAck && unacked > 0) {
      ch.ack(tag, true);
      unacked = 0;
    }
  };
  return ch.consume(queue, spec.autoAck, onMessage);
}

/**
 * A slow consumer: messages are processed one at a time, consumerDelayMicros each, by a timer that
 * acks (multiple) what the elapsed time allowed. Its channel has this one consumer, so delivery tags
 * are 1, 2, 3... and "processed n" is "ack tag n with multiple".
 */
function startSlowConsumer(ch: BenchChannel, queue: string, spec: FlowSpec): Promise<void> {
  let delivered = 0;
  let processed = 0;
  let credit = 0;
  let last = performance.now();
  const size = spec.messageSize;
  const timer = setInterval(() => {
    const now = performance.now();
    credit += ((now - last) * 1000) / spec.consumerDelayMicros;
    last = now;
    const n = Math.min(Math.floor(credit), delivered - processed);
    if (n > 0) {
      credit -= n;
      processed += n;
      ch.ack(processed, true);
      add(Counter.Consumed, n);
      add(Counter.Bytes, n * size);
    }
    if (processed === delivered && credit > 1) credit = 1; // idle time is not banked
    if (phase() >= Phase.Stop) clearInterval(timer);
  }, 2);
  const onMessage = (body: Uint8Array): void => {
    delivered++;
    if (size >= 8 && body.length >= 8 && control[0] === Phase.Measure) {
      const latency = nowMicros() - readStamp(body);
      histogram.recordValue(latency > 0 ? latency : 1);
    }
  };
  return ch.consume(queue, false, onMessage);
}

// ---------------------------------------------------------------- tasks

async function openConnection(): Promise<BenchConnection> {
  const c = await connect(config.client, config.url);
  closers.push(() => c.close());
  return c;
}

/** Opens connections a bounded number at a time (hundreds at once would be a connection storm). */
async function inBatches<T>(count: number, width: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += width) {
    const batch: Promise<T>[] = [];
    for (let j = i; j < Math.min(count, i + width); j++) batch.push(make(j));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

async function setupFlow(task: Extract<WorkerConfig['task'], { kind: 'flow' }>): Promise<() => void> {
  const spec = task.spec;
  await inBatches(task.consumerIds.length, 50, async (k) => {
    const id = task.consumerIds[k] ?? 0;
    const conn = await openConnection();
    const ch = await conn.openChannel(false);
    if (!spec.autoAck && spec.prefetch > 0) await ch.prefetch(spec.prefetch);
    const queue = spec.consumerQueues[id % spec.consumerQueues.length] ?? '';
    await (spec.consumerDelayMicros > 0 && !spec.autoAck ? startSlowConsumer(ch, queue, spec) : startConsumer(ch, queue, spec));
  });
  const producers = await inBatches(task.producerIds.length, 50, async () => {
    const conn = await openConnection();
    const ch = await conn.openChannel(spec.confirmWindow > 0);
    return new Producer(ch, spec, spec.ratePerProducer > 0);
  });
  return () => {
    if (producers.length === 0) return;
    if (spec.ratePerProducer > 0) runRateLimited(producers, spec.ratePerProducer);
    else for (const p of producers) p.schedule();
  };
}

async function connectionChurn(concurrency: number): Promise<void> {
  const loop = async (): Promise<void> => {
    while (phase() < Phase.Stop) {
      try {
        const c = await connect(config.client, config.url);
        await c.openChannel(false);
        await c.close();
        add(Counter.Ops, 1);
      } catch (e) { noteError(e); await new Promise((r) => setTimeout(r, 50)); }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
}

async function queueChurn(concurrency: number, prefix: string): Promise<void> {
  const conn = await openConnection();
  let n = 0;
  const loop = async (): Promise<void> => {
    const ch = await conn.openChannel(false);
    while (phase() < Phase.Stop) {
      const name = `${prefix}-${config.slot}-${n++}`;
      try {
        await ch.declareQueue(name);
        await ch.deleteQueue(name);
        add(Counter.Ops, 1);
      } catch (e) { noteError(e); return; }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
}

async function tcpSource(port: number, chunkSize: number): Promise<() => void> {
  const chunk = Buffer.alloc(chunkSize, 0x62);
  const sock = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });
  closers.push(async () => { sock.destroy(); });
  const pump = (): void => {
    while (phase() < Phase.Stop) {
      add(Counter.Published, 1);
      if (!sock.write(chunk)) { sock.once('drain', pump); return; }
    }
  };
  return pump;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const task = config.task;
  let start: () => void = () => {};
  let background: Promise<void> | undefined;
  switch (task.kind) {
    case 'flow': start = await setupFlow(task); break;
    case 'connection-churn': start = () => { background = connectionChurn(task.concurrency); }; break;
    case 'queue-churn': start = () => { background = queueChurn(task.concurrency, task.prefix); }; break;
    case 'tcp-source': start = await tcpSource(task.port, task.chunkSize); break;
  }
  parentPort?.on('message', (cmd: WorkerCommand) => {
    if (cmd.type === 'start') start();
    else void finish(background);
  });
  post({ type: 'ready' });
}

async function finish(background: Promise<void> | undefined): Promise<void> {
  if (background !== undefined) await background.catch(noteError);
  // A close can wait behind a flood of deliveries; never let one hang the run.
  const timeout = new Promise<void>((r) => setTimeout(() => { noteError(new Error('connection close timed out')); r(); }, 5000).unref());
  await Promise.race([Promise.all(closers.map((c) => c().catch(noteError))), timeout]);
  const encoded = histogram.totalCount > 0 ? hdr.encodeIntoCompressedBase64(histogram) : undefined;
  post({ type: 'done', histogram: encoded, errors });
}

main().catch((e: unknown) => post({ type: 'error', message: e instanceof Error ? e.stack ?? e.message : String(e) }));
