/**
 * A queue's semantics (RabbitMQ's queue process, rabbit_amqqueue_process): its consumers, served
 * by priority then round robin with prefetch credit (or single active consumer); length limits
 * (x-max-length, x-max-length-bytes with x-overflow drop-head / reject-publish /
 * reject-publish-dlx); TTL (x-message-ttl, per-message expiration: messages expire at the head
 * only); queue expiry (x-expires); quorum rules (x-delivery-limit, x-delivery-count, returns to the
 * back); and every dead-letter decision. Socket-free: consumers are reached through their
 * DeliverySink, dead letters and expiry through QueueHooks (the vhost).
 *
 * Messages themselves live in the queue's BackingQueue (backing-queue.ts: ready list, paging,
 * store index): this file decides what happens to them, the backing queue keeps them.
 *
 * Flow control (issue 10; DESIGN.md "Flow control"): while the queue has consumers, its ready depth
 * may grow at most FLOW_SLACK messages above the lowest depth seen since they came (`flowLimit`
 * follows the depth down at every delivery). Past it the queue is `pressing`: a publish into it
 * tells its caller (PublishResult.pressure), whose connection stops reading and waits here
 * (FlowWaiter) until the consumers have taken FLOW_SLACK / 2 more, so a publisher keeps the pace of
 * the consumers it feeds instead of starving them. Without consumers nothing presses (a backlog fills
 * at full speed up to the alarms); consumers that take nothing for a while (`flowStalled`) lift the
 * limit until they take again.
 *
 * Invariants: an entry is ready (in the backing queue), held unacked by one channel, or settled;
 * `unackedCount` counts the held ones; timers never hold the process open and accept any delay
 * (LongTimer); a flow waiter is told once, when the queue is relieved, deleted or loses its
 * consumers.
 */
import { AmqpError } from '../core/amqp-error.js';
import { fieldNumber, fv, tableGet, type FieldTable } from '../core/field-value.js';
import { LongTimer } from '../core/long-timer.js';
import { ReplyCode } from '../core/reply-code.js';
import type { QueueIndex } from '../store/store.js';
import { createBackingQueue, type BackingQueue } from './backing-queue.js';
import type { Consumer } from './consumer.js';
import type { MemoryMeter } from './memory-meter.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence.js';
import type { QueueArguments } from './queue-arguments.js';
import type { QueueEntry } from './queue-entry.js';
import { MessageStats } from './statistics.js';

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
  /**
   * Warren's delayed retries: put `msg` (already carrying its x-retry-count) back into `q` after
   * `delay` ms, durably when the queue and the message are.
   */
  retry?(q: Queue, msg: Message, delay: number): void;
  /** Route a dead-lettered message to the queue's dead-letter exchange. */
  deadLetter(q: Queue, msg: Message, reason: DeadLetterReason): void;
  /** A message left the queue for `reason`, to a dead-letter exchange or dropped without one (statistics). */
  deadLettered?(q: Queue, reason: DeadLetterReason, toExchange: boolean): void;
  /** x-expires elapsed with the queue unused: delete it. */
  expire(q: Queue): void;
  /** An auto-delete queue lost its last consumer. */
  unused(q: Queue): void;
}

/** Ready messages a queue with consumers may grow by before its publishers are slowed. */
export const FLOW_SLACK = 2000;

/** A publishing connection waiting for a pressing queue's consumers to catch up. */
export interface FlowWaiter {
  onRelieved(q: Queue): void;
}

export class Queue {
  readonly consumers: Consumer[] = [];
  /** Deliveries not yet acked (consumers and basic.get). */
  unackedCount = 0;
  /** Body bytes of those deliveries (management's message_bytes_unacknowledged). */
  unackedBytes = 0;
  /** When the queue was last used (declared, basic.get, a consumer came or went): ms since the epoch. */
  lastUsed = 0;
  deleted = false;
  /** Set once a consumer has subscribed: auto-delete applies only after that. */
  hadConsumer = false;
  hooks: QueueHooks | undefined;
  /**
   * Message statistics (publish, deliver, get, ack, redeliver...): incremented by the publish
   * operation and the consuming channel, which hold this queue already (no lookup per message).
   */
  readonly stats = new MessageStats();
  /** Where the messages are kept (memory, store, paging). */
  readonly backing: BackingQueue;
  /** Deliveries so far (consumers and basic.get): flow control's progress check. */
  taken = 0;

  private rr = 0;
  private dispatching = false;
  /** Ready depth above which the queue presses its publishers (see the header). */
  private flowLimit = FLOW_SLACK;
  private readonly flowWaiters: FlowWaiter[] = [];
  /** Follows the head's expiry (created on first use: most queues have no TTL). */
  private ttlTimer: LongTimer | undefined;
  /** Some message may carry an expiry (queue TTL, a per-message expiration, recovered messages). */
  private mayExpire = false;
  /** x-expires (created on first use). */
  private expiryTimer: LongTimer | undefined;

  constructor(
    readonly name: string,
    readonly vhost: string,
    readonly options: QueueOptions,
    meter: MemoryMeter,
    persistence: Persistence | undefined,
  ) {
    this.backing = createBackingQueue(this, options.settings, meter, persistence);
    this.touch();
  }

  get durable(): boolean { return this.options.durable; }
  get exclusive(): boolean { return this.options.exclusiveOwner >= 0; }
  get autoDelete(): boolean { return this.options.autoDelete; }
  get settings(): QueueArguments { return this.options.settings; }
  /** Ready messages (in memory or paged), as queue.declare-ok and basic.get-ok count them. */
  get messageCount(): number { return this.backing.length; }
  get consumerCount(): number { return this.consumers.length; }
  /** The store key of this queue's index. */
  get storeKey(): string { return `${this.vhost}\u0000${this.name}`; }

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
    // In memory or paged out: the backing queue keeps the expiry with the message either way.
    this.backing.publish(msg, expiresAt);
    const dropped = s.overflow === 'drop-head' && (s.maxLength !== undefined || s.maxLengthBytes !== undefined)
      && this.dropOverflow();
    if (this.consumers.length > 0) this.dispatch();
    if (expiresAt !== Infinity) this.mayExpire = true;
    // rabbit_amqqueue_process:deliver_or_enqueue runs drop_expired_msgs when the new message may
    // expire or when drop-head changed the head: the new head may be a message whose time has passed.
    if (this.mayExpire && (dropped || expiresAt !== Infinity)) this.expireHead();
    return true;
  }

  private wouldOverflow(extraBytes: number): boolean {
    const s = this.options.settings;
    if (s.maxLength !== undefined && this.backing.length >= s.maxLength) return true;
    return s.maxLengthBytes !== undefined && this.backing.bytes + extraBytes > s.maxLengthBytes;
  }

  /**
   * drop-head: remove the oldest ready messages until the limits hold (dead-lettered as maxlen).
   * Returns whether any was dropped (the head changed).
   */
  private dropOverflow(): boolean {
    const s = this.options.settings;
    const b = this.backing;
    let dropped = false;
    while (b.length > 0 && ((s.maxLength !== undefined && b.length > s.maxLength)
      || (s.maxLengthBytes !== undefined && b.bytes > s.maxLengthBytes))) {
      if (b.head() === undefined) break;
      this.deadLetter(b.drop().msg, 'maxlen');
      dropped = true;
    }
    return dropped;
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

  /**
   * Drop (and dead-letter) the expired messages at the head, then follow the new head's expiry with
   * the timer. Called whenever the head may have changed in a queue whose messages may expire, so
   * a message expires as soon as it is at the head with its time passed (RabbitMQ's drop_expired_msgs
   * and ensure_ttl_timer). A paged head's expiry is read from the store index, not from the message.
   */
  private expireHead(): void {
    const b = this.backing;
    let at = b.headExpiresAt();
    if (at === Infinity) return;
    const now = Date.now();
    if (at < now && this.options.settings.deadLetterExchange === undefined) {
      // Nobody needs the expired messages' contents: paged ones go without being read back.
      b.dropExpiredUnread(now);
      at = b.headExpiresAt();
    }
    while (at < now) {
      // Read back (a paged head), and check again: an unreadable record is skipped while reading.
      const h = b.head();
      if (h === undefined) break;
      if (h.expiresAt < now) this.deadLetter(b.drop().msg, 'expired');
      at = b.headExpiresAt();
    }
    if (at !== Infinity) this.armTtlTimer(at);
  }

  private armTtlTimer(at: number): void {
    const t = (this.ttlTimer ??= new LongTimer(() => this.expireHead()));
    // Due strictly after `at` (expiry is `expiresAt < now`).
    if (!t.armed || t.at > at + 1) t.fireAt(at + 1);
  }

  private deadLetter(msg: Message, reason: DeadLetterReason): void {
    const dlx = this.options.settings.deadLetterExchange !== undefined;
    // Counted with or without a dead-letter exchange, as RabbitMQ's global counters do.
    this.hooks?.deadLettered?.(this, reason, dlx);
    if (dlx) this.hooks?.deadLetter(this, msg, reason);
  }

  // ------------------------------------------------------------------------------------------
  // Delivery

  /** Hand ready messages to consumers with credit until either runs out. */
  dispatch(): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    const b = this.backing;
    try {
      while (b.length > 0) {
        const c = this.nextConsumer();
        if (c === undefined) break;
        const head = b.head();
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
    // The head changed: follow its expiry.
    if (this.mayExpire) this.expireHead();
  }

  /** Take the head entry for a consumer or basic.get, counted as delivered. */
  private take(noAck: boolean): QueueEntry {
    const e = this.backing.fetch(noAck);
    if (!noAck) {
      this.unackedCount++;
      this.unackedBytes += e.msg.body.length;
    }
    this.taken++;
    const depth = this.backing.length;
    if (depth + FLOW_SLACK < this.flowLimit) this.flowLimit = depth + FLOW_SLACK;
    if (this.flowWaiters.length > 0 && depth <= this.flowLimit - FLOW_SLACK / 2) this.relieve();
    return e;
  }

  // ------------------------------------------------------------------------------------------
  // Flow control (see the header)

  /** Consumers are behind: the ready depth grew past the limit. */
  get pressing(): boolean {
    return this.consumers.length > 0 && this.backing.length > this.flowLimit;
  }

  /** Publishers waiting for this queue may go on. */
  get relieved(): boolean {
    return this.deleted || this.consumers.length === 0 || this.backing.length <= this.flowLimit - FLOW_SLACK / 2;
  }

  /** Tell `w` (once) when the queue is relieved. */
  waitForRelief(w: FlowWaiter): void {
    if (!this.flowWaiters.includes(w)) this.flowWaiters.push(w);
  }

  stopWaiting(w: FlowWaiter): void {
    const i = this.flowWaiters.indexOf(w);
    if (i >= 0) this.flowWaiters.splice(i, 1);
  }

  /** The consumers took nothing for a while: no limit until they take again (the backlog grows). */
  flowStalled(): void {
    this.flowLimit = Number.MAX_SAFE_INTEGER;
    this.relieve();
  }

  private relieve(): void {
    if (this.flowWaiters.length === 0) return;
    const ws = this.flowWaiters.splice(0);
    for (const w of ws) w.onRelieved(this);
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
    if (this.mayExpire) this.expireHead();
    if (this.backing.head() === undefined) return undefined;
    const e = this.take(noAck);
    if (this.mayExpire) this.expireHead();
    return e;
  }

  // ------------------------------------------------------------------------------------------
  // Settlement

  /** An unacked entry was acked: forget it. */
  settle(e: QueueEntry): void {
    this.release(e);
    this.backing.ack(e);
  }

  /**
   * basic.reject / nack with requeue=false: settle and dead-letter (reason rejected). With
   * x-retry-delays (Warren extension) the message first comes back after the next delay, its
   * x-retry-count header counting the retries, until x-retry-limit (default: one per delay).
   */
  reject(e: QueueEntry): void {
    this.settle(e);
    if (this.deleted) return;
    const delays = this.options.settings.retryDelays;
    if (delays !== undefined && this.hooks?.retry !== undefined) {
      const count = retryCountOf(e.msg);
      const limit = this.options.settings.retryLimit ?? delays.length;
      if (count < limit) {
        this.hooks.retry(this, withHeader(e.msg, RETRY_COUNT_HEADER, count + 1), delays[Math.min(count, delays.length - 1)]!);
        return;
      }
    }
    this.deadLetter(e.msg, 'rejected');
  }

  private release(e: QueueEntry): void {
    if (e.consumer !== null) {
      e.consumer.unacked--;
      e.consumer = null;
    }
    this.unackedCount--;
    this.unackedBytes -= e.msg.body.length;
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
    // Quorum queues put returned messages at the back.
    this.backing.requeue(e, this.options.settings.queueType === 'quorum');
    const dropped = this.options.settings.overflow === 'drop-head' && this.dropOverflow();
    // A message that outlived its TTL while unacked expires as it comes back (dead-lettered); a
    // drop-head may also have uncovered an expired head.
    if (e.expiresAt !== Infinity || (dropped && this.mayExpire)) this.expireHead();
  }

  /**
   * The message as delivered: quorum queues add x-delivery-count (returns so far) to every delivery,
   * without changing the stored message.
   */
  messageFor(e: QueueEntry, viaGet: boolean): Message {
    return this.deliveredForm(e.msg, e.deliveries, viaGet);
  }

  /** `msg` as its delivery number `deliveries` (1 = first) shows it (see messageFor). */
  deliveredForm(msg: Message, deliveries: number, viaGet: boolean): Message {
    if (this.options.settings.queueType !== 'quorum') return msg;
    // RabbitMQ 3.10: basic.get always shows the count; a consumer's first delivery has none.
    if (!viaGet && deliveries <= 1) return msg;
    return withHeader(msg, 'x-delivery-count', deliveries - 1);
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
    // Flow control measures growth from here: an existing backlog is not the consumers' debt.
    if (this.consumers.length === 0) this.flowLimit = this.backing.length + FLOW_SLACK;
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
    this.relieve();
    this.touch();
    if (this.options.autoDelete && this.hadConsumer) this.hooks?.unused(this);
  }

  // ------------------------------------------------------------------------------------------
  // Queue expiry (x-expires): deleted after being unused (no consumers, no basic.get, no
  // redeclaration) for the given time.

  touch(): void {
    this.lastUsed = Date.now();
    const expires = this.options.settings.expires;
    if (expires === undefined || this.deleted) {
      // A policy that set x-expires may have been removed: its timer must not fire.
      this.expiryTimer?.cancel();
      return;
    }
    const t = (this.expiryTimer ??= new LongTimer(() => {
      if (this.consumers.length === 0) this.hooks?.expire(this);
    }));
    t.fireIn(expires);
  }

  // ------------------------------------------------------------------------------------------
  // Purge, delete, recovery

  /** Drop every ready and paged message; returns how many. Unacked ones stay with their channels. */
  purge(): number {
    const n = this.backing.purge();
    this.flowLimit = FLOW_SLACK;
    this.relieve();
    return n;
  }

  /** Mark deleted, drop messages, release the store index and tell consumers' channels. */
  destroy(): number {
    const n = this.purge();
    this.deleted = true;
    this.ttlTimer?.cancel();
    this.expiryTimer?.cancel();
    this.backing.delete();
    const cs = this.consumers.splice(0);
    for (const c of cs) c.sink.cancelledByBroker(c);
    this.relieve();
    return n;
  }

  /**
   * After a restart: messages back from the store (see BackingQueue.recover), with the expiry each
   * had (a queue TTL keeps counting from the original enqueue); those due meanwhile expire now.
   */
  recover(indexOf: (key: string) => QueueIndex | undefined, dropTransient: (key: string) => boolean): void {
    this.backing.recover(indexOf, dropTransient);
    this.mayExpire = true;
    this.expireHead();
  }
}

/** The header a retried message carries: how many times it came back (Warren's delayed retries). */
export const RETRY_COUNT_HEADER = 'x-retry-count';

/** The retries a message has had so far (its x-retry-count, 0 when absent or not a number). */
export function retryCountOf(msg: Message): number {
  if (msg.headersStart < 0) return 0;
  const n = fieldNumber(tableGet(msg.headers() ?? [], RETRY_COUNT_HEADER));
  return n !== undefined && Number.isInteger(n) && n > 0 ? n : 0;
}

/** A copy of `msg` with one header set (used for x-delivery-count and x-retry-count). */
function withHeader(msg: Message, key: string, value: number): Message {
  const headers = (msg.headers() ?? []).filter((h) => h.key !== key);
  headers.push({ key, value: fv.long(value) });
  return msg.withChanges({ headers });
}
