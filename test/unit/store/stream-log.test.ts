/**
 * File-only stream cases: torn and corrupt tails of the active segment are cut at the last intact
 * chunk, entries whose record the message log lost end the stream, closed segments get a summary that
 * recovery trusts (and falls back to scanning when it is damaged), a bad header keeps the offsets
 * going, and the Bloom filter helpers behave.
 */
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../../src/store/file-store.js';
import type { StoreLogger } from '../../../src/store/store.js';
import type { StreamLog } from '../../../src/store/stream.js';
import { StreamFilter, bloomAdd, bloomHas, filterHash } from '../../../src/store/stream-filter.js';

let dir = '';
const stores: FileStore[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  if (dir !== '') await rm(dir, { recursive: true, force: true });
  dir = '';
});

interface Logged { msg: string; obj: object }

async function open(log: Logged[] = []): Promise<FileStore> {
  if (dir === '') dir = await mkdtemp(path.join(tmpdir(), 'warren-streamlog-'));
  const logger: StoreLogger = { info() {}, warn: (obj, msg) => log.push({ obj, msg }) };
  const s = await FileStore.open({ dir, segmentSize: 8192, logger });
  stores.push(s);
  return s;
}

function crash(s: FileStore): void {
  stores.splice(stores.indexOf(s), 1); // never closed: like kill -9 after the last sync
}

function synced(s: FileStore): Promise<void> {
  return new Promise((resolve, reject) => s.afterSync((e) => (e ? reject(e) : resolve())));
}

function pub(s: FileStore, st: StreamLog, body: string, filter?: string): number {
  return st.append(s.append([Buffer.from(body)]), Buffer.byteLength(body), filter);
}

function bodies(st: StreamLog): string[] {
  const r = st.reader(0);
  r.credit = 1e9;
  const out: string[] = [];
  while (r.next()) out.push(r.payload().toString());
  r.close();
  return out;
}

function streamDir(): string {
  const base = path.join(dir, 'streams');
  return path.join(base, readdirSync(base)[0]!);
}

function segFiles(): string[] {
  return readdirSync(streamDir()).filter((f) => f.endsWith('.seg')).sort().map((f) => path.join(streamDir(), f));
}

describe('stream log on disk', () => {
  it('cuts a torn chunk at the tail of the active segment and continues the offsets', async () => {
    const s = await open();
    const st = s.stream('torn');
    for (let i = 0; i < 3; i++) {
      pub(s, st, `m${i}`);
      await synced(s);
    }
    crash(s);
    const seg = segFiles()[0]!;
    const size = statSync(seg).size;
    writeFileSync(seg, Buffer.concat([readFileSync(seg), Buffer.from('WRNC-half-a-chunk')]));
    const log: Logged[] = [];
    const s2 = await open(log);
    const st2 = s2.stream('torn');
    expect(st2.nextOffset).toBe(3);
    expect(bodies(st2)).toEqual(['m0', 'm1', 'm2']);
    expect(statSync(seg).size).toBe(size);
    expect(log.map((l) => l.msg)).toContain('store: torn or corrupt tail of a stream segment cut off');
    expect(pub(s2, st2, 'm3')).toBe(3);
    await synced(s2);
    expect(bodies(st2)).toEqual(['m0', 'm1', 'm2', 'm3']);
  });

  it('cuts at a chunk that fails its checksum: nothing after it is kept', async () => {
    const s = await open();
    const st = s.stream('crc');
    for (let i = 0; i < 4; i++) {
      pub(s, st, `m${i}`);
      await synced(s);
    }
    crash(s);
    const seg = segFiles()[0]!;
    const b = readFileSync(seg);
    // chunk 2 of 4 (each chunk: 32 + 16 bloom + 16 entry = 64 bytes after the header)
    const headerLen = b.readUInt16LE(6);
    b[headerLen + 64 + 40]! ^= 0xff;
    writeFileSync(seg, b);
    const log: Logged[] = [];
    const st2 = (await open(log)).stream('crc');
    expect(st2.nextOffset).toBe(1);
    expect(bodies(st2)).toEqual(['m0']);
    expect(log.some((l) => (l.obj as { reason?: string }).reason === 'checksum mismatch')).toBe(true);
  });

  it('ends the stream at an entry whose message record was lost', async () => {
    const s = await open();
    const st = s.stream('lost');
    for (let i = 0; i < 5; i++) pub(s, st, `m${i}`);
    await synced(s);
    crash(s);
    // the message segment loses its last record (its tail never reached the disk)
    const msgs = path.join(dir, 'msgs');
    const m = path.join(msgs, readdirSync(msgs).filter((f) => f.endsWith('.seg'))[0]!);
    truncateSync(m, statSync(m).size - 3);
    const st2 = (await open()).stream('lost');
    // the whole chunk (one turn) referencing it is cut
    expect(st2.nextOffset).toBe(0);
    expect(bodies(st2)).toEqual([]);
  });

  it('writes summaries for closed segments, trusts them, and scans when one is damaged', async () => {
    const s = await open();
    const st = s.stream('sum', { maxSegmentBytes: 300 });
    for (let i = 0; i < 12; i++) {
      pub(s, st, `m${i}`.padEnd(100, '.'));
      await synced(s);
    }
    await synced(s);
    const sums = readdirSync(streamDir()).filter((f) => f.endsWith('.sum'));
    expect(sums.length).toBeGreaterThan(2);
    expect(sums.length).toBe(st.segmentCount - 1); // not for the active one
    const expected = bodies(st);
    await s.close();
    stores.splice(stores.indexOf(s), 1);
    const log: Logged[] = [];
    const st2 = (await open(log)).stream('sum');
    expect(bodies(st2)).toEqual(expected);
    expect(log).toEqual([]);
    await stores[0]!.close();
    stores.splice(0);
    const damaged = path.join(streamDir(), sums[0]!);
    const b = readFileSync(damaged);
    b[40]! ^= 1;
    writeFileSync(damaged, b);
    const st3 = (await open(log)).stream('sum');
    expect(bodies(st3)).toEqual(expected);
    expect(log.map((l) => l.msg)).toContain('store: stream segment summary unusable, segment scanned');
  });

  it('keeps offsets going when the active segment header is unreadable', async () => {
    const s = await open();
    const st = s.stream('hdr', { maxSegmentBytes: 150 });
    for (let i = 0; i < 4; i++) {
      pub(s, st, `m${i}`.padEnd(100, '.'));
      await synced(s);
    }
    crash(s);
    const last = segFiles().at(-1)!;
    const base = Number(path.basename(last).slice(0, 20));
    const b = readFileSync(last);
    b[0] = 0;
    writeFileSync(last, b);
    const st2 = (await open()).stream('hdr');
    expect(st2.nextOffset).toBe(base);
    expect(pub(stores.at(-1)!, st2, 'after')).toBe(base);
  });

  it('recovers a stream whose records are shared with a queue after the queue acked them', async () => {
    const s = await open();
    const st = s.stream('shared');
    const q = s.queue('q');
    const seqs: number[] = [];
    for (let i = 0; i < 100; i++) {
      const ref = s.append([Buffer.from(`m${i}`.padEnd(200, '.'))]);
      st.append(ref, 200);
      seqs.push(q.enqueue(ref, 200));
    }
    await synced(s);
    for (const seq of seqs) q.settle(seq);
    await synced(s);
    crash(s);
    const st2 = (await open()).stream('shared');
    expect(bodies(st2).map((b) => b.replace(/\.+$/, ''))).toEqual([...Array(100).keys()].map((i) => `m${i}`));
  });
});

describe('stream filter helpers', () => {
  it('hashes UTF-8 like Buffer.from would encode it, never to 0', () => {
    for (const v of ['', 'a', 'california', 'é', '日本', '😀', '\ud800x']) {
      const h = filterHash(v);
      expect(h).toBeGreaterThan(0);
      let ref = 0x811c9dc5;
      for (const byte of Buffer.from(v, 'utf8')) ref = Math.imul(ref ^ byte, 0x01000193);
      expect(h).toBe((ref >>> 0) || 1);
    }
  });

  it('never misses a value added to a Bloom filter and rarely admits others', () => {
    const bloom = new Uint8Array(16);
    const added = ['texas', 'california', 'ohio'];
    for (const v of added) bloomAdd(bloom, 0, 16, filterHash(v));
    for (const v of added) expect(bloomHas(bloom, 0, 16, filterHash(v))).toBe(true);
    let fp = 0;
    for (let i = 0; i < 10_000; i++) if (bloomHas(bloom, 0, 16, filterHash(`other-${i}`))) fp++;
    expect(fp / 10_000).toBeLessThan(0.05);
    const f = new StreamFilter(['texas'], false);
    expect(f.chunkMayMatch(bloom, 0, 16, false)).toBe(true);
    expect(new StreamFilter(['nowhere-0'], false).entryMatches(filterHash('texas'))).toBe(false);
    expect(new StreamFilter(['x'], true).chunkMayMatch(new Uint8Array(16), 0, 16, true)).toBe(true);
  });
});
