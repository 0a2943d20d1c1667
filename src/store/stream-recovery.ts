/**
 * Recovery of one stream directory (the rule is stated in stream-log.ts): trust segments whose
 * summary matches their file, scan the others chunk by chunk, cut at the first chunk that is torn,
 * corrupt, out of sequence or references a record the message log lost, and delete whatever follows
 * a cut or a gap. Reads chunk headers and 16-byte entries only, never message bodies.
 */
import path from 'node:path';
import { AppendFile, type FileContext } from './append-file.js';
import type { StreamRecordSource } from './stream.js';
import { ChunkScanner } from './stream-chunk.js';
import { StreamSegment, parseSegmentHeader, segmentFileName, summaryFileName } from './stream-segment.js';
import type { StoreLogger } from './store.js';

export interface RecoveredStream {
  /** Valid segments, oldest first (references not yet added to the source). */
  readonly segments: StreamSegment[];
  /** Offset the next append gets. */
  readonly nextOffset: number;
}

/** The stream name recorded in the first readable segment header of `dir`. */
export function recoverStreamName(ctx: FileContext, dir: string): string | undefined {
  const ops = ctx.ops;
  for (const f of ops.readdirSync(dir).filter((n) => n.endsWith('.seg')).sort()) {
    const fd = ops.openSync(path.join(dir, f), 'r');
    try {
      const b = Buffer.alloc(Math.min(ops.fstatSize(fd), 65560));
      const n = ops.readSync(fd, b, 0, b.length, 0);
      const h = parseSegmentHeader(b.subarray(0, n));
      if (h !== undefined) return h.name;
    } finally {
      ops.closeSync(fd);
    }
  }
  return undefined;
}

export function recoverSegments(
  ctx: FileContext, dir: string, name: string, source: StreamRecordSource, logger: StoreLogger,
): RecoveredStream {
  const ops = ctx.ops;
  const files = ops.readdirSync(dir);
  const bases: number[] = [];
  const sums = new Set<number>();
  for (const f of files) {
    if (f.endsWith('.del')) ops.unlinkSync(path.join(dir, f));
    else if (/^\d{20}\.seg$/.test(f)) bases.push(Number(f.slice(0, 20)));
    else if (/^\d{20}\.sum$/.test(f)) sums.add(Number(f.slice(0, 20)));
  }
  bases.sort((a, b) => a - b);
  const scanner = new ChunkScanner();
  const segments: StreamSegment[] = [];
  let expected = -1;
  let broken = false;
  for (const base of bases) {
    const p = path.join(dir, segmentFileName(base));
    if (broken || (expected >= 0 && base !== expected)) {
      logger.warn({ stream: name, segment: p, expected }, 'store: stream segment after a cut or a gap deleted');
      ops.unlinkSync(p);
      ops.unlinkSync(path.join(dir, summaryFileName(base)));
      sums.delete(base);
      broken = true;
      continue;
    }
    const r = recoverSegment(ctx, dir, name, p, base, sums.has(base), scanner, source, logger);
    if (r === undefined) {
      // Unreadable header: the segment held nothing confirmed; offsets still continue from its base.
      sums.delete(base);
      expected = base;
      broken = true;
      continue;
    }
    segments.push(r.seg);
    expected = r.seg.end;
    if (r.cut) broken = true; // nothing after a cut can be valid
  }
  for (const base of sums) {
    if (!segments.some((s) => s.base === base)) ops.unlinkSync(path.join(dir, summaryFileName(base)));
  }
  return { segments, nextOffset: Math.max(expected, 0) };
}

function recoverSegment(
  ctx: FileContext, dir: string, name: string, p: string, base: number, hasSummary: boolean,
  scanner: ChunkScanner, source: StreamRecordSource, logger: StoreLogger,
): { seg: StreamSegment; cut: boolean } | undefined {
  const ops = ctx.ops;
  const fd = ops.openSync(p, 'r+');
  let fdOwned = true;
  try {
    const size = ops.fstatSize(fd);
    const head = Buffer.alloc(Math.min(size, 65560));
    const n = ops.readSync(fd, head, 0, head.length, 0);
    const h = parseSegmentHeader(head.subarray(0, n));
    if (h === undefined || h.base !== base || h.name !== name || h.headerLen > size) {
      logger.warn({ stream: name, segment: p, bytes: size }, 'store: stream segment with a missing or bad header deleted');
      ops.closeSync(fd);
      fdOwned = false;
      ops.unlinkSync(p);
      ops.unlinkSync(path.join(dir, summaryFileName(base)));
      return undefined;
    }
    const file = new AppendFile(ctx, p, size, true, 4096);
    const seg = new StreamSegment(base, file, h.headerLen);
    if (hasSummary) {
      if (loadSummary(ctx, path.join(dir, summaryFileName(base)), seg, size)) return { seg, cut: false };
      logger.warn({ stream: name, segment: p }, 'store: stream segment summary unusable, segment scanned');
    }
    const valid = scanSegment(seg, scanner, size, source);
    seg.committedPos = valid;
    if (valid === size) return { seg, cut: false };
    logger.warn(
      { stream: name, segment: p, offset: valid, droppedBytes: size - valid, keptMessages: seg.entries, reason: scanner.problem || 'record lost' },
      'store: torn or corrupt tail of a stream segment cut off',
    );
    ops.ftruncateSync(fd, valid);
    file.written = valid;
    file.adoptFd(fd);
    fdOwned = false;
    ctx.dirty.add(file); // the cut becomes durable with the first sync
    return { seg, cut: true };
  } finally {
    if (fdOwned) ops.closeSync(fd);
  }
}

function loadSummary(ctx: FileContext, file: string, seg: StreamSegment, size: number): boolean {
  const ops = ctx.ops;
  const fd = ops.openSync(file, 'r');
  try {
    const b = Buffer.allocUnsafe(ops.fstatSize(fd));
    return ops.readSync(fd, b, 0, b.length, 0) === b.length && seg.loadSummary(b, size);
  } finally {
    ops.closeSync(fd);
  }
}

/** Scan chunks; returns the end of the last valid one. */
function scanSegment(seg: StreamSegment, sc: ChunkScanner, size: number, source: StreamRecordSource): number {
  sc.reset(seg.file, seg.headerLen, size);
  sc.invalidate();
  let valid = seg.headerLen;
  while (sc.next(true)) {
    if (sc.firstOffset !== seg.end) {
      sc.problem = 'bad chunk header';
      break;
    }
    let recordBytes = 0;
    let ok = true;
    for (let i = 0; i < sc.count; i++) {
      const sz = sc.entrySize(i);
      if (!source.validate(sc.entryRef(i), sz)) {
        ok = false;
        break;
      }
      recordBytes += sz + source.recordOverhead;
    }
    if (!ok) break;
    for (let i = 0; i < sc.count; i++) seg.addRef(source.segmentOf(sc.entryRef(i)), 1);
    seg.addChunk(sc.pos, sc.len, sc.firstOffset, sc.count, sc.timestamp, recordBytes);
    valid = sc.nextPos;
  }
  return valid;
}
