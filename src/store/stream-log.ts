/**
 * A stream: an append-only log of message references in segment files `streams/<sha1(name)>/`,
 * with offsets, chunks (timestamp + Bloom filter), retention by whole segments, offset tracking and
 * cursors. Used by both stores: FileStore on disk, MemoryStore over in-memory files
 * (memory-file-ops.ts), so both run the same code and the same conformance suite.
 *
 * On-disk format (little-endian), version 1:
 *
 *   <base>.seg   base = offset of the segment's first message, 20 digits
 *     header, headerLen bytes (multiple of 8)
 *       0  magic     "WRNS"
 *       4  version   u16 = 1
 *       6  headerLen u16
 *       8  base      f64
 *       16 nameLen   u32
 *       20 crc       u32  CRC-32 of bytes 0..19 ++ name
 *       24 name      the stream key (UTF-8), zero padding
 *     chunks, back to back (format in stream-chunk.ts): header with CRC, first offset, timestamp,
 *     Bloom filter, then 16-byte entries (message record ref, size, filter hash)
 *   <base>.sum   summary of a closed segment (stream-segment.ts): written once the segment is
 *                closed and synced; holds its counts, the references it holds per message segment
 *                and a sparse offset/time index, so recovery need not scan it
 *   offsets-<gen>.trk   server-side offset tracking (stream-tracking.ts)
 *
 * Chunks: every message appended in one turn goes into one chunk (up to MAX_CHUNK_ENTRIES),
 * written with its header when the store flushes. A chunk becomes visible to readers ("committed")
 * when a sync covering it completes, so an offset a consumer saw is never reused after a crash.
 * The store asks for that sync itself (SyncIo.needsSync): streams need no publisher waiting.
 *
 * Segments: a new one starts when the current one covers `maxSegmentBytes` (chunk bytes plus the
 * record bytes its entries reference), 256,000 chunks (as osiris) or 2^20 entries (bounds the
 * recovery scan of the active segment to ~16 MB). Retention runs at every roll (as osiris) and when
 * the broker calls applyRetention (age): whole segments, oldest first, never the active one and
 * never one holding uncommitted chunks; their references are released (message segments nobody
 * references any more are deleted by the message log).
 *
 * Recovery rule: segments with an intact summary matching their file size are trusted. Others (the
 * active one, or one closed just before a crash) are scanned chunk by chunk: the first chunk that is
 * incomplete, fails its CRC, breaks the offset sequence or references a record that is not in the
 * message log (its record never reached the disk) ends the stream: the file is cut there and later
 * segments are deleted (none of it was ever confirmed: confirms wait for the sync of both files).
 * Offsets continue from the base named by the last segment's file name.
 */
import path from 'node:path';
import { AppendFile, type FileContext } from './append-file.js';
import { crc32Buffer } from './crc32.js';
import {
  DEFAULT_FILTER_BYTES,
  DEFAULT_MAX_SEGMENT_BYTES,
  type EffectiveStreamSettings,
  MAX_CHUNK_ENTRIES,
  MAX_FILTER_BYTES,
  MIN_FILTER_BYTES,
  type StreamLog,
  type StreamReader,
  type StreamRecordSource,
  type StreamSettings,
  type StreamStats,
} from './stream.js';
import { CHUNK_FILTERED, CHUNK_HEADER, CHUNK_MAGIC, CHUNK_UNFILTERED, ChunkScanner, ENTRY_BYTES, chunkLength } from './stream-chunk.js';
import { NO_FILTER, bloomAdd, filterHash } from './stream-filter.js';
import { SegmentReader } from './stream-reader.js';
import { recoverSegments } from './stream-recovery.js';
import { StreamSegment, buildSegmentHeader, segmentFileName, summaryFileName } from './stream-segment.js';
import { OffsetTracking } from './stream-tracking.js';
import { StoreError, writeRef, type MsgRef, type StoreLogger } from './store.js';

const MAX_SEGMENT_CHUNKS = 256_000;
const MAX_SEGMENT_ENTRIES = 1 << 20;

/** Hooks into the owning store. */
export interface StreamHost {
  /** Take the next write sequence number (schedules the end-of-turn flush). */
  bump(): number;
  assertOpen(): void;
}

type Settings = EffectiveStreamSettings;

function normalize(s: StreamSettings): Settings {
  const filterBytes = s.filterBytes ?? DEFAULT_FILTER_BYTES;
  if (!Number.isInteger(filterBytes) || filterBytes < MIN_FILTER_BYTES || filterBytes > MAX_FILTER_BYTES) {
    throw new StoreError('INVALID', `store: stream filter size ${filterBytes} is outside ${MIN_FILTER_BYTES}..${MAX_FILTER_BYTES}`);
  }
  return {
    maxBytes: s.maxBytes,
    maxAgeMs: s.maxAgeMs,
    maxSegmentBytes: s.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES,
    filterBytes,
  };
}

export class SegmentedStream implements StreamLog {
  /** Segments, oldest first; the last one is being written unless it was summarized. */
  readonly segments: StreamSegment[] = [];
  private active: StreamSegment | undefined;
  private next = 0;
  private committed = 0;
  private lastChunk = -1;
  private totalBytes = 0;
  private readonly tracking: OffsetTracking;
  /** Closed segments waiting for their summary (written after a sync covering them). */
  private readonly unsummarized = new Set<StreamSegment>();
  private destroyed = false;
  settings: Settings;
  onCommit: ((committedEnd: number) => void) | undefined;

  // ---- the chunk being filled (this turn) ----
  private chunkPos = -1;
  private chunkCount = 0;
  private chunkFirst = 0;
  private chunkTs = 0;
  private chunkFlags = 0;
  private chunkBloomBytes = 0;
  private chunkRecordBytes = 0;
  private readonly bloom = new Uint8Array(MAX_FILTER_BYTES);
  private lastSeq = 0;
  private lastTs = 0;
  /** References counted for the active segment but not yet added to its map (same record segment). */
  private refSeg = -1;
  private refCount = 0;
  private closedChunk = false;

  // ---- chunks closed, waiting for their sync: parallel arrays (no object per chunk) ----
  private readonly pendSeq: number[] = [];
  private readonly pendEnd: number[] = [];
  private readonly pendFirst: number[] = [];
  private readonly pendPos: number[] = [];
  private readonly pendSeg: StreamSegment[] = [];
  private pendHead = 0;

  constructor(
    private readonly ctx: FileContext,
    private readonly host: StreamHost,
    readonly source: StreamRecordSource,
    readonly logger: StoreLogger,
    readonly name: string,
    readonly dir: string,
    settings: StreamSettings = {},
    private readonly now: () => number = Date.now,
  ) {
    this.settings = normalize(settings);
    this.tracking = new OffsetTracking(ctx, dir, logger);
  }

  get firstOffset(): number {
    return this.segments.length > 0 ? this.segments[0]!.base : this.next;
  }

  get nextOffset(): number {
    return this.next;
  }

  get committedEnd(): number {
    return this.committed;
  }

  get lastChunkOffset(): number {
    return this.lastChunk >= 0 ? this.lastChunk : this.committed;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  private check(): void {
    this.host.assertOpen();
    if (this.destroyed) throw new StoreError('CLOSED', `store: stream '${this.name}' was deleted`);
  }

  configure(settings: StreamSettings): void {
    this.check();
    this.settings = normalize(settings);
    this.applyRetention();
  }

  // ---------------------------------------------------------------- append

  append(ref: MsgRef, size: number, filterValue?: string): number {
    this.check();
    if (this.chunkPos < 0) this.openChunk();
    const f = this.active!.file;
    const o = f.reserve(ENTRY_BYTES);
    const b = f.buf;
    writeRef(b, o, ref);
    b.writeUInt32LE(size, o + 8);
    let h = NO_FILTER;
    if (filterValue !== undefined) {
      h = filterHash(filterValue);
      bloomAdd(this.bloom, 0, this.chunkBloomBytes, h);
      this.chunkFlags |= CHUNK_FILTERED;
    } else {
      this.chunkFlags |= CHUNK_UNFILTERED;
    }
    b.writeUInt32LE(h, o + 12);
    this.chunkCount++;
    this.chunkRecordBytes += size + this.source.recordOverhead;
    // Referenced at once: a record nobody references may be collected when its segment rolls.
    const seg = this.source.segmentOf(ref);
    this.source.addRefs(seg, 1);
    if (seg === this.refSeg) this.refCount++;
    else {
      this.flushRefs();
      this.refSeg = seg;
      this.refCount = 1;
    }
    this.lastSeq = this.host.bump();
    const offset = this.next++;
    if (this.chunkCount >= MAX_CHUNK_ENTRIES) this.closeChunk();
    return offset;
  }

  private flushRefs(): void {
    if (this.refCount > 0) this.active!.addRef(this.refSeg, this.refCount);
    this.refSeg = -1;
    this.refCount = 0;
  }

  private openChunk(): void {
    let seg = this.active;
    if (seg === undefined || this.segmentFull(seg)) seg = this.roll();
    const bloomBytes = this.settings.filterBytes;
    this.chunkPos = seg.file.size;
    seg.file.reserve(CHUNK_HEADER + bloomBytes);
    this.chunkCount = 0;
    this.chunkFirst = this.next;
    const now = this.now();
    this.chunkTs = now > this.lastTs ? now : this.lastTs; // non-decreasing, whatever the wall clock does
    this.lastTs = this.chunkTs;
    this.chunkFlags = 0;
    this.chunkBloomBytes = bloomBytes;
    this.chunkRecordBytes = 0;
    this.bloom.fill(0, 0, bloomBytes);
  }

  private segmentFull(seg: StreamSegment): boolean {
    return seg.chunks > 0 && (seg.bytes >= this.settings.maxSegmentBytes || seg.chunks >= MAX_SEGMENT_CHUNKS
      || seg.entries >= MAX_SEGMENT_ENTRIES);
  }

  /** Write the open chunk's header (the store is about to flush, or the chunk is full). */
  private closeChunk(): void {
    if (this.chunkPos < 0) return;
    const seg = this.active!;
    const f = seg.file;
    const o = this.chunkPos - f.written;
    const b = f.buf;
    const len = chunkLength(this.chunkBloomBytes, this.chunkCount);
    b.writeUInt32LE(CHUNK_MAGIC, o);
    b.writeUInt32LE(this.chunkCount, o + 8);
    b[o + 12] = this.chunkBloomBytes;
    b[o + 13] = this.chunkFlags;
    b.writeUInt16LE(0, o + 14);
    b.writeDoubleLE(this.chunkFirst, o + 16);
    b.writeDoubleLE(this.chunkTs, o + 24);
    b.set(this.bloom.subarray(0, this.chunkBloomBytes), o + CHUNK_HEADER);
    b.writeUInt32LE(crc32Buffer(b.subarray(o + 8, o + len)), o + 4);
    this.flushRefs();
    seg.addChunk(this.chunkPos, len, this.chunkFirst, this.chunkCount, this.chunkTs, this.chunkRecordBytes);
    this.totalBytes += len + this.chunkRecordBytes;
    this.pendSeq.push(this.lastSeq);
    this.pendEnd.push(this.chunkFirst + this.chunkCount);
    this.pendFirst.push(this.chunkFirst);
    this.pendPos.push(this.chunkPos + len);
    this.pendSeg.push(seg);
    this.chunkPos = -1;
    this.closedChunk = true;
  }

  private roll(): StreamSegment {
    const prev = this.active;
    if (this.segments.length === 0 && !this.ctx.ops.existsSync(this.dir)) {
      this.ctx.ops.mkdirSync(this.dir);
      this.ctx.dirtyDirs.add(path.dirname(this.dir));
    }
    const base = this.next;
    const header = buildSegmentHeader(this.name, base);
    const file = new AppendFile(this.ctx, path.join(this.dir, segmentFileName(base)), 0, false, 4096);
    header.copy(file.buf, file.reserve(header.length));
    const seg = new StreamSegment(base, file, header.length);
    this.segments.push(seg);
    this.active = seg;
    if (prev !== undefined) this.unsummarized.add(prev);
    this.applyRetention();
    return seg;
  }

  // ---------------------------------------------------------------- store hooks

  /** Before the store flushes: close the open chunk, write tracked offsets. True when a sync is needed. */
  beforeFlush(): boolean {
    if (this.destroyed) return false;
    this.closeChunk();
    this.tracking.beforeFlush();
    const wanted = this.closedChunk;
    this.closedChunk = false;
    return wanted;
  }

  /** Everything with write seq <= durableSeq is on disk: commit the chunks it covers. */
  onDurable(durableSeq: number): void {
    if (this.destroyed) return;
    let advanced = false;
    while (this.pendHead < this.pendSeq.length && this.pendSeq[this.pendHead]! <= durableSeq) {
      const i = this.pendHead++;
      this.committed = this.pendEnd[i]!;
      this.lastChunk = this.pendFirst[i]!;
      this.pendSeg[i]!.committedPos = this.pendPos[i]!;
      advanced = true;
    }
    if (this.pendHead === this.pendSeq.length) {
      this.pendHead = 0;
      this.pendSeq.length = this.pendEnd.length = this.pendFirst.length = this.pendPos.length = this.pendSeg.length = 0;
    }
    if (advanced) this.onCommit?.(this.committed);
  }

  /** After a successful sync: summarize closed segments whose bytes are now all on disk. */
  afterSync(): void {
    if (this.destroyed) return;
    this.tracking.afterSync();
    for (const seg of this.unsummarized) {
      const f = seg.file;
      if (f.len > 0 || this.ctx.dirty.has(f) || seg.end > this.committed) continue;
      this.unsummarized.delete(seg);
      if (seg.deleted) continue;
      f.releaseBuffer(); // closed: never appended to again
      try {
        seg.writeSummary(this.ctx.ops, path.join(this.dir, summaryFileName(seg.base)));
      } catch (e) {
        // Without a summary the segment is scanned at the next recovery instead. Harmless.
        this.logger.warn({ stream: this.name, err: (e as Error).message }, 'store: could not write a stream segment summary');
      }
    }
  }

  // ---------------------------------------------------------------- retention

  applyRetention(now = this.now()): number {
    if (this.destroyed) return 0;
    const { maxBytes, maxAgeMs } = this.settings;
    if (maxBytes === undefined && maxAgeMs === undefined) return 0;
    let dropped = 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      if (oldest.end > this.committed) break; // holds chunks nobody has seen committed yet
      const tooBig = maxBytes !== undefined && this.totalBytes > maxBytes;
      const tooOld = maxAgeMs !== undefined && oldest.chunks > 0 && oldest.lastTs < now - maxAgeMs;
      if (!tooBig && !tooOld) break;
      dropped += oldest.entries;
      this.dropOldest();
    }
    return dropped;
  }

  private dropOldest(): void {
    const seg = this.segments.shift()!;
    seg.deleted = true;
    this.totalBytes -= seg.bytes;
    this.unsummarized.delete(seg);
    for (const [s, n] of seg.refs) this.source.releaseRefs(s, n);
    seg.file.discard();
    const warn = (err: Error): void => this.logger.warn({ stream: this.name, err: err.message }, 'store: could not delete a stream segment');
    this.ctx.unlinkAsync(seg.file.path, warn);
    this.ctx.unlinkAsync(path.join(this.dir, summaryFileName(seg.base)), warn);
  }

  // ---------------------------------------------------------------- reading

  /** The segment holding `offset` (or the first one after it); undefined when there is none. */
  segmentFor(offset: number): StreamSegment | undefined {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    let found: StreamSegment | undefined = segs[0];
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (segs[mid]!.base <= offset) {
        found = segs[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** The segment after `seg`, if still retained. */
  segmentAfter(seg: StreamSegment): StreamSegment | undefined {
    const i = this.segments.indexOf(seg);
    return i >= 0 ? this.segments[i + 1] : this.segmentFor(seg.base);
  }

  reader(offset: number): StreamReader {
    this.check();
    // Beyond the end: the cursor waits there (RabbitMQ attaches at the end and skips lower offsets).
    return new SegmentReader(this, Math.max(this.firstOffset, offset));
  }

  private scanner: ChunkScanner | undefined;

  offsetForTimestamp(ms: number): number {
    this.check();
    const sc = (this.scanner ??= new ChunkScanner(16 * 1024));
    for (const seg of this.segments) {
      if (seg.chunks === 0 || seg.lastTs < ms) continue;
      sc.reset(seg.file, seg.positionForTimestamp(ms), seg.committedPos);
      while (sc.next(false)) {
        if (sc.timestamp >= ms) return sc.firstOffset;
      }
    }
    return this.committed;
  }

  // ---------------------------------------------------------------- tracking

  trackOffset(name: string, offset: number): void {
    this.check();
    if (this.tracking.set(name, offset)) this.host.bump();
  }

  trackedOffset(name: string): number | undefined {
    return this.tracking.get(name);
  }

  untrack(name: string): void {
    this.check();
    if (this.tracking.delete(name)) this.host.bump();
  }

  trackedNames(): string[] {
    return this.tracking.names();
  }

  stats(): StreamStats {
    let chunks = 0;
    for (const s of this.segments) chunks += s.chunks;
    return {
      firstOffset: this.firstOffset,
      nextOffset: this.next,
      committedEnd: this.committed,
      messages: this.next - this.firstOffset,
      bytes: this.totalBytes,
      segments: this.segments.length,
      chunks,
    };
  }

  // ---------------------------------------------------------------- delete, close

  /** Release every reference and remove the directory (queue.delete). */
  destroy(): void {
    this.closeChunk();
    this.destroyed = true;
    for (const seg of this.segments) {
      seg.deleted = true;
      for (const [s, n] of seg.refs) this.source.releaseRefs(s, n);
      seg.file.discard();
    }
    this.segments.length = 0;
    this.unsummarized.clear();
    this.tracking.discardAll();
    this.ctx.ops.rmSync(this.dir);
    this.ctx.dirtyDirs.add(path.dirname(this.dir));
  }

  closeAll(): void {
    for (const seg of this.segments) seg.file.closeFd();
    this.tracking.closeAll();
  }

  // ---------------------------------------------------------------- recovery

  /** Rebuild from the files of `dir` (stream-recovery.ts); returns the messages recovered. */
  recover(): number {
    const r = recoverSegments(this.ctx, this.dir, this.name, this.source, this.logger);
    for (const seg of r.segments) {
      this.segments.push(seg);
      this.totalBytes += seg.bytes;
      for (const [s, n] of seg.refs) this.source.addRefs(s, n);
      if (seg.lastChunkOffset >= 0) {
        this.lastChunk = seg.lastChunkOffset;
        this.lastTs = seg.lastTs;
      }
    }
    this.next = r.nextOffset;
    this.committed = this.next;
    const last = this.segments.at(-1);
    this.active = last !== undefined && !last.summarized ? last : undefined;
    for (const seg of this.segments) if (!seg.summarized && seg !== this.active) this.unsummarized.add(seg);
    this.tracking.recover();
    return this.next - this.firstOffset;
  }
}
