/**
 * Watches free space on the data directory's file system and raises the resource alarm
 * (publishers blocked) while it is under the limit, as RabbitMQ's disk_free_limit does.
 * Polls with a timer (not on the hot path); the timer does not keep the process alive.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { MemoryMeter } from './memory-meter.js';

export class DiskAlarm {
  private timer: NodeJS.Timeout | undefined;
  private on = false;

  constructor(
    private readonly store: Store,
    private readonly meter: MemoryMeter,
    private readonly limit: number,
    private readonly logger: Logger,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    if (this.limit <= 0 || this.store.kind !== 'file') return;
    void this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  async check(): Promise<void> {
    try {
      const { free } = await this.store.diskFree();
      const on = free < this.limit;
      if (on !== this.on) {
        this.on = on;
        this.meter.setDiskAlarm(on);
        if (on) this.logger.warn({ free, limit: this.limit }, 'disk alarm: free disk space under the limit, publishers blocked');
        else this.logger.info({ free, limit: this.limit }, 'disk alarm cleared');
      }
    } catch (err: unknown) {
      this.logger.debug({ err }, 'disk space check failed');
    }
  }
}
