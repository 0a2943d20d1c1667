/**
 * The broker's data dir as files: temp dirs, disk usage, message segment files and their records
 * (format version 1 of src/store/message-log.ts: a 24-byte header starting "WRNM", then records
 * `u32 len | u32 crc32 | payload`, little-endian), and the surgery the torn-write and corruption
 * tests do on them (truncate inside a record, flip a byte inside a record).
 * Invariant: nothing here writes to a data dir whose broker is running (callers kill it first).
 */
import { mkdtemp, readdir, readFile, rm, stat, truncate, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export async function makeTempDir(prefix = 'warren-dur-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface FileInfo {
  path: string;
  size: number;
  /** Bytes allocated on disk (st_blocks * 512). */
  allocated: number;
}

/** Every regular file under dir, recursively. */
export async function listFiles(dir: string): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return; // removed while walking (the broker deletes segments in the background)
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        try {
          const s = await stat(p);
          out.push({ path: p, size: s.size, allocated: s.blocks * 512 });
        } catch {
          // deleted meanwhile
        }
      }
    }
  };
  await walk(dir);
  return out;
}

/** Bytes the data dir occupies (like `du -sb`, apparent sizes). */
export async function diskUsage(dir: string): Promise<number> {
  return (await listFiles(dir)).reduce((n, f) => n + f.size, 0);
}

/**
 * Message segment files (`*.seg`) under the data dir, oldest first (by numeric file name), leaving
 * out a transient paging store (any path with a `paging` component).
 */
export async function segmentFiles(dataDir: string): Promise<FileInfo[]> {
  const segs = (await listFiles(dataDir))
    .filter((f) => f.path.endsWith('.seg') && !f.path.split(path.sep).includes('paging'));
  const num = (p: string): number => Number.parseInt(path.basename(p, '.seg'), 10);
  return segs.sort((a, b) => num(a.path) - num(b.path) || a.path.localeCompare(b.path));
}

export const SEG_HEADER = 24;
export const REC_HEADER = 8;

export interface SegmentRecord {
  /** Offset of the record header in the file. */
  offset: number;
  /** Payload length. */
  len: number;
  payload: Buffer;
}

export interface ParsedSegment {
  path: string;
  sealed: boolean;
  records: SegmentRecord[];
  /** Bytes after the last complete record (a torn tail). */
  trailing: number;
}

/** Parse a segment file (format v1), or undefined when the header is not "WRNM" v1. */
export async function parseSegment(file: string): Promise<ParsedSegment | undefined> {
  const buf = await readFile(file);
  if (buf.length < SEG_HEADER || buf.toString('latin1', 0, 4) !== 'WRNM' || buf.readUInt16LE(4) !== 1) return undefined;
  const sealed = (buf.readUInt16LE(6) & 1) === 1;
  const records: SegmentRecord[] = [];
  let off = SEG_HEADER;
  while (off + REC_HEADER <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len === 0 || off + REC_HEADER + len > buf.length) break;
    records.push({ offset: off, len, payload: buf.subarray(off + REC_HEADER, off + REC_HEADER + len) });
    off += REC_HEADER + len;
  }
  return { path: file, sealed, records, trailing: buf.length - off };
}

/** The record whose payload contains `marker` (e.g. a body header "tag#12|"), with its segment. */
export async function findRecord(dataDir: string, marker: string): Promise<{ seg: ParsedSegment; rec: SegmentRecord } | undefined> {
  const needle = Buffer.from(marker, 'latin1');
  for (const f of await segmentFiles(dataDir)) {
    const seg = await parseSegment(f.path);
    if (seg === undefined) continue;
    for (const rec of seg.records) if (rec.payload.includes(needle)) return { seg, rec };
  }
  return undefined;
}

/** Cut the file so that it ends `keepPayloadBytes` into the record's payload (a torn write). */
export async function truncateInsideRecord(file: string, rec: SegmentRecord, keepPayloadBytes: number): Promise<number> {
  const at = rec.offset + REC_HEADER + Math.min(Math.max(keepPayloadBytes, 0), rec.len - 1);
  await truncate(file, at);
  return at;
}

/** XOR one byte of the record's payload (at payload offset `at`) with 0xff. Returns the file offset. */
export async function flipByteInRecord(file: string, rec: SegmentRecord, at: number): Promise<number> {
  const pos = rec.offset + REC_HEADER + Math.min(Math.max(at, 0), rec.len - 1);
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, pos);
    b[0] = (b[0] ?? 0) ^ 0xff;
    await fh.write(b, 0, 1, pos);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return pos;
}
