/**
 * A queue's backing store, as RabbitMQ separates the queue process from its backing queue
 * (rabbit_backing_queue / rabbit_variable_queue): it keeps the ready messages in delivery order,
 * in memory or paged out to the store, with their byte counts, the memory meter's account, and
 * each message's place in the queue's store index. It decides nothing about delivery: the queue
 * above it (queue.ts) chooses consumers, expires, drops, dead-letters and requeues; the backing
 * queue only holds, pages, and settles in the store.
 *
 * The seam (`BackingQueue`): publish, head, fetch, drop, ack, requeue, purge, recover, delete and
 * the counts. Another kind of backing store (for example one that pages priority or TTL queues,
 * keeping each entry's priority and expiry beside its store reference) implements the same
 * interface; `createBackingQueue` picks one from the queue's settings.
 *
 * Storage rules of this implementation (`StoreBackedQueue`): a persistent message in a durable
 * queue is written to the store (once per message, whatever the fanout) and recorded in the
 * queue's index; acks, drops, purges and deletes settle it there. When the memory meter passes
 * the paging threshold, new messages of a plain FIFO queue go to the store only ("paged") and are
 * read back in order as the head is needed; a recovered FIFO queue starts fully paged, so startup
 * reads no bodies. Queues with priorities, TTL, length or delivery limits keep everything in memory
 * (they need each entry's data), which `canPage` states.
 *
 * Invariants: ready entries are sorted by seq (within a priority level) and precede every paged
 * one; an entry is ready, paged, fetched (unacked) or settled; the meter counts each in-memory
 * message once per queue holding it, from publish (or page-in) until drop, no-ack fetch or ack.
 */
import type { QueueIndex } from '../store/store.js';
import type { MemoryMeter } from './memory-meter.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence.js';
import type { QueueArguments } from './queue-arguments.js';
import { QueueEntry } from './queue-entry.js';
import type { Queue } from './queue.js';
import { FifoReady, PriorityReady, type ReadyList } from './ready-list.js';

/** What a queue asks of its backing store. */
export interface BackingQueue {
  /** Messages held: ready in memory plus paged out. */
  readonly length: number;
  /** Body bytes of the messages held (for x-max-length-bytes). */
  readonly bytes: number;
  /** Whether this store pages messages out under memory pressure. */
  readonly canPage: boolean;
  /**
   * Take a new message. Returns its entry when it is held in memory (the queue then sets its
   * expiry), undefined when it was paged out.
   */
  publish(msg: Message): QueueEntry | undefined;
  /** The next message to deliver, paging messages back in when memory holds none; undefined when empty. */
  head(): QueueEntry | undefined;
  /** Remove the head for delivery (counted as delivered). noAck: settled at once, else held until ack/requeue. */
  fetch(noAck: boolean): QueueEntry;
  /** Remove the head for good (expiry, overflow): settled in the store; the caller may dead-letter it. */
  drop(): QueueEntry;
  /** A fetched entry was acknowledged (or rejected): forget it, in memory and in the store. */
  ack(e: QueueEntry): void;
  /** A fetched entry comes back: to its original position, or to the back (`back`, quorum queues). */
  requeue(e: QueueEntry, back: boolean): QueueEntry;
  /** Drop every held message (ready and paged); returns how many. Fetched ones are untouched. */
  purge(): number;
  /** After a restart: adopt the store index with what it still holds. */
  recover(index: QueueIndex, dropTransient: boolean): void;
  /** Visit every in-memory ready entry in order (recovery sets expiries). */
  forEachReady(fn: (e: QueueEntry) => void): void;
  /** The queue is deleted: release the store index. */
  delete(): void;
}

/** How many paged entries one page-in reads at most. */
const PAGE_BATCH = 512;

export function createBackingQueue(owner: Queue, settings: QueueArguments, meter: MemoryMeter,
  persistence: Persistence | undefined): BackingQueue {
  return new StoreBackedQueue(owner, settings, meter, persistence);
}

export class StoreBackedQueue implements BackingQueue {
  private readonly ready: ReadyList;
  private readyBytes = 0;
  private nextSeq = 1;
  private index: QueueIndex | undefined;
  /** Entries that live only in the store index, after every ready entry. */
  private pagedCount = 0;
  private pagedBytes = 0;
  /** Store seq from which paged entries start. */
  private pageFromStoreSeq = 0;
  readonly canPage: boolean;

  constructor(
    private readonly owner: Queue,
    settings: QueueArguments,
    private readonly meter: MemoryMeter,
    private readonly persistence: Persistence | undefined,
  ) {
    const prioritized = settings.maxPriority !== undefined && settings.maxPriority > 0;
    this.ready = prioritized ? new PriorityReady(settings.maxPriority!) : new FifoReady();
    this.canPage = persistence !== undefined && settings.maxPriority === undefined && settings.messageTtl === undefined
      && settings.maxLength === undefined && settings.maxLengthBytes === undefined && settings.deliveryLimit === undefined;
  }

  get length(): number { return this.ready.length + this.pagedCount; }
  get bytes(): number { return this.readyBytes + this.pagedBytes; }

  private storeIndex(p: Persistence): QueueIndex {
    return (this.index ??= p.store.queue(this.owner.storeKey));
  }

  publish(msg: Message): QueueEntry | undefined {
    const p = this.persistence;
    let storeSeq = -1;
    if (p !== undefined) {
      const paging = this.canPage && (this.pagedCount > 0 || this.meter.used > p.options.pagingThreshold);
      if (paging || (this.owner.durable && msg.persistent)) {
        storeSeq = this.storeIndex(p).enqueue(p.record(msg), msg.storeSize);
        if (paging) {
          if (!msg.persistent) p.pagedTransient(this.owner.storeKey);
          if (this.pagedCount === 0) this.pageFromStoreSeq = storeSeq;
          this.pagedCount++;
          this.pagedBytes += msg.body.length;
          return undefined;
        }
      }
    }
    this.meter.add(msg.memorySize);
    const e = new QueueEntry(this.owner, msg, this.nextSeq++, 0, storeSeq);
    this.ready.push(e);
    this.readyBytes += msg.body.length;
    return e;
  }

  head(): QueueEntry | undefined {
    if (this.ready.length === 0 && this.pagedCount > 0) this.pageIn();
    return this.ready.peek();
  }

  fetch(noAck: boolean): QueueEntry {
    const e = this.ready.shift()!;
    this.readyBytes -= e.msg.body.length;
    e.deliveries++;
    if (noAck) {
      this.meter.sub(e.msg.memorySize);
      if (e.storeSeq >= 0) this.index!.settle(e.storeSeq);
    } else if (e.storeSeq >= 0 && e.deliveries === 1) {
      this.index!.markDelivered(e.storeSeq);
    }
    return e;
  }

  drop(): QueueEntry {
    const e = this.ready.shift()!;
    this.readyBytes -= e.msg.body.length;
    this.meter.sub(e.msg.memorySize);
    if (e.storeSeq >= 0) this.index!.settle(e.storeSeq);
    return e;
  }

  ack(e: QueueEntry): void {
    this.meter.sub(e.msg.memorySize);
    if (e.storeSeq >= 0 && this.index !== undefined) this.index.settle(e.storeSeq);
  }

  requeue(e: QueueEntry, back: boolean): QueueEntry {
    let entry = e;
    if (back) {
      entry = new QueueEntry(this.owner, e.msg, this.nextSeq++, e.deliveries, e.storeSeq);
      entry.expiresAt = e.expiresAt;
      this.ready.push(entry);
    } else {
      this.ready.requeue(e);
    }
    this.readyBytes += e.msg.body.length;
    return entry;
  }

  /** Read up to PAGE_BATCH paged entries back into memory, in order. */
  private pageIn(): void {
    const p = this.persistence;
    if (p === undefined || this.index === undefined) {
      this.pagedCount = this.pagedBytes = 0;
      return;
    }
    const cursor = this.index.cursor(this.pageFromStoreSeq);
    let n = 0;
    let more = true;
    while (n < PAGE_BATCH && this.pagedCount > 0) {
      if (!cursor.next()) { more = false; break; }
      const storeSeq = cursor.seq;
      this.pageFromStoreSeq = storeSeq + 1;
      this.pagedCount--;
      let rec;
      try {
        rec = p.load(cursor.ref, cursor.size);
      } catch (err: unknown) {
        // A record that fails its checksum (or whose segment is gone) loses that message only.
        p.unreadable(this.owner.storeKey, storeSeq, err);
        this.pagedBytes -= cursor.size;
        this.index.settle(storeSeq);
        continue;
      }
      this.pagedBytes -= rec.msg.body.length;
      if (!rec.persistent && rec.bootId !== p.bootId) {
        // A transient message paged out by an earlier run: it must not survive the restart.
        this.index.settle(storeSeq);
        continue;
      }
      this.meter.add(rec.msg.memorySize);
      this.ready.push(new QueueEntry(this.owner, rec.msg, this.nextSeq++, cursor.delivered ? 1 : 0, storeSeq));
      this.readyBytes += rec.msg.body.length;
      n++;
      if (n >= 16 && this.meter.used > p.options.pagingThreshold) break;
    }
    if (!more || this.pagedCount <= 0) this.pagedCount = this.pagedBytes = 0;
  }

  purge(): number {
    const n = this.length;
    for (let e = this.ready.shift(); e !== undefined; e = this.ready.shift()) {
      this.meter.sub(e.msg.memorySize);
      if (e.storeSeq >= 0) this.index!.settle(e.storeSeq);
    }
    this.readyBytes = 0;
    if (this.pagedCount > 0 && this.index !== undefined) {
      const cursor = this.index.cursor(this.pageFromStoreSeq);
      const seqs: number[] = [];
      while (cursor.next()) seqs.push(cursor.seq);
      for (const s of seqs) this.index.settle(s);
    }
    this.pagedCount = this.pagedBytes = 0;
    return n;
  }

  /**
   * After a restart. A store that pages leaves every live entry paged (read back on demand); the
   * others read their entries now, as their queue needs each message's priority and expiry.
   */
  recover(index: QueueIndex, dropTransient: boolean): void {
    this.index = index;
    if (dropTransient && this.persistence !== undefined) {
      // Transient messages were paged into this index before the restart: they must not survive.
      const p = this.persistence;
      const c = index.cursor();
      const gone: number[] = [];
      while (c.next()) {
        try {
          if (!p.load(c.ref, c.size).persistent) gone.push(c.seq);
        } catch (err: unknown) {
          p.unreadable(this.owner.storeKey, c.seq, err);
          gone.push(c.seq);
        }
      }
      for (const seq of gone) index.settle(seq);
    }
    this.pagedCount = index.count;
    this.pagedBytes = index.bytes;
    this.pageFromStoreSeq = 0;
    if (!this.canPage) while (this.pagedCount > 0) this.pageIn();
  }

  forEachReady(fn: (e: QueueEntry) => void): void {
    const all: QueueEntry[] = [];
    for (let e = this.ready.shift(); e !== undefined; e = this.ready.shift()) all.push(e);
    for (const e of all) { fn(e); this.ready.push(e); }
  }

  delete(): void {
    if (this.index !== undefined && this.persistence !== undefined) {
      this.persistence.store.deleteQueue(this.owner.storeKey);
      this.index = undefined;
    }
  }
}
