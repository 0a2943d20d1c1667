/**
 * A queue: ready entries in delivery order, its consumers served by priority then round robin
 * with prefetch credit, and counters for unacked deliveries. Socket-free: consumers are reached
 * through their DeliverySink, dead letters and expiry through QueueHooks (the vhost).
 *
 * RabbitMQ semantics kept here: TTL (x-message-ttl, per-message expiration) expires messages only
 * at the head; length limits (x-max-length, x-max-length-bytes) count ready messages, with
 * x-overflow drop-head / reject-publish / reject-publish-dlx; priority queues (x-max-priority);
 * single active consumer; queue expiry (x-expires); quorum delivery limits (x-delivery-limit).
 *
 * Storage: a persistent message in a durable queue is written to the store (once per message,
 * whatever the fanout) and recorded in the queue's store index; acks, rejects, purges, expiry and
 * deletes settle it there. When held messages pass the paging threshold, new messages of a plain
 * FIFO queue go to the store only ("paged": counted in `pagedCount`) and are read back in order as
 * consumers catch up; a recovered queue starts fully paged, so startup reads no bodies.
 *
 * Invariants: ready entries are sorted by seq and precede every paged one; an entry is either
 * ready, paged, held unacked by one channel, or settled; `meter` counts each in-memory message
 * once per queue holding it.
 */
import { AmqpError } from '../core/amqp-error.js';
import { fv, type FieldTable } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import type { QueueIndex } from '../store/store.js';
import type { Consumer } from './consumer.js';
import type { MemoryMeter } from './memory-meter.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence.js';
import type { QueueArguments } from './queue-arguments.js';
import { QueueEntry } from './queue-entry.js';
import { FifoReady, PriorityReady, type ReadyList } from './ready-list.js';

export interface QueueOptions {
  durable: boolean;
  /** Owning connection id for exclusive queues, -1 otherwise. */
  exclusiveOwner: number;
  autoDelete: boolean;
  /** Arguments as declared (for equivalence checks and definitions). */
  arguments: FieldTable;
  /** Effective settings: arguments merged with the matching policy. */
  settings: QueueArguments;
}

export type DeadLetterReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

export interface QueueHooks {
  /** Route a dead-lettered message to the queue's dead-letter exchange. */
  deadLetter(q: Queue, msg: Message, reason: DeadLetterReason): void;
  /** x-expires elapsed with the queue unused: delete it. */
  expire(q: Queue): void;
  /** An auto-delete queue lost its last consumer. */
  unused(q: Queue): void;
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
  hooks: QueueHooks | undefined;

  private readonly ready: ReadyList;
  private readyBytes = 0;
  private nextSeq = 1;
  private rr = 0;
  private dispatching = false;
  private ttlTimer: NodeJS.Timeout | undefined;
  private ttlTimerAt = Infinity;
  private expiryTimer: NodeJS.Timeout | undefined;

  // ---- storage ----
  private index: QueueIndex | undefined;
  /** Entries that live only in the store index, after every ready entry. */
  private pagedCount = 0;
  private pagedBytes = 0;
  /** Store seq from which paged entries start. */
  private pageFromStoreSeq = 0;
  /** Only plain FIFO queues without TTL or length limits page (the others need every entry's data). */
  private readonly canPage: boolean;

  constructor(
    readonly name: string,
    readonly vhost: string,
    readonly options: QueueOptions,
    private readonly meter: MemoryMeter,
    private readonly persistence: Persistence | undefined,
  ) {
    const s = options.settings;
    this.ready = s.maxPriority !== undefined && s.maxPriority > 0 ? new PriorityReady(s.maxPriority) : new FifoReady();
    this.canPage = persistence !== undefined && s.maxPriority === undefined && s.messageTtl === undefined
      && s.maxLength === undefined && s.maxLengthBytes === undefined && s.deliveryLimit === undefined;
    this.touch();
  }

  get durable(): boolean { return this.options.durable; }
  get exclusive(): boolean { return this.options.exclusiveOwner >= 0; }
  get autoDelete(): boolean { return this.options.autoDelete; }
  get settings(): QueueArguments { return this.options.settings; }
  get messageCount(): number { return this.ready.length + this.pagedCount; }
  get consumerCount(): number { return this.consumers.length; }
  /** The store key of this queue's index. */
  get storeKey(): string { return `${this.vhost}\u0000${this.name}`; }

  private storeIndex(p: Persistence): QueueIndex {
    return (this.index ??= p.store.queue(this.storeKey));
  }

  // ------------------------------------------------------------------------------------------
  // Enqueue

  /**
   * Add a message. Returns false when the queue refused it (x-overflow reject-publish*): the
   * publisher is then nacked.
   */
  enqueue(msg: Message): boolean {
    const s = this.options.settings;
    if ((s.maxLength !== undefined || s.maxLengthBytes !== undefined) && s.overflow !== 'drop-head') {
      if (this.wouldOverflow(msg.body.length)) {
        if (s.overflow === 'reject-publish-dlx') this.deadLetter(msg, 'maxlen');
        return false;
      }
    }
    const expiresAt = this.expiryOf(msg);
    if (expiresAt === -1) {
      // Already expired (TTL 0 and nobody to take it): dead-letter straight away.
      this.deadLetter(msg, 'expired');
      return true;
    }
    const p = this.persistence;
    let storeSeq = -1;
    if (p !== undefined) {
      const paging = this.canPage && (this.pagedCount > 0 || this.meter.used > p.options.pagingThreshold);
      if (paging || (this.options.durable && msg.persistent)) {
        storeSeq = this.storeIndex(p).enqueue(p.record(msg), msg.storeSize);
        if (paging && !msg.persistent) p.pagedTransient(this.storeKey);
        if (paging) {
          if (this.pagedCount === 0) this.pageFromStoreSeq = storeSeq;
          this.pagedCount++;
          this.pagedBytes += msg.body.length;
          if (this.consumers.length > 0) this.dispatch();
          return true;
        }
      }
    }
    this.meter.add(msg.memorySize);
    const e = new QueueEntry(this, msg, this.nextSeq++, 0, storeSeq);
    e.expiresAt = expiresAt;
    this.ready.push(e);
    this.readyBytes += msg.body.length;
    if (s.overflow === 'drop-head') this.dropOverflow();
    if (this.consumers.length > 0) this.dispatch();
    if (expiresAt !== Infinity) this.expireHead();
    return true;
  }

  private wouldOverflow(extraBytes: number): boolean {
    const s = this.options.settings;
    if (s.maxLength !== undefined && this.messageCount >= s.maxLength) return true;
    return s.maxLengthBytes !== undefined && this.readyBytes + this.pagedBytes + extraBytes > s.maxLengthBytes;
  }

  /** drop-head: remove the oldest ready messages until the limits hold (dead-lettered as maxlen). */
  private dropOverflow(): void {
    const s = this.options.settings;
    while (this.ready.length > 0 && ((s.maxLength !== undefined && this.messageCount > s.maxLength)
      || (s.maxLengthBytes !== undefined && this.readyBytes > s.maxLengthBytes))) {
      this.discardHead('maxlen');
    }
  }

  /** Expiry time of a message entering now, Infinity without TTL, -1 if it is born expired. */
  private expiryOf(msg: Message): number {
    const queueTtl = this.options.settings.messageTtl;
    let ttl = queueTtl ?? Infinity;
    if (msg.expiration !== undefined) {
      const m = Number(msg.expiration);
      if (m < ttl) ttl = m;
    }
    if (ttl === Infinity) return Infinity;
    if (ttl === 0) {
      // TTL 0: delivered only if a consumer takes it at once (1 ms of grace for this dispatch).
      return this.hasReadyConsumer() ? Date.now() + 1 : -1;
    }
    return Date.now() + ttl;
  }

  private hasReadyConsumer(): boolean {
    for (const c of this.consumers) if (c.sink.canDeliver(c)) return true;
    return false;
  }

  // ------------------------------------------------------------------------------------------
  // TTL: RabbitMQ expires messages at the head only; a timer follows the head's expiry.

  private expireHead(): void {
    let head = this.ready.peek();
    if (head === undefined || head.expiresAt === Infinity) return;
    const now = Date.now();
    while (head !== undefined && head.expiresAt < now) {
      this.discardHead('expired');
      head = this.ready.peek();
    }
    if (head !== undefined && head.expiresAt !== Infinity) this.armTtlTimer(head.expiresAt);
  }

  private armTtlTimer(at: number): void {
    if (this.ttlTimer !== undefined && this.ttlTimerAt <= at) return;
    if (this.ttlTimer !== undefined) clearTimeout(this.ttlTimer);
    this.ttlTimerAt = at;
    this.ttlTimer = setTimeout(() => {
      this.ttlTimer = undefined;
      this.ttlTimerAt = Infinity;
      this.expireHead();
    }, Math.max(0, at - Date.now()) + 1);
    this.ttlTimer.unref();
  }

  /** Remove the head ready entry for good, dead-lettering it when a DLX is set. */
  private discardHead(reason: DeadLetterReason): void {
    const e = this.ready.shift()!;
    this.readyBytes -= e.msg.body.length;
    this.meter.sub(e.msg.memorySize);
    if (e.storeSeq >= 0) this.index!.settle(e.storeSeq);
    this.deadLetter(this.forDeadLetter(e), reason);
  }

  /** The message as it leaves the queue: without the x-delivery-count bookkeeping header. */
  private forDeadLetter(e: QueueEntry): Message {
    return e.msg;
  }

  private deadLetter(msg: Message, reason: DeadLetterReason): void {
    if (this.options.settings.deadLetterExchange !== undefined) this.hooks?.deadLetter(this, msg, reason);
  }

  // ------------------------------------------------------------------------------------------
  // Paging

  /** The head ready entry, paging entries in from the store when memory holds none. */
  private head(): QueueEntry | undefined {
    if (this.ready.length === 0 && this.pagedCount > 0) this.pageIn();
    return this.ready.peek();
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
        p.unreadable(this.storeKey, storeSeq, err);
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
      this.ready.push(new QueueEntry(this, rec.msg, this.nextSeq++, cursor.delivered ? 1 : 0, storeSeq));
      this.readyBytes += rec.msg.body.length;
      n++;
      if (n >= 16 && this.meter.used > p.options.pagingThreshold) break;
    }
    if (!more || this.pagedCount <= 0) this.pagedCount = this.pagedBytes = 0;
  }

  // ------------------------------------------------------------------------------------------
  // Delivery

  /** Hand ready messages to consumers with credit until either runs out. */
  dispatch(): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    try {
      while (this.ready.length > 0 || this.pagedCount > 0) {
        const c = this.nextConsumer();
        if (c === undefined) break;
        const head = this.head();
        if (head === undefined) break;
        if (head.expiresAt !== Infinity && head.expiresAt < Date.now()) {
          this.expireHead();
          continue;
        }
        const e = this.take(c.noAck);
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

  /** Take the head entry for a consumer or basic.get, counted as delivered. */
  private take(noAck: boolean): QueueEntry {
    const e = this.ready.shift()!;
    this.readyBytes -= e.msg.body.length;
    e.deliveries++;
    if (noAck) {
      this.meter.sub(e.msg.memorySize);
      if (e.storeSeq >= 0) this.index!.settle(e.storeSeq);
    } else {
      this.unackedCount++;
      if (e.storeSeq >= 0 && e.deliveries === 1) this.index!.markDelivered(e.storeSeq);
    }
    return e;
  }

  /**
   * The next consumer with credit: with single active consumer only the first subscriber;
   * otherwise the highest priority level first (consumers are sorted by priority, descending),
   * round robin within a level.
   */
  private nextConsumer(): Consumer | undefined {
    const cs = this.consumers;
    const n = cs.length;
    if (n === 0) return undefined;
    if (this.options.settings.singleActiveConsumer) {
      const c = cs[0]!;
      return c.sink.canDeliver(c) ? c : undefined;
    }
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
    this.touch();
    this.expireHead();
    if (this.head() === undefined) return undefined;
    return this.take(noAck);
  }

  // ------------------------------------------------------------------------------------------
  // Settlement

  /** An unacked entry was acked: forget it. */
  settle(e: QueueEntry): void {
    this.release(e);
    this.meter.sub(e.msg.memorySize);
    if (e.storeSeq >= 0 && this.index !== undefined && !this.deleted) this.index.settle(e.storeSeq);
  }

  /** basic.reject / nack with requeue=false: settle and dead-letter (reason rejected). */
  reject(e: QueueEntry): void {
    this.settle(e);
    if (!this.deleted) this.deadLetter(this.forDeadLetter(e), 'rejected');
  }

  private release(e: QueueEntry): void {
    if (e.consumer !== null) {
      e.consumer.unacked--;
      e.consumer = null;
    }
    this.unackedCount--;
  }

  /** Put an unacked entry back in its original position (quorum: count it against the delivery limit). */
  requeue(e: QueueEntry): void {
    if (this.deleted) {
      this.settle(e);
      return;
    }
    const limit = this.options.settings.deliveryLimit;
    if (limit !== undefined && e.deliveries > limit) {
      // Quorum queues drop (dead-letter) a message returned more often than x-delivery-limit.
      this.settle(e);
      this.deadLetter(e.msg, 'delivery_limit');
      return;
    }
    this.release(e);
    if (this.options.settings.queueType === 'quorum') {
      // Quorum queues put returned messages at the back.
      const back = new QueueEntry(this, e.msg, this.nextSeq++, e.deliveries, e.storeSeq);
      back.expiresAt = e.expiresAt;
      this.ready.push(back);
    } else {
      this.ready.requeue(e);
    }
    this.readyBytes += e.msg.body.length;
    if (this.options.settings.overflow === 'drop-head') this.dropOverflow();
    // A message that outlived its TTL while unacked expires as it comes back (dead-lettered).
    if (e.expiresAt !== Infinity) this.expireHead();
  }

  /**
   * The message as delivered: quorum queues add x-delivery-count (returns so far) to every delivery,
   * without changing the stored message.
   */
  messageFor(e: QueueEntry, viaGet: boolean): Message {
    if (this.options.settings.queueType !== 'quorum') return e.msg;
    // RabbitMQ 3.10: basic.get always shows the count; a consumer's first delivery has none.
    if (!viaGet && e.deliveries <= 1) return e.msg;
    return withHeader(e.msg, 'x-delivery-count', e.deliveries - 1);
  }

  // ------------------------------------------------------------------------------------------
  // Consumers

  addConsumer(c: Consumer): void {
    if (this.consumers.some((o) => o.exclusive) || (c.exclusive && this.consumers.length > 0)) {
      throw new AmqpError(ReplyCode.ACCESS_REFUSED, `queue '${this.name}' in vhost '${this.vhost}' in exclusive use`);
    }
    let at = this.consumers.length;
    if (!this.options.settings.singleActiveConsumer) {
      // Keep the list sorted by priority (descending), newcomers last within their level.
      while (at > 0 && this.consumers[at - 1]!.priority < c.priority) at--;
    }
    this.consumers.splice(at, 0, c);
    this.hadConsumer = true;
    this.touch();
  }

  /** Remove a consumer; an auto-delete queue that loses its last one goes away. */
  removeConsumer(c: Consumer): void {
    const i = this.consumers.indexOf(c);
    if (i < 0) return;
    this.consumers.splice(i, 1);
    if (this.consumers.length > 0) {
      // Single active consumer: the next subscriber takes over.
      if (i === 0 && this.options.settings.singleActiveConsumer) this.dispatch();
      return;
    }
    this.touch();
    if (this.options.autoDelete && this.hadConsumer) this.hooks?.unused(this);
  }

  // ------------------------------------------------------------------------------------------
  // Queue expiry (x-expires): deleted after being unused (no consumers, no basic.get, no
  // redeclaration) for the given time.

  touch(): void {
    const expires = this.options.settings.expires;
    if (expires === undefined || this.deleted) return;
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      if (this.consumers.length > 0) return;
      this.hooks?.expire(this);
    }, expires);
    this.expiryTimer.unref();
  }

  // ------------------------------------------------------------------------------------------
  // Purge, delete, recovery

  /** Drop every ready and paged message; returns how many. Unacked ones stay with their channels. */
  purge(): number {
    const n = this.messageCount;
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

  /** Mark deleted, drop messages, release the store index and tell consumers' channels. */
  destroy(): number {
    const n = this.purge();
    this.deleted = true;
    if (this.ttlTimer !== undefined) clearTimeout(this.ttlTimer);
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.ttlTimer = this.expiryTimer = undefined;
    if (this.index !== undefined && this.persistence !== undefined) {
      this.persistence.store.deleteQueue(this.storeKey);
      this.index = undefined;
    }
    const cs = this.consumers.splice(0);
    for (const c of cs) c.sink.cancelledByBroker(c);
    return n;
  }

  /**
   * After a restart. Plain FIFO queues leave every live entry paged (read back on demand); the
   * others read their entries now, as they need each message's priority and expiry.
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
          p.unreadable(this.storeKey, c.seq, err);
          gone.push(c.seq);
        }
      }
      for (const seq of gone) index.settle(seq);
    }
    this.pagedCount = index.count;
    this.pagedBytes = index.bytes;
    this.pageFromStoreSeq = 0;
    if (!this.canPage) {
      while (this.pagedCount > 0) this.pageIn();
      if (this.options.settings.messageTtl !== undefined) {
        const at = Date.now() + this.options.settings.messageTtl;
        // The original enqueue time is not recorded: recovered messages get a fresh queue TTL.
        this.forEachReady((e) => { e.expiresAt = at; });
        this.expireHead();
      }
    }
  }

  private forEachReady(fn: (e: QueueEntry) => void): void {
    const all: QueueEntry[] = [];
    for (let e = this.ready.shift(); e !== undefined; e = this.ready.shift()) all.push(e);
    for (const e of all) { fn(e); this.ready.push(e); }
  }
}

/** A copy of `msg` with one header set (used for x-delivery-count). */
function withHeader(msg: Message, key: string, value: number): Message {
  const headers = (msg.headers() ?? []).filter((h) => h.key !== key);
  headers.push({ key, value: fv.long(value) });
  return msg.withChanges({ headers });
}
