/**
 * StoreMemoryWatch and MemoryMeter.setStoreMemory (issue 10): what the store holds in memory for
 * paged and stored messages counts towards the memory alarm, replaced (not added up) at each check.
 */
import { describe, expect, it } from 'vitest';
import { MemoryMeter } from '../../../src/broker/memory-meter.js';
import { StoreMemoryWatch } from '../../../src/broker/store-memory-watch.js';
import { MemoryStore } from '../../../src/store/memory-store.js';

describe('store memory in the memory meter', () => {
  it('replaces the store share of used and raises and clears the alarm with it', () => {
    const m = new MemoryMeter(1000);
    m.add(600);
    m.setStoreMemory(300);
    expect(m.used).toBe(900);
    expect(m.alarm).toBe(false);
    m.setStoreMemory(500);
    expect(m.used).toBe(1100);
    expect(m.alarm).toBe(true);
    m.setStoreMemory(100);
    expect(m.used).toBe(700);
    expect(m.alarm).toBe(false);
  });

  it('a check reads the store queue indexes into the meter', async () => {
    const store = await MemoryStore.open();
    const m = new MemoryMeter(1 << 30);
    const w = new StoreMemoryWatch(store, m);
    w.check();
    const empty = m.used;
    const ref = store.append([Buffer.from('x')]);
    for (let i = 0; i < 100; i++) store.queue('q').enqueue(ref, 1);
    w.check();
    expect(m.used).toBeGreaterThan(empty);
    expect(m.used).toBe(store.stats().indexMemoryBytes);
    await store.close();
  });
});
