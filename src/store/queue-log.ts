/**
 * The file-backed index of one durable queue, in `queues/<sha1(name)>/`: index segments `<k>.idx`
 * holding fixed-size entries for seqs [k*E, (k+1)*E), each with a companion `<k>.ack` file of
 * delivered/settled marks for entries of that segment only. Keeping marks next to their segment
 * (as LavinMQ keeps acks per segment) lets a segment and its marks be deleted together as soon as
 * all its entries are settled, whatever happens to older or newer segments.
 *
 * On-disk format (little-endian), version 2 (version 1 is still read):
 *
 *   <k>.idx header, `headerLen` bytes (a multiple of 16)
 *     0  magic     "WRNQ"
 *     4  version   u16 = 2 (1: older segments, 16-byte entries)
 *     6  headerLen u16
 *     8  E         u32  entries per segment (fixed for the queue's life)
 *    12  k         u32  segment number (file name)
 *    16  nameLen   u32
 *    20  crc       u32  CRC-32 of bytes 0..19 followed by the name bytes
 *    24  name      nameLen bytes UTF-8 (the queue key), zero padding to headerLen
 *   version 2 entry for slot s (seq = k*E + s) at headerLen + 32*s:
 *     0  segment   u32  message segment id   } MsgRef = segment * 2^32 + offset
 *     4  offset    u32  record offset        }
 *     8  size      u32  payload length
 *    12  weight    u32  what QueueIndex.bytes sums (the broker: body bytes)
 *    16  expiresAt f64  ms since the epoch (the broker: when the message's TTL runs out); +Inf = never
 *    24  tag       u32  opaque to the store (the broker: the delivery count of a returned message)
 *    28  crc       u32  CRC-32 of bytes 0..27
 *   version 1 entry at headerLen + 16*s: segment u32 | offset u32 | size u32 | crc u32 (of bytes 0..11),
 *   read as weight = size, expiresAt = +Inf, tag = 0. A queue's segments may mix versions: when
 *   the tail segment found at recovery is version 1, the next enqueue starts a new (version 2)
 *   segment at the next multiple of E, so seqs jump once over the rest of that segment.
 *
 *   <k>.ack: 8-byte header ("WRNA", u16 version = 1, u16 0), then 8-byte marks:
 *     0  word      u32  kind << 28 | slot   (kind 1 = delivered, 2 = settled)
 *     4  crc       u32  CRC-32 of the word's 4 bytes
 *
 * Recovery rule: entries are read in slot order; the first short or CRC-failing entry ends the segment
 * (the file is truncated there, with a warning saying how many bytes were dropped). Marks are applied
 * in file order and likewise cut at the first bad one. Entries whose message record is not in the
 * message log (torn tail, missing segment) are dropped with a warning and settled on disk, so a
 * segment id reused later can never resurrect them. Segments with no live entry left are deleted.
 */
import path from 'node:path';
import { AppendFile, type FileContext } from './append-file.js';
import { crc32Range } from './crc32.js';
import { readWhole } from './file-ops.js';
import type { MessageLog } from './message-log.js';
import { F_DELIVERED, F_PRESENT, F_SETTLED, QueueEntries, type Chunk } from './queue-entries.js';
import { readRef, StoreError, writeRef, type MsgRef, type QueueCursor, type QueueIndex, type StoreLogger } from './store.js';

export const IDX_MAGIC = 0x514e5257; // "WRNQ"
export const ACK_MAGIC = 0x414e5257; // "WRNA"
export const IDX_VERSION = 2;
/** Entry size of version 2 segments, and of version 1 ones. */
export const ENTRY_SIZE = 32;
export const ENTRY_SIZE_V1 = 16;
const ACK_VERSION = 1;
export const ACK_HEADER = 8;
export const MARK_SIZE = 8;
const KIND_DELIVERED = 1;
const KIND_SETTLED = 2;

interface IdxSegment {
  readonly k: number;
  readonly idx: AppendFile;
  ack: AppendFile | undefined;
  /** ENTRY_SIZE, or ENTRY_SIZE_V1 for a segment written by an older version. */
  readonly entrySize: number;
}

/** Hooks into the owning store: count a mutation, and know whether the store is open. */
export interface QueueLogHost {
  bump(): number;
  assertOpen(): void;
}

export class QueueLog implements QueueIndex {
  readonly entries: QueueEntries;
  private readonly segs = new Map<number, IdxSegment>();
  private readonly header: Buffer;
  private destroyed = false;

  constructor(
    private readonly ctx: FileContext,
    private readonly host: QueueLogHost,
    private readonly msgs: MessageLog,
    private readonly logger: StoreLogger,
    readonly name: string,
    readonly dir: string,
    perSegment: number,
    maxResidentEntries = Infinity,
  ) {
    this.entries = new QueueEntries(perSegment, (c) => this.loadChunk(c), maxResidentEntries);
    this.header = QueueLog.buildHeader(name, perSegment);
  }

  /** Reload an evicted chunk from its index segment and marks (file or still-pending bytes). */
  private loadChunk(c: Chunk): void {
    const seg = this.segs.get(c.k);
    const n = c.filled;
    c.allocate(Math.max(n, 1));
    if (seg === undefined) return;
    const es = seg.entrySize;
    const buf = Buffer.allocUnsafe(n * es);
    seg.idx.readAt(this.header.length, buf, 0, buf.length);
    for (let s = 0, pos = 0; s < n; s++, pos += es) {
      c.refs[s] = readRef(buf, pos);
      const size = buf.readUInt32LE(pos + 8);
      c.sizes[s] = size;
      c.flags[s] = F_PRESENT;
      if (es === ENTRY_SIZE) c.setMeta(s, size, buf.readDoubleLE(pos + 16), buf.readUInt32LE(pos + 24), buf.readUInt32LE(pos + 12));
    }
    const ack = seg.ack;
    if (ack === undefined || ack.size <= ACK_HEADER) return;
    const marks = Buffer.allocUnsafe(ack.size - ACK_HEADER);
    ack.readAt(ACK_HEADER, marks, 0, marks.length);
    for (let pos = 0; pos + MARK_SIZE <= marks.length; pos += MARK_SIZE) {
      const word = marks.readUInt32LE(pos);
      const slot = word & 0x0fffffff;
      if (slot >= n) continue;
      const kind = word >>> 28;
      if (kind === KIND_DELIVERED) c.flags[slot]! |= F_DELIVERED;
      else if (kind === KIND_SETTLED) c.flags[slot]! |= F_SETTLED;
    }
  }

  static buildHeader(name: string, perSegment: number): Buffer {
    const nameBytes = Buffer.from(name, 'utf8');
    const headerLen = Math.ceil((24 + nameBytes.length) / 16) * 16;
    if (headerLen > 0xffff) throw new StoreError('INVALID', 'store: queue name too long');
    const h = Buffer.alloc(headerLen);
    h.writeUInt32LE(IDX_MAGIC, 0);
    h.writeUInt16LE(IDX_VERSION, 4);
    h.writeUInt16LE(headerLen, 6);
    h.writeUInt32LE(perSegment, 8);
    h.writeUInt32LE(0, 12); // k, patched per segment
    h.writeUInt32LE(nameBytes.length, 16);
    nameBytes.copy(h, 24);
    return h;
  }

  get count(): number {
    return this.entries.count;
  }

  get bytes(): number {
    return this.entries.bytes;
  }

  private idxPath(k: number): string {
    return path.join(this.dir, `${k}.idx`);
  }

  private ackPath(k: number): string {
    return path.join(this.dir, `${k}.ack`);
  }

  private newSegment(k: number): IdxSegment {
    if (this.segs.size === 0 && !this.ctx.ops.existsSync(this.dir)) {
      this.ctx.ops.mkdirSync(this.dir);
      this.ctx.dirtyDirs.add(path.dirname(this.dir));
    }
    const idx = new AppendFile(this.ctx, this.idxPath(k), 0, false, 1024);
    const h = this.header;
    const o = idx.reserve(h.length);
    h.copy(idx.buf, o);
    idx.buf.writeUInt32LE(k, o + 12);
    const crc = crc32Range(h, 24, 24 + h.readUInt32LE(16), crc32Range(idx.buf, o, o + 20));
    idx.buf.writeUInt32LE(crc, o + 20);
    const seg: IdxSegment = { k, idx, ack: undefined, entrySize: ENTRY_SIZE };
    this.segs.set(k, seg);
    return seg;
  }

  private check(): void {
    this.host.assertOpen();
    if (this.destroyed) throw new StoreError('CLOSED', `store: queue index '${this.name}' was deleted`);
  }

  enqueue(ref: MsgRef, size: number, expiresAt = Infinity, tag = 0, weight = size): number {
    this.check();
    const per = this.entries.perChunk;
    // A version-1 tail segment (found at recovery) cannot hold version-2 entries: start the next one.
    if (this.segs.get(Math.floor(this.entries.tailSeq / per))?.entrySize === ENTRY_SIZE_V1) this.entries.skipToNextChunk();
    const seq = this.entries.add(ref, size, expiresAt, tag, weight);
    const k = Math.floor(seq / per);
    const seg = this.segs.get(k) ?? this.newSegment(k);
    const f = seg.idx;
    const o = f.reserve(ENTRY_SIZE);
    const b = f.buf;
    writeRef(b, o, ref);
    b.writeUInt32LE(size, o + 8);
    b.writeUInt32LE(weight, o + 12);
    b.writeDoubleLE(expiresAt, o + 16);
    b.writeUInt32LE(tag >>> 0, o + 24);
    b.writeUInt32LE(crc32Range(b, o, o + 28), o + 28);
    this.msgs.addRef(ref);
    this.host.bump();
    return seq;
  }

  private mark(seq: number, kind: number): void {
    const per = this.entries.perChunk;
    const k = Math.floor(seq / per);
    const seg = this.segs.get(k);
    if (seg === undefined) return;
    let ack = seg.ack;
    if (ack === undefined) {
      ack = new AppendFile(this.ctx, this.ackPath(k), 0, false, 256);
      const h = ack.reserve(ACK_HEADER);
      ack.buf.writeUInt32LE(ACK_MAGIC, h);
      ack.buf.writeUInt16LE(ACK_VERSION, h + 4);
      ack.buf.writeUInt16LE(0, h + 6);
      seg.ack = ack;
    }
    const o = ack.reserve(MARK_SIZE);
    const b = ack.buf;
    b.writeUInt32LE(((kind << 28) | (seq - k * per)) >>> 0, o);
    b.writeUInt32LE(crc32Range(b, o, o + 4), o + 4);
  }

  markDelivered(seq: number): void {
    this.check();
    if (!this.entries.markDelivered(seq)) return;
    this.mark(seq, KIND_DELIVERED);
    this.host.bump();
  }

  settle(seq: number): void {
    this.check();
    const ref = this.entries.settle(seq);
    if (ref < 0) return;
    const dropped = this.entries.droppedChunk;
    if (dropped >= 0) this.dropSegment(dropped);
    else this.mark(seq, KIND_SETTLED);
    this.msgs.release(ref);
    this.host.bump();
  }

  has(seq: number): boolean {
    return this.entries.isLive(seq);
  }

  cursor(fromSeq?: number): QueueCursor {
    return this.entries.cursor(fromSeq);
  }

  /** Every entry of segment k is settled: delete its files (its marks no longer matter). */
  private dropSegment(k: number): void {
    const seg = this.segs.get(k);
    if (seg === undefined) return;
    this.segs.delete(k);
    const warn = (err: Error): void => this.logger.warn({ queue: this.name, err: err.message }, 'store: could not delete an index segment');
    seg.idx.discard();
    this.ctx.unlinkAsync(seg.idx.path, warn);
    if (seg.ack !== undefined) {
      seg.ack.discard();
      this.ctx.unlinkAsync(seg.ack.path, warn);
    }
  }

  /** Release every live reference and remove the directory (queue deleted). */
  destroy(): void {
    this.destroyed = true;
    this.entries.forEachLive((ref) => this.msgs.release(ref));
    this.entries.clear();
    for (const seg of this.segs.values()) {
      seg.idx.discard();
      seg.ack?.discard();
    }
    this.segs.clear();
    this.ctx.ops.rmSync(this.dir);
    this.ctx.dirtyDirs.add(path.dirname(this.dir));
  }

  closeAll(): void {
    for (const seg of this.segs.values()) {
      seg.idx.closeFd();
      seg.ack?.closeFd();
    }
  }

  // ---------------------------------------------------------------- recovery

  /**
   * Rebuild from the files of `dir`. Reads only index and mark files (32 or 16 + 8 bytes per entry),
   * never message bodies. Returns the queue name found in the headers, or undefined if none.
   */
  static recoverName(ctx: FileContext, dir: string): { name: string; perSegment: number } | undefined {
    const ops = ctx.ops;
    for (const f of ops.readdirSync(dir)) {
      if (!f.endsWith('.idx')) continue;
      const fd = ops.openSync(path.join(dir, f), 'r');
      try {
        const h = Buffer.alloc(24);
        if (ops.readSync(fd, h, 0, 24, 0) !== 24 || h.readUInt32LE(0) !== IDX_MAGIC) continue;
        const nameLen = h.readUInt32LE(16);
        const nb = Buffer.alloc(nameLen);
        if (ops.readSync(fd, nb, 0, nameLen, 24) !== nameLen) continue;
        if (crc32Range(nb, 0, nameLen, crc32Range(h, 0, 20)) !== h.readUInt32LE(20)) continue;
        return { name: nb.toString('utf8'), perSegment: h.readUInt32LE(8) };
      } finally {
        ops.closeSync(fd);
      }
    }
    return undefined;
  }

  recover(): { entries: number; dropped: number } {
    const ops = this.ctx.ops;
    const ks: number[] = [];
    const files = ops.readdirSync(this.dir);
    for (const f of files) {
      const m = /^(\d+)\.idx$/.exec(f);
      if (m !== null) ks.push(Number(m[1]));
    }
    for (const f of files) {
      // Marks whose index segment is gone (deleted when fully settled): nothing to apply.
      const m = /^(\d+)\.ack$/.exec(f);
      if ((m !== null && !ks.includes(Number(m[1]))) || f.endsWith('.del')) ops.unlinkSync(path.join(this.dir, f));
    }
    ks.sort((a, b) => a - b);
    const per = this.entries.perChunk;
    const hlen = this.header.length;
    let lastK = -1;
    let lastSlots = 0;
    let dropped = 0;
    let live = 0;
    const loaded: IdxSegment[] = [];
    for (const k of ks) {
      const p = this.idxPath(k);
      const fd = ops.openSync(p, 'r+');
      let buf: Buffer;
      try {
        buf = readWhole(ops, fd);
      } catch (e) {
        ops.closeSync(fd);
        throw e;
      }
      // Header must match ours exactly (same name, same E, this k), in version 2 or 1.
      const version = buf.length >= 6 ? buf.readUInt16LE(4) : 0;
      const expect = Buffer.from(this.header);
      expect.writeUInt16LE(version === 1 ? 1 : IDX_VERSION, 4);
      expect.writeUInt32LE(k, 12);
      expect.writeUInt32LE(crc32Range(expect, 24, 24 + expect.readUInt32LE(16), crc32Range(expect, 0, 20)), 20);
      if (buf.length < hlen || !buf.subarray(0, hlen).equals(expect)) {
        ops.closeSync(fd);
        this.logger.warn({ queue: this.name, file: p, bytes: buf.length }, 'store: index segment with a missing or bad header deleted');
        ops.unlinkSync(p);
        ops.unlinkSync(this.ackPath(k));
        continue;
      }
      const es = version === 1 ? ENTRY_SIZE_V1 : ENTRY_SIZE;
      let slots = 0;
      let pos = hlen;
      const maxSlots = per;
      while (pos + es <= buf.length && slots < maxSlots) {
        if (crc32Range(buf, pos, pos + es - 4) !== buf.readUInt32LE(pos + es - 4)) break;
        const ref = readRef(buf, pos);
        const size = buf.readUInt32LE(pos + 8);
        if (es === ENTRY_SIZE) {
          this.entries.put(k * per + slots, ref, size, F_PRESENT, buf.readDoubleLE(pos + 16), buf.readUInt32LE(pos + 24), buf.readUInt32LE(pos + 12));
        } else {
          this.entries.put(k * per + slots, ref, size, F_PRESENT);
        }
        slots++;
        pos += es;
      }
      const idx = new AppendFile(this.ctx, p, pos, true, 1024);
      if (pos < buf.length) {
        this.logger.warn(
          { queue: this.name, file: p, slot: slots, droppedBytes: buf.length - pos },
          'store: torn or corrupt tail of a queue index segment cut off',
        );
        ops.ftruncateSync(fd, pos);
        idx.adoptFd(fd);
        this.ctx.dirty.add(idx); // the cut becomes durable with the first sync
      } else {
        ops.closeSync(fd); // reopened on demand: a long backlog must not pin 2 fds per segment
      }
      const seg: IdxSegment = { k, idx, ack: undefined, entrySize: es };
      this.segs.set(k, seg);
      this.recoverMarks(seg, slots);
      // Validate live entries against the message log and count references, then let the chunk
      // go from memory if the queue is over its budget (recovery memory stays bounded too).
      const c = this.entries.chunks.get(k);
      if (c !== undefined) {
        for (let s = 0; s < c.filled; s++) {
          const f = c.flags[s]!;
          if ((f & (F_PRESENT | F_SETTLED)) !== F_PRESENT) continue;
          const ref = c.refs[s]!;
          if (this.msgs.validate(ref, c.sizes[s]!)) {
            this.msgs.addRef(ref);
            live++;
          } else {
            dropped++;
            this.entries.settle(k * per + s);
            this.mark(k * per + s, KIND_SETTLED);
          }
        }
      }
      this.entries.enforceBudget();
      loaded.push(seg);
      lastK = k;
      lastSlots = slots;
    }
    // The tail continues in the last segment (after its last valid slot).
    this.entries.tailSeq = lastK < 0 ? 0 : lastK * per + lastSlots;
    // Drop segments without live entries that the tail has passed.
    for (const seg of loaded) {
      const c = this.entries.chunks.get(seg.k);
      if (c === undefined || this.entries.maybeDrop(c)) this.dropSegment(seg.k);
    }
    if (dropped > 0) {
      this.logger.warn(
        { queue: this.name, dropped },
        'store: queue entries whose message record was lost (never confirmed) dropped',
      );
    }
    return { entries: live, dropped };
  }

  private recoverMarks(seg: IdxSegment, slots: number): void {
    const ops = this.ctx.ops;
    const p = this.ackPath(seg.k);
    if (!ops.existsSync(p)) return;
    const fd = ops.openSync(p, 'r+');
    const buf = readWhole(ops, fd);
    const got = buf.length;
    let pos = ACK_HEADER;
    if (got < ACK_HEADER || buf.readUInt32LE(0) !== ACK_MAGIC || buf.readUInt16LE(4) !== ACK_VERSION) {
      this.logger.warn({ queue: this.name, file: p, bytes: got }, 'store: mark file with a missing or bad header deleted');
      ops.closeSync(fd);
      ops.unlinkSync(p);
      return;
    }
    const per = this.entries.perChunk;
    const base = seg.k * per;
    while (pos + MARK_SIZE <= got) {
      if (crc32Range(buf, pos, pos + 4) !== buf.readUInt32LE(pos + 4)) break;
      const word = buf.readUInt32LE(pos);
      const kind = word >>> 28;
      const slot = word & 0x0fffffff;
      if (slot < slots) {
        if (kind === KIND_DELIVERED) this.entries.markDelivered(base + slot);
        else if (kind === KIND_SETTLED) this.entries.settle(base + slot);
      }
      pos += MARK_SIZE;
    }
    if (pos < got) {
      this.logger.warn(
        { queue: this.name, file: p, droppedBytes: got - pos },
        'store: torn or corrupt tail of a mark file cut off',
      );
    }
    const ack = new AppendFile(this.ctx, p, pos, true, 256);
    if (pos < got) {
      ops.ftruncateSync(fd, pos);
      ack.adoptFd(fd);
      this.ctx.dirty.add(ack);
    } else {
      ops.closeSync(fd);
    }
    seg.ack = ack;
  }
}
