/**
 * Server-side offset tracking of one stream (a Warren extension, as LavinMQ has it): the last offset
 * each named consumer processed, kept in `offsets-<gen>.trk` in the stream's directory.
 *
 * Format (little-endian), version 1:
 *   header 16 bytes: magic "WRNT" u32 | version u16 | 0 u16 | gen u32 | snapshot u32
 *     (`snapshot` = how many records at the start of the file restate every name: a compacted file
 *     is used only when all of them are intact)
 *   records: len u32 | crc u32 (CRC-32 of the 4 len bytes ++ payload) | payload: offset f64 (-1 =
 *     forgotten) ++ name (UTF-8, len - 8 bytes)
 *
 * Updates are coalesced: `set` only changes memory and takes a write sequence number; the store
 * writes one record per changed name when it flushes (end of turn), so a consumer acking thousands
 * of messages per turn writes one record. When the file holds far more dead records than live ones,
 * a new generation is written with the live set; the old file is deleted once the new one is synced.
 *
 * Recovery rule: the newest generation whose snapshot is complete wins; records are read until the
 * first short or CRC-failing one (the file is cut there); the last record of a name wins.
 */
import path from 'node:path';
import { AppendFile, type FileContext } from './append-file.js';
import { crc32Buffer, crc32Range } from './crc32.js';
import { readWhole } from './file-ops.js';
import type { StoreLogger } from './store.js';

const MAGIC = 0x544e5257; // "WRNT"
const VERSION = 1;
const HEADER = 16;
const REC_HEADER = 8;
const COMPACT_MIN = 64 * 1024;

export class OffsetTracking {
  private readonly offsets = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private file: AppendFile | undefined;
  private gen = 0;
  private readonly superseded: AppendFile[] = [];

  constructor(
    private readonly ctx: FileContext,
    private readonly dir: string,
    private readonly logger: StoreLogger,
  ) {}

  private filePath(gen: number): string {
    return path.join(this.dir, `offsets-${gen}.trk`);
  }

  get(name: string): number | undefined {
    return this.offsets.get(name);
  }

  names(): string[] {
    return [...this.offsets.keys()];
  }

  /** Returns true when something changed (the caller then takes a write sequence number). */
  set(name: string, offset: number): boolean {
    if (this.offsets.get(name) === offset) return false;
    this.offsets.set(name, offset);
    this.dirty.add(name);
    return true;
  }

  delete(name: string): boolean {
    if (!this.offsets.delete(name)) return false;
    this.dirty.add(name);
    return true;
  }

  /** Write the changed names into the pending buffer (called just before the store flushes). */
  beforeFlush(): void {
    if (this.dirty.size === 0) return;
    const f = this.file;
    if (f === undefined || (f.size > COMPACT_MIN && f.size > 4 * this.liveBytes())) {
      this.compact();
    } else {
      for (const name of this.dirty) this.writeRecord(f, name, this.offsets.get(name) ?? -1);
    }
    this.dirty.clear();
  }

  private liveBytes(): number {
    let n = HEADER;
    for (const name of this.offsets.keys()) n += REC_HEADER + 8 + Buffer.byteLength(name);
    return n;
  }

  /** Start a new generation restating every live name. */
  private compact(): void {
    if (this.file !== undefined) this.superseded.push(this.file);
    this.gen++;
    const f = new AppendFile(this.ctx, this.filePath(this.gen), 0, false, 256);
    const o = f.reserve(HEADER);
    f.buf.writeUInt32LE(MAGIC, o);
    f.buf.writeUInt16LE(VERSION, o + 4);
    f.buf.writeUInt16LE(0, o + 6);
    f.buf.writeUInt32LE(this.gen, o + 8);
    f.buf.writeUInt32LE(this.offsets.size, o + 12);
    for (const [name, offset] of this.offsets) this.writeRecord(f, name, offset);
    this.file = f;
  }

  private writeRecord(f: AppendFile, name: string, offset: number): void {
    const nameLen = Buffer.byteLength(name);
    const len = 8 + nameLen;
    const o = f.reserve(REC_HEADER + len);
    const b = f.buf;
    b.writeUInt32LE(len, o);
    b.writeDoubleLE(offset, o + REC_HEADER);
    b.write(name, o + REC_HEADER + 8, nameLen, 'utf8');
    b.writeUInt32LE(crc32Buffer(b.subarray(o + REC_HEADER, o + REC_HEADER + len), crc32Range(b, o, o + 4)), o + 4);
  }

  /** After a successful sync: files replaced by a fully synced newer generation are deleted. */
  afterSync(): void {
    const f = this.file;
    if (this.superseded.length === 0 || f === undefined || f.len > 0 || this.ctx.dirty.has(f)) return;
    for (const old of this.superseded.splice(0)) {
      old.discard();
      this.ctx.unlinkAsync(old.path, (err) => this.logger.warn({ file: old.path, err: err.message }, 'store: could not delete an offset tracking file'));
    }
  }

  recover(): void {
    const ops = this.ctx.ops;
    const gens: number[] = [];
    for (const name of ops.readdirSync(this.dir)) {
      const m = /^offsets-(\d+)\.trk$/.exec(name);
      if (m !== null) gens.push(Number(m[1]));
    }
    gens.sort((a, b) => b - a);
    let chosen = -1;
    for (const gen of gens) {
      if (chosen < 0 && this.load(gen)) {
        chosen = gen;
        continue;
      }
      ops.unlinkSync(this.filePath(gen));
    }
    this.gen = Math.max(chosen, gens[0] ?? 0);
  }

  /** Read one generation; false (and nothing kept) when its header or snapshot is incomplete. */
  private load(gen: number): boolean {
    const ops = this.ctx.ops;
    const p = this.filePath(gen);
    const fd = ops.openSync(p, 'r+');
    let keep = false;
    let adopted = false;
    try {
      const buf = readWhole(ops, fd);
      const got = buf.length;
      if (got < HEADER || buf.readUInt32LE(0) !== MAGIC || buf.readUInt16LE(4) !== VERSION || buf.readUInt32LE(8) !== gen) return false;
      const snapshot = buf.readUInt32LE(12);
      const found = new Map<string, number>();
      let pos = HEADER;
      let records = 0;
      while (pos + REC_HEADER <= got) {
        const len = buf.readUInt32LE(pos);
        if (len < 8 || pos + REC_HEADER + len > got) break;
        const crc = crc32Buffer(buf.subarray(pos + REC_HEADER, pos + REC_HEADER + len), crc32Range(buf, pos, pos + 4));
        if (crc !== buf.readUInt32LE(pos + 4)) break;
        const offset = buf.readDoubleLE(pos + REC_HEADER);
        const name = buf.toString('utf8', pos + REC_HEADER + 8, pos + REC_HEADER + len);
        if (offset < 0) found.delete(name);
        else found.set(name, offset);
        pos += REC_HEADER + len;
        records++;
      }
      if (records < snapshot) return false;
      if (pos < got) {
        this.logger.warn({ file: p, offset: pos, droppedBytes: got - pos }, 'store: torn or corrupt tail of an offset tracking file cut off');
        ops.ftruncateSync(fd, pos);
      }
      for (const [name, offset] of found) this.offsets.set(name, offset);
      this.file = new AppendFile(this.ctx, p, pos, true, 256);
      if (pos < got) {
        this.file.adoptFd(fd); // the cut becomes durable with the first sync
        this.ctx.dirty.add(this.file);
        adopted = true;
      }
      keep = true;
      return true;
    } finally {
      if (!adopted) ops.closeSync(fd);
      if (!keep) this.offsets.clear();
    }
  }

  closeAll(): void {
    this.file?.closeFd();
  }

  discardAll(): void {
    this.file?.discard();
    for (const f of this.superseded.splice(0)) f.discard();
  }
}
