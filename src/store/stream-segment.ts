/**
 * One segment of a stream: its file (header + chunks, format in stream-log.ts), what is known about
 * it in memory (offsets, timestamps, byte and reference counts, a sparse offset/time index) and its
 * summary file `<base>.sum`, written once the segment is closed and synced so recovery can skip
 * scanning it.
 *
 * Memory per segment: a few numbers, the references it holds per message segment, and one index
 * sample (offset, timestamp, file position) per SAMPLE_BYTES of chunks: a 20 MB segment costs ~8 KB.
 */
import type { AppendFile } from './append-file.js';
import { crc32Buffer, crc32Range } from './crc32.js';
import type { FileOps } from './file-ops.js';

export const SEG_MAGIC = 0x534e5257; // "WRNS"
export const SUM_MAGIC = 0x554e5257; // "WRNU"
export const STREAM_VERSION = 1;
export const SEG_FIXED_HEADER = 24;
const SUM_FIXED = 88;
/** One index sample per this many bytes of chunks. */
export const SAMPLE_BYTES = 64 * 1024;

export function segmentFileName(base: number): string {
  return `${String(base).padStart(20, '0')}.seg`;
}

export function summaryFileName(base: number): string {
  return `${String(base).padStart(20, '0')}.sum`;
}

/** Segment header: magic, version, header length, base offset, name length, CRC, name, zero padding to 8. */
export function buildSegmentHeader(name: string, base: number): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const headerLen = Math.ceil((SEG_FIXED_HEADER + nameBytes.length) / 8) * 8;
  const h = Buffer.alloc(headerLen);
  h.writeUInt32LE(SEG_MAGIC, 0);
  h.writeUInt16LE(STREAM_VERSION, 4);
  h.writeUInt16LE(headerLen, 6);
  h.writeDoubleLE(base, 8);
  h.writeUInt32LE(nameBytes.length, 16);
  nameBytes.copy(h, SEG_FIXED_HEADER);
  h.writeUInt32LE(crc32Range(nameBytes, 0, nameBytes.length, crc32Range(h, 0, 20)), 20);
  return h;
}

export interface ParsedHeader {
  readonly name: string;
  readonly base: number;
  readonly headerLen: number;
}

/** Parse and check a segment header from the first bytes of a file; undefined when bad. */
export function parseSegmentHeader(b: Buffer): ParsedHeader | undefined {
  if (b.length < SEG_FIXED_HEADER || b.readUInt32LE(0) !== SEG_MAGIC || b.readUInt16LE(4) !== STREAM_VERSION) return undefined;
  const headerLen = b.readUInt16LE(6);
  const nameLen = b.readUInt32LE(16);
  if (headerLen < SEG_FIXED_HEADER + nameLen || b.length < SEG_FIXED_HEADER + nameLen) return undefined;
  if (crc32Range(b, SEG_FIXED_HEADER, SEG_FIXED_HEADER + nameLen, crc32Range(b, 0, 20)) !== b.readUInt32LE(20)) return undefined;
  const base = b.readDoubleLE(8);
  if (!Number.isSafeInteger(base) || base < 0) return undefined;
  return { name: b.toString('utf8', SEG_FIXED_HEADER, SEG_FIXED_HEADER + nameLen), base, headerLen };
}

export class StreamSegment {
  entries = 0;
  chunks = 0;
  /** Bytes this segment accounts for: its chunks plus the records they reference. */
  bytes = 0;
  firstTs = 0;
  lastTs = 0;
  lastChunkOffset = -1;
  /** References held per record segment (StreamRecordSource.segmentOf). */
  readonly refs = new Map<number, number>();
  /** Flat (offset, timestamp, position) triples, one per SAMPLE_BYTES of chunks, in order. */
  readonly samples: number[] = [];
  private lastSamplePos = -Infinity;
  /** File position up to which chunks are committed (fsynced and visible to readers). */
  committedPos: number;
  /** Summary written (or read): the segment is closed for good. */
  summarized = false;
  deleted = false;

  constructor(
    readonly base: number,
    readonly file: AppendFile,
    readonly headerLen: number,
  ) {
    this.committedPos = headerLen;
  }

  get end(): number {
    return this.base + this.entries;
  }

  /** Account for a chunk written (or found by recovery) at `pos`. */
  addChunk(pos: number, len: number, firstOffset: number, count: number, ts: number, recordBytes: number): void {
    if (this.chunks === 0) this.firstTs = ts;
    this.lastTs = ts;
    this.chunks++;
    this.entries += count;
    this.bytes += len + recordBytes;
    this.lastChunkOffset = firstOffset;
    if (pos - this.lastSamplePos >= SAMPLE_BYTES) {
      this.samples.push(firstOffset, ts, pos);
      this.lastSamplePos = pos;
    }
  }

  addRef(segment: number, n: number): void {
    this.refs.set(segment, (this.refs.get(segment) ?? 0) + n);
  }

  /** Position of the last sampled chunk starting at or before `offset` (header end if none). */
  positionForOffset(offset: number): number {
    const s = this.samples;
    let lo = 0;
    let hi = s.length / 3 - 1;
    let found = this.headerLen;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid * 3]! <= offset) {
        found = s[mid * 3 + 2]!;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Position of the last sampled chunk older than `ms` (header end if none). */
  positionForTimestamp(ms: number): number {
    const s = this.samples;
    let found = this.headerLen;
    for (let i = 0; i < s.length; i += 3) {
      if (s[i + 1]! < ms) found = s[i + 2]!;
      else break;
    }
    return found;
  }

  // ---------------------------------------------------------------- summary file
  //
  //   0  magic "WRNU" u32 | 4 version u16 | 6 u16 0 | 8 length u32 | 12 crc u32 (CRC-32 of bytes 16 .. length)
  //   16 file size f64 | 24 base f64 | 32 entries f64 | 40 chunks f64 | 48 bytes f64 | 56 firstTs f64
  //   64 lastTs f64 | 72 lastChunkOffset f64 | 80 refCount u32 | 84 sampleCount u32
  //   88 refs: refCount x (f64 segment, f64 count) | samples: sampleCount x (f64 offset, f64 ts, f64 pos)

  encodeSummary(): Buffer {
    const nRefs = this.refs.size;
    const nSamples = this.samples.length / 3;
    const len = SUM_FIXED + nRefs * 16 + nSamples * 24;
    const b = Buffer.alloc(len);
    b.writeUInt32LE(SUM_MAGIC, 0);
    b.writeUInt16LE(STREAM_VERSION, 4);
    b.writeUInt32LE(len, 8);
    b.writeDoubleLE(this.file.size, 16);
    b.writeDoubleLE(this.base, 24);
    b.writeDoubleLE(this.entries, 32);
    b.writeDoubleLE(this.chunks, 40);
    b.writeDoubleLE(this.bytes, 48);
    b.writeDoubleLE(this.firstTs, 56);
    b.writeDoubleLE(this.lastTs, 64);
    b.writeDoubleLE(this.lastChunkOffset, 72);
    b.writeUInt32LE(nRefs, 80);
    b.writeUInt32LE(nSamples, 84);
    let p = SUM_FIXED;
    for (const [seg, n] of this.refs) {
      b.writeDoubleLE(seg, p);
      b.writeDoubleLE(n, p + 8);
      p += 16;
    }
    for (const v of this.samples) {
      b.writeDoubleLE(v, p);
      p += 8;
    }
    b.writeUInt32LE(crc32Buffer(b.subarray(16)), 12);
    return b;
  }

  /** Write the summary file (not fsynced: it is a cache, checked by CRC and file size when read). */
  writeSummary(ops: FileOps, file: string): void {
    const data = this.encodeSummary();
    const fd = ops.openSync(file, 'w+');
    try {
      ops.writeSync(fd, data, 0, data.length, 0);
    } finally {
      ops.closeSync(fd);
    }
    this.summarized = true;
  }

  /**
   * Load a summary; false (nothing changed) unless it is intact, of this segment and written for
   * the file's current size.
   */
  loadSummary(b: Buffer, fileSize: number): boolean {
    if (b.length < SUM_FIXED || b.readUInt32LE(0) !== SUM_MAGIC || b.readUInt16LE(4) !== STREAM_VERSION) return false;
    const len = b.readUInt32LE(8);
    if (len !== b.length || crc32Buffer(b.subarray(16)) !== b.readUInt32LE(12)) return false;
    if (b.readDoubleLE(16) !== fileSize || b.readDoubleLE(24) !== this.base) return false;
    const nRefs = b.readUInt32LE(80);
    const nSamples = b.readUInt32LE(84);
    if (len !== SUM_FIXED + nRefs * 16 + nSamples * 24) return false;
    this.entries = b.readDoubleLE(32);
    this.chunks = b.readDoubleLE(40);
    this.bytes = b.readDoubleLE(48);
    this.firstTs = b.readDoubleLE(56);
    this.lastTs = b.readDoubleLE(64);
    this.lastChunkOffset = b.readDoubleLE(72);
    let p = SUM_FIXED;
    for (let i = 0; i < nRefs; i++, p += 16) this.refs.set(b.readDoubleLE(p), b.readDoubleLE(p + 8));
    for (let i = 0; i < nSamples * 3; i++, p += 8) this.samples.push(b.readDoubleLE(p));
    this.committedPos = fileSize;
    this.summarized = true;
    return true;
  }
}
