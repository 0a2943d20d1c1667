/**
 * Heartbeat policy: the peer never waits more than half the negotiated interval for a frame (some
 * clients drop the socket after one silent interval), an idle connection gets a heartbeat every half
 * interval, and a peer silent for two whole intervals is dropped (RabbitMQ's rules).
 */
import { describe, expect, it } from 'vitest';
import { HEARTBEAT_DEAD, HEARTBEAT_IDLE, HEARTBEAT_SEND, Heartbeat, TICKS_PER_INTERVAL, heartbeatTickMs } from '../../../src/server/heartbeat.js';

describe('Heartbeat', () => {
  it('after a write, the next frame follows within half the interval; idle, one heartbeat every half interval', () => {
    // Writes land just after some ticks (the worst case: a whole tick passes before the next one
    // sees them); measure, in intervals, the longest time the peer waits for the next frame.
    const h = new Heartbeat();
    const writes = new Set([0, 5, 6, 13]);
    let lastFrameAt = 0;
    let longest = 0;
    let sentDuringLastTick = false;
    const heartbeatsAt: number[] = [];
    for (let tick = 1; tick < 40; tick++) {
      const a = h.tick(sentDuringLastTick, true);
      sentDuringLastTick = false;
      if (a === HEARTBEAT_SEND) {
        heartbeatsAt.push(tick);
        longest = Math.max(longest, tick - lastFrameAt);
        lastFrameAt = tick;
        sentDuringLastTick = true; // flushed now: counted in the coming tick period
      }
      if (writes.has(tick)) {
        longest = Math.max(longest, tick + 0.01 - lastFrameAt);
        lastFrameAt = tick + 0.01;
        sentDuringLastTick = true;
      }
    }
    expect(longest / TICKS_PER_INTERVAL).toBeLessThanOrEqual(0.5);
    const idle = heartbeatsAt.filter((t) => t > 20);
    expect(idle.length).toBeGreaterThan(3);
    for (let i = 1; i < idle.length; i++) expect((idle[i]! - idle[i - 1]!) / TICKS_PER_INTERVAL).toBe(0.5);
  });

  it('a peer silent for two intervals is dropped; anything received resets the count', () => {
    const h = new Heartbeat();
    for (let i = 0; i < 2 * TICKS_PER_INTERVAL - 1; i++) expect(h.tick(true, false)).toBe(HEARTBEAT_IDLE);
    expect(h.tick(true, true)).toBe(HEARTBEAT_IDLE);
    for (let i = 0; i < 2 * TICKS_PER_INTERVAL - 1; i++) expect(h.tick(true, false)).not.toBe(HEARTBEAT_DEAD);
    expect(h.tick(true, false)).toBe(HEARTBEAT_DEAD);
  });

  it('ticks fit a Node timer for every u16 heartbeat', () => {
    expect(heartbeatTickMs(65535)).toBeLessThan(2 ** 31 - 1);
    expect(heartbeatTickMs(1)).toBe(1000 / TICKS_PER_INTERVAL);
  });
});
