/**
 * Every queue kind against a model, with a tiny memory budget (issue 16): random publish / get /
 * ack / reject / requeue / time passing / restart (clean or kill-like) sequences drive a durable
 * queue of each kind (plain, TTL per queue and per message, max-length and max-length-bytes with
 * each overflow mode, priorities, quorum delivery limit) through a real broker on a memory store,
 * and a plain model of RabbitMQ's rules says what each step must answer: which message a basic.get
 * returns (redelivered flag, x-delivery-count), whether a publish is refused, the queue's message
 * count, and at the end the dead-lettered messages with their reasons, in order. Memory held by
 * queues must stay near the paging budget whatever the backlog.
 *
 * Rules the model encodes (RabbitMQ's, as Warren keeps them):
 * - TTL = min(x-message-ttl, expiration); 0 with no consumer dead-letters at once; a message expires
 *   only at the head of the queue (the highest priority level's first message), as soon as its
 *   time has passed (expiresAt < now) and it is the head; expiry survives restarts.
 * - reject-publish[-dlx] refuses when ready messages >= x-max-length or their body bytes would pass
 *   x-max-length-bytes; drop-head discards the head until both limits hold.
 * - classic requeue returns a message to its original position; quorum returns go to the back and
 *   count towards x-delivery-limit (dead-lettered once deliveries > limit); x-delivery-count shows
 *   the returns so far on basic.get.
 * - a restart returns unacked messages (redelivered): classic queues at their place, quorum queues
 *   to the back as any return (delivery counts kept); transient messages are gone.
 */
import { UNRESTRICTED } from '../../../src/broker/access-control.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Broker, DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker.js';
import { Message } from '../../../src/broker/message.js';
import { Persistence } from '../../../src/broker/persistence.js';
import { PublishResult } from '../../../src/broker/publish.js';
import type { Queue } from '../../../src/broker/queue.js';
import type { QueueEntry } from '../../../src/broker/queue-entry.js';
import type { Vhost } from '../../../src/broker/vhost.js';
import { fieldNumber, fieldString, tableFrom, tableGet } from '../../../src/core/field-value.js';
import { newPropertyPeek, peekBasicProperties } from '../../../src/protocol/content-header.js';
import { encodeBasicProperties } from '../../../src/protocol/generated/properties.js';
import { CONTENT_CODEC } from '../../../src/server/content-codec.js';
import { MemoryBackend, MemoryStore } from '../../../src/store/index.js';

const logger = pino({ level: 'silent' });
/** Bytes of messages held in memory above which queues page: a handful of messages. */
const BUDGET = 2048;
const T0 = 1_800_000_000_000;
/** Memory a message of the largest size used here costs (body + properties + bookkeeping), rounded up. */
const SLACK_PER_MESSAGE = 1024;

interface Kind {
  readonly name: string;
  readonly args: Record<string, unknown>;
  readonly maxPriority?: number;
  readonly quorum?: boolean;
  /** The implementation keeps this kind's memory within the budget (false until it pages). */
  readonly bounded: boolean;
}

const DLX = { 'x-dead-letter-exchange': 'dlx' };
export const KINDS: readonly Kind[] = [
  { name: 'plain', args: {}, bounded: true },
  { name: 'ttl', args: { 'x-message-ttl': 500, ...DLX }, bounded: true },
  { name: 'per-message ttl', args: { ...DLX }, bounded: true },
  { name: 'max-length drop-head', args: { 'x-max-length': 12, ...DLX }, bounded: true },
  { name: 'max-length reject-publish', args: { 'x-max-length': 12, 'x-overflow': 'reject-publish' }, bounded: true },
  { name: 'max-length-bytes reject-publish-dlx', args: { 'x-max-length-bytes': 3000, 'x-overflow': 'reject-publish-dlx', ...DLX }, bounded: true },
  { name: 'ttl + max-length + dlx', args: { 'x-message-ttl': 800, 'x-max-length': 15, ...DLX }, bounded: true },
  { name: 'priority', args: { 'x-max-priority': 4 }, maxPriority: 4, bounded: true },
  { name: 'priority + ttl', args: { 'x-max-priority': 3, 'x-message-ttl': 600, ...DLX }, maxPriority: 3, bounded: true },
  { name: 'quorum delivery-limit', args: { 'x-queue-type': 'quorum', 'x-delivery-limit': 2, ...DLX }, quorum: true, bounded: true },
];

type Op =
  | { t: 'pub'; priority: number; expiration: number | undefined; persistent: boolean; size: number }
  | { t: 'get'; noAck: boolean }
  | { t: 'ack'; pick: number }
  | { t: 'reject'; pick: number; requeue: boolean }
  | { t: 'wait'; ms: number }
  | { t: 'restart'; clean: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({
    t: fc.constant('pub' as const), priority: fc.integer({ min: 0, max: 6 }),
    expiration: fc.option(fc.constantFrom(0, 50, 300, 2000), { freq: 3 }).map((x) => x ?? undefined),
    persistent: fc.boolean(), size: fc.constantFrom(10, 100, 400),
  }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('get' as const), noAck: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('ack' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('reject' as const), pick: fc.nat(), requeue: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('wait' as const), ms: fc.constantFrom(1, 40, 200, 700) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), clean: fc.boolean() }) },
);

// ------------------------------------------------------------------------------------------------
// The model

interface MMsg {
  id: number;
  level: number;
  size: number;
  persistent: boolean;
  expiresAt: number;
  /** Times delivered. */
  deliveries: number;
  /** Queue position: original for classic requeues, renewed by quorum returns. */
  pos: number;
}

class Model {
  now = T0;
  private pos = 0;
  /** Ready messages per level, each sorted by pos. */
  readonly levels: MMsg[][];
  readonly unacked: MMsg[] = [];
  readonly dead: Array<{ id: number; reason: string; persistent: boolean }> = [];
  private readonly ttl: number | undefined;
  private readonly maxLength: number | undefined;
  private readonly maxBytes: number | undefined;
  private readonly overflow: string;
  private readonly dlx: boolean;
  private readonly limit: number | undefined;

  constructor(readonly kind: Kind) {
    const a = kind.args;
    this.levels = Array.from({ length: (kind.maxPriority ?? 0) + 1 }, () => []);
    this.ttl = a['x-message-ttl'] as number | undefined;
    this.maxLength = a['x-max-length'] as number | undefined;
    this.maxBytes = a['x-max-length-bytes'] as number | undefined;
    this.overflow = (a['x-overflow'] as string | undefined) ?? 'drop-head';
    this.dlx = a['x-dead-letter-exchange'] !== undefined;
    this.limit = a['x-delivery-limit'] as number | undefined;
  }

  get count(): number {
    return this.levels.reduce((n, l) => n + l.length, 0);
  }

  private get bytes(): number {
    return this.levels.reduce((n, l) => n + l.reduce((b, m) => b + m.size, 0), 0);
  }

  private head(): MMsg | undefined {
    for (let i = this.levels.length - 1; i >= 0; i--) if (this.levels[i]!.length > 0) return this.levels[i]![0];
    return undefined;
  }

  private shiftHead(): MMsg {
    for (let i = this.levels.length - 1; i >= 0; i--) if (this.levels[i]!.length > 0) return this.levels[i]!.shift()!;
    throw new Error('empty');
  }

  private deadLetter(m: MMsg, reason: string): void {
    if (this.dlx) this.dead.push({ id: m.id, reason, persistent: m.persistent });
  }

  private insert(m: MMsg): void {
    const l = this.levels[m.level]!;
    let i = l.length;
    while (i > 0 && l[i - 1]!.pos > m.pos) i--;
    l.splice(i, 0, m);
  }

  private expireHead(): void {
    for (let h = this.head(); h !== undefined && h.expiresAt < this.now; h = this.head()) this.deadLetter(this.shiftHead(), 'expired');
  }

  private dropOverflow(): void {
    if (this.overflow !== 'drop-head') return;
    while (this.count > 0 && ((this.maxLength !== undefined && this.count > this.maxLength)
      || (this.maxBytes !== undefined && this.bytes > this.maxBytes))) this.deadLetter(this.shiftHead(), 'maxlen');
  }

  /** Returns false when refused. */
  publish(id: number, o: Extract<Op, { t: 'pub' }>): boolean {
    this.expireHead();
    const m: MMsg = {
      id, level: Math.min(o.priority, this.kind.maxPriority ?? 0), size: o.size, persistent: o.persistent,
      expiresAt: Infinity, deliveries: 0, pos: this.pos++,
    };
    if (this.overflow !== 'drop-head' && ((this.maxLength !== undefined && this.count >= this.maxLength)
      || (this.maxBytes !== undefined && this.bytes + o.size > this.maxBytes))) {
      if (this.overflow === 'reject-publish-dlx') this.deadLetter(m, 'maxlen');
      return false;
    }
    const ttl = Math.min(this.ttl ?? Infinity, o.expiration ?? Infinity);
    if (ttl === 0) {
      this.deadLetter(m, 'expired');
      return true;
    }
    m.expiresAt = this.now + ttl;
    this.levels[m.level]!.push(m);
    this.dropOverflow();
    this.expireHead();
    return true;
  }

  get(noAck: boolean): MMsg | undefined {
    this.expireHead();
    if (this.head() === undefined) return undefined;
    const m = this.shiftHead();
    m.deliveries++;
    if (!noAck) this.unacked.push(m);
    this.expireHead();
    return m;
  }

  ack(m: MMsg): void {
    this.unacked.splice(this.unacked.indexOf(m), 1);
  }

  reject(m: MMsg, requeue: boolean): void {
    this.unacked.splice(this.unacked.indexOf(m), 1);
    if (!requeue) {
      this.deadLetter(m, 'rejected');
    } else if (this.limit !== undefined && m.deliveries > this.limit) {
      this.deadLetter(m, 'delivery_limit');
    } else {
      if (this.kind.quorum === true) m.pos = this.pos++;
      this.insert(m);
      this.dropOverflow();
    }
    this.expireHead();
  }

  wait(ms: number): void {
    this.now += ms;
    this.expireHead();
  }

  restart(): void {
    // Unacked messages come back: classic queues at their place; quorum queues count it as a
    // return (consumers went away) and put them at the back, in queue order.
    const back = this.unacked.splice(0).sort((a, b) => a.pos - b.pos);
    for (const m of back) {
      if (this.kind.quorum === true) m.pos = this.pos++;
      this.insert(m);
    }
    for (const l of this.levels) {
      for (let i = l.length - 1; i >= 0; i--) if (!l[i]!.persistent) l.splice(i, 1);
    }
    for (let i = this.dead.length - 1; i >= 0; i--) if (!this.dead[i]!.persistent) this.dead.splice(i, 1);
    this.expireHead();
  }
}

// ------------------------------------------------------------------------------------------------
// The implementation under test

function message(id: number, o: Extract<Op, { t: 'pub' }>): Message {
  const raw = encodeBasicProperties({
    deliveryMode: o.persistent ? 2 : 1, priority: o.priority,
    ...(o.expiration === undefined ? {} : { expiration: String(o.expiration) }),
  });
  const peek = newPropertyPeek();
  peekBasicProperties(raw, 0, raw.length, peek);
  const body = Buffer.alloc(o.size, 0x2e);
  body.write(`m${id};`);
  return new Message('', 'q', raw, body, peek.deliveryMode, peek.priority, peek.expiration, peek.headersStart, peek.headersEnd,
    CONTENT_CODEC, Date.now());
}

const idOf = (msg: Message): number => Number(/^m(\d+);/.exec(msg.body.toString('latin1'))![1]);

class System {
  private backend = new MemoryBackend();
  /** Which indexes got transient messages paged out (a file, as the CLI sets up for the file store). */
  private readonly marker = path.join(mkdtempSync(path.join(tmpdir(), 'warren-kinds-')), 'transient-paged.json');
  b!: Broker;
  p!: Persistence;
  v!: Vhost;
  q!: Queue;

  constructor(readonly kind: Kind) {}

  async start(): Promise<void> {
    this.p = new Persistence(new MemoryStore({ backend: this.backend }), { pagingThreshold: BUDGET }, CONTENT_CODEC, logger);
    this.p.markerFile = this.marker;
    this.b = new Broker({ ...DEFAULT_BROKER_CONFIG, memoryHighWatermark: 1e12, pagingThreshold: BUDGET }, this.p);
    await this.b.recover(logger);
    this.v = this.b.vhosts.get('/')!;
    if (!this.v.queues.has('q')) {
      this.v.declareExchange({ name: 'dlx', type: 'fanout', passive: false, durable: true, autoDelete: false, internal: false, args: [] }, UNRESTRICTED);
      this.v.declareQueue({ name: 'dlq', passive: false, durable: true, exclusive: false, autoDelete: false, args: [], connectionId: -1 }, UNRESTRICTED);
      this.v.bindQueue('dlq', 'dlx', '', [], -1, UNRESTRICTED);
      this.v.declareQueue({ name: 'q', passive: false, durable: true, exclusive: false, autoDelete: false, args: tableFrom(this.kind.args), connectionId: -1 }, UNRESTRICTED);
    }
    this.q = this.v.queues.get('q')!;
  }

  private synced(): Promise<void> {
    return new Promise((resolve, reject) => this.p.store.afterSync((e) => (e === null ? resolve() : reject(e))));
  }

  async restart(clean: boolean): Promise<void> {
    await this.synced();
    const now = Date.now();
    vi.clearAllTimers(); // the old broker's timers die with it (clearAllTimers also resets the clock)
    vi.setSystemTime(now);
    this.b.close();
    if (clean) await this.p.close();
    await this.start();
  }

  publish(id: number, o: Extract<Op, { t: 'pub' }>): boolean {
    const r = new PublishResult();
    this.v.publish(this.v.exchanges.get('')!, message(id, o), r);
    return !r.refused;
  }

  /** Dead-lettered messages, in order, from the dead-letter queue. */
  dead(): Array<{ id: number; reason: string }> {
    const out: Array<{ id: number; reason: string }> = [];
    const dlq = this.v.queues.get('dlq')!;
    for (let e = dlq.get(true); e !== undefined; e = dlq.get(true)) {
      out.push({ id: idOf(e.msg), reason: fieldString(tableGet(e.msg.headers(), 'x-last-death-reason')) ?? '?' });
    }
    return out;
  }
}

// ------------------------------------------------------------------------------------------------

async function run(kind: Kind, ops: readonly Op[]): Promise<void> {
  const model = new Model(kind);
  const sys = new System(kind);
  vi.setSystemTime(T0);
  await sys.start();
  const held: Array<{ m: MMsg; e: QueueEntry }> = [];
  let id = 0;
  let step = 0;
  const where = (): string => `${kind.name}, step ${step}: ${JSON.stringify(ops[step])}`;
  for (const o of ops) {
    switch (o.t) {
      case 'pub': {
        const accepted = model.publish(id, o);
        expect(sys.publish(id, o), where()).toBe(accepted);
        id++;
        break;
      }
      case 'get': {
        const want = model.get(o.noAck);
        const e = sys.q.get(o.noAck);
        expect(e === undefined ? undefined : idOf(e.msg), where()).toBe(want?.id);
        if (e !== undefined && want !== undefined) {
          expect(e.deliveries > 1, `${where()}: redelivered`).toBe(want.deliveries > 1);
          if (kind.quorum === true) {
            const shown = sys.q.messageFor(e, true);
            expect(fieldNumber(tableGet(shown.headers(), 'x-delivery-count')), `${where()}: x-delivery-count`).toBe(want.deliveries - 1);
          }
          if (!o.noAck) held.push({ m: want, e });
        }
        break;
      }
      case 'ack':
      case 'reject': {
        if (held.length === 0) break;
        const [h] = held.splice(o.pick % held.length, 1);
        if (o.t === 'ack') {
          model.ack(h!.m);
          sys.q.settle(h!.e);
        } else {
          model.reject(h!.m, o.requeue);
          if (o.requeue) sys.q.requeue(h!.e);
          else sys.q.reject(h!.e);
        }
        break;
      }
      case 'wait':
        model.wait(o.ms);
        vi.advanceTimersByTime(o.ms);
        break;
      case 'restart':
        model.restart();
        held.length = 0; // the channels died with the broker
        await sys.restart(o.clean);
        break;
    }
    expect(sys.q.messageCount, `${where()}: message count`).toBe(model.count);
    if (kind.bounded) {
      // Unacked messages stay in memory (prefetch bounds them in real use); the rest must stay near
      // the budget: a page-in reads at most 16 messages past it, per queue (q and the dead-letter queue).
      const unacked = held.reduce((n, h) => n + h.e.msg.memorySize, 0);
      expect(sys.b.meter.used - unacked, `${where()}: bytes held in memory`).toBeLessThanOrEqual(BUDGET + 2 * 17 * SLACK_PER_MESSAGE);
    }
    step++;
  }
  // Drain what is left (all acked), then compare the dead letters.
  for (const h of held.splice(0)) { model.ack(h.m); sys.q.settle(h.e); }
  for (let m = model.get(true); m !== undefined; m = model.get(true)) {
    expect(idOf(sys.q.get(true)!.msg), `${kind.name}: drain`).toBe(m.id);
  }
  expect(sys.q.get(true), `${kind.name}: drained`).toBeUndefined();
  expect(sys.dead(), `${kind.name}: dead letters`).toEqual(model.dead.map(({ id: i, reason }) => ({ id: i, reason })));
  vi.clearAllTimers();
  sys.b.close();
  await sys.p.close();
}

describe('every queue kind against the model, with a tiny memory budget', () => {
  beforeEach(() => { vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] }); });
  afterEach(() => { vi.useRealTimers(); });

  // A backlog hundreds of times the budget: memory stays at the budget, then everything drains as the model says.
  for (const kind of KINDS) {
    it(`${kind.name}: 3,000 messages, memory stays at the budget`, async () => {
      const ops: Op[] = [];
      for (let i = 0; i < 3000; i++) {
        ops.push({ t: 'pub', priority: i % 7, expiration: i % 5 === 0 ? 60_000 : undefined, persistent: i % 3 !== 0, size: 400 });
        if (i % 500 === 499) ops.push({ t: 'restart', clean: i % 1000 === 999 });
      }
      for (let i = 0; i < 40; i++) ops.push({ t: 'get', noAck: false }, { t: 'reject', pick: 0, requeue: i % 2 === 0 });
      ops.push({ t: 'wait', ms: 59_000 });
      await run(kind, ops);
    }, 120_000);
  }

  // Regression (seed -1301545998): a drop-head that uncovers a head whose TTL has passed must expire
  // it at once, as rabbit_amqqueue_process:deliver_or_enqueue does, even when the new message has no TTL.
  it('max-length drop-head: a head uncovered by drop-head expires at once', async () => {
    const pub = (expiration?: number): Op => ({ t: 'pub', priority: 0, expiration, persistent: false, size: 10 });
    const ops: Op[] = [pub(), pub(300)];
    for (let i = 0; i < 10; i++) ops.push(pub());
    ops.push({ t: 'wait', ms: 700 }, pub(), { t: 'get', noAck: true });
    await run(KINDS.find((k) => k.name === 'max-length drop-head')!, ops);
  });

  for (const kind of KINDS) {
    it(kind.name, async () => {
      await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 20, maxLength: 160 }), (ops) => run(kind, ops)),
        { numRuns: Number(process.env['WARREN_PROP_RUNS'] ?? 40) });
    }, 120_000);
  }
});
