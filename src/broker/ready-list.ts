/**
 * The ready messages of a queue, in delivery order. FifoReady is a plain FIFO; PriorityReady
 * (x-max-priority) keeps one FIFO per priority level and serves the highest level first.
 * Invariant: within a FIFO, entries are sorted by seq, so a requeued entry returns to its
 * original position.
 */
import { Deque } from './deque.js';
import type { QueueEntry } from './queue-entry.js';

export interface ReadyList {
  readonly length: number;
  push(e: QueueEntry): void;
  shift(): QueueEntry | undefined;
  peek(): QueueEntry | undefined;
  /** Put an entry back where its seq says. */
  requeue(e: QueueEntry): void;
}

export class FifoReady implements ReadyList {
  private readonly d = new Deque<QueueEntry>();

  get length(): number { return this.d.length; }
  push(e: QueueEntry): void { this.d.push(e); }
  shift(): QueueEntry | undefined { return this.d.shift(); }
  peek(): QueueEntry | undefined { return this.d.peek(); }

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

export class PriorityReady implements ReadyList {
  private readonly levels: FifoReady[] = [];
  private size = 0;

  constructor(readonly maxPriority: number) {
    for (let i = 0; i <= maxPriority; i++) this.levels.push(new FifoReady());
  }

  get length(): number { return this.size; }

  private level(e: QueueEntry): FifoReady {
    // Priorities above the maximum are treated as the maximum (RabbitMQ's priority queues).
    return this.levels[Math.min(this.maxPriority, Math.max(0, e.msg.priority))]!;
  }

  push(e: QueueEntry): void {
    this.level(e).push(e);
    this.size++;
  }

  requeue(e: QueueEntry): void {
    this.level(e).requeue(e);
    this.size++;
  }

  shift(): QueueEntry | undefined {
    for (let i = this.maxPriority; i >= 0; i--) {
      const l = this.levels[i]!;
      if (l.length > 0) {
        this.size--;
        return l.shift();
      }
    }
    return undefined;
  }

  peek(): QueueEntry | undefined {
    for (let i = this.maxPriority; i >= 0; i--) {
      const l = this.levels[i]!;
      if (l.length > 0) return l.peek();
    }
    return undefined;
  }
}
