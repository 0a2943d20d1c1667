/**
 * A queue: ready entries in FIFO order (by `seq`), its consumers served round robin with
 * prefetch credit, and counters for unacked deliveries. Socket-free: consumers are reached
 * through their DeliverySink. Invariants: `ready` is sorted by seq; an entry is either in
 * `ready`, held unacked by one channel, or settled; `meter` counts every held message once.
 */
import { AmqpError } from '../core/amqp-error.js';
import type { FieldTable } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import type { Consumer } from './consumer.js';
import { Deque } from './deque.js';
import type { MemoryMeter } from './memory-meter.js';
import type { Message } from './message.js';
import { QueueEntry } from './queue-entry.js';

export interface QueueOptions {
  durable: boolean;
  /** Owning connection id for exclusive queues, -1 otherwise. */
  exclusiveOwner: number;
  autoDelete: boolean;
  arguments: FieldTable;
}

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

  constructor(
    readonly name: string,
    readonly vhost: string,
    readonly options: QueueOptions,
    private readonly meter: MemoryMeter,
  ) {}

  get durable(): boolean { return this.options.durable; }
  get exclusive(): boolean { return this.options.exclusiveOwner >= 0; }
  get autoDelete(): boolean { return this.options.autoDelete; }
  get messageCount(): number { return this.ready.length; }
  get consumerCount(): number { return this.consumers.length; }

  enqueue(msg: Message): void {
    this.meter.add(msg.memorySize);
    this.ready.push(new QueueEntry(this, msg, this.nextSeq++, 0));
    if (this.consumers.length > 0) this.dispatch();
  }

  /** Hand ready messages to consumers with credit, round robin, until either runs out. */
  dispatch(): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    try {
      while (this.ready.length > 0) {
        const c = this.nextConsumer();
        if (c === undefined) break;
        const e = this.ready.shift()!;
        e.deliveries++;
        if (!c.noAck) {
          e.consumer = c;
          this.unackedCount++;
          c.unacked++;
        } else {
          this.meter.sub(e.msg.memorySize);
        }
        c.sink.deliver(c, e);
      }
    } finally {
      this.dispatching = false;
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
    const e = this.ready.shift();
    if (e === undefined) return undefined;
    e.deliveries++;
    if (noAck) this.meter.sub(e.msg.memorySize);
    else this.unackedCount++;
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
  }

  /** Put unacked entries back in their original position; `entries` need not be sorted. */
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

  /** Drop every ready message; returns how many. Unacked ones stay with their channels. */
  purge(): number {
    const n = this.ready.length;
    for (let e = this.ready.shift(); e !== undefined; e = this.ready.shift()) this.meter.sub(e.msg.memorySize);
    return n;
  }

  /** Mark deleted, drop ready messages and tell consumers' channels. Returns the ready count. */
  destroy(): number {
    const n = this.purge();
    this.deleted = true;
    const cs = this.consumers.splice(0);
    for (const c of cs) c.sink.cancelledByBroker(c);
    return n;
  }
}
