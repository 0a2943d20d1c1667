/**
 * The shared message log: message records appended to bounded segment files `msgs/<id>.seg`.
 * A record is written once whatever the number of queues that reference it; each segment counts
 * the live queue entries pointing into it and is deleted when that count is 0 and it is no longer
 * the segment being written. (This per-segment count is the per-message reference count summed per
 * file: a segment's space can only come back once all its messages are unreferenced.)
 *
 * On-disk format (all integers little-endian), version 1:
 *
 *   segment header, 24 bytes
 *     0  magic    "WRNM" (0x57 0x52 0x4e 0x4d)
 *     4  version  u16 = 1
 *     6  flags    u16  bit 0 = SEALED: every byte of the file was fdatasync'd before this bit was
 *                      written (set after the segment is full and synced, or at clean close)
 *     8  id       u32  segment id (1 .. 2^21-1), equal to the file name
 *    12  reserved u32 = 0
 *    16  gen      f64  creation generation, grows by 1 per new segment (ids may wrap, gen does not)
 *   then records, back to back:
 *     0  len      u32  payload length
 *     4  crc      u32  CRC-32 (IEEE) of the 4 len bytes followed by the payload
 *     8  payload  len bytes (the broker's parts, concatenated on disk only)
 *
 * A MsgRef is id * 2^32 + offset of the record header (a safe integer since id < 2^21).
 * A segment holds records while its size stays under `segmentSize`; one oversized record gets a
 * segment of its own.
 *
 * Recovery rule: a segment whose SEALED bit is set is trusted up to its file length (its records are
 * checked by CRC when read). An unsealed segment (it was being written at a crash) is scanned record by
 * record; at the first record that is incomplete or fails its CRC the file is truncated, with a warning
 * naming the segment, the offset and the bytes dropped. Queue entries pointing past the valid end of
 * their segment, or into a missing segment, are dropped by the queue index (they were never confirmed).
 * A header that is short or does not match deletes the file (it held nothing yet).
 *
 * Reading back (issue 10): a read that starts at or shortly after where the previous one ended (a
 * paged backlog read back in order) fills one READ_AHEAD window with a single pread, and the records
 * that follow are copied from it; other reads go to the file one by one. The window is one buffer
 * per log (READ_AHEAD bytes, StoreStats.indexMemoryBytes counts it) and forgets a deleted segment.
 */
import path from 'node:path';
import { AppendFile, type FileContext } from './append-file.js';
import { crc32Buffer, crc32Range } from './crc32.js';
import type { StreamRecordSource } from './stream.js';
import { StoreError, type MsgRef, type StoreLogger } from './store.js';

export const SEG_MAGIC = 0x4d4e5257; // "WRNM" read as u32 LE
export const SEG_VERSION = 1;
export const SEG_HEADER = 24;
export const REC_HEADER = 8;
export const FLAG_SEALED = 1;
const ID_SPAN = 4294967296; // 2^32
const MAX_ID = (1 << 21) - 1;
/** Bytes one read-ahead pread fetches. */
export const READ_AHEAD = 256 * 1024;

export class MsgSegment {
  refs = 0;
  sealed: boolean;
  /** Already scheduled for deletion. */
  deleted = false;

  constructor(
    readonly id: number,
    readonly gen: number,
    readonly file: AppendFile,
    sealed: boolean,
  ) {
    this.sealed = sealed;
  }
}

export function refSegment(ref: MsgRef): number {
  return Math.floor(ref / ID_SPAN);
}

export function refOffset(ref: MsgRef): number {
  return ref % ID_SPAN;
}

export class MessageLog implements StreamRecordSource {
  readonly segments = new Map<number, MsgSegment>();
  private current: MsgSegment | undefined;
  private maxGen = 0;
  private lastId = 0;
  /** Rolled segments not yet sealed (sealed after a sync covering all their bytes). */
  private readonly unsealed = new Set<MsgSegment>();
  private readonly scratch = Buffer.allocUnsafe(REC_HEADER);
  /** Read-ahead window: bytes [raStart, raStart + raLen) of segment raSeg (-1: none). */
  private raBuf: Buffer | undefined;
  private raSeg = -1;
  private raStart = 0;
  private raLen = 0;
  /** Where the previous read ended (sequential detection). */
  private lastSeg = -1;
  private lastEnd = 0;
  /** Reads served by the window / preads made for it (tests, diagnostics). */
  readAheadHits = 0;
  readAheadFills = 0;

  bytesOnDisk = 0;

  constructor(
    private readonly ctx: FileContext,
    readonly dir: string,
    private readonly segmentSize: number,
    private readonly logger: StoreLogger,
  ) {}

  private segPath(id: number): string {
    return path.join(this.dir, `${String(id).padStart(7, '0')}.seg`);
  }

  // ---------------------------------------------------------------- recovery

  /** Load every segment header; scan and cut unsealed segments. */
  recover(): void {
    const ops = this.ctx.ops;
    ops.mkdirSync(this.dir);
    const head = Buffer.alloc(SEG_HEADER);
    const found: MsgSegment[] = [];
    for (const name of ops.readdirSync(this.dir)) {
      const m = /^(\d+)\.seg$/.exec(name);
      const p = path.join(this.dir, name);
      if (m === null) {
        if (name.endsWith('.del')) ops.unlinkSync(p); // deletion interrupted by a stop
        continue;
      }
      const id = Number(m[1]);
      const fd = ops.openSync(p, 'r+');
      let size = 0;
      let ok = false;
      try {
        size = ops.fstatSize(fd);
        if (size >= SEG_HEADER && ops.readSync(fd, head, 0, SEG_HEADER, 0) === SEG_HEADER) {
          ok = head.readUInt32LE(0) === SEG_MAGIC && head.readUInt16LE(4) === SEG_VERSION && head.readUInt32LE(8) === id;
        }
      } finally {
        ops.closeSync(fd);
      }
      if (!ok) {
        this.logger.warn({ segment: p, bytes: size }, 'store: message segment with a missing or bad header deleted');
        ops.unlinkSync(p);
        continue;
      }
      const gen = head.readDoubleLE(16);
      const sealed = (head.readUInt16LE(6) & FLAG_SEALED) !== 0;
      const seg = new MsgSegment(id, gen, new AppendFile(this.ctx, p, size, true), sealed);
      if (!sealed) this.scanAndCut(seg);
      found.push(seg);
    }
    found.sort((a, b) => a.gen - b.gen);
    for (const seg of found) {
      this.segments.set(seg.id, seg);
      this.bytesOnDisk += seg.file.written;
      if (seg.gen > this.maxGen) this.maxGen = seg.gen;
      this.lastId = seg.id;
    }
  }

  /** Scan an unsealed segment record by record; truncate at the first bad record; seal it. */
  private scanAndCut(seg: MsgSegment): void {
    const ops = this.ctx.ops;
    const size = seg.file.written;
    const buf = Buffer.allocUnsafe(size);
    seg.file.readAt(0, buf, 0, size);
    let pos = SEG_HEADER;
    let records = 0;
    let reason = '';
    while (pos < size) {
      if (pos + REC_HEADER > size) {
        reason = 'incomplete record header';
        break;
      }
      const len = buf.readUInt32LE(pos);
      if (pos + REC_HEADER + len > size) {
        reason = 'incomplete record';
        break;
      }
      let c = crc32Range(buf, pos, pos + 4);
      c = crc32Buffer(buf.subarray(pos + REC_HEADER, pos + REC_HEADER + len), c);
      if (c !== buf.readUInt32LE(pos + 4)) {
        reason = 'checksum mismatch';
        break;
      }
      pos += REC_HEADER + len;
      records++;
    }
    const fd = seg.file.open();
    if (pos < size) {
      this.logger.warn(
        { segment: seg.file.path, offset: pos, droppedBytes: size - pos, keptRecords: records, reason },
        'store: torn or corrupt tail of a message segment cut off',
      );
      ops.ftruncateSync(fd, pos);
      seg.file.written = pos;
    }
    // Sealed after the first sync (which fdatasyncs it, making the cut durable).
    this.ctx.dirty.add(seg.file);
    this.unsealed.add(seg);
  }

  /** Is [ref, ref+8+size) inside a segment's valid bytes? (Recovery check of queue entries.) */
  validate(ref: MsgRef, size: number): boolean {
    const seg = this.segments.get(refSegment(ref));
    if (seg === undefined) return false;
    const off = refOffset(ref);
    return off >= SEG_HEADER && off + REC_HEADER + size <= seg.file.size;
  }

  /** After recovery: delete segments nothing references. */
  dropUnreferenced(): void {
    for (const seg of [...this.segments.values()]) if (seg.refs === 0) this.deleteSegment(seg);
  }

  // ---------------------------------------------------------------- refs

  addRef(ref: MsgRef): void {
    const seg = this.segments.get(refSegment(ref));
    if (seg !== undefined) seg.refs++;
  }

  release(ref: MsgRef): void {
    const seg = this.segments.get(refSegment(ref));
    if (seg === undefined) return;
    seg.refs--;
    if (seg.refs <= 0 && seg !== this.current) this.deleteSegment(seg);
  }

  private deleteSegment(seg: MsgSegment): void {
    if (seg.deleted) return;
    seg.deleted = true;
    this.segments.delete(seg.id);
    if (this.raSeg === seg.id) this.raSeg = -1;
    if (this.lastSeg === seg.id) this.lastSeg = -1;
    this.unsealed.delete(seg);
    this.bytesOnDisk -= seg.file.size;
    seg.file.discard();
    this.ctx.unlinkAsync(seg.file.path, (err) =>
      this.logger.warn({ segment: seg.file.path, err: err.message }, 'store: could not delete a message segment'),
    );
  }

  // ---------------------------------------------------------------- append

  private roll(): MsgSegment {
    const old = this.current;
    let id = this.lastId;
    for (let tries = 0; ; tries++) {
      id = id >= MAX_ID ? 1 : id + 1;
      if (!this.segments.has(id)) break;
      if (tries > MAX_ID) throw new StoreError('INVALID', 'store: no free message segment id');
    }
    this.lastId = id;
    const gen = ++this.maxGen;
    const file = new AppendFile(this.ctx, this.segPath(id), 0, false, 64 * 1024);
    const seg = new MsgSegment(id, gen, file, false);
    const o = file.reserve(SEG_HEADER);
    const b = file.buf;
    b.writeUInt32LE(SEG_MAGIC, o);
    b.writeUInt16LE(SEG_VERSION, o + 4);
    b.writeUInt16LE(0, o + 6);
    b.writeUInt32LE(id, o + 8);
    b.writeUInt32LE(0, o + 12);
    b.writeDoubleLE(gen, o + 16);
    this.segments.set(id, seg);
    this.bytesOnDisk += SEG_HEADER;
    this.current = seg;
    if (old !== undefined) {
      if (old.refs <= 0) this.deleteSegment(old);
      else this.unsealed.add(old);
    }
    return seg;
  }

  append(parts: readonly Buffer[]): MsgRef {
    let len = 0;
    for (let i = 0; i < parts.length; i++) len += parts[i]!.length;
    if (len > 0xffffffff - REC_HEADER) throw new StoreError('INVALID', 'store: message too large');
    const recLen = REC_HEADER + len;
    let seg = this.current;
    if (seg === undefined || (seg.file.size + recLen > this.segmentSize && seg.file.size > SEG_HEADER)) {
      seg = this.roll();
    }
    const file = seg.file;
    const offset = file.size;
    const o = file.reserve(recLen);
    const b = file.buf;
    b.writeUInt32LE(len, o);
    let c = crc32Range(b, o, o + 4);
    let p = o + REC_HEADER;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      c = crc32Buffer(part, c);
      part.copy(b, p);
      p += part.length;
    }
    b.writeUInt32LE(c, o + 4);
    this.bytesOnDisk += recLen;
    return seg.id * ID_SPAN + offset;
  }

  // ---------------------------------------------------------------- stream references
  // Streams (stream-log.ts) count their references per message segment, not per record: a stream
  // segment's summary holds (segment id, count) pairs, so recovery need not read its entries.

  readonly recordOverhead = REC_HEADER;

  segmentOf(ref: MsgRef): number {
    return refSegment(ref);
  }

  addRefs(id: number, n: number): void {
    const seg = this.segments.get(id);
    if (seg !== undefined) seg.refs += n;
  }

  releaseRefs(id: number, n: number): void {
    const seg = this.segments.get(id);
    if (seg === undefined) return;
    seg.refs -= n;
    if (seg.refs <= 0 && seg !== this.current) this.deleteSegment(seg);
  }

  adjacent(refA: MsgRef, sizeA: number, refB: MsgRef): boolean {
    return refB === refA + REC_HEADER + sizeA;
  }

  /** Raw bytes [ref, ref + len) of back-to-back records (headers included), one read. */
  readRun(ref: MsgRef, len: number): Buffer {
    const seg = this.segments.get(refSegment(ref));
    const off = refOffset(ref);
    if (seg === undefined || off + len > seg.file.size) throw new StoreError('MISSING', `store: message ${ref} is in no live segment`);
    const buf = Buffer.allocUnsafe(len);
    seg.file.readAt(off, buf, 0, len);
    return buf;
  }

  /** The payload of the record at `at` in a run read by readRun, checksum verified. */
  payloadIn(run: Buffer, at: number, size: number, ref: MsgRef): Buffer {
    const rec = run.subarray(at, at + REC_HEADER + size);
    const err = this.check(rec, size, `segment ${refSegment(ref)}`, refOffset(ref));
    if (err !== null) throw err;
    return rec.subarray(REC_HEADER);
  }

  // ---------------------------------------------------------------- read

  readSync(ref: MsgRef, size: number): Buffer {
    const seg = this.segments.get(refSegment(ref));
    if (seg === undefined) throw new StoreError('MISSING', `store: message ${ref} is in no live segment`);
    const off = refOffset(ref);
    const file = seg.file;
    let len = size;
    let rec: Buffer;
    if (len < 0) {
      if (off + REC_HEADER > file.size) throw new StoreError('MISSING', `store: message ${ref} is past the end of its segment`);
      file.readAt(off, this.scratch, 0, REC_HEADER);
      len = this.scratch.readUInt32LE(0);
    }
    if (off + REC_HEADER + len > file.size) throw new StoreError('MISSING', `store: message ${ref} is past the end of its segment`);
    const total = REC_HEADER + len;
    rec = Buffer.allocUnsafe(total);
    const id = seg.id;
    if (id === this.raSeg && off >= this.raStart && off + total <= this.raStart + this.raLen) {
      this.raBuf!.copy(rec, 0, off - this.raStart, off - this.raStart + total);
      this.readAheadHits++;
    } else if (id === this.lastSeg && off >= this.lastEnd && off - this.lastEnd < READ_AHEAD && total <= READ_AHEAD) {
      const ra = (this.raBuf ??= Buffer.allocUnsafe(READ_AHEAD));
      const n = Math.min(READ_AHEAD, file.size - off);
      file.readAt(off, ra, 0, n);
      this.raSeg = id;
      this.raStart = off;
      this.raLen = n;
      this.readAheadFills++;
      ra.copy(rec, 0, 0, total);
    } else {
      file.readAt(off, rec, 0, total);
    }
    this.lastSeg = id;
    this.lastEnd = off + total;
    const err = this.check(rec, len, file.path, off);
    if (err !== null) throw err;
    return rec.subarray(REC_HEADER);
  }

  private check(rec: Buffer, len: number, file: string, off: number): StoreError | null {
    let c = crc32Range(rec, 0, 4);
    c = crc32Buffer(rec.subarray(REC_HEADER), c);
    if (rec.readUInt32LE(0) === len && c === rec.readUInt32LE(4)) return null;
    this.logger.warn({ segment: file, offset: off }, 'store: message record failed its checksum');
    return new StoreError('CORRUPT', `store: message record at ${file}:${off} failed its checksum`);
  }

  /**
   * Read on the thread pool when the record is in the file (the event loop is not blocked by a cold
   * disk); records still in the pending buffer, or of unknown size, are served synchronously.
   * The callback always runs asynchronously.
   */
  read(ref: MsgRef, size: number, cb: (err: Error | null, payload: Buffer | undefined) => void): void {
    const seg = this.segments.get(refSegment(ref));
    const off = refOffset(ref);
    if (seg === undefined || size < 0 || off + REC_HEADER + size > seg.file.written) {
      let payload: Buffer | undefined;
      let err: Error | null = null;
      try {
        payload = this.readSync(ref, size);
      } catch (e) {
        err = e instanceof Error ? e : new Error(String(e));
      }
      process.nextTick(cb, err, payload);
      return;
    }
    const file = seg.file;
    let fd: number;
    try {
      fd = file.open();
    } catch (e) {
      process.nextTick(cb, e instanceof Error ? e : new Error(String(e)), undefined);
      return;
    }
    const rec = Buffer.allocUnsafe(REC_HEADER + size);
    this.ctx.pin(fd);
    this.ctx.ops.read(fd, rec, 0, rec.length, off, (err, n) => {
      this.ctx.unpin(fd);
      if (err !== null) cb(err, undefined);
      else if (n < rec.length) cb(new StoreError('MISSING', `store: short read of message ${ref}`), undefined);
      else {
        const bad = this.check(rec, size, file.path, off);
        if (bad !== null) cb(bad, undefined);
        else cb(null, rec.subarray(REC_HEADER));
      }
    });
  }

  // ---------------------------------------------------------------- sync hooks

  /**
   * Called when a sync completed: every rolled (or recovered-and-scanned) segment whose bytes were
   * all written before that sync started is now durable, so its SEALED bit may be set (the bit itself
   * becomes durable with a later sync; until then the segment is merely scanned again on recovery).
   * `sealCurrent` (clean close) seals the segment being written too.
   */
  sealSynced(sealCurrent: boolean): void {
    if (sealCurrent && this.current !== undefined) this.unsealed.add(this.current);
    for (const seg of this.unsealed) {
      const f = seg.file;
      if (f.len > 0 || this.ctx.dirty.has(f)) continue; // bytes written after the sync started
      if (seg === this.current && !sealCurrent) continue;
      this.unsealed.delete(seg);
      if (seg.sealed) continue;
      const flag = Buffer.alloc(2);
      flag.writeUInt16LE(FLAG_SEALED, 0);
      f.releaseBuffer(); // sealed: never appended to again
      try {
        this.ctx.ops.writeSync(f.open(), flag, 0, 2, 6);
        seg.sealed = true;
        this.ctx.dirty.add(f);
      } catch {
        // Left unsealed: the segment is scanned at the next recovery instead. Harmless.
      }
    }
  }

  /** Segments waiting for their SEALED bit. */
  get unsealedCount(): number {
    return this.unsealed.size;
  }

  /** Close every fd (store close). */
  closeAll(): void {
    for (const seg of this.segments.values()) seg.file.closeFd();
  }

  /** Memory of the read-ahead window (0 until a sequential read needed it). */
  get readBufferBytes(): number {
    return this.raBuf === undefined ? 0 : this.raBuf.length;
  }

  get segmentCount(): number {
    return this.segments.size;
  }
}
