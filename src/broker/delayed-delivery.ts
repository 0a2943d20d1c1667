/**
 * Delayed delivery for exchanges of type x-delayed-message (the semantics of RabbitMQ's
 * rabbitmq-delayed-message-exchange plugin: the x-delay header holds milliseconds; routing follows
 * x-delayed-type once the delay has passed). Unlike the plugin there is no practical cap: pending
 * messages sit in a binary heap ordered by due time with one timer for the earliest; persistent
 * messages on durable exchanges are kept in the store (their bodies leave memory until due) and
 * survive restarts. Delays of any length are honoured: the one timer is a LongTimer (Node timers
 * cannot wait longer than 2^31-1 ms and would otherwise fire at once).
 */
import { LongTimer } from '../core/long-timer.js';
import type { QueueIndex } from '../store/store.js';
import type { Exchange } from './exchange.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence.js';

interface Pending {
  due: number;
  order: number;
  exchange: Exchange;
  /** In memory (transient), or undefined when it waits in the store. */
  msg: Message | undefined;
  ref: number;
  size: number;
  index: QueueIndex | undefined;
  storeSeq: number;
}

export type Release = (x: Exchange, msg: Message) => void;

export class DelayedDelivery {
  private readonly heap: Pending[] = [];
  private order = 0;
  private readonly timer = new LongTimer(() => this.fire());

  constructor(private readonly persistence: Persistence | undefined, private readonly release: Release) {}

  get size(): number {
    return this.heap.length;
  }

  static storeKey(x: Exchange): string {
    return `\u0001delayed\u0000${x.vhost}\u0000${x.name}`;
  }

  schedule(x: Exchange, msg: Message, due: number): void {
    const p = this.persistence;
    let pending: Pending;
    if (p !== undefined && x.durable && msg.persistent) {
      const index = p.store.queue(DelayedDelivery.storeKey(x));
      const ref = p.record(msg);
      const storeSeq = index.enqueue(ref, msg.storeSize);
      pending = { due, order: this.order++, exchange: x, msg: undefined, ref, size: msg.storeSize, index, storeSeq };
    } else {
      pending = { due, order: this.order++, exchange: x, msg, ref: -1, size: 0, index: undefined, storeSeq: -1 };
    }
    this.push(pending);
    this.arm();
  }

  /** After a restart: reschedule what a durable delayed exchange still holds in the store. */
  recover(x: Exchange, index: QueueIndex): void {
    const p = this.persistence;
    if (p === undefined) return;
    const c = index.cursor();
    while (c.next()) {
      const rec = p.load(c.ref, c.size);
      const delay = delayOf(rec.msg);
      this.push({ due: rec.msg.publishedAt + delay, order: this.order++, exchange: x, msg: undefined, ref: c.ref, size: c.size,
        index, storeSeq: c.seq });
    }
    this.arm();
  }

  /** Drop everything pending for a deleted exchange. */
  dropExchange(x: Exchange): void {
    const keep = this.heap.filter((e) => e.exchange !== x);
    this.heap.length = 0;
    for (const e of keep) this.push(e);
    if (this.persistence !== undefined) this.persistence.store.deleteQueue(DelayedDelivery.storeKey(x));
  }

  stop(): void {
    this.timer.cancel();
  }

  private arm(): void {
    const first = this.heap[0];
    if (first === undefined) return;
    if (this.timer.at <= first.due) return;
    this.timer.fireAt(first.due);
  }

  private fire(): void {
    const now = Date.now();
    while (this.heap.length > 0 && this.heap[0]!.due <= now) {
      const e = this.pop()!;
      if (e.exchange.deleted) continue;
      let msg = e.msg;
      if (msg === undefined && this.persistence !== undefined) msg = this.persistence.load(e.ref, e.size).msg;
      if (msg !== undefined) this.release(e.exchange, msg);
      if (e.index !== undefined) e.index.settle(e.storeSeq);
    }
    this.arm();
  }

  // Binary heap by (due, order).
  private less(a: Pending, b: Pending): boolean {
    return a.due < b.due || (a.due === b.due && a.order < b.order);
  }

  private push(e: Pending): void {
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

  private pop(): Pending | undefined {
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
