/**
 * Counts the bytes of messages the broker holds (queued or unacked) against a high watermark.
 * Connections compare `used` with `highWatermark` when they accept a publish (a cheap field read,
 * no event per message) and block publishers above it; `release()` wakes them when usage falls
 * under the low watermark.
 */
export class MemoryMeter {
  used = 0;
  alarm = false;
  private readonly listeners = new Set<(alarm: boolean) => void>();

  constructor(
    public highWatermark: number,
    /** Fraction of the high watermark under which the alarm clears. */
    private readonly lowRatio = 0.8,
  ) {}

  add(n: number): void {
    this.used += n;
    if (!this.alarm && this.used > this.highWatermark) this.set(true);
  }

  sub(n: number): void {
    this.used -= n;
    if (this.alarm && this.used <= this.highWatermark * this.lowRatio) this.set(false);
  }

  onChange(fn: (alarm: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(alarm: boolean): void {
    this.alarm = alarm;
    for (const fn of this.listeners) fn(alarm);
  }
}
