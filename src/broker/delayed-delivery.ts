/**
 * Delayed delivery for exchanges of type x-delayed-message (the semantics of RabbitMQ's
 * rabbitmq-delayed-message-exchange plugin: the x-delay header holds milliseconds; routing follows
 * x-delayed-type once the delay has passed). Unlike the plugin there is no practical cap, and the
 * pending messages page to the store like a queue's (issue 16).
 *
 * Lanes: with a store, pending messages are kept in one store index per exchange and distinct
 * delay ("lane", key `<storeKey>\u0000d<delay>`). Within a lane, due = publish time + delay grows
 * with insertion order, so a lane is a FIFO whose head is the next one due: memory holds one head
 * per lane (a binary heap of lanes by due), never one object per message, whatever the backlog.
 * Each entry keeps its due time in the index (QueueIndex expiresAt), so recovery reads no record.
 * Persistent messages on durable exchanges survive restarts; the others are written to a lane only
 * when the memory meter is past the paging threshold (tagged transient: dropped at recovery) and
 * otherwise wait in memory (counted by the meter).
 *
 * The memory heap (by due, then arrival) holds what has no lane: messages without a store, transient
 * ones under the budget, delays beyond MAX_LANES distinct values per exchange (bodies still in the
 * store when durable), and entries of the single index older Warren versions wrote (read once at
 * recovery). One LongTimer follows the earliest due (Node timers cannot wait longer than 2^31-1 ms).
 * Due messages are released in batches of RELEASE_BATCH per turn, so a burst due at once never
 * monopolises the event loop.
 *
 * The target a message waits for is an exchange (x-delayed-message) or a queue (Warren's delayed
 * retries, x-retry-delays): anything with a vhost, a name, durability and a deleted flag. Each
 * DelayedDelivery has its own store key prefix ("delayed", "retry"), so recovery tells them apart.
 */
import { LongTimer } from '../core/long-timer.js';
import type { QueueCursor, QueueIndex } from '../store/store.js';
import type { MemoryMeter } from './memory-meter.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence.js';

/** Entry tags (as backing queues use them): written with expiry metadata / not surviving a restart. */
const TAG_V2 = 0x80000000;
const TAG_TRANSIENT = 0x40000000;
/** Distinct delays per exchange kept as lanes; more go to the memory heap. */
export const MAX_LANES = 1024;
/** Messages released per turn at most. */
const RELEASE_BATCH = 2048;

/** What a message waits to be released to (an Exchange or a Queue). */
export interface DelayTarget {
  readonly vhost: string;
  readonly name: string;
  readonly durable: boolean;
  readonly deleted: boolean;
}

interface Pending<T extends DelayTarget> {
  due: number;
  order: number;
  exchange: T;
  /** In memory, or undefined when it waits in the store. */
  msg: Message | undefined;
  ref: number;
  size: number;
  index: QueueIndex | undefined;
  storeSeq: number;
}

interface Lane<T extends DelayTarget> {
  readonly key: string;
  readonly exchange: T;
  readonly index: QueueIndex;
  readonly cursor: QueueCursor;
  /** Entries still pending. */
  count: number;
  /** Due of the last entry appended (dues never go back within a lane). */
  lastDue: number;
  /** Due of the head (valid while count > 0). */
  due: number;
  pos: number;
}

export type Release<T> = (x: T, msg: Message) => void;

export class DelayedDelivery<T extends DelayTarget> {
  private readonly heap: Pending<T>[] = [];
  private readonly lanes = new Map<string, Lane<T>>();
  private readonly laneHeap: Lane<T>[] = [];
  private readonly lanesPerExchange = new Map<T, number>();
  /** Messages pending per target (management shows a queue's waiting retries). */
  private readonly perTarget = new Map<T, number>();
  private laneMessages = 0;
  private order = 0;
  private readonly timer = new LongTimer(() => this.fire());
  private releasing = false;

  constructor(
    private readonly persistence: Persistence | undefined,
    private readonly release: Release<T>,
    private readonly meter?: MemoryMeter,
    /** Store key prefix of this kind of target. */
    private readonly kind = 'delayed',
  ) {}

  /** Messages pending (in memory and in lanes). */
  get size(): number {
    return this.heap.length + this.laneMessages;
  }

  /** The store key of `x`'s single index; its lanes' keys extend it with `\u0000d<delay>`. */
  storeKey(x: T): string {
    return `\u0001${this.kind}\u0000${x.vhost}\u0000${x.name}`;
  }

  /** The prefix of every store key this instance writes (recovery groups stored keys by it). */
  get keyPrefix(): string {
    return `\u0001${this.kind}\u0000`;
  }

  private laneKey(x: T, delay: number): string {
    return `${this.storeKey(x)}\u0000d${delay}`;
  }

  schedule(x: T, msg: Message, due: number): void {
    const p = this.persistence;
    const kept = x.durable && msg.persistent;
    const paging = p !== undefined && (kept || this.meter === undefined || this.meter.used > p.options.pagingThreshold);
    if (p !== undefined && paging) {
      const delay = Math.max(0, due - msg.publishedAt);
      const lane = this.lane(x, delay, p);
      if (lane !== undefined) {
        const at = Math.max(due, lane.lastDue);
        lane.lastDue = at;
        lane.index.enqueue(p.record(msg), msg.storeSize, at, kept ? TAG_V2 : TAG_V2 | TAG_TRANSIENT, msg.body.length);
        if (!kept) p.pagedTransient(lane.key);
        this.laneMessages++;
        this.counted(x, 1);
        if (lane.count++ === 0) this.advance(lane);
        this.arm();
        return;
      }
    }
    let pending: Pending<T>;
    if (p !== undefined && kept) {
      // No lane left for this delay: the record and its index entry keep it durable.
      const index = p.store.queue(this.storeKey(x));
      const ref = p.record(msg);
      const storeSeq = index.enqueue(ref, msg.storeSize, due, TAG_V2, msg.body.length);
      pending = { due, order: this.order++, exchange: x, msg: undefined, ref, size: msg.storeSize, index, storeSeq };
    } else {
      this.meter?.add(msg.memorySize);
      pending = { due, order: this.order++, exchange: x, msg, ref: -1, size: 0, index: undefined, storeSeq: -1 };
    }
    this.push(pending);
    this.counted(x, 1);
    this.arm();
  }

  /** Messages pending for `x`. */
  pendingFor(x: T): number {
    return this.perTarget.get(x) ?? 0;
  }

  private counted(x: T, n: number): void {
    const m = (this.perTarget.get(x) ?? 0) + n;
    if (m > 0) this.perTarget.set(x, m);
    else this.perTarget.delete(x);
  }

  /** The lane of (x, delay), created on first use; undefined when x has MAX_LANES already. */
  private lane(x: T, delay: number, p: Persistence): Lane<T> | undefined {
    const key = this.laneKey(x, delay);
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      const n = this.lanesPerExchange.get(x) ?? 0;
      if (n >= MAX_LANES) return undefined;
      lane = this.openLane(key, x, p.store.queue(key));
    }
    return lane;
  }

  private openLane(key: string, x: T, index: QueueIndex): Lane<T> {
    const lane: Lane<T> = { key, exchange: x, index, cursor: index.cursor(), count: 0, lastDue: -Infinity, due: Infinity, pos: -1 };
    this.lanes.set(key, lane);
    this.lanesPerExchange.set(x, (this.lanesPerExchange.get(x) ?? 0) + 1);
    return lane;
  }

  /** Move a lane's head to its next pending entry and re-place the lane in the lane heap. */
  private advance(lane: Lane<T>): void {
    if (lane.count > 0 && lane.cursor.next()) {
      lane.due = lane.cursor.expiresAt;
      if (lane.pos < 0) this.lanePush(lane);
      else this.laneFix(lane.pos);
    } else {
      lane.count = 0;
      lane.due = Infinity;
      if (lane.pos >= 0) this.laneRemove(lane.pos);
    }
  }

  /**
   * After a restart: reschedule what a durable delayed exchange still holds in the store. `keys`
   * are the exchange's stored index keys (its lanes, and the single index of older versions).
   */
  recover(x: T, keys: readonly string[], open: (key: string) => QueueIndex, dropTransient: (key: string) => boolean): void {
    const p = this.persistence;
    if (p === undefined) return;
    const legacy = this.storeKey(x);
    for (const key of keys) {
      const index = open(key);
      if (dropTransient(key)) {
        const c = index.cursor();
        while (c.next()) if ((c.tag & TAG_TRANSIENT) !== 0) index.settle(c.seq);
      }
      if (key === legacy) {
        const c = index.cursor();
        while (c.next()) {
          // Entries of the single index: older versions stored no due time (read the record).
          let due = c.expiresAt;
          if ((c.tag & TAG_V2) === 0) {
            try {
              const rec = p.load(c.ref, c.size);
              due = rec.msg.publishedAt + delayOf(rec.msg);
            } catch (err: unknown) {
              p.unreadable(key, c.seq, err);
              index.settle(c.seq);
              continue;
            }
          }
          this.push({ due, order: this.order++, exchange: x, msg: undefined, ref: c.ref, size: c.size, index, storeSeq: c.seq });
          this.counted(x, 1);
        }
        continue;
      }
      const lane = this.openLane(key, x, index);
      lane.count = index.count;
      this.laneMessages += lane.count;
      this.counted(x, lane.count);
      this.advance(lane);
    }
    this.arm();
  }

  /** Whether anything may be pending for `x` (cheap: deleting a target without any skips dropExchange). */
  holds(x: T): boolean {
    return this.lanesPerExchange.has(x) || this.perTarget.has(x);
  }

  /** Drop everything pending for a deleted exchange (or queue). */
  dropExchange(x: T): void {
    const keep = this.heap.filter((e) => e.exchange !== x);
    for (const e of this.heap) if (e.exchange === x && e.msg !== undefined && e.index === undefined) this.meter?.sub(e.msg.memorySize);
    this.heap.length = 0;
    for (const e of keep) this.push(e);
    const p = this.persistence;
    for (const lane of [...this.lanes.values()]) {
      if (lane.exchange !== x) continue;
      if (lane.pos >= 0) this.laneRemove(lane.pos);
      this.laneMessages -= lane.count;
      this.lanes.delete(lane.key);
      p?.store.deleteQueue(lane.key);
    }
    this.lanesPerExchange.delete(x);
    this.perTarget.delete(x);
    p?.store.deleteQueue(this.storeKey(x));
  }

  stop(): void {
    this.timer.cancel();
  }

  private arm(): void {
    if (this.releasing) return;
    const first = Math.min(this.heap[0]?.due ?? Infinity, this.laneHeap[0]?.due ?? Infinity);
    if (first === Infinity) return;
    if (this.timer.at <= first) return;
    this.timer.fireAt(first);
  }

  private fire(): void {
    const now = Date.now();
    const p = this.persistence;
    this.releasing = true;
    let n = 0;
    try {
      for (; n < RELEASE_BATCH; n++) {
        const mem = this.heap[0];
        const lane = this.laneHeap[0];
        const memDue = mem?.due ?? Infinity;
        const laneDue = lane?.due ?? Infinity;
        if (Math.min(memDue, laneDue) > now) break;
        if (mem !== undefined && memDue <= laneDue) {
          this.pop();
          this.counted(mem.exchange, -1);
          if (mem.msg !== undefined && mem.index === undefined) this.meter?.sub(mem.msg.memorySize);
          if (mem.exchange.deleted) continue;
          let msg = mem.msg;
          if (msg === undefined && p !== undefined) msg = this.load(p, mem.ref, mem.size, mem.index, mem.storeSeq);
          if (msg !== undefined) this.release(mem.exchange, msg);
          if (mem.index !== undefined) mem.index.settle(mem.storeSeq);
        } else if (lane !== undefined && p !== undefined) {
          const c = lane.cursor;
          const msg = this.load(p, c.ref, c.size, lane.index, c.seq);
          const seq = c.seq;
          lane.count--;
          this.laneMessages--;
          this.counted(lane.exchange, -1);
          if (msg !== undefined && !lane.exchange.deleted) this.release(lane.exchange, msg);
          lane.index.settle(seq);
          this.advance(lane);
        }
      }
    } finally {
      this.releasing = false;
    }
    if (n >= RELEASE_BATCH) {
      // More are due: continue on the next turn, after other work.
      this.timer.fireAt(now);
      return;
    }
    this.arm();
  }

  /** A stored message, or undefined (logged) when unreadable or a transient one of an earlier run. */
  private load(p: Persistence, ref: number, size: number, index: QueueIndex | undefined, seq: number): Message | undefined {
    try {
      const rec = p.load(ref, size);
      if (!rec.persistent && rec.bootId !== p.bootId) return undefined;
      return rec.msg;
    } catch (err: unknown) {
      p.unreadable(index?.name ?? 'delayed', seq, err);
      return undefined;
    }
  }

  // Binary heap of pending messages by (due, order).
  private less(a: Pending<T>, b: Pending<T>): boolean {
    return a.due < b.due || (a.due === b.due && a.order < b.order);
  }

  private push(e: Pending<T>): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Pending<T> | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  // Binary heap of lanes by head due; each lane knows its position.
  private laneSwap(i: number, j: number): void {
    const h = this.laneHeap;
    const a = h[i]!;
    const b = h[j]!;
    h[i] = b;
    h[j] = a;
    b.pos = i;
    a.pos = j;
  }

  private lanePush(lane: Lane<T>): void {
    lane.pos = this.laneHeap.length;
    this.laneHeap.push(lane);
    this.laneUp(lane.pos);
  }

  private laneUp(i: number): void {
    const h = this.laneHeap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.due <= h[i]!.due) break;
      this.laneSwap(i, parent);
      i = parent;
    }
  }

  private laneDown(i: number): void {
    const h = this.laneHeap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.due < h[m]!.due) m = l;
      if (r < h.length && h[r]!.due < h[m]!.due) m = r;
      if (m === i) return;
      this.laneSwap(i, m);
      i = m;
    }
  }

  private laneFix(i: number): void {
    this.laneUp(i);
    this.laneDown(i);
  }

  private laneRemove(i: number): void {
    const h = this.laneHeap;
    const lane = h[i]!;
    const last = h.length - 1;
    if (i !== last) this.laneSwap(i, last);
    h.pop();
    lane.pos = -1;
    if (i < h.length) this.laneFix(i);
  }
}

/** The x-delay header in milliseconds (0 when absent, negative or not an integer). */
export function delayOf(msg: Message): number {
  if (msg.headersStart < 0) return 0;
  const v = msg.headers()?.find((e) => e.key === 'x-delay')?.value;
  if (v === undefined) return 0;
  switch (v.type) {
    case 'b': case 'B': case 's': case 'u': case 'I': case 'i': case 'l': case 'T': case 'f': case 'd': {
      const n = Number(v.value);
      return n > 0 ? Math.floor(n) : 0;
    }
    case 'S': {
      const n = Number(v.value.toString('utf8'));
      return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
    }
    default:
      return 0;
  }
}
