/**
 * The ready messages of one queue level in memory, in delivery order (the backing queue keeps one
 * per priority level). Invariant: entries are sorted by seq, so a requeued entry returns to its
 * original position.
 */
import { Deque } from './deque.js';
import type { QueueEntry } from './queue-entry.js';

export class FifoReady {
  private readonly d = new Deque<QueueEntry>();

  get length(): number { return this.d.length; }
  push(e: QueueEntry): void { this.d.push(e); }
  shift(): QueueEntry | undefined { return this.d.shift(); }
  peek(): QueueEntry | undefined { return this.d.peek(); }
  /** The i-th entry in delivery order (peek, off the hot path). */
  at(i: number): QueueEntry | undefined { return this.d.at(i); }

  requeue(e: QueueEntry): void {
    const head = this.d.peek();
    if (head === undefined || e.seq < head.seq) {
      this.d.unshift(e);
      return;
    }
    let lo = 0;
    let hi = this.d.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.d.at(mid)!.seq < e.seq) lo = mid + 1;
      else hi = mid;
    }
    this.d.insertAt(lo, e);
  }
}
