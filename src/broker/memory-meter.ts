/**
 * Counts the bytes of messages the broker holds (queued or unacked) against a high watermark, plus
 * what the store holds in memory for stored and paged messages (index entries, `setStoreMemory`,
 * refreshed by StoreMemoryWatch), so a paged backlog still counts towards the alarm.
 * Connections compare `used` with `highWatermark` when they accept a publish (a cheap field read,
 * no event per message) and block publishers above it; `release()` wakes them when usage falls
 * under the low watermark.
 */
export class MemoryMeter {
  used = 0;
  /** The store's share of `used` (its resident index entries). */
  storeMemory = 0;
  /** True while publishers must be blocked: memory above the watermark or the disk alarm on. */
  alarm = false;
  private memoryAlarm = false;
  private diskAlarm = false;
  private readonly listeners = new Set<(alarm: boolean) => void>();

  constructor(
    public highWatermark: number,
    /** Fraction of the high watermark under which the alarm clears. */
    private readonly lowRatio = 0.8,
  ) {}

  add(n: number): void {
    this.used += n;
    if (!this.memoryAlarm && this.used > this.highWatermark) {
      this.memoryAlarm = true;
      this.update();
    }
  }

  sub(n: number): void {
    this.used -= n;
    if (this.memoryAlarm && this.used <= this.highWatermark * this.lowRatio) {
      this.memoryAlarm = false;
      this.update();
    }
  }

  /** The store's memory changed: replace its share of `used`. */
  setStoreMemory(bytes: number): void {
    const d = bytes - this.storeMemory;
    this.storeMemory = bytes;
    if (d > 0) this.add(d);
    else if (d < 0) this.sub(-d);
  }

  /** The memory alarm alone (held message bytes above the high watermark, until under the low one). */
  get memoryAlarmOn(): boolean {
    return this.memoryAlarm;
  }

  /** The disk alarm alone (free disk under the limit). */
  get diskAlarmOn(): boolean {
    return this.diskAlarm;
  }

  /** Free disk fell under (or rose back over) the configured limit. */
  setDiskAlarm(on: boolean): void {
    if (this.diskAlarm === on) return;
    this.diskAlarm = on;
    this.update();
  }

  private update(): void {
    const alarm = this.memoryAlarm || this.diskAlarm;
    if (alarm !== this.alarm) this.set(alarm);
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
