/**
 * Delayed delivery with delays beyond Node's timer limit (2^31-1 ms): released at the due time,
 * in due order, never early, and without a storm of 1 ms wake-ups while waiting.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DelayedDelivery } from '../../../src/broker/delayed-delivery.js';
import { Exchange } from '../../../src/broker/exchange.js';
import { Message } from '../../../src/broker/message.js';
import { EMPTY_TABLE, tableFrom } from '../../../src/core/field-value.js';

const codec = { decodeTable: () => EMPTY_TABLE, rewrite: () => { throw new Error('unused'); } };
const msg = (body: string): Message => new Message('x', 'k', Buffer.alloc(2), Buffer.from(body), 1, 0, undefined, -1, -1, codec);

beforeEach(() => { vi.useFakeTimers({ now: 1_700_000_000_000 }); });
afterEach(() => { vi.useRealTimers(); });

describe('DelayedDelivery with very long delays', () => {
  it('releases 2^32 ms and 2^40 ms delays at their due time, in order, with few wake-ups', () => {
    const released: string[] = [];
    const x = new Exchange('d', '/', 'x-delayed-message', false, false, false, tableFrom({ 'x-delayed-type': 'fanout' }));
    const d = new DelayedDelivery(undefined, (_x, m) => released.push(m.body.toString()));
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const now = Date.now();
    d.schedule(x, msg('far'), now + 2 ** 40);
    d.schedule(x, msg('near'), now + 2 ** 32);
    vi.advanceTimersByTime(2 ** 32 - 1);
    expect(released).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(released).toEqual(['near']);
    vi.advanceTimersByTime(2 ** 40 - 2 ** 32 - 1);
    expect(released).toEqual(['near']);
    vi.advanceTimersByTime(1);
    expect(released).toEqual(['near', 'far']);
    expect(d.size).toBe(0);
    expect(spy.mock.calls.length).toBeLessThanOrEqual(3 + Math.ceil(2 ** 40 / (2 ** 31 - 1)));
    spy.mockRestore();
    d.stop();
  });
});
