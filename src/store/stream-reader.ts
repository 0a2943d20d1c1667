/**
 * A stream cursor: a position (the next offset to look at) and a credit (entries it may still
 * return). Walks committed chunks in order through one bounded buffer (ChunkScanner), skips chunks
 * whose Bloom filter cannot match the consumer's filter, and reads message records in runs: records
 * that lie back to back in the message log (the common case: a stream's messages are appended in
 * order) come in with one read of up to RUN_BYTES, so a consumer far behind reads sequentially with
 * a few hundred KB of memory whatever the backlog.
 *
 * Invariants: next() never returns an offset below the stream's firstOffset or at/after its
 * committedEnd, and returns offsets in increasing order; after retention dropped the segment under
 * the cursor, it continues at firstOffset.
 */
import { CHUNK_UNFILTERED, ChunkScanner } from './stream-chunk.js';
import { StreamFilter } from './stream-filter.js';
import type { StreamSegment } from './stream-segment.js';
import type { StreamReader, StreamRecordSource } from './stream.js';
import { StoreError, type MsgRef, type StoreLogger } from './store.js';

/** Bytes one run read brings in at most (a single larger record is read alone). */
const RUN_BYTES = 512 * 1024;

/** What a reader needs from its stream. */
export interface ReadableStream {
  readonly name: string;
  readonly firstOffset: number;
  readonly committedEnd: number;
  readonly source: StreamRecordSource;
  readonly logger: StoreLogger;
  segmentFor(offset: number): StreamSegment | undefined;
  segmentAfter(seg: StreamSegment): StreamSegment | undefined;
}

export class SegmentReader implements StreamReader {
  credit = 0;
  offset = -1;
  ref: MsgRef = -1;
  size = 0;
  timestamp = 0;
  private pos: number;
  private seg: StreamSegment | undefined;
  private readonly scanner = new ChunkScanner(64 * 1024);
  private inChunk = false;
  private idx = 0;
  private cur = -1;
  private skipBelow = 0;
  private filter: StreamFilter | undefined;
  private closed = false;
  // the run of records read for the current chunk: entries [runFrom, runTo) at runAt[i - runFrom]
  private run: Buffer | undefined;
  private runFrom = 0;
  private runTo = 0;
  private runAt: number[] = [];

  constructor(private readonly log: ReadableStream, position: number) {
    this.pos = position;
  }

  get position(): number {
    return this.pos;
  }

  setFilter(values: readonly string[] | undefined, matchUnfiltered: boolean): void {
    this.filter = values === undefined ? undefined : new StreamFilter(values, matchUnfiltered);
  }

  next(): boolean {
    if (this.closed || this.credit <= 0) return false;
    const sc = this.scanner;
    for (;;) {
      if (this.inChunk && this.idx < sc.count) {
        const i = this.idx++;
        const off = sc.firstOffset + i;
        if (off < this.skipBelow) continue;
        if (this.filter !== undefined && !this.filter.entryMatches(sc.entryHash(i))) {
          this.pos = off + 1;
          continue;
        }
        this.cur = i;
        this.offset = off;
        this.ref = sc.entryRef(i);
        this.size = sc.entrySize(i);
        this.timestamp = sc.timestamp;
        this.pos = off + 1;
        this.credit--;
        return true;
      }
      this.inChunk = false;
      if (!this.nextChunk()) return false;
    }
  }

  /** Load the next committed chunk at or after `pos` that may match; false at the committed end. */
  private nextChunk(): boolean {
    const log = this.log;
    const sc = this.scanner;
    for (;;) {
      if (this.pos >= log.committedEnd) return false;
      let seg = this.seg;
      if (seg === undefined || seg.deleted || this.pos < log.firstOffset) {
        seg = this.relocate(Math.max(this.pos, log.firstOffset));
        if (seg === undefined) return false;
      } else {
        sc.reset(seg.file, sc.nextPos, seg.committedPos);
      }
      if (sc.next(true)) {
        const end = sc.firstOffset + sc.count;
        if (end <= this.pos) continue; // before the position (after a relocation)
        if (this.filter !== undefined
          && !this.filter.chunkMayMatch(sc.buf, sc.bloomAt, sc.bloomBytes, (sc.flags & CHUNK_UNFILTERED) !== 0)) {
          this.pos = end; // Bloom filter: no entry of this chunk can match
          continue;
        }
        this.inChunk = true;
        this.idx = 0;
        this.skipBelow = this.pos;
        this.run = undefined;
        return true;
      }
      if (sc.problem !== '') {
        log.logger.warn({ stream: log.name, segment: seg.file.path, position: sc.nextPos, reason: sc.problem },
          'store: unreadable stream chunk, rest of the segment skipped');
      } else if (this.pos < seg.end) {
        return false; // the rest of this segment is not committed yet
      }
      const after = log.segmentAfter(seg);
      if (after === undefined) return false;
      this.seg = after;
      this.pos = Math.max(this.pos, after.base);
      sc.reset(after.file, after.headerLen, after.committedPos);
    }
  }

  /** Position the scanner on the sampled chunk at or before `offset`. */
  private relocate(offset: number): StreamSegment | undefined {
    const seg = this.log.segmentFor(offset);
    this.seg = seg;
    this.inChunk = false;
    this.pos = offset;
    if (seg === undefined) return undefined;
    if (offset < seg.base) this.pos = seg.base;
    this.scanner.reset(seg.file, seg.positionForOffset(this.pos), seg.committedPos);
    this.scanner.invalidate();
    return seg;
  }

  payload(): Buffer {
    if (!this.inChunk || this.cur < 0) throw new StoreError('INVALID', 'store: no current stream entry');
    const i = this.cur;
    if (this.run === undefined || i < this.runFrom || i >= this.runTo) this.loadRun(i);
    return this.log.source.payloadIn(this.run!, this.runAt[i - this.runFrom]!, this.size, this.ref);
  }

  /** Read entry i's record and the adjacent ones after it, up to RUN_BYTES, with one read. */
  private loadRun(i: number): void {
    const sc = this.scanner;
    const src = this.log.source;
    const over = src.recordOverhead;
    const at = this.runAt;
    at.length = 0;
    at.push(0);
    let len = over + sc.entrySize(i);
    let prevRef = sc.entryRef(i);
    let prevSize = sc.entrySize(i);
    let j = i + 1;
    while (j < sc.count && len < RUN_BYTES) {
      const r = sc.entryRef(j);
      const s = sc.entrySize(j);
      if (!src.adjacent(prevRef, prevSize, r) || len + over + s > RUN_BYTES) break;
      at.push(len);
      len += over + s;
      prevRef = r;
      prevSize = s;
      j++;
    }
    this.run = undefined;
    this.run = src.readRun(sc.entryRef(i), len);
    this.runFrom = i;
    this.runTo = j;
  }

  close(): void {
    this.closed = true;
    this.run = undefined;
    this.inChunk = false;
    this.seg = undefined;
  }
}
