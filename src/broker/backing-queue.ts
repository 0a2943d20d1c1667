/**
 * A queue's backing store, as RabbitMQ separates the queue process from its backing queue
 * (rabbit_backing_queue / rabbit_variable_queue): it keeps the ready messages in delivery order,
 * in memory or paged out to the store, with their byte counts, the memory meter's account, and
 * each message's place in the queue's store index. It decides nothing about delivery: the queue
 * above it (queue.ts) chooses consumers, expires, drops, dead-letters and requeues; the backing
 * queue only holds, pages, and settles in the store.
 *
 * The seam (`BackingQueue`): publish, head, fetch, drop, ack, requeue, purge, recover, delete and
 * the counts; `createBackingQueue` picks the implementation from the queue's settings.
 *
 * Every queue kind pages (issue 16): FIFO queues and each priority level of a priority queue,
 * with each message's expiry and delivery count kept beside its store reference, so TTL, length
 * limits, priorities and quorum delivery limits work past --queue-memory-budget exactly as they do
 * in memory, and survive restarts.
 *
 * Layout (`StoreBackedQueue`): one Level per priority (a FIFO queue has one). A level is a FIFO:
 * `ready` entries in memory (sorted by seq) followed by `pagedCount` entries that live only in the
 * level's store index (from store seq `pageFrom` on). Level 0 uses the queue's store key (so data
 * written before levels existed is read as is); level L > 0 uses `<key>\u0000p<L>`. A persistent
 * message in a durable queue is written to the store once (whatever the fanout) and recorded in
 * its level's index; acks, drops, purges and deletes settle it there. A level starts paging when
 * the broker's memory meter passes the paging threshold (new messages go to the store only) and
 * keeps paging until its paged part has been read back, so order is never broken. A recovered
 * queue starts fully paged: startup reads no bodies.
 *
 * What a store entry carries (QueueIndex.enqueue's metadata):
 *   expiresAt  the message's expiry (a queue TTL counts from the original enqueue, as in RabbitMQ)
 *   weight     body bytes (x-max-length-bytes counts bodies)
 *   tag        TAG_V2 (entry written with this metadata) | TAG_TRANSIENT (gone after a restart)
 *              | returns so far (quorum queues re-enqueue a returned message at the back)
 * Entries written by older versions (no TAG_V2) get a fresh queue TTL at recovery, their priority
 * from the record (a priority queue's are moved to their level's index once), and the transient
 * check from the record's boot id, as before.
 *
 * Invariants: in a level, every ready entry precedes every paged one, and while pagedCount > 0
 * every store entry with seq >= pageFrom is paged; an entry is ready, paged, fetched (unacked) or
 * settled; the meter counts each in-memory message once per queue holding it (ready or fetched),
 * from publish or page-in until drop, no-ack fetch, ack or paging out; `length`/`bytes` count ready
 * and paged messages, not fetched ones.
 */
import type { QueueIndex } from '../store/store.js';
import type { MemoryMeter } from './memory-meter.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence.js';
import type { QueueArguments } from './queue-arguments.js';
import { QueueEntry } from './queue-entry.js';
import type { Queue } from './queue.js';
import { FifoReady } from './ready-list.js';

/** What a queue asks of its backing store. */
export interface BackingQueue {
  /** Messages held: ready in memory plus paged out. */
  readonly length: number;
  /** Body bytes of the messages held (for x-max-length-bytes). */
  readonly bytes: number;
  /** Whether this store pages messages out under memory pressure (it has a store to page to). */
  readonly canPage: boolean;
  /**
   * Take a new message expiring at `expiresAt` (Infinity: never). Returns its entry when it is held
   * in memory, undefined when it was paged out.
   */
  publish(msg: Message, expiresAt: number): QueueEntry | undefined;
  /** The next message to deliver, paging messages back in when memory holds none; undefined when empty. */
  head(): QueueEntry | undefined;
  /** When the head expires (Infinity: never, or empty), without reading a paged head back. */
  headExpiresAt(): number;
  /** Remove the head for delivery (counted as delivered). noAck: settled at once, else held until ack/requeue. */
  fetch(noAck: boolean): QueueEntry;
  /** Remove the head for good (expiry, overflow): settled in the store; the caller may dead-letter it. */
  drop(): QueueEntry;
  /**
   * Drop the expired messages at the head that are paged out, without reading them (nobody needs
   * their contents: no dead-letter exchange). Stops at a head in memory or not expired. Returns how many.
   */
  dropExpiredUnread(now: number): number;
  /** A fetched entry was acknowledged (or rejected): forget it, in memory and in the store. */
  ack(e: QueueEntry): void;
  /** A fetched entry comes back: to its original position, or to the back (`back`, quorum queues). */
  requeue(e: QueueEntry, back: boolean): QueueEntry;
  /** Drop every held message (ready and paged); returns how many. Fetched ones are untouched. */
  purge(): number;
  /** The store keys this queue's indexes use (the broker keeps them across restarts). */
  storeKeys(): string[];
  /**
   * Read up to `count` held messages from position `offset` in delivery order, with no side effect
   * at all: nothing is fetched, paged in, counted or marked delivered (paged messages are read from
   * the store into fresh objects).
   */
  peek(offset: number, count: number): PeekedReady[];
  /**
   * After a restart: adopt the store indexes (by key; undefined when there is none) with what they
   * still hold; `dropTransient(key)` says which ones may hold transient messages of an earlier run.
   */
  recover(indexOf: (key: string) => QueueIndex | undefined, dropTransient: (key: string) => boolean): void;
  /** The queue is deleted: release the store indexes. */
  delete(): void;
}

/** One held message as peek reads it. */
export interface PeekedReady {
  readonly msg: Message;
  /** Deliveries so far (a message that came back from a consumer has at least 1). */
  readonly deliveries: number;
  /** When it expires (ms since the epoch), Infinity for never. */
  readonly expiresAt: number;
}

export function createBackingQueue(owner: Queue, settings: QueueArguments, meter: MemoryMeter,
  persistence: Persistence | undefined): BackingQueue {
  return new StoreBackedQueue(owner, settings, meter, persistence);
}

/** The entry carries this version's metadata (expiry, transient flag, returns). */
export const TAG_V2 = 0x80000000;
/** A transient message (or any message of a non-durable queue) paged out: it must not survive a restart. */
export const TAG_TRANSIENT = 0x40000000;
/** Returns so far (quorum delivery count), stored when a returned message is re-enqueued. */
export const TAG_RETURNS = 0x00ffffff;

/** How many paged entries one page-in reads at most. */
const PAGE_BATCH = 512;

class Level {
  readonly ready = new FifoReady();
  readyBytes = 0;
  index: QueueIndex | undefined;
  pagedCount = 0;
  pagedBytes = 0;
  /** Store seq from which paged entries start (meaningful while pagedCount > 0). */
  pageFrom = 0;

  constructor(readonly key: string) {}

  get length(): number {
    return this.ready.length + this.pagedCount;
  }
}

export class StoreBackedQueue implements BackingQueue {
  private readonly levels: Level[];
  private readonly top: number;
  private held = 0;
  private heldBytes = 0;
  private nextSeq = 1;
  /** Expiry given to entries recovered without one (written before expiries were stored). */
  private legacyExpiry = Infinity;
  readonly canPage: boolean;

  constructor(
    private readonly owner: Queue,
    private readonly settings: QueueArguments,
    private readonly meter: MemoryMeter,
    private readonly persistence: Persistence | undefined,
  ) {
    const n = settings.maxPriority !== undefined && settings.maxPriority > 0 ? settings.maxPriority + 1 : 1;
    this.levels = [];
    for (let i = 0; i < n; i++) this.levels.push(new Level(i === 0 ? owner.storeKey : `${owner.storeKey}\u0000p${i}`));
    this.top = n - 1;
    this.canPage = persistence !== undefined;
  }

  get length(): number { return this.held; }
  get bytes(): number { return this.heldBytes; }

  /** Every store key this queue may use (the broker keeps them across restarts). */
  storeKeys(): string[] {
    return this.levels.map((l) => l.key);
  }

  private levelOf(msg: Message): Level {
    // Priorities above the maximum count as the maximum (RabbitMQ's priority queues).
    return this.levels[Math.min(this.top, Math.max(0, msg.priority))]!;
  }

  private indexOf(l: Level, p: Persistence): QueueIndex {
    return (l.index ??= p.store.queue(l.key));
  }

  private transientTag(msg: Message): number {
    return msg.persistent && this.owner.durable ? TAG_V2 : TAG_V2 | TAG_TRANSIENT;
  }

  publish(msg: Message, expiresAt = Infinity): QueueEntry | undefined {
    const l = this.levelOf(msg);
    const p = this.persistence;
    let storeSeq = -1;
    const body = msg.body.length;
    this.held++;
    this.heldBytes += body;
    if (p !== undefined) {
      const paging = l.pagedCount > 0 || this.meter.used > p.options.pagingThreshold;
      if (paging || (this.owner.durable && msg.persistent)) {
        const tag = this.transientTag(msg);
        storeSeq = this.indexOf(l, p).enqueue(p.record(msg), msg.storeSize, expiresAt, tag, body);
        if (paging) {
          if ((tag & TAG_TRANSIENT) !== 0) p.pagedTransient(l.key);
          if (l.pagedCount === 0) l.pageFrom = storeSeq;
          l.pagedCount++;
          l.pagedBytes += body;
          return undefined;
        }
      }
    }
    this.meter.add(msg.memorySize);
    const e = new QueueEntry(this.owner, msg, this.nextSeq++, 0, storeSeq);
    e.expiresAt = expiresAt;
    l.ready.push(e);
    l.readyBytes += body;
    return e;
  }

  /** The highest level holding messages, with its head in memory; undefined when empty. */
  private headLevel(): Level | undefined {
    for (let i = this.top; i >= 0; i--) {
      const l = this.levels[i]!;
      if (l.ready.length === 0 && l.pagedCount > 0) this.pageIn(l);
      if (l.ready.length > 0) return l;
    }
    return undefined;
  }

  head(): QueueEntry | undefined {
    return this.headLevel()?.ready.peek();
  }

  headExpiresAt(): number {
    for (let i = this.top; i >= 0; i--) {
      const l = this.levels[i]!;
      if (l.ready.length > 0) return l.ready.peek()!.expiresAt;
      if (l.pagedCount > 0 && l.index !== undefined) {
        const c = l.index.cursor(l.pageFrom);
        if (c.next()) return this.expiryOf(c.expiresAt, c.tag);
      }
    }
    return Infinity;
  }

  /** The level holding the head, made ready (paged in) if needed; throws when the queue is empty. */
  private takeLevel(): Level {
    const l = this.headLevel();
    if (l === undefined) throw new Error('backing queue: fetch from an empty queue');
    return l;
  }

  /** Remove the head of `l` (a takeLevel()): no object per message on this path. */
  private shift(l: Level): QueueEntry {
    const e = l.ready.shift()!;
    l.readyBytes -= e.msg.body.length;
    this.held--;
    this.heldBytes -= e.msg.body.length;
    return e;
  }

  fetch(noAck: boolean): QueueEntry {
    const l = this.takeLevel();
    const e = this.shift(l);
    e.deliveries++;
    if (noAck) {
      this.meter.sub(e.msg.memorySize);
      if (e.storeSeq >= 0) l.index!.settle(e.storeSeq);
    } else if (e.storeSeq >= 0) {
      l.index!.markDelivered(e.storeSeq);
    }
    return e;
  }

  drop(): QueueEntry {
    const l = this.takeLevel();
    const e = this.shift(l);
    this.meter.sub(e.msg.memorySize);
    if (e.storeSeq >= 0) l.index!.settle(e.storeSeq);
    return e;
  }

  /**
   * Drop expired messages at the head of the queue without reading them (no dead-letter exchange:
   * nobody needs their contents). Stops at the first message that has not expired or at a head that
   * is in memory (the caller drops those). Returns how many were dropped.
   */
  dropExpiredUnread(now: number): number {
    let n = 0;
    for (let i = this.top; i >= 0; i--) {
      const l = this.levels[i]!;
      if (l.length === 0) continue;
      if (l.ready.length > 0 || l.index === undefined) return n;
      const c = l.index.cursor(l.pageFrom);
      while (l.pagedCount > 0 && c.next()) {
        if (!this.expiredAt(c.expiresAt, c.tag, now)) return n;
        l.pageFrom = c.seq + 1;
        l.pagedCount--;
        l.pagedBytes -= c.weight;
        this.held--;
        this.heldBytes -= c.weight;
        l.index.settle(c.seq);
        n++;
      }
      if (l.pagedCount > 0) return n;
      l.pagedBytes = 0;
    }
    return n;
  }

  private expiryOf(expiresAt: number, tag: number): number {
    return (tag & TAG_V2) !== 0 ? expiresAt : this.legacyExpiry;
  }

  private expiredAt(expiresAt: number, tag: number, now: number): boolean {
    return this.expiryOf(expiresAt, tag) < now;
  }

  ack(e: QueueEntry): void {
    this.meter.sub(e.msg.memorySize);
    if (e.storeSeq >= 0) this.levelOf(e.msg).index?.settle(e.storeSeq);
  }

  requeue(e: QueueEntry, back: boolean): QueueEntry {
    const l = this.levelOf(e.msg);
    const body = e.msg.body.length;
    this.held++;
    this.heldBytes += body;
    if (!back) {
      // Classic queues: back to its original position (ready entries precede paged ones).
      l.ready.requeue(e);
      l.readyBytes += body;
      return e;
    }
    // Quorum queues: to the back, in the store too when it is there (the order survives a restart),
    // and out of memory when the level is paging.
    const p = this.persistence;
    const paging = p !== undefined && (l.pagedCount > 0 || this.meter.used > p.options.pagingThreshold);
    let storeSeq = -1;
    if (p !== undefined && (paging || e.storeSeq >= 0)) {
      const returns = Math.min(e.deliveries, TAG_RETURNS);
      const index = this.indexOf(l, p);
      storeSeq = index.enqueue(p.record(e.msg), e.msg.storeSize, e.expiresAt, this.transientTag(e.msg) | returns, body);
      if (e.storeSeq >= 0) index.settle(e.storeSeq);
      if (paging) {
        if (!(e.msg.persistent && this.owner.durable)) p.pagedTransient(l.key);
        this.meter.sub(e.msg.memorySize);
        if (l.pagedCount === 0) l.pageFrom = storeSeq;
        l.pagedCount++;
        l.pagedBytes += body;
        return e;
      }
    }
    const entry = new QueueEntry(this.owner, e.msg, this.nextSeq++, e.deliveries, storeSeq);
    entry.expiresAt = e.expiresAt;
    l.ready.push(entry);
    l.readyBytes += body;
    return entry;
  }

  peek(offset: number, count: number): PeekedReady[] {
    const out: PeekedReady[] = [];
    let skip = offset;
    const p = this.persistence;
    for (let i = this.top; i >= 0 && out.length < count; i--) {
      const l = this.levels[i]!;
      if (skip >= l.length) {
        skip -= l.length;
        continue;
      }
      for (let j = skip; j < l.ready.length && out.length < count; j++) {
        const e = l.ready.at(j)!;
        out.push({ msg: e.msg, deliveries: e.deliveries, expiresAt: e.expiresAt });
      }
      skip = Math.max(0, skip - l.ready.length);
      if (l.pagedCount === 0 || l.index === undefined || p === undefined || out.length >= count) continue;
      // The paged part: the cursor only walks the index; records are read for the page asked for.
      const c = l.index.cursor(l.pageFrom);
      for (let seen = 0; seen < l.pagedCount && out.length < count && c.next(); seen++) {
        if (skip > 0) {
          skip--;
          continue;
        }
        let rec;
        try {
          rec = p.load(c.ref, c.size);
        } catch {
          continue; // unreadable: paging it in drops (and logs) it; peek just leaves it out
        }
        const returns = (c.tag & TAG_V2) !== 0 ? c.tag & TAG_RETURNS : 0;
        out.push({ msg: rec.msg, deliveries: returns + (c.delivered ? 1 : 0), expiresAt: this.expiryOf(c.expiresAt, c.tag) });
      }
      skip = 0;
    }
    return out;
  }

  /** Read up to PAGE_BATCH paged entries of a level back into memory, in order. */
  private pageIn(l: Level): void {
    const p = this.persistence;
    const index = l.index;
    if (p === undefined || index === undefined) {
      this.forgetPaged(l);
      return;
    }
    const cursor = index.cursor(l.pageFrom);
    let n = 0;
    while (n < PAGE_BATCH && l.pagedCount > 0) {
      if (!cursor.next()) {
        this.forgetPaged(l);
        break;
      }
      const storeSeq = cursor.seq;
      const tag = cursor.tag;
      l.pageFrom = storeSeq + 1;
      l.pagedCount--;
      l.pagedBytes -= cursor.weight;
      this.held--;
      this.heldBytes -= cursor.weight;
      let rec;
      try {
        rec = p.load(cursor.ref, cursor.size);
      } catch (err: unknown) {
        // A record that fails its checksum (or whose segment is gone) loses that message only.
        p.unreadable(l.key, storeSeq, err);
        index.settle(storeSeq);
        continue;
      }
      if (!rec.persistent && rec.bootId !== p.bootId) {
        // A transient message paged out by an earlier run: it must not survive the restart.
        index.settle(storeSeq);
        continue;
      }
      const body = rec.msg.body.length;
      const returns = (tag & TAG_V2) !== 0 ? tag & TAG_RETURNS : 0;
      const e = new QueueEntry(this.owner, rec.msg, this.nextSeq++, returns + (cursor.delivered ? 1 : 0), storeSeq);
      e.expiresAt = this.expiryOf(cursor.expiresAt, tag);
      this.meter.add(rec.msg.memorySize);
      l.ready.push(e);
      l.readyBytes += body;
      this.held++;
      this.heldBytes += body;
      n++;
      if (n >= 16 && this.meter.used > p.options.pagingThreshold) break;
    }
    if (l.pagedCount <= 0) this.forgetPaged(l);
  }

  private forgetPaged(l: Level): void {
    this.held -= l.pagedCount;
    this.heldBytes -= l.pagedBytes;
    l.pagedCount = 0;
    l.pagedBytes = 0;
  }

  purge(): number {
    const n = this.held;
    for (const l of this.levels) {
      for (let e = l.ready.shift(); e !== undefined; e = l.ready.shift()) {
        this.meter.sub(e.msg.memorySize);
        if (e.storeSeq >= 0) l.index!.settle(e.storeSeq);
      }
      l.readyBytes = 0;
      if (l.pagedCount > 0 && l.index !== undefined) {
        // The cursor tolerates settles between steps: no list of seqs, whatever the backlog.
        const c = l.index.cursor(l.pageFrom);
        while (c.next()) l.index.settle(c.seq);
      }
      l.pagedCount = 0;
      l.pagedBytes = 0;
    }
    this.held = 0;
    this.heldBytes = 0;
    return n;
  }

  /**
   * After a restart: every level adopts its store index (left paged: no body is read, except for
   * entries written before expiries and levels were stored).
   */
  recover(indexOf: (key: string) => QueueIndex | undefined, dropTransient: (key: string) => boolean): void {
    const ttl = this.settings.messageTtl;
    if (ttl !== undefined) this.legacyExpiry = Date.now() + ttl;
    const p = this.persistence;
    for (const l of this.levels) {
      const index = indexOf(l.key);
      if (index === undefined) continue;
      l.index = index;
      if (p !== undefined && dropTransient(l.key)) this.dropTransient(l, index, p);
    }
    if (p !== undefined && this.top > 0 && this.levels[0]!.index !== undefined) this.migrateLegacyPriorities(p);
    if (this.settings.queueType === 'quorum') for (const l of this.levels) if (l.index !== undefined) this.returnDelivered(l.index);
    for (const l of this.levels) {
      if (l.index === undefined) continue;
      l.pagedCount = l.index.count;
      l.pagedBytes = l.index.bytes;
      l.pageFrom = 0;
      this.held += l.pagedCount;
      this.heldBytes += l.pagedBytes;
    }
  }

  /**
   * Quorum queues: messages that were delivered and not settled when the broker stopped were
   * returned by their consumers going away, so (as any quorum return) they go to the back with their
   * return counted, which keeps x-delivery-count and x-delivery-limit right across any number of
   * restarts (the index records one delivered mark, not a count).
   */
  private returnDelivered(index: QueueIndex): void {
    const c = index.cursor();
    const end = index.count;
    for (let seen = 0; seen < end && c.next(); seen++) {
      if (!c.delivered) continue;
      const tag = c.tag;
      const returns = (tag & TAG_V2) !== 0 ? tag & TAG_RETURNS : 0;
      const flags = (tag & TAG_V2) !== 0 ? tag & TAG_TRANSIENT : 0;
      index.enqueue(c.ref, c.size, this.expiryOf(c.expiresAt, tag), TAG_V2 | flags | Math.min(returns + 1, TAG_RETURNS), c.weight);
      index.settle(c.seq);
    }
  }

  /** Transient messages were paged into this index before the restart: they must not survive. */
  private dropTransient(l: Level, index: QueueIndex, p: Persistence): void {
    const c = index.cursor();
    while (c.next()) {
      if ((c.tag & TAG_V2) !== 0) {
        if ((c.tag & TAG_TRANSIENT) !== 0) index.settle(c.seq);
        continue;
      }
      try {
        if (!p.load(c.ref, c.size).persistent) index.settle(c.seq);
      } catch (err: unknown) {
        p.unreadable(l.key, c.seq, err);
        index.settle(c.seq);
      }
    }
  }

  /** A priority queue written before levels had their own index: move each entry to its level, once. */
  private migrateLegacyPriorities(p: Persistence): void {
    const base = this.levels[0]!;
    const index = base.index!;
    const c = index.cursor();
    while (c.next()) {
      if ((c.tag & TAG_V2) !== 0) continue;
      let rec;
      try {
        rec = p.load(c.ref, c.size);
      } catch (err: unknown) {
        p.unreadable(base.key, c.seq, err);
        index.settle(c.seq);
        continue;
      }
      const l = this.levelOf(rec.msg);
      const tag = rec.persistent ? TAG_V2 : TAG_V2 | TAG_TRANSIENT;
      if (l !== base) {
        this.indexOf(l, p).enqueue(c.ref, c.size, this.legacyExpiry, tag | (c.delivered ? 1 : 0), rec.msg.body.length);
        index.settle(c.seq);
      }
    }
  }

  delete(): void {
    const p = this.persistence;
    for (const l of this.levels) {
      if (l.index !== undefined && p !== undefined) p.store.deleteQueue(l.key);
      l.index = undefined;
    }
  }
}
