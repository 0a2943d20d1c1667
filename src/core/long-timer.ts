/**
 * A one-shot timer for delays of any length. Node's setTimeout/setInterval hold at most 2^31-1 ms
 * (~24.8 days); a longer delay is replaced by 1 ms with a TimeoutOverflowWarning. AMQP lets clients
 * ask for far longer ones (x-message-ttl, x-expires and per-message expiration up to RabbitMQ's 10
 * years, x-delay without limit), and a timer that fires every millisecond to find nothing due keeps
 * an idle broker busy. LongTimer waits in steps of at most MAX_TIMER_DELAY and re-arms until the
 * deadline (wall clock, Date.now()) has passed, then calls its callback once.
 * Invariants: at most one Node timer per LongTimer; the callback never runs before its deadline
 * (by Date.now()), and runs at most once per arming; unref'd by default (a pending expiry must not
 * keep a process alive).
 */

/** The longest delay a Node timer honours (2^31 - 1 ms). */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

export class LongTimer {
  private handle: NodeJS.Timeout | undefined;
  private deadline = Infinity;
  private readonly onTimeout = (): void => this.step();

  constructor(private readonly callback: () => void, private readonly unref = true) {}

  /** Epoch ms the callback is due at; Infinity when not armed. */
  get at(): number {
    return this.deadline;
  }

  get armed(): boolean {
    return this.deadline !== Infinity;
  }

  /**
   * Call back once Date.now() >= at (epoch ms), replacing any earlier arming. A deadline of
   * Infinity or NaN disarms.
   */
  fireAt(at: number): void {
    this.clearHandle();
    this.deadline = Number.isNaN(at) ? Infinity : at;
    if (this.deadline !== Infinity) this.schedule(this.deadline - Date.now());
  }

  /** Call back after `ms` milliseconds (any length; Infinity or NaN disarms). */
  fireIn(ms: number): void {
    this.fireAt(Date.now() + ms);
  }

  cancel(): void {
    this.clearHandle();
    this.deadline = Infinity;
  }

  private schedule(remaining: number): void {
    // Math.max: a deadline already passed fires on the next timers phase, never synchronously.
    this.handle = setTimeout(this.onTimeout, Math.min(MAX_TIMER_DELAY, Math.max(0, remaining)));
    if (this.unref) this.handle.unref();
  }

  private step(): void {
    this.handle = undefined;
    const remaining = this.deadline - Date.now();
    if (remaining > 0) {
      // Not yet: a clamped step, or the wall clock was set back. Wait for the rest.
      this.schedule(remaining);
      return;
    }
    this.deadline = Infinity;
    this.callback();
  }

  private clearHandle(): void {
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
  }
}
