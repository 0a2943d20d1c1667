/**
 * File-store-only behaviour: segment rollover and deletion (disk use follows the live backlog),
 * queue delete releasing space, torn and corrupt tails (cut with a warning), corrupt records in sealed
 * segments (read error), unclean stops, ENOSPC and fsync failures injected through FileOps, group
 * commit batching, and a 100k-entry recovery that reads no message bodies.
 */
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeFileOps, type FileOps } from '../../../src/store/file-ops.js';
import { FileStore, type FileStoreOptions } from '../../../src/store/file-store.js';
import { crc32Range } from '../../../src/store/crc32.js';
import { ENTRY_SIZE, ENTRY_SIZE_V1 } from '../../../src/store/queue-log.js';
import type { QueueLog } from '../../../src/store/queue-log.js';
import type { MsgRef, Store, StoreLogger } from '../../../src/store/store.js';

interface Logged {
  obj: Record<string, unknown>;
  msg: string;
}

function captureLogger(): StoreLogger & { warns: Logged[] } {
  const warns: Logged[] = [];
  return { warns, info() {}, warn(obj, msg) { warns.push({ obj: obj as Record<string, unknown>, msg }); } };
}

function synced(store: Store): Promise<Error | null> {
  return new Promise((resolve) => store.afterSync(resolve));
}

function body(i: number, size = 100): Buffer {
  const b = Buffer.alloc(size, i % 251);
  b.write(`msg-${i}:`);
  return b;
}

function drain(store: Store, q: string): string[] {
  const out: string[] = [];
  const c = store.queue(q).cursor();
  while (c.next()) out.push(store.readSync(c.ref, c.size).toString('latin1').split(':')[0]!);
  return out;
}

function segFiles(dir: string): string[] {
  return readdirSync(path.join(dir, 'msgs')).filter((f) => f.endsWith('.seg')).sort();
}

/** Poll until check() holds (segment files are unlinked asynchronously). */
async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const st = statSync(path.join(dir, f));
    if (st.isFile()) n += st.size;
  }
  return n;
}

describe('file store', () => {
  let dir: string;
  const stores: FileStore[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'warren-fstore-'));
  });

  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  async function open(opts: Partial<FileStoreOptions> = {}): Promise<FileStore> {
    const s = await FileStore.open({ dir, segmentSize: 1024, indexEntriesPerSegment: 16, ...opts });
    stores.push(s);
    return s;
  }

  /** Simulate kill -9: forget the store without closing it (its fds die with the test process). */
  function crash(s: FileStore): void {
    stores.splice(stores.indexOf(s), 1);
  }

  function publishN(s: Store, q: string | string[], from: number, n: number, size = 100): number[] {
    const seqs: number[] = [];
    const qs = Array.isArray(q) ? q : [q];
    for (let i = from; i < from + n; i++) {
      const b = body(i, size);
      const ref = s.append([b.subarray(0, 10), b.subarray(10)]);
      for (const name of qs) seqs.push(s.queue(name).enqueue(ref, b.length));
    }
    return seqs;
  }

  it('rolls over to new segments at the size bound and reads across all of them after restart', async () => {
    const s = await open();
    publishN(s, 'q', 0, 100);
    await synced(s);
    expect(s.stats().messageSegments).toBeGreaterThanOrEqual(10);
    expect(segFiles(dir).length).toBe(s.stats().messageSegments);
    for (const f of segFiles(dir)) expect(statSync(path.join(dir, 'msgs', f)).size).toBeLessThanOrEqual(1024);
    await s.close();
    const s2 = await open();
    expect(drain(s2, 'q')).toEqual([...Array(100).keys()].map((i) => `msg-${i}`));
  });

  it('reads a backlog back in order through the read-ahead window, and out of order record by record, bytes intact', async () => {
    const s = await open({ segmentSize: 4 * 1024 * 1024 });
    const refs: MsgRef[] = [];
    for (let i = 0; i < 500; i++) refs.push(s.append([body(i, 300)]));
    await synced(s);
    const before = s.stats().indexMemoryBytes;
    // In order (a paged backlog read back): one pread per window, the rest copied from it.
    for (let i = 0; i < 500; i++) expect(s.readSync(refs[i]!, 300).equals(body(i, 300))).toBe(true);
    expect(s.stats().indexMemoryBytes).toBeGreaterThan(before);
    // Backwards and interleaved (what several queues reading at once look like): still the right bytes.
    for (let i = 499; i >= 0; i -= 7) expect(s.readSync(refs[i]!, 300).equals(body(i, 300))).toBe(true);
    for (let i = 0; i < 250; i++) {
      expect(s.readSync(refs[i]!, 300).equals(body(i, 300))).toBe(true);
      expect(s.readSync(refs[499 - i]!, 300).equals(body(499 - i, 300))).toBe(true);
    }
    // Records appended after the window was filled are read from the file, not from a stale window.
    const more = s.append([body(1000, 300)]);
    expect(s.readSync(more, 300).equals(body(1000, 300))).toBe(true);
  });

  it('deletes segments once nothing references them: disk use follows the live backlog', async () => {
    const s = await open();
    const seqs = publishN(s, ['a', 'b'], 0, 200);
    await synced(s);
    const full = s.stats().messageBytesOnDisk;
    expect(full).toBeGreaterThan(200 * 100);
    const aSeqs = seqs.filter((_, i) => i % 2 === 0);
    const bSeqs = seqs.filter((_, i) => i % 2 === 1);
    // Settling only in 'a' frees nothing: 'b' still references every record.
    for (const q of aSeqs) s.queue('a').settle(q);
    await synced(s);
    expect(s.stats().messageBytesOnDisk).toBe(full);
    // Settle the first 150 in 'b' as well: their segments go.
    for (const q of bSeqs.slice(0, 150)) s.queue('b').settle(q);
    await synced(s);
    expect(s.stats().messageBytesOnDisk).toBeLessThan(full / 3);
    await eventually(() => segFiles(dir).length === s.stats().messageSegments);
    // Index segments of fully settled entries are gone too.
    const qdirs = readdirSync(path.join(dir, 'queues'));
    const idxFiles = qdirs.flatMap((d) => readdirSync(path.join(dir, 'queues', d)).filter((f) => f.endsWith('.idx')));
    expect(idxFiles.length).toBeLessThanOrEqual(1 + Math.ceil(50 / 16) + 1);
    for (const q of bSeqs.slice(150)) s.queue('b').settle(q);
    await s.close();
    const s2 = await open();
    expect(s2.stats().messageSegments).toBe(0);
    expect(drain(s2, 'a')).toEqual([]);
    expect(drain(s2, 'b')).toEqual([]);
    expect(dirBytes(path.join(dir, 'msgs'))).toBe(0);
  });

  it('releases space on queue delete and on purge (settling every entry)', async () => {
    const s = await open();
    publishN(s, 'del', 0, 100);
    const purgeSeqs = publishN(s, 'purge', 100, 100);
    await synced(s);
    const before = dirBytes(dir);
    s.deleteQueue('del');
    for (const q of purgeSeqs) s.queue('purge').settle(q);
    await synced(s);
    expect(s.stats().messageSegments).toBeLessThanOrEqual(1); // at most the segment being written
    await eventually(() => dirBytes(dir) < before / 5);
    expect(readdirSync(path.join(dir, 'queues')).length).toBe(1); // 'del' directory removed
  });

  it('cuts a torn message tail after an unclean stop, with a warning', async () => {
    const s = await open({ segmentSize: 1 << 20 });
    publishN(s, 'q', 0, 10);
    await synced(s);
    crash(s);
    const seg = path.join(dir, 'msgs', segFiles(dir).at(-1)!);
    truncateSync(seg, statSync(seg).size - 5); // last record torn mid-payload
    const logger = captureLogger();
    const s2 = await open({ segmentSize: 1 << 20, logger });
    expect(drain(s2, 'q')).toEqual([...Array(9).keys()].map((i) => `msg-${i}`));
    const cut = logger.warns.find((w) => w.msg.includes('message segment cut off'));
    expect(cut?.obj['droppedBytes']).toBe(108 - 5);
    expect(cut?.obj['reason']).toBe('incomplete record');
    expect(logger.warns.some((w) => w.msg.includes('never confirmed') && w.obj['dropped'] === 1)).toBe(true);
    // Writing goes on, and a second restart is clean.
    publishN(s2, 'q', 10, 1);
    await s2.close();
    const logger3 = captureLogger();
    const s3 = await open({ segmentSize: 1 << 20, logger: logger3 });
    expect(drain(s3, 'q')).toEqual([...[...Array(9).keys()], 10].map((i) => `msg-${i}`));
    expect(logger3.warns).toEqual([]);
  });

  it('cuts at a corrupted byte in the middle of an unsealed segment (checksum)', async () => {
    const s = await open({ segmentSize: 1 << 20 });
    publishN(s, 'q', 0, 10);
    await synced(s);
    crash(s);
    const seg = path.join(dir, 'msgs', segFiles(dir).at(-1)!);
    const bytes = readFileSync(seg);
    const rec5 = 24 + 5 * 108;
    bytes[rec5 + 8 + 50] = bytes[rec5 + 8 + 50]! ^ 0xff;
    writeFileSync(seg, bytes);
    const logger = captureLogger();
    const s2 = await open({ segmentSize: 1 << 20, logger });
    expect(drain(s2, 'q')).toEqual([...Array(5).keys()].map((i) => `msg-${i}`));
    const cut = logger.warns.find((w) => w.msg.includes('message segment cut off'));
    expect(cut?.obj).toMatchObject({ offset: rec5, reason: 'checksum mismatch', keptRecords: 5, droppedBytes: 5 * 108 });
  });

  it('reports a corrupt record in a sealed segment when it is read, keeping the others', async () => {
    const s = await open({ segmentSize: 1 << 20 });
    publishN(s, 'q', 0, 10);
    await s.close();
    const seg = path.join(dir, 'msgs', segFiles(dir)[0]!);
    const bytes = readFileSync(seg);
    expect(bytes.readUInt16LE(6) & 1).toBe(1); // sealed at clean close
    bytes[24 + 3 * 108 + 8 + 20] = bytes[24 + 3 * 108 + 8 + 20]! ^ 0x01;
    writeFileSync(seg, bytes);
    const logger = captureLogger();
    const s2 = await open({ segmentSize: 1 << 20, logger });
    const c = s2.queue('q').cursor();
    const ok: number[] = [];
    const bad: number[] = [];
    let i = 0;
    while (c.next()) {
      try {
        s2.readSync(c.ref, c.size);
        ok.push(i);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('CORRUPT');
        bad.push(i);
      }
      i++;
    }
    expect(bad).toEqual([3]);
    expect(ok).toHaveLength(9);
    // the asynchronous read (thread pool) checks the same checksum
    const c2 = s2.queue('q').cursor();
    const results: Array<string | undefined> = [];
    const reads: Promise<void>[] = [];
    while (c2.next()) {
      reads.push(new Promise((resolve) => s2.read(c2.ref, c2.size, (err, b) => {
        results.push(err ? (err as { code?: string }).code : b?.toString('latin1').split(':')[0]);
        resolve();
      })));
    }
    await Promise.all(reads);
    expect(results.filter((r) => r === 'CORRUPT')).toHaveLength(1);
    expect(results.filter((r) => r?.startsWith('msg-'))).toHaveLength(9);
    expect(logger.warns.some((w) => w.msg.includes('checksum'))).toBe(true);
  });

  it('reads asynchronously from files and pending buffers alike, and close waits for reads in flight', async () => {
    const s = await open();
    publishN(s, 'q', 0, 60);
    await synced(s);
    publishN(s, 'q', 60, 5); // still pending
    const entries: Array<[MsgRef, number]> = [];
    const c = s.queue('q').cursor();
    while (c.next()) entries.push([c.ref, c.size]);
    const got = await Promise.all(
      entries.map(([ref, size]) => new Promise<string>((resolve, reject) =>
        s.read(ref, size, (err, b) => (err ? reject(err) : resolve(b!.toString('latin1').split(':')[0]!))))),
    );
    expect(got).toEqual([...Array(65).keys()].map((i) => `msg-${i}`));
    let done = 0;
    for (const [ref, size] of entries) s.read(ref, size, () => done++);
    await s.close();
    await eventually(() => done === entries.length);
  });

  it('cuts a torn queue index tail and torn mark files', async () => {
    const s = await open({ indexEntriesPerSegment: 1000 });
    const seqs = publishN(s, 'q', 0, 10);
    s.queue('q').markDelivered(seqs[0]!);
    s.queue('q').settle(seqs[1]!);
    await synced(s);
    crash(s);
    const qdir = path.join(dir, 'queues', readdirSync(path.join(dir, 'queues'))[0]!);
    const idx = path.join(qdir, '0.idx');
    truncateSync(idx, statSync(idx).size - ENTRY_SIZE - 4); // entry 9 gone, entry 8 torn
    const ack = path.join(qdir, '0.ack');
    truncateSync(ack, statSync(ack).size - 3); // settle mark of entry 1 torn
    const logger = captureLogger();
    const s2 = await open({ logger });
    const c = s2.queue('q').cursor();
    const got: Array<[string, boolean]> = [];
    while (c.next()) got.push([s2.readSync(c.ref).toString('latin1').split(':')[0]!, c.delivered]);
    expect(got).toEqual([
      ['msg-0', true],
      ['msg-1', false], // its settle mark was torn: it comes back (never lose, may redeliver)
      ...[2, 3, 4, 5, 6, 7].map((i): [string, boolean] => [`msg-${i}`, false]),
    ]);
    expect(logger.warns.map((w) => w.msg)).toEqual(
      expect.arrayContaining([expect.stringContaining('queue index segment cut off'), expect.stringContaining('mark file cut off')]),
    );
    // appends continue right after the cut
    publishN(s2, 'q', 100, 1);
    await s2.close();
    const s3 = await open();
    expect(drain(s3, 'q').at(-1)).toBe('msg-100');
    expect(drain(s3, 'q')).toHaveLength(9);
  });

  it('reads version 1 index segments (16-byte entries) and continues in version 2 segments', async () => {
    const s = await open();
    publishN(s, 'q', 0, 20);
    s.queue('q').markDelivered(3);
    s.queue('q').settle(5);
    await s.close();
    // Rewrite q's segments as an older Warren wrote them.
    const qdir = path.join(dir, 'queues', readdirSync(path.join(dir, 'queues'))[0]!);
    for (const f of readdirSync(qdir).filter((x) => x.endsWith('.idx'))) {
      const b = readFileSync(path.join(qdir, f));
      const hlen = b.readUInt16LE(6);
      const head = Buffer.from(b.subarray(0, hlen));
      head.writeUInt16LE(1, 4);
      const nameLen = head.readUInt32LE(16);
      head.writeUInt32LE(crc32Range(head, 24, 24 + nameLen, crc32Range(head, 0, 20)), 20);
      const out = [head];
      for (let pos = hlen; pos + ENTRY_SIZE <= b.length; pos += ENTRY_SIZE) {
        const e = Buffer.alloc(ENTRY_SIZE_V1);
        b.copy(e, 0, pos, pos + 12);
        e.writeUInt32LE(crc32Range(e, 0, 12), 12);
        out.push(e);
      }
      writeFileSync(path.join(qdir, f), Buffer.concat(out));
    }
    const s2 = await open();
    const seen: Array<[number, boolean, number, number]> = [];
    const c = s2.queue('q').cursor();
    while (c.next()) seen.push([c.seq, c.delivered, c.expiresAt, c.weight === c.size ? 1 : 0]);
    expect(seen.map((x) => x[0])).toEqual([...Array(20).keys()].filter((i) => i !== 5));
    expect(seen.every(([seq, delivered, exp, w]) => delivered === (seq === 3) && exp === Infinity && w === 1)).toBe(true);
    // The tail segment (1) is version 1: the next entry starts segment 2, in version 2.
    const b = body(100);
    const seq = s2.queue('q').enqueue(s2.append([b]), b.length, 123, 4, 9);
    expect(seq).toBe(32);
    await s2.close();
    const s3 = await open();
    expect(drain(s3, 'q')).toHaveLength(20);
    const last = s3.queue('q').cursor(32);
    expect(last.next()).toBe(true);
    expect([last.seq, last.expiresAt, last.tag, last.weight]).toEqual([32, 123, 4, 9]);
    expect(readFileSync(path.join(qdir, '2.idx')).readUInt16LE(4)).toBe(2);
  });

  it('keeps delivered marks and order across an unclean stop', async () => {
    const s = await open();
    const seqs = publishN(s, 'q', 0, 40);
    for (const q of seqs.slice(0, 5)) s.queue('q').markDelivered(q);
    s.queue('q').settle(seqs[0]!);
    s.queue('q').settle(seqs[2]!);
    await synced(s);
    crash(s);
    const s2 = await open();
    const c = s2.queue('q').cursor();
    const got: string[] = [];
    while (c.next()) got.push(`${s2.readSync(c.ref).toString('latin1').split(':')[0]}${c.delivered ? '*' : ''}`);
    expect(got.slice(0, 4)).toEqual(['msg-1*', 'msg-3*', 'msg-4*', 'msg-5']);
    expect(got).toHaveLength(38);
  });

  describe('write failures', () => {
    function failingOps(): FileOps & { failWrites: boolean; partial: boolean; failSync: boolean } {
      const ops = {
        ...nodeFileOps,
        failWrites: false,
        partial: false,
        failSync: false,
        writeSync(fd: number, buf: Buffer, off: number, len: number, pos: number): number {
          if (ops.failWrites) {
            if (ops.partial && len > 16) {
              ops.partial = false;
              return nodeFileOps.writeSync(fd, buf, off, Math.floor(len / 2), pos);
            }
            throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          }
          return nodeFileOps.writeSync(fd, buf, off, len, pos);
        },
        fdatasync(fd: number, cb: (err: Error | null) => void): void {
          if (ops.failSync) setImmediate(cb, Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
          else nodeFileOps.fdatasync(fd, cb);
        },
      };
      return ops;
    }

    it('reports ENOSPC to the sync waiters, keeps stored data readable, and retries the same bytes', async () => {
      const ops = failingOps();
      const logger = captureLogger();
      const s = await open({ fileOps: ops, logger });
      publishN(s, 'q', 0, 20);
      expect(await synced(s)).toBeNull();
      ops.failWrites = true;
      ops.partial = true; // half a batch reaches the file, then the disk is full
      publishN(s, 'q', 20, 5);
      const err = await synced(s);
      expect((err as NodeJS.ErrnoException | null)?.code).toBe('ENOSPC');
      expect(logger.warns.some((w) => w.msg.includes('write failed'))).toBe(true);
      // Stored data stays readable, and so do the pending messages (served from memory).
      expect(drain(s, 'q')).toEqual([...Array(25).keys()].map((i) => `msg-${i}`));
      // A listener sees the failure with the failed range.
      ops.failWrites = false;
      expect(await synced(s)).toBeNull(); // retried: now durable
      crash(s);
      const s2 = await open();
      expect(drain(s2, 'q')).toEqual([...Array(25).keys()].map((i) => `msg-${i}`));
    });

    it('after ENOSPC and a crash before any retry, recovery keeps exactly what was stored', async () => {
      const ops = failingOps();
      const s = await open({ fileOps: ops, segmentSize: 1 << 20 });
      publishN(s, 'q', 0, 20);
      expect(await synced(s)).toBeNull();
      ops.failWrites = true;
      ops.partial = true;
      publishN(s, 'q', 20, 5);
      const listener: Array<[number, string | undefined, number]> = [];
      s.addSyncListener((d, e, upTo) => listener.push([d, (e as NodeJS.ErrnoException | null)?.code, upTo]));
      expect(await synced(s)).not.toBeNull();
      expect(listener.at(-1)?.[1]).toBe('ENOSPC');
      expect(listener.at(-1)?.[2]).toBe(s.writeSeq);
      crash(s);
      const logger = captureLogger();
      const s2 = await open({ logger, segmentSize: 1 << 20 });
      expect(drain(s2, 'q')).toEqual([...Array(20).keys()].map((i) => `msg-${i}`));
    });

    it('reports an fsync failure to the waiters', async () => {
      const ops = failingOps();
      const s = await open({ fileOps: ops });
      publishN(s, 'q', 0, 3);
      ops.failSync = true;
      expect(((await synced(s)) as NodeJS.ErrnoException | null)?.code).toBe('EIO');
      ops.failSync = false;
      publishN(s, 'q', 3, 1);
      expect(await synced(s)).toBeNull();
    });
  });

  it('groups many sync requests into few fdatasync batches while one is in flight', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let batches = 0;
    const ops: FileOps = {
      ...nodeFileOps,
      fdatasync(fd, cb) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        // a slow disk: the next requests pile up behind this batch
        setTimeout(() => nodeFileOps.fdatasync(fd, (e) => { inFlight--; cb(e); }), 5);
      },
    };
    const s = await open({ fileOps: ops });
    s.addSyncListener(() => batches++);
    const waits: Promise<Error | null>[] = [];
    for (let turn = 0; turn < 50; turn++) {
      publishN(s, 'q', turn, 1);
      waits.push(synced(s));
      await new Promise((r) => setImmediate(r)); // next input turn
    }
    expect((await Promise.all(waits)).every((e) => e === null)).toBe(true);
    expect(batches).toBeLessThan(50);
    expect(s.durableSeq).toBe(s.writeSeq);
  });

  it('keeps the in-memory index of a long backlog within its budget, reloading chunks in order', async () => {
    const s = await open({ indexEntriesPerSegment: 16, indexMemoryEntries: 64, segmentSize: 64 * 1024 });
    const seqs = publishN(s, 'long', 0, 2000, 20);
    const entries = (s.queue('long') as QueueLog).entries;
    expect(entries.residentSlots).toBeLessThanOrEqual(64 + 16);
    for (let i = 0; i < 2000; i += 7) s.queue('long').markDelivered(seqs[i]!);
    for (let i = 3; i < 2000; i += 5) s.queue('long').settle(seqs[i]!);
    expect(entries.residentSlots).toBeLessThanOrEqual(64 + 3 * 16);
    const expected = [...Array(2000).keys()].filter((i) => (i - 3) % 5 !== 0 || i < 3);
    const c = s.queue('long').cursor();
    const got: string[] = [];
    while (c.next()) got.push(`${s.readSync(c.ref, c.size).toString('latin1').split(':')[0]}${c.delivered ? '*' : ''}`);
    expect(got).toEqual(expected.map((i) => `msg-${i}${i % 7 === 0 ? '*' : ''}`));
    expect(entries.loads).toBeGreaterThan(50);
    expect(entries.residentSlots).toBeLessThanOrEqual(64 + 3 * 16);
    await s.close();
    const s2 = await open({ indexEntriesPerSegment: 16, indexMemoryEntries: 64 });
    const e2 = (s2.queue('long') as QueueLog).entries;
    expect(e2.residentSlots).toBeLessThanOrEqual(64 + 3 * 16); // recovery stays within budget too
    expect(s2.queue('long').count).toBe(expected.length);
    expect(drain(s2, 'long')).toEqual(expected.map((i) => `msg-${i}`));
  });

  it('refuses a data directory held by another live process, takes over a dead one', async () => {
    const s = await open();
    await s.close();
    writeFileSync(path.join(dir, 'LOCK'), `${process.ppid}\n`); // a live process that is not us
    await expect(FileStore.open({ dir })).rejects.toThrow(/in use by process/);
    writeFileSync(path.join(dir, 'LOCK'), '999999999\n'); // no such process
    const s2 = await open();
    expect(readFileSync(path.join(dir, 'LOCK'), 'utf8').trim()).toBe(String(process.pid));
    await s2.close();
    expect(existsSync(path.join(dir, 'LOCK'))).toBe(false);
  });

  it('reports free disk space', async () => {
    const s = await open();
    const d = await s.diskFree();
    expect(d.total).toBeGreaterThan(0);
    expect(d.free).toBeGreaterThan(0);
    expect(d.free).toBeLessThanOrEqual(d.total);
  });

  it('recovers 100k entries without reading message bodies', async () => {
    const segmentSize = 1 << 20;
    const s = await open({ segmentSize, indexEntriesPerSegment: 16384 });
    const refs: MsgRef[] = [];
    const payload = Buffer.alloc(200, 0x61);
    for (let i = 0; i < 100_000; i++) {
      const ref = s.append([payload]);
      refs.push(ref);
      s.queue('big').enqueue(ref, 200);
      if (i % 5000 === 4999) await synced(s);
    }
    for (let i = 0; i < 100_000; i += 10) s.queue('big').settle(i);
    await synced(s);
    crash(s); // the segment being written stays unsealed: it alone is scanned
    let segBytesRead = 0;
    const counting: FileOps = {
      ...nodeFileOps,
      readSync(fd, buf, off, len, pos) {
        const n = nodeFileOps.readSync(fd, buf, off, len, pos);
        if (segFds.has(fd)) segBytesRead += n;
        return n;
      },
      openSync(p, flags) {
        const fd = nodeFileOps.openSync(p, flags);
        if (p.endsWith('.seg')) segFds.add(fd);
        else segFds.delete(fd);
        return fd;
      },
    };
    const segFds = new Set<number>();
    const t0 = performance.now();
    const s2 = await open({ segmentSize, fileOps: counting });
    const ms = performance.now() - t0;
    expect(s2.queue('big').count).toBe(90_000);
    const totalSeg = dirBytes(path.join(dir, 'msgs'));
    expect(totalSeg).toBeGreaterThan(19_000_000);
    expect(segBytesRead).toBeLessThanOrEqual(2 * segmentSize);
    console.log(`recovered 100k entries in ${ms.toFixed(0)} ms, read ${segBytesRead} of ${totalSeg} segment bytes`);
    const c = s2.queue('big').cursor();
    expect(c.next()).toBe(true);
    expect(c.seq).toBe(1);
    expect(s2.readSync(c.ref, c.size)).toEqual(payload);
    expect(existsSync(path.join(dir, 'msgs'))).toBe(true);
  }, 60_000);
});
