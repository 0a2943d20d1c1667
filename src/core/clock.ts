/**
 * A coarse clock: milliseconds since the epoch, refreshed by a timer instead of calling
 * Date.now() per message on the hot path. Each broker owns one (no singletons) and stops it on close.
 */
export class CoarseClock {
  now: number = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly resolutionMs = 10) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => { this.now = Date.now(); }, this.resolutionMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Seconds since the epoch, for AMQP timestamps. */
  seconds(): number {
    return Math.floor(this.now / 1000);
  }
}
