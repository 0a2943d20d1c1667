/**
 * One conformance suite for every Store implementation (memory and file): definitions, fanout
 * written once, order and settle/delivered marks across restarts (clean and unclean), the
 * group-commit barrier, cursors, queue delete. The model-based property test is
 * store-conformance.prop.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { emptyDefinitions, type Definitions } from '../../../src/store/definitions.js';
import type { MsgRef, Store } from '../../../src/store/store.js';
import { STORE_IMPLEMENTATIONS as implementations, synced, type Harness } from './store-harness.js';



interface Live {
  seq: number;
  ref: MsgRef;
  size: number;
  delivered: boolean;
}

function liveEntries(store: Store, queue: string): Live[] {
  const out: Live[] = [];
  const c = store.queue(queue).cursor();
  while (c.next()) out.push({ seq: c.seq, ref: c.ref, size: c.size, delivered: c.delivered });
  return out;
}

function bodies(store: Store, queue: string): string[] {
  return liveEntries(store, queue).map((e) => store.readSync(e.ref, e.size).toString());
}

function publish(store: Store, queues: string[], body: string): MsgRef {
  const parts = [Buffer.from('m:'), Buffer.from(body)];
  const ref = store.append(parts);
  for (const q of queues) store.queue(q).enqueue(ref, 2 + Buffer.byteLength(body));
  return ref;
}

describe.each(implementations)('store conformance: %s', (_name, makeHarness) => {
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

  it('saves and loads definitions, across a restart', async () => {
    const s = await start();
    expect(await s.loadDefinitions()).toBeUndefined();
    const defs: Definitions = {
      ...emptyDefinitions(),
      rabbit_version: '3.10.0',
      users: [{ name: 'guest', password_hash: 'abc', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['administrator'] }],
      vhosts: [{ name: '/' }],
      queues: [{ name: 'q1', vhost: '/', durable: true, auto_delete: false, arguments: { 'x-max-length': 10 } }],
      exchanges: [{ name: 'x', vhost: '/', type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} }],
      bindings: [{ source: 'x', vhost: '/', destination: 'q1', destination_type: 'queue', routing_key: '', arguments: {} }],
    };
    await s.saveDefinitions(defs);
    expect(await s.loadDefinitions()).toEqual(defs);
    const defs2 = { ...defs, queues: [] };
    await s.saveDefinitions(defs2);
    await s.close();
    const s2 = await start();
    expect(await s2.loadDefinitions()).toEqual(defs2);
  });

  it('reports the memory its queue indexes hold (what paging still costs), growing with entries', async () => {
    const s = await start();
    const before = s.stats().indexMemoryBytes;
    for (let i = 0; i < 40; i++) publish(s, ['mem'], `m${i}`);
    expect(s.stats().indexMemoryBytes).toBeGreaterThan(before);
    s.deleteQueue('mem');
    expect(s.stats().indexMemoryBytes).toBe(before);
  });

  it('appends a message from several parts and reads it back whole', async () => {
    const s = await start();
    const ref = s.append([Buffer.from([1, 2]), Buffer.alloc(0), Buffer.from('hello')]);
    expect(s.readSync(ref)).toEqual(Buffer.from([1, 2, ...Buffer.from('hello')]));
    expect(s.readSync(ref, 7).toString('latin1')).toBe('\x01\x02hello');
    const got = await new Promise<Buffer | undefined>((resolve, reject) =>
      s.read(ref, 7, (err, b) => (err ? reject(err) : resolve(b))),
    );
    expect(got?.length).toBe(7);
    const empty = s.append([]);
    expect(s.readSync(empty).length).toBe(0);
  });

  it('fans one record out to several queues and keeps it while any queue holds it', async () => {
    const s = await start();
    const ref = publish(s, ['a', 'b'], 'fan');
    const a = liveEntries(s, 'a');
    const b = liveEntries(s, 'b');
    expect(a.map((e) => e.ref)).toEqual([ref]);
    expect(b.map((e) => e.ref)).toEqual([ref]);
    s.queue('a').settle(a[0]!.seq);
    expect(s.queue('a').count).toBe(0);
    expect(s.readSync(ref).toString()).toBe('m:fan');
    await synced(s);
    await s.close();
    const s2 = await start();
    expect(bodies(s2, 'b')).toEqual(['m:fan']);
    expect(s2.queue('a').count).toBe(0);
  });

  it('keeps order, drops settled entries and remembers delivered marks across a clean restart', async () => {
    const s = await start();
    const seqs: number[] = [];
    for (let i = 0; i < 30; i++) {
      const ref = s.append([Buffer.from(`msg-${i}`)]);
      seqs.push(s.queue('q').enqueue(ref, Buffer.byteLength(`msg-${i}`)));
    }
    for (let i = 0; i < 30; i += 3) s.queue('q').settle(seqs[i]!);
    s.queue('q').markDelivered(seqs[1]!);
    s.queue('q').markDelivered(seqs[29]!);
    expect(s.queue('q').count).toBe(20);
    await s.close();
    const s2 = await start();
    const live = liveEntries(s2, 'q');
    const expected = [...Array(30).keys()].filter((i) => i % 3 !== 0);
    expect(live.map((e) => s2.readSync(e.ref, e.size).toString())).toEqual(expected.map((i) => `msg-${i}`));
    expect(live.filter((e) => e.delivered).map((e) => s2.readSync(e.ref).toString())).toEqual(['msg-1', 'msg-29']);
    expect(s2.queue('q').count).toBe(20);
    expect(s2.queue('q').bytes).toBe(live.reduce((n, e) => n + e.size, 0));
    expect(s2.queueNames()).toContain('q');
  });

  it('recovers everything synced before an unclean stop (no close)', async () => {
    const s = await start();
    for (let i = 0; i < 50; i++) publish(s, ['q1', 'q2'], `x${i}`);
    const c = s.queue('q1').cursor();
    for (let i = 0; i < 10 && c.next(); i++) s.queue('q1').settle(c.seq);
    await synced(s);
    open.splice(open.indexOf(s), 1); // "crash": never closed
    const s2 = await start();
    expect(bodies(s2, 'q1')).toEqual([...Array(40).keys()].map((i) => `m:x${i + 10}`));
    expect(bodies(s2, 'q2')).toHaveLength(50);
    // and keeps working after recovery
    publish(s2, ['q1'], 'after');
    await synced(s2);
    expect(bodies(s2, 'q1').at(-1)).toBe('m:after');
  });

  it('calls afterSync back once everything before it is durable, and notifies listeners', async () => {
    const s = await start();
    const events: number[] = [];
    s.addSyncListener((durable, err) => {
      expect(err).toBeNull();
      events.push(durable);
    });
    publish(s, ['q'], 'one');
    const seqAtCall = s.writeSeq;
    let calls = 0;
    await new Promise<void>((resolve) =>
      s.afterSync((err) => {
        expect(err).toBeNull();
        expect(s.durableSeq).toBeGreaterThanOrEqual(seqAtCall);
        calls++;
        resolve();
      }),
    );
    // Many waiters in one turn: one batch, all called, in order.
    const order: number[] = [];
    const all: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      publish(s, ['q'], `b${i}`);
      all.push(new Promise((resolve) => s.afterSync(() => { order.push(i); resolve(); })));
    }
    await Promise.all(all);
    expect(order).toEqual([...Array(100).keys()]);
    expect(calls).toBe(1);
    expect(events.length).toBeGreaterThan(0);
    expect(events.at(-1)).toBeGreaterThanOrEqual(s.writeSeq - 0);
    s.requestSync();
    await synced(s);
    expect(s.durableSeq).toBe(s.writeSeq);
  });

  it('cursors tolerate enqueues and settles between steps and start at a given seq', async () => {
    const s = await start();
    const q = s.queue('c');
    const seqs = [...Array(20).keys()].map((i) => q.enqueue(s.append([Buffer.from(String(i))]), String(i).length));
    const cur = q.cursor();
    const seen: string[] = [];
    while (cur.next()) {
      seen.push(s.readSync(cur.ref).toString());
      if (cur.seq === seqs[2]) q.settle(seqs[3]!); // settled ahead of the cursor: skipped
      if (cur.seq === seqs[19]) q.enqueue(s.append([Buffer.from('late')]), 4); // appended behind: seen
    }
    expect(seen).toEqual([...[...Array(20).keys()].filter((i) => i !== 3).map(String), 'late']);
    expect(cur.next()).toBe(false);
    q.enqueue(s.append([Buffer.from('later')]), 5);
    expect(cur.next()).toBe(true);
    expect(s.readSync(cur.ref).toString()).toBe('later');
    const from = q.cursor(seqs[10]);
    expect(from.next()).toBe(true);
    expect(from.seq).toBe(seqs[10]);
    expect(q.has(seqs[3]!)).toBe(false);
    expect(q.has(seqs[4]!)).toBe(true);
    // settling twice or unknown seqs is a no-op
    q.settle(seqs[3]!);
    q.settle(123456);
    q.markDelivered(123456);
    expect(q.count).toBe(21); // 20 - 1 settled + 'late' + 'later'
  });

  it('deletes a queue: its entries are gone, also after a restart; shared records stay for others', async () => {
    const s = await start();
    const ref = publish(s, ['keep', 'drop'], 'shared');
    publish(s, ['drop'], 'only-drop');
    s.deleteQueue('drop');
    expect(s.queueNames()).not.toContain('drop');
    expect(s.readSync(ref).toString()).toBe('m:shared');
    await s.close();
    const s2 = await start();
    expect(s2.queueNames()).not.toContain('drop');
    expect(s2.queue('drop').count).toBe(0);
    expect(bodies(s2, 'keep')).toEqual(['m:shared']);
  });

  it('refuses use after close', async () => {
    const s = await start();
    await s.close();
    expect(() => s.append([Buffer.from('x')])).toThrow(/closed/);
    const err = await new Promise<Error | null>((resolve) => s.afterSync(resolve));
    expect(err).toBeInstanceOf(Error);
  });

  it('keeps each entry\'s expiry, tag and weight, across clean and unclean restarts', async () => {
    const s = await start();
    const ref = s.append([Buffer.from('hello world')]);
    const q = s.queue('meta');
    const a = q.enqueue(ref, 11, 1_700_000_000_123.5, 0xfffffffe, 5);
    const b = q.enqueue(ref, 11);
    const c = q.enqueue(ref, 11, -1, 7, 0);
    expect(q.bytes).toBe(5 + 11 + 0);
    const read = (st: Store) => {
      const out: Array<[number, number, number, number]> = [];
      const cur = st.queue('meta').cursor();
      while (cur.next()) out.push([cur.seq, cur.expiresAt, cur.tag, cur.weight]);
      return out;
    };
    const want = [[a, 1_700_000_000_123.5, 0xfffffffe, 5], [b, Infinity, 0, 11], [c, -1, 7, 0]];
    expect(read(s)).toEqual(want);
    await synced(s);
    open.splice(open.indexOf(s), 1); // unclean
    const s2 = await start();
    expect(read(s2)).toEqual(want);
    expect(s2.queue('meta').bytes).toBe(16);
    s2.queue('meta').settle(a);
    expect(s2.queue('meta').bytes).toBe(11);
    await s2.close();
    open.splice(open.indexOf(s2), 1);
    const s3 = await start();
    expect(read(s3)).toEqual(want.slice(1));
  });
});
