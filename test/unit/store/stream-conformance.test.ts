/**
 * One conformance suite for streams on every Store implementation (memory and file): dense offsets
 * across restarts, visibility only after sync, chunks and `last`, cursors with credit, filtering,
 * timestamps, retention by size and age (whole segments, never the active one, records released),
 * fanout written once, delete, offset tracking. The model-based property test with restarts is
 * stream-conformance.prop.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory-store.js';
import type { Store } from '../../../src/store/store.js';
import type { StreamLog } from '../../../src/store/stream.js';
import { STREAM_IMPLEMENTATIONS as implementations, bodiesFrom, pub, readAll, synced, type Harness } from './store-harness.js';

/** Let the end-of-turn flush and the sync it requests run (no afterSync waiter involved). */
async function committed(st: StreamLog): Promise<void> {
  const deadline = Date.now() + 5000;
  while (st.committedEnd < st.nextOffset && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  expect(st.committedEnd).toBe(st.nextOffset);
}


describe.each(implementations)('stream conformance: %s', (_name, makeHarness) => {
  let harness: Harness | undefined;
  const open: Store[] = [];

  async function start(): Promise<Store> {
    harness ??= await makeHarness();
    const s = await harness.open();
    open.push(s);
    return s;
  }

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close().catch(() => undefined);
    await harness?.cleanup();
    harness = undefined;
  });

  it('gives dense offsets from 0 and shows entries to readers only once synced', async () => {
    const s = await start();
    const st = s.stream('s1');
    expect([st.firstOffset, st.nextOffset, st.committedEnd]).toEqual([0, 0, 0]);
    const offsets = ['a', 'b', 'c'].map((b) => pub(s, st, b));
    expect(offsets).toEqual([0, 1, 2]);
    const early = st.reader(0);
    early.credit = 10;
    expect(early.next()).toBe(false); // not committed yet
    await synced(s);
    expect(st.committedEnd).toBe(3);
    expect(early.next()).toBe(true);
    expect([early.offset, early.payload().toString()]).toEqual([0, 'a']);
    expect(readAll(early)).toEqual([[1, 'b'], [2, 'c']]);
    expect(s.streamNames()).toEqual(['s1']);
  });

  it('commits without any afterSync waiter (the store syncs for its streams)', async () => {
    const s = await start();
    const st = s.stream('nowait');
    let commits = 0;
    st.onCommit = () => { commits++; };
    pub(s, st, 'x');
    await committed(st);
    expect(commits).toBe(1);
    expect(bodiesFrom(st, 0)).toEqual(['x']);
  });

  it('groups a turn into one chunk: last = the first offset of the last chunk', async () => {
    const s = await start();
    const st = s.stream('chunks');
    pub(s, st, 'm0');
    await synced(s);
    for (let i = 1; i < 10; i++) pub(s, st, `m${i}`);
    await synced(s);
    expect(st.lastChunkOffset).toBe(1);
    expect(st.stats().chunks).toBe(2);
    expect(bodiesFrom(st, st.lastChunkOffset)).toHaveLength(9);
  });

  it('clamps reader offsets to the log and honours credit', async () => {
    const s = await start();
    const st = s.stream('credit');
    for (let i = 0; i < 10; i++) pub(s, st, `m${i}`);
    await synced(s);
    expect(bodiesFrom(st, 7)).toEqual(['m7', 'm8', 'm9']);
    expect(bodiesFrom(st, 100)).toEqual([]);
    expect(st.reader(100).position).toBe(100);
    expect(st.reader(-5).position).toBe(0);
    const r = st.reader(0);
    r.credit = 3;
    const got: number[] = [];
    while (r.next()) got.push(r.offset);
    expect(got).toEqual([0, 1, 2]);
    expect(r.position).toBe(3);
    r.credit = 2;
    while (r.next()) got.push(r.offset);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    // a waiting reader sees new messages once they are committed
    r.credit = 100;
    while (r.next()) got.push(r.offset);
    pub(s, st, 'late');
    expect(r.next()).toBe(false);
    await synced(s);
    expect(r.next()).toBe(true);
    expect(r.payload().toString()).toBe('late');
  });

  it('continues offsets and keeps data across clean and unclean restarts', async () => {
    const s = await start();
    let st = s.stream('restart');
    for (let i = 0; i < 5; i++) pub(s, st, `a${i}`);
    await s.close();
    const s2 = await start();
    st = s2.stream('restart');
    expect([st.firstOffset, st.nextOffset, st.committedEnd]).toEqual([0, 5, 5]);
    expect(pub(s2, st, 'b0')).toBe(5);
    await synced(s2); // unclean: synced, never closed
    open.splice(open.indexOf(s2), 1);
    const s3 = await start();
    st = s3.stream('restart');
    expect(bodiesFrom(st, 0)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0']);
    expect(st.lastChunkOffset).toBe(5);
  });

  it('filters by value: exact per entry, unfiltered entries on request', async () => {
    const s = await start();
    const st = s.stream('filter', { filterBytes: 32 });
    pub(s, st, 'ca-1', 'california');
    pub(s, st, 'tx-1', 'texas');
    pub(s, st, 'none-1');
    await synced(s);
    for (let i = 0; i < 20; i++) pub(s, st, `tx-${i + 2}`, 'texas'); // a chunk with texas only
    await synced(s);
    pub(s, st, 'ca-2', 'california');
    await synced(s);
    const read = (values: string[] | undefined, unfiltered: boolean): string[] => {
      const r = st.reader(0);
      r.setFilter(values, unfiltered);
      const out = readAll(r).map(([, b]) => b);
      r.close();
      return out;
    };
    expect(read(['california'], false)).toEqual(['ca-1', 'ca-2']);
    expect(read(['california'], true)).toEqual(['ca-1', 'none-1', 'ca-2']);
    expect(read(['california', 'texas'], false)).toHaveLength(23);
    expect(read(['nowhere'], false)).toEqual([]);
    expect(read(undefined, false)).toHaveLength(24);
  });

  it('finds offsets by timestamp', async () => {
    const s = await start();
    const st = s.stream('time');
    pub(s, st, 'old');
    await synced(s);
    const t0 = Date.now();
    expect(st.offsetForTimestamp(t0 - 3_600_000)).toBe(0);
    expect(st.offsetForTimestamp(t0 + 60_000)).toBe(1);
    // wait for the coarse ms clock to move so the next chunk is strictly newer
    while (Date.now() <= t0) await new Promise((r) => setTimeout(r, 1));
    const t1 = Date.now();
    pub(s, st, 'new');
    await synced(s);
    expect(st.offsetForTimestamp(t1)).toBe(1);
  });

  it('retains by size: drops whole old segments, never the active one, and releases records', async () => {
    const s = await start();
    const st = s.stream('size', { maxSegmentBytes: 1000, maxBytes: 3000 });
    const body = 'x'.repeat(100);
    for (let i = 0; i < 100; i++) {
      pub(s, st, `${String(i).padStart(3, '0')}${body}`);
      await synced(s); // one chunk per message
    }
    st.applyRetention();
    expect(st.nextOffset).toBe(100);
    expect(st.firstOffset).toBeGreaterThan(60);
    expect(st.bytes).toBeLessThanOrEqual(3000);
    const left = bodiesFrom(st, 0);
    expect(left).toHaveLength(100 - st.firstOffset);
    expect(left[0]!.slice(0, 3)).toBe(String(st.firstOffset).padStart(3, '0'));
    // records of dropped segments are gone from the message store (file: whole message segments)
    if (s instanceof MemoryStore) expect(s.backend.messages.size).toBe(100 - st.firstOffset);
    // and retention survives a restart
    const first = st.firstOffset;
    await s.close();
    const s2 = await start();
    const st2 = s2.stream('size', { maxSegmentBytes: 1000, maxBytes: 3000 });
    expect(st2.firstOffset).toBe(first);
    expect(bodiesFrom(st2, 0)).toEqual(left);
  });

  it('retains by age: segments whose newest chunk is older than max-age go', async () => {
    const s = await start();
    const st = s.stream('age', { maxSegmentBytes: 200, maxAgeMs: 3_600_000 });
    for (let i = 0; i < 10; i++) {
      pub(s, st, `m${i}`.padEnd(150, '.'));
      await synced(s);
    }
    expect(st.applyRetention(Date.now())).toBe(0);
    expect(st.segmentCount).toBeGreaterThan(5);
    expect(st.applyRetention(Date.now() + 2 * 3_600_000)).toBeGreaterThan(0);
    expect(st.segmentCount).toBe(1); // the active one stays
    expect(st.firstOffset).toBeGreaterThan(0);
    expect(bodiesFrom(st, 0).length).toBe(10 - st.firstOffset);
  });

  it('moves a reader whose segment retention dropped to the new first offset', async () => {
    const s = await start();
    const st = s.stream('skip', { maxSegmentBytes: 200 });
    for (let i = 0; i < 10; i++) {
      pub(s, st, `m${i}`.padEnd(150, '.'));
      await synced(s);
    }
    const r = st.reader(0);
    r.credit = 1;
    expect(r.next()).toBe(true);
    st.configure({ maxSegmentBytes: 200, maxBytes: 400 });
    expect(st.firstOffset).toBeGreaterThan(1);
    r.credit = 100;
    expect(r.next()).toBe(true);
    expect(r.offset).toBe(st.firstOffset);
  });

  it('writes a record once when fanned out to a stream and a queue', async () => {
    const s = await start();
    const st = s.stream('fan');
    const ref = s.append([Buffer.from('shared')]);
    st.append(ref, 6);
    const seq = s.queue('q').enqueue(ref, 6);
    await synced(s);
    s.queue('q').settle(seq);
    expect(bodiesFrom(st, 0)).toEqual(['shared']);
    const r = st.reader(0);
    r.credit = 1;
    r.next();
    expect(r.ref).toBe(ref);
    await s.close();
    const s2 = await start();
    expect(bodiesFrom(s2.stream('fan'), 0)).toEqual(['shared']);
  });

  it('deletes a stream: gone, also after a restart; shared records stay for queues', async () => {
    const s = await start();
    const st = s.stream('gone');
    const ref = s.append([Buffer.from('keep')]);
    st.append(ref, 4);
    s.queue('q').enqueue(ref, 4);
    pub(s, st, 'only-stream');
    await synced(s);
    s.deleteStream('gone');
    expect(s.streamNames()).not.toContain('gone');
    expect(() => st.append(ref, 4)).toThrow(/deleted/);
    expect(s.readSync(ref).toString()).toBe('keep');
    await s.close();
    const s2 = await start();
    expect(s2.streamNames()).not.toContain('gone');
    expect(s2.stream('gone').nextOffset).toBe(0);
  });

  it('tracks consumer offsets durably, coalescing updates, across restarts', async () => {
    const s = await start();
    const st = s.stream('track');
    for (let i = 0; i < 3; i++) pub(s, st, `m${i}`);
    for (let i = 0; i < 1000; i++) st.trackOffset('consumer-a', i);
    st.trackOffset('consumer-b', 2);
    st.trackOffset('gone', 1);
    st.untrack('gone');
    await synced(s);
    open.splice(open.indexOf(s), 1); // unclean
    const s2 = await start();
    let st2 = s2.stream('track');
    expect(st2.trackedOffset('consumer-a')).toBe(999);
    expect(st2.trackedOffset('consumer-b')).toBe(2);
    expect(st2.trackedOffset('gone')).toBeUndefined();
    // many turns of updates: the tracking file is compacted and stays correct
    for (let turn = 0; turn < 3000; turn++) {
      st2.trackOffset('consumer-a', 1000 + turn);
      st2.trackOffset(`c-${turn % 7}`, turn);
      if (turn % 100 === 0) await synced(s2);
      else s2.flush();
    }
    await synced(s2);
    await s2.close();
    const s3 = await start();
    st2 = s3.stream('track');
    expect(st2.trackedOffset('consumer-a')).toBe(3999);
    expect(st2.trackedNames().sort()).toEqual(['c-0', 'c-1', 'c-2', 'c-3', 'c-4', 'c-5', 'c-6', 'consumer-a', 'consumer-b']);
  });
});
