/**
 * Keeps the memory meter's account of what the store holds in memory (its queue indexes' resident
 * entries: every stored or paged message costs one) current: read from the store's statistics once a
 * second, off the hot path, so paging out a backlog does not hide its memory from the alarm (issue
 * 10). The timer does not keep the process alive.
 */
import type { Store } from '../store/store.js';
import type { MemoryMeter } from './memory-meter.js';

export class StoreMemoryWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: Store, private readonly meter: MemoryMeter, private readonly intervalMs = 1000) {}

  start(): void {
    this.check();
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  check(): void {
    this.meter.setStoreMemory(this.store.stats().indexMemoryBytes);
  }
}
