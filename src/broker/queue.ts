/**
 * A queue: ready entries in FIFO order (by `seq`), its consumers served by priority then round
 * robin with prefetch credit, and counters for unacked deliveries. Socket-free: consumers are
 * reached through their DeliverySink.
 *
 * Storage: a persistent message in a durable queue is written to the store (once per message,
 * whatever the fanout) and the entry recorded in the queue's store index; acks, rejects, purges
 * and deletes settle it there. When held messages pass the paging threshold, new messages go to
 * the store only ("paged": counted in `pagedCount`, not in memory) and are read back in order as
 * consumers catch up; a recovered queue starts fully paged, so startup reads no bodies.
 *
 * Invariants: `ready` is sorted by seq and every ready entry precedes every paged one; an entry
 * is either ready, paged, held unacked by one channel, or settled; `meter` counts each in-memory
 * message once per queue holding it.
 */
import { AmqpError } from '../core/amqp-error.js';
import type { FieldTable } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import type { QueueIndex } from '../store/store.js';
import type { Consumer } from './consumer.js';
import { Deque } from './deque.js';
import type { MemoryMeter } from './memory-meter.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence.js';
import { QueueEntry } from './queue-entry.js';

export interface QueueOptions {
  durable: boolean;
  /** Owning connection id for exclusive queues, -1 otherwise. */
  exclusiveOwner: number;
  autoDelete: boolean;
  arguments: FieldTable;
}

/** How many paged entries one page-in reads at most. */
const PAGE_BATCH = 512;

export class Queue {
  readonly consumers: Consumer[] = [];
  /** Deliveries not yet acked (consumers and basic.get). */
  unackedCount = 0;
  deleted = false;
  /** Set once a consumer has subscribed: auto-delete applies only after that. */
  hadConsumer = false;
  /** Called when an auto-delete queue loses its last consumer. */
  onUnused: ((q: Queue) => void) | undefined;

  private readonly ready = new Deque<QueueEntry>();
  private nextSeq = 1;
  private rr = 0;
  private dispatching = false;

  // ---- storage ----
  private index: QueueIndex | undefined;
  /** Entries that live only in the store index, after every ready entry. */
  private pagedCount = 0;
  /** Store seq from which paged entries start. */
  private pageFromStoreSeq = 0;

  constructor(
    readonly name: string,
    readonly vhost: string,
    readonly options: QueueOptions,
    private readonly meter: MemoryMeter,
    private readonly persistence: Persistence | undefined,
  ) {}

  get durable(): boolean { return this.options.durable; }
  get exclusive(): boolean { return this.options.exclusiveOwner >= 0; }
  get autoDelete(): boolean { return this.options.autoDelete; }
  get messageCount(): number { return this.ready.length + this.pagedCount; }
  get consumerCount(): number { return this.consumers.length; }
  /** The store key of this queue's index. */
  get storeKey(): string { return `${this.vhost}\u0000${this.name}`; }

  private storeIndex(p: Persistence): QueueIndex {
    return (this.index ??= p.store.queue(this.storeKey));
  }

  enqueue(msg: Message): void {
    const p = this.persistence;
    if (p !== undefined) {
      const paging = this.pagedCount > 0 || this.meter.used > p.options.pagingThreshold;
      if (paging || (this.options.durable && msg.persistent)) {
        const index = this.storeIndex(p);
        const storeSeq = index.enqueue(p.record(msg), msg.storeSize);
        if (paging) {
          if (this.pagedCount === 0) this.pageFromStoreSeq = storeSeq;
          this.pagedCount++;
          if (this.consumers.length > 0) this.dispatch();
          return;
        }
        this.push(msg, storeSeq);
        return;
      }
    }
    this.push(msg, -1);
  }

  private push(msg: Message, storeSeq: number): void {
    this.meter.add(msg.memorySize);
    this.ready.push(new QueueEntry(this, msg, this.nextSeq++, 0, storeSeq));
    if (this.consumers.length > 0) this.dispatch();
  }

  /** The head ready entry, paging entries in from the store when memory holds none. */
  private head(): QueueEntry | undefined {
    if (this.ready.length === 0 && this.pagedCount > 0) this.pageIn();
    return this.ready.peek();
  }

  /** Read up to PAGE_BATCH paged entries back into memory, in order. */
  private pageIn(): void {
    const p = this.persistence;
    if (p === undefined || this.index === undefined) {
      this.pagedCount = 0;
      return;
    }
    const cursor = this.index.cursor(this.pageFromStoreSeq);
    let n = 0;
    while (n < PAGE_BATCH && this.pagedCount > 0 && cursor.next()) {
      const storeSeq = cursor.seq;
      this.pageFromStoreSeq = storeSeq + 1;
      this.pagedCount--;
      const rec = p.load(cursor.ref, cursor.size);
      if (!rec.persistent && rec.bootId !== p.bootId) {
        // A transient message paged out by an earlier run: it must not survive the restart.
        this.index.settle(storeSeq);
        continue;
      }
      this.meter.add(rec.msg.memorySize);
      this.ready.push(new QueueEntry(this, rec.msg, this.nextSeq++, cursor.delivered ? 1 : 0, storeSeq));
      n++;
      if (this.meter.used > p.options.pagingThreshold && n >= 16) break;
    }
    if (n === 0 && this.pagedCount > 0 && !cursor.next()) this.pagedCount = 0;
  }

  /** Hand ready messages to consumers with credit until either runs out. */
  dispatch(): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    try {
      while (this.ready.length > 0 || this.pagedCount > 0) {
        const c = this.nextConsumer();
        if (c === undefined) break;
        if (this.head() === undefined) break;
        const e = this.ready.shift()!;
        this.delivered(e, c.noAck);
        if (!c.noAck) {
          e.consumer = c;
          c.unacked++;
        }
        c.sink.deliver(c, e);
      }
    } finally {
      this.dispatching = false;
    }
  }

  /** Bookkeeping when an entry leaves `ready` for a consumer or basic.get. */
  private delivered(e: QueueEntry, noAck: boolean): void {
    e.deliveries++;
    if (noAck) {
      this.meter.sub(e.msg.memorySize);
      if (e.storeSeq >= 0) this.index!.settle(e.storeSeq);
    } else {
      this.unackedCount++;
      if (e.storeSeq >= 0 && e.deliveries === 1) this.index!.markDelivered(e.storeSeq);
    }
  }

  /**
   * The next consumer with credit: the highest priority level first (consumers are kept sorted by
   * priority, descending), round robin within a level.
   */
  private nextConsumer(): Consumer | undefined {
    const cs = this.consumers;
    const n = cs.length;
    let from = 0;
    while (from < n) {
      const level = cs[from]!.priority;
      let to = from + 1;
      while (to < n && cs[to]!.priority === level) to++;
      const size = to - from;
      for (let i = 0; i < size; i++) {
        const idx = from + ((this.rr + i) % size);
        const c = cs[idx]!;
        if (c.sink.canDeliver(c)) {
          this.rr = (this.rr + i + 1) % size;
          return c;
        }
      }
      from = to;
    }
    return undefined;
  }

  /** basic.get: take the head entry, counted as delivered (and unacked unless noAck). */
  get(noAck: boolean): QueueEntry | undefined {
    if (this.head() === undefined) return undefined;
    const e = this.ready.shift()!;
    this.delivered(e, noAck);
    return e;
  }

  /** An unacked entry was acked (or rejected without requeue): forget it. */
  settle(e: QueueEntry): void {
    if (e.consumer !== null) {
      e.consumer.unacked--;
      e.consumer = null;
    }
    this.unackedCount--;
    this.meter.sub(e.msg.memorySize);
    if (e.storeSeq >= 0 && this.index !== undefined && !this.deleted) this.index.settle(e.storeSeq);
  }

  /** Put an unacked entry back in its original position. */
  requeue(e: QueueEntry): void {
    if (e.consumer !== null) {
      e.consumer.unacked--;
      e.consumer = null;
    }
    this.unackedCount--;
    if (this.deleted) {
      this.meter.sub(e.msg.memorySize);
      return;
    }
    const head = this.ready.peek();
    if (head === undefined || e.seq < head.seq) {
      this.ready.unshift(e);
      return;
    }
    // Out-of-order requeue: binary search for the position by seq.
    let lo = 0;
    let hi = this.ready.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ready.at(mid)!.seq < e.seq) lo = mid + 1;
      else hi = mid;
    }
    this.ready.insertAt(lo, e);
  }

  addConsumer(c: Consumer): void {
    if (this.consumers.some((o) => o.exclusive) || (c.exclusive && this.consumers.length > 0)) {
      throw new AmqpError(ReplyCode.ACCESS_REFUSED, `queue '${this.name}' in vhost '${this.vhost}' in exclusive use`);
    }
    // Keep the list sorted by priority (descending), newcomers last within their level.
    let at = this.consumers.length;
    while (at > 0 && this.consumers[at - 1]!.priority < c.priority) at--;
    this.consumers.splice(at, 0, c);
    this.hadConsumer = true;
  }

  /** Remove a consumer; an auto-delete queue that loses its last one goes away. */
  removeConsumer(c: Consumer): void {
    const i = this.consumers.indexOf(c);
    if (i < 0) return;
    this.consumers.splice(i, 1);
    if (this.consumers.length === 0 && this.options.autoDelete && this.hadConsumer && this.onUnused !== undefined) {
      this.onUnused(this);
    }
  }

  /** Drop every ready and paged message; returns how many. Unacked ones stay with their channels. */
  purge(): number {
    const n = this.messageCount;
    for (let e = this.ready.shift(); e !== undefined; e = this.ready.shift()) {
      this.meter.sub(e.msg.memorySize);
      if (e.storeSeq >= 0) this.index!.settle(e.storeSeq);
    }
    if (this.pagedCount > 0 && this.index !== undefined) {
      const cursor = this.index.cursor(this.pageFromStoreSeq);
      const seqs: number[] = [];
      while (cursor.next()) seqs.push(cursor.seq);
      for (const s of seqs) this.index.settle(s);
    }
    this.pagedCount = 0;
    return n;
  }

  /** Mark deleted, drop messages, release the store index and tell consumers' channels. */
  destroy(): number {
    const n = this.purge();
    this.deleted = true;
    if (this.index !== undefined && this.persistence !== undefined) {
      this.persistence.store.deleteQueue(this.storeKey);
      this.index = undefined;
    }
    const cs = this.consumers.splice(0);
    for (const c of cs) c.sink.cancelledByBroker(c);
    return n;
  }

  /** After a restart: every live entry of the store index is paged, read back on demand. */
  recover(index: QueueIndex): void {
    this.index = index;
    this.pagedCount = index.count;
    this.pageFromStoreSeq = 0;
  }
}
