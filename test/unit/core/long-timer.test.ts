/**
 * LongTimer: delays beyond Node's 2^31-1 ms limit wait in clamped steps and fire once, at the
 * deadline and never before; re-arming, cancelling and past deadlines behave like a plain timer.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LongTimer, MAX_TIMER_DELAY } from '../../../src/core/long-timer.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LongTimer', () => {
  it('a delay of 2^32 ms fires once, at the deadline, after a few clamped steps', () => {
    const fired: number[] = [];
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const t = new LongTimer(() => fired.push(Date.now()));
    const start = Date.now();
    t.fireIn(2 ** 32);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(MAX_TIMER_DELAY);
    expect(fired).toEqual([]);
    expect(vi.getTimerCount()).toBe(1); // re-armed for the rest
    vi.advanceTimersByTime(2 ** 32 - MAX_TIMER_DELAY - 1);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([start + 2 ** 32]);
    expect(t.armed).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    // Every underlying delay fit in a Node timer, and there were only a handful of them.
    for (const call of spy.mock.calls) expect(call[1]).toBeLessThanOrEqual(MAX_TIMER_DELAY);
    expect(spy.mock.calls.length).toBeLessThanOrEqual(3);
    spy.mockRestore();
  });

  it('RabbitMQ\'s largest TTL (10 years) takes ~150 wake-ups, not one per millisecond', () => {
    let fired = 0;
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const t = new LongTimer(() => fired++);
    t.fireIn(315_360_000_000);
    vi.advanceTimersByTime(315_360_000_000 - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
    expect(spy.mock.calls.length).toBe(Math.ceil(315_360_000_000 / MAX_TIMER_DELAY));
    expect(t.at).toBe(Infinity);
    spy.mockRestore();
  });

  it('re-arming replaces the deadline; cancel disarms; Infinity and NaN never fire', () => {
    let fired = 0;
    const t = new LongTimer(() => fired++);
    t.fireIn(1000);
    t.fireIn(5000);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(4999);
    expect(fired).toBe(0);
    t.fireAt(Date.now() + 10);
    vi.advanceTimersByTime(10);
    expect(fired).toBe(1);
    t.fireIn(100);
    t.cancel();
    vi.advanceTimersByTime(1000);
    expect(fired).toBe(1);
    t.fireIn(Infinity);
    expect(t.armed).toBe(false);
    t.fireAt(NaN);
    expect(t.armed).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a deadline in the past fires on the next timer turn, not synchronously', () => {
    let fired = 0;
    const t = new LongTimer(() => fired++);
    t.fireAt(Date.now() - 50);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(0);
    expect(fired).toBe(1);
  });

  it('if the wall clock is set back, it waits for the deadline by the wall clock', () => {
    let fired = 0;
    const t = new LongTimer(() => fired++);
    const deadline = Date.now() + 1000;
    t.fireAt(deadline);
    vi.setSystemTime(Date.now() - 500); // clock set back; the Node timer still runs on its own time
    vi.advanceTimersByTime(1000);
    expect(fired).toBe(0);
    expect(t.at).toBe(deadline);
    vi.advanceTimersByTime(500);
    expect(fired).toBe(1);
  });

  it('the callback may re-arm its own timer', () => {
    let fired = 0;
    const t: LongTimer = new LongTimer(() => { if (++fired < 3) t.fireIn(2 ** 31); });
    t.fireIn(2 ** 31);
    vi.advanceTimersByTime(3 * 2 ** 31);
    expect(fired).toBe(3);
  });
});
