/**
 * The chunk record of a stream segment and a scanner that walks chunks through a bounded buffer.
 * Format (little-endian; see stream-log.ts for the whole segment file):
 *
 *   0   magic       u32  "WRNC"
 *   4   crc         u32  CRC-32 (IEEE) of bytes 8 .. end of the chunk
 *   8   count       u32  entries, 1 .. MAX_CHUNK_ENTRIES
 *   12  bloomBytes  u8   16 .. 255
 *   13  flags       u8   bit 0: some entry has no filter value; bit 1: some entry has one
 *   14  reserved    u16  0
 *   16  firstOffset f64  offset of the first entry (the others follow densely)
 *   24  timestamp   f64  epoch ms when the chunk was opened (non-decreasing along the stream)
 *   32  bloom       bloomBytes bytes (stream-filter.ts)
 *   ..  entries     count x 16 bytes: u32 ref high | u32 ref low | u32 size | u32 filter hash (0 = none)
 *                   (file store: ref high/low = message segment id / record offset)
 *
 * The scanner never holds more than one block (128 KiB, or one chunk if larger): memory stays
 * bounded whatever the length of the segment it walks.
 */
import type { AppendFile } from './append-file.js';
import { crc32Buffer } from './crc32.js';
import { MAX_CHUNK_ENTRIES, MAX_FILTER_BYTES, MIN_FILTER_BYTES } from './stream.js';
import { readRef } from './store.js';

export const CHUNK_MAGIC = 0x434e5257; // "WRNC"
export const CHUNK_HEADER = 32;
export const ENTRY_BYTES = 16;
export const CHUNK_UNFILTERED = 1;
export const CHUNK_FILTERED = 2;
const BLOCK = 128 * 1024;

export function chunkLength(bloomBytes: number, count: number): number {
  return CHUNK_HEADER + bloomBytes + ENTRY_BYTES * count;
}

/** Why the scanner stopped on a chunk it could not accept. */
export type ChunkProblem = '' | 'incomplete chunk header' | 'bad chunk header' | 'incomplete chunk' | 'checksum mismatch';

export class ChunkScanner {
  buf: Buffer;
  private bufPos = 0;
  private bufLen = 0;
  private file: AppendFile | undefined;
  private end = 0;
  /** File position of the next chunk to read. */
  nextPos = 0;

  // the current chunk
  pos = 0;
  len = 0;
  count = 0;
  bloomBytes = 0;
  flags = 0;
  firstOffset = 0;
  timestamp = 0;
  /** Index in `buf` where the current chunk starts. */
  at = 0;
  problem: ChunkProblem = '';

  constructor(blockSize = BLOCK) {
    this.buf = Buffer.allocUnsafe(blockSize);
  }

  /** Walk `file` from `pos` up to `end` (exclusive). Keeps the buffer if it already covers data there. */
  reset(file: AppendFile, pos: number, end: number): void {
    if (file !== this.file) this.bufLen = 0;
    this.file = file;
    this.nextPos = pos;
    this.end = end;
    this.problem = '';
  }

  /** Forget buffered bytes (the file under them changed, e.g. truncated). */
  invalidate(): void {
    this.bufLen = 0;
  }

  private ensure(pos: number, n: number): void {
    if (pos >= this.bufPos && pos + n <= this.bufPos + this.bufLen) return;
    const want = Math.min(this.end - pos, Math.max(this.buf.length, n));
    if (want > this.buf.length) this.buf = Buffer.allocUnsafe(want);
    this.file!.readAt(pos, this.buf, 0, want);
    this.bufPos = pos;
    this.bufLen = want;
  }

  /**
   * Move to the next chunk. Returns true with the chunk's fields set; false at `end` (problem '')
   * or on a chunk that is incomplete, malformed or fails its checksum (problem set).
   */
  next(verify: boolean): boolean {
    const pos = this.nextPos;
    if (pos >= this.end) return false;
    if (pos + CHUNK_HEADER > this.end) return this.fail('incomplete chunk header');
    this.ensure(pos, CHUNK_HEADER);
    let at = pos - this.bufPos;
    let b = this.buf;
    const count = b.readUInt32LE(at + 8);
    const bloomBytes = b[at + 12]!;
    if (b.readUInt32LE(at) !== CHUNK_MAGIC || count < 1 || count > MAX_CHUNK_ENTRIES
      || bloomBytes < MIN_FILTER_BYTES || bloomBytes > MAX_FILTER_BYTES) {
      return this.fail('bad chunk header');
    }
    const len = chunkLength(bloomBytes, count);
    if (pos + len > this.end) return this.fail('incomplete chunk');
    this.ensure(pos, len);
    at = pos - this.bufPos;
    b = this.buf;
    if (verify && crc32Buffer(b.subarray(at + 8, at + len)) !== b.readUInt32LE(at + 4)) return this.fail('checksum mismatch');
    this.pos = pos;
    this.len = len;
    this.count = count;
    this.bloomBytes = bloomBytes;
    this.flags = b[at + 13]!;
    this.firstOffset = b.readDoubleLE(at + 16);
    this.timestamp = b.readDoubleLE(at + 24);
    this.at = at;
    this.nextPos = pos + len;
    return true;
  }

  private fail(p: ChunkProblem): boolean {
    this.problem = p;
    return false;
  }

  /** Buffer index of the current chunk's Bloom filter. */
  get bloomAt(): number {
    return this.at + CHUNK_HEADER;
  }

  private entryAt(i: number): number {
    return this.at + CHUNK_HEADER + this.bloomBytes + i * ENTRY_BYTES;
  }

  entryRef(i: number): number {
    return readRef(this.buf, this.entryAt(i));
  }

  entrySize(i: number): number {
    return this.buf.readUInt32LE(this.entryAt(i) + 8);
  }

  entryHash(i: number): number {
    return this.buf.readUInt32LE(this.entryAt(i) + 12);
  }
}
