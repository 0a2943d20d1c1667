/**
 * Delayed messages past the memory budget (issue 16): pending messages of an x-delayed-message
 * exchange wait in one store index per delay ("lanes") with their due time in the index, so memory
 * holds no message and no object per message; they are released in due order across lanes, in
 * batches; a restart (even a crash) reschedules them from the index without reading records,
 * drops transient ones, and reads the single index older versions wrote.
 */
import { UNRESTRICTED } from '../../../src/broker/access-control.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Broker, DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker.js';
import { MAX_LANES } from '../../../src/broker/delayed-delivery.js';
import { Message } from '../../../src/broker/message.js';
import { Persistence } from '../../../src/broker/persistence.js';
import { PublishResult } from '../../../src/broker/publish.js';
import type { Vhost } from '../../../src/broker/vhost.js';
import { tableFrom } from '../../../src/core/field-value.js';
import { newPropertyPeek, peekBasicProperties } from '../../../src/protocol/content-header.js';
import { encodeBasicProperties } from '../../../src/protocol/generated/properties.js';
import { CONTENT_CODEC } from '../../../src/server/content-codec.js';
import { MemoryBackend, MemoryStore } from '../../../src/store/index.js';

const logger = pino({ level: 'silent' });
const T0 = 1_800_000_000_000;

function message(id: number, delay: number, persistent = true): Message {
  const raw = encodeBasicProperties({ deliveryMode: persistent ? 2 : 1, headers: tableFrom({ 'x-delay': delay }) });
  const peek = newPropertyPeek();
  peekBasicProperties(raw, 0, raw.length, peek);
  return new Message('dx', 'k', raw, Buffer.from(`m${id};`.padEnd(100, '.')), peek.deliveryMode, peek.priority, peek.expiration,
    peek.headersStart, peek.headersEnd, CONTENT_CODEC, Date.now());
}

class System {
  readonly backend = new MemoryBackend();
  readonly marker = path.join(mkdtempSync(path.join(tmpdir(), 'warren-delayed-')), 'transient-paged.json');
  b!: Broker;
  p!: Persistence;
  v!: Vhost;
  loads = 0;

  async start(budget = 1024): Promise<void> {
    this.p = new Persistence(new MemoryStore({ backend: this.backend }), { pagingThreshold: budget }, CONTENT_CODEC, logger);
    this.p.markerFile = this.marker; // which indexes got transient messages (a file, as with the file store)
    const load = this.p.load.bind(this.p);
    this.p.load = (ref, size) => { this.loads++; return load(ref, size); };
    this.b = new Broker({ ...DEFAULT_BROKER_CONFIG, memoryHighWatermark: 1e12, pagingThreshold: budget }, this.p);
    await this.b.recover(logger);
    this.v = this.b.vhosts.get('/')!;
    if (!this.v.exchanges.has('dx')) {
      this.v.declareExchange({ name: 'dx', type: 'x-delayed-message', passive: false, durable: true, autoDelete: false, internal: false,
        args: tableFrom({ 'x-delayed-type': 'direct' }) }, UNRESTRICTED);
      this.v.declareQueue({ name: 'q', passive: false, durable: true, exclusive: false, autoDelete: false, args: [], connectionId: -1 }, UNRESTRICTED);
      this.v.bindQueue('q', 'dx', 'k', [], -1, UNRESTRICTED);
    }
  }

  publish(id: number, delay: number, persistent = true): void {
    this.v.publish(this.v.exchanges.get('dx')!, message(id, delay, persistent), new PublishResult());
  }

  drain(): number[] {
    const q = this.v.queues.get('q')!;
    const out: number[] = [];
    for (let e = q.get(true); e !== undefined; e = q.get(true)) out.push(Number(/^m(\d+);/.exec(e.msg.body.toString())![1]));
    return out;
  }

  synced(): Promise<void> {
    return new Promise((resolve) => this.p.store.afterSync(() => resolve()));
  }

  async crash(): Promise<void> {
    await this.synced();
    clearTimers();
    this.b.close();
    await this.start();
  }
}

/** Drop every fake timer (the old broker's) without resetting the fake clock (clearAllTimers would). */
function clearTimers(): void {
  const now = Date.now();
  vi.clearAllTimers();
  vi.setSystemTime(now);
}

/** Let released batches run: each continues on a later timer (fake timers put it 1 ms later). */
async function flush(): Promise<void> {
  for (let i = 0; i < 50; i++) await vi.advanceTimersByTimeAsync(1);
}

describe('delayed messages past the memory budget', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    vi.setSystemTime(T0);
  });
  afterEach(() => { vi.useRealTimers(); });

  it('keeps pending messages in one lane per delay, nothing in memory, and releases them in due order', async () => {
    const s = new System();
    await s.start();
    const delays = [3000, 1000, 2000];
    for (let i = 0; i < 3000; i++) {
      s.publish(i, delays[i % 3]!);
      if (i % 100 === 99) vi.advanceTimersByTime(1); // publishes spread over time: dues interleave
    }
    expect(s.v.delayed.size).toBe(3000);
    expect(s.b.meter.used).toBe(0);
    expect((s.v.delayed as unknown as { heap: unknown[] }).heap).toHaveLength(0);
    const keys = s.p.store.queueNames().filter((k) => k.startsWith(s.v.delayed.storeKey(s.v.exchanges.get('dx')!)));
    expect(keys).toHaveLength(3);
    vi.advanceTimersByTime(4000);
    await flush();
    const got = s.drain();
    expect(got).toHaveLength(3000);
    // Due order: due = publish time + delay.
    const due = (id: number) => Math.floor(id / 100) + delays[id % 3]!;
    for (let i = 1; i < got.length; i++) expect(due(got[i]!)).toBeGreaterThanOrEqual(due(got[i - 1]!));
    expect(s.v.delayed.size).toBe(0);
  });

  it('releases a burst that falls due at once over several turns', async () => {
    const s = new System();
    await s.start();
    for (let i = 0; i < 5000; i++) s.publish(i, 500);
    vi.advanceTimersByTime(501);
    const q = s.v.queues.get('q')!;
    expect(q.messageCount).toBeGreaterThan(0);
    expect(q.messageCount).toBeLessThan(5000);
    await flush();
    expect(q.messageCount).toBe(5000);
    expect(s.drain()).toEqual([...Array(5000).keys()]);
  });

  it('a crash keeps persistent pending messages with their due times, without reading them; transient ones are gone', async () => {
    const s = new System();
    await s.start();
    for (let i = 0; i < 200; i++) s.publish(i, 1000 + (i % 2) * 500, i % 4 !== 0);
    vi.advanceTimersByTime(400);
    s.loads = 0;
    await s.crash();
    expect(s.loads).toBe(0);
    expect(s.v.delayed.size).toBe(150);
    vi.advanceTimersByTime(599);
    expect(s.drain()).toEqual([]); // nothing due before its original time
    vi.advanceTimersByTime(1);
    await flush();
    const first = s.drain();
    expect(first).toEqual([...Array(200).keys()].filter((i) => i % 4 !== 0 && i % 2 === 0));
    vi.advanceTimersByTime(500);
    await flush();
    expect(s.drain()).toEqual([...Array(200).keys()].filter((i) => i % 4 !== 0 && i % 2 === 1));
  });

  it('transient messages wait in memory under the budget and in a lane above it', async () => {
    const s = new System();
    await s.start(2000);
    for (let i = 0; i < 100; i++) s.publish(i, 100, false);
    const heap = (s.v.delayed as unknown as { heap: unknown[] }).heap.length;
    expect(heap).toBeGreaterThan(0);
    expect(heap).toBeLessThan(100);
    expect(s.b.meter.used).toBeLessThanOrEqual(2000 + message(0, 100, false).memorySize);
    vi.advanceTimersByTime(101);
    await flush();
    expect(s.drain()).toEqual([...Array(100).keys()]);
    expect(s.b.meter.used).toBe(0);
  });

  it('more distinct delays than lanes: the rest wait in the memory heap, bodies in the store, across a crash', async () => {
    const s = new System();
    await s.start();
    const n = MAX_LANES + 50;
    for (let i = 0; i < n; i++) s.publish(i, 10_000 + n - i); // all distinct, later publishes due earlier
    expect((s.v.delayed as unknown as { heap: unknown[] }).heap).toHaveLength(50);
    expect(s.b.meter.used).toBe(0);
    await s.crash();
    expect(s.v.delayed.size).toBe(n);
    vi.advanceTimersByTime(10_000 + n + 1);
    await flush();
    expect(s.drain()).toEqual([...Array(n).keys()].reverse());
  });

  it('reads the single index older versions wrote (due from the record)', async () => {
    const s = new System();
    await s.start();
    const x = s.v.exchanges.get('dx')!;
    const index = s.p.store.queue(s.v.delayed.storeKey(x));
    for (const [id, delay] of [[1, 800], [2, 300]] as const) {
      const msg = message(id, delay);
      index.enqueue(s.p.record(msg), msg.storeSize); // no due time: as written before lanes
    }
    await s.crash();
    expect(s.v.delayed.size).toBe(2);
    vi.advanceTimersByTime(801);
    await flush();
    expect(s.drain()).toEqual([2, 1]);
  });
});
