/**
 * The definitions journal: every durable definition change (definition-changes.ts) is appended as a
 * checksummed record to `definitions.<gen>.journal` and made durable by the store's group commit
 * (the same fdatasync batch as message writes: one fsync covers every change that arrived
 * meanwhile). When the journal grows, the broker hands the whole document to `compact`, which
 * starts a new journal generation and writes the RabbitMQ-shaped snapshot `definitions.json` in the
 * background; once the snapshot is durable the older journals are deleted.
 *
 * On-disk format (little-endian), version 1:
 *
 *   definitions.json            the snapshot: RabbitMQ's definitions.json document plus one member
 *                               "warren_journal": G = every change of journals with gen < G is in it.
 *                               Replaced atomically (atomic-file.ts). RabbitMQ ignores the member.
 *   definitions.<gen>.journal   header, 16 bytes
 *                                 0  magic    "WRND"
 *                                 4  version  u16 = 1
 *                                 6  hdrLen   u16 = 16
 *                                 8  gen      u32  (equal to the file name)
 *                                12  crc      u32  CRC-32 of bytes 0..11
 *                               then records, back to back:
 *                                 0  len      u32  payload length
 *                                 4  crc      u32  CRC-32 of the 4 len bytes followed by the payload
 *                                 8  payload  len bytes: the change's JSON text (UTF-8)
 *
 * Recovery rule: load the snapshot, then replay the records of every journal with gen >= G in gen
 * order (replay is idempotent, definition-changes.ts, so a crash between the snapshot's rename and
 * the old journals' deletion is harmless; journals with gen < G are deleted). In each journal, the
 * first record that is short or fails its CRC ends it: the file is truncated there with a warning
 * (those changes were never acknowledged: -ok replies wait for the fsync). A journal whose header is
 * short or wrong held nothing durable and is deleted. A snapshot WITHOUT the "warren_journal" member
 * was placed there by a user (a `rabbitmqctl export_definitions` file) or written by an older
 * Warren: it replaces the state, so existing journals are deleted (with a warning) and the snapshot
 * is rewritten once with the member before anything new is journaled.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stringifyJson } from '../core/json-text.js';
import { AppendFile, type FileContext } from './append-file.js';
import { writeFileAtomic } from './atomic-file.js';
import { crc32Buffer, crc32Range } from './crc32.js';
import { readWhole } from './file-ops.js';
import { decodeDefinitionChange, DefinitionsState } from './definition-changes.js';
import { parseDefinitions, type Definitions } from './definitions.js';
import type { StoreLogger } from './store.js';

export const JOURNAL_MAGIC = 0x444e5257; // "WRND" read as u32 LE
export const JOURNAL_VERSION = 1;
export const JOURNAL_HEADER = 16;
const REC_HEADER = 8;
export const SNAPSHOT_FILE = 'definitions.json';
export const GEN_MEMBER = 'warren_journal';
const JOURNAL_RE = /^definitions\.(\d+)\.journal$/;

interface Journal {
  readonly gen: number;
  readonly file: AppendFile;
  /** Payloads found at recovery (dropped after the first load). */
  records: Buffer[] | undefined;
  /** Record bytes (headers included) and record count in this journal. */
  bytes: number;
  count: number;
}

export class DefinitionsJournal {
  /** Journals not yet covered by a durable snapshot, oldest first; the last one takes appends. */
  private readonly journals: Journal[] = [];
  /** The generation new appends go to (its file is created on the first append). */
  private gen = 1;
  private current: Journal | undefined;
  /** The snapshot parsed at open, kept for the first load only. */
  private snapshot: Definitions | undefined;
  /** Set at recovery when the snapshot came from elsewhere and must be rewritten with GEN_MEMBER. */
  private foreign = false;
  private chain: Promise<void> = Promise.resolve();
  snapshotBytes = 0;

  constructor(
    private readonly ctx: FileContext,
    private readonly dir: string,
    private readonly logger: StoreLogger,
  ) {}

  private journalPath(gen: number): string {
    return path.join(this.dir, `definitions.${gen}.journal`);
  }

  private get snapshotPath(): string {
    return path.join(this.dir, SNAPSHOT_FILE);
  }

  // ---------------------------------------------------------------- recovery

  /** Read the snapshot and the journals, cut torn tails (synchronous, at open). */
  recover(): void {
    const ops = this.ctx.ops;
    let covered = 0;
    if (ops.existsSync(this.snapshotPath)) {
      const text = readFileSync(this.snapshotPath, 'utf8');
      this.snapshotBytes = Buffer.byteLength(text);
      const doc = parseDefinitions(text);
      const g = doc[GEN_MEMBER];
      delete doc[GEN_MEMBER];
      this.snapshot = doc;
      if (typeof g === 'number' && Number.isInteger(g) && g >= 1) covered = g;
      else this.foreign = true;
    }
    const found: number[] = [];
    for (const name of ops.readdirSync(this.dir)) {
      const m = JOURNAL_RE.exec(name);
      if (m !== null) found.push(Number(m[1]));
    }
    found.sort((a, b) => a - b);
    let maxGen = Math.max(covered - 1, 0);
    for (const gen of found) {
      maxGen = Math.max(maxGen, gen);
      const p = this.journalPath(gen);
      if (this.foreign || gen < covered) {
        if (this.foreign) {
          this.logger.warn({ journal: p, snapshot: this.snapshotPath },
            'store: definitions.json has no journal generation (imported): older definitions journal deleted');
        }
        ops.unlinkSync(p);
        this.ctx.dirtyDirs.add(this.dir);
        continue;
      }
      const j = this.scan(gen, p);
      if (j !== undefined) this.journals.push(j);
    }
    this.gen = maxGen + 1;
    const last = this.journals[this.journals.length - 1];
    if (last !== undefined) {
      // Keep appending to the newest journal rather than starting a file per restart.
      this.gen = last.gen;
      this.current = last;
    }
  }

  /** Validate one journal: header, then records up to the first bad one (the file is cut there). */
  private scan(gen: number, p: string): Journal | undefined {
    const ops = this.ctx.ops;
    const fd = ops.openSync(p, 'r+');
    const buf = readWhole(ops, fd);
    const got = buf.length;
    if (got < JOURNAL_HEADER || buf.readUInt32LE(0) !== JOURNAL_MAGIC || buf.readUInt16LE(4) !== JOURNAL_VERSION
      || buf.readUInt32LE(8) !== gen || crc32Range(buf, 0, 12) !== buf.readUInt32LE(12)) {
      ops.closeSync(fd);
      if (got > 0) this.logger.warn({ journal: p, bytes: got }, 'store: definitions journal with a missing or bad header deleted');
      ops.unlinkSync(p);
      this.ctx.dirtyDirs.add(this.dir);
      return undefined;
    }
    const hdrLen = buf.readUInt16LE(6);
    let pos = Math.max(JOURNAL_HEADER, hdrLen);
    const records: Buffer[] = [];
    let reason = '';
    while (pos < got) {
      if (pos + REC_HEADER > got) { reason = 'incomplete record header'; break; }
      const len = buf.readUInt32LE(pos);
      if (pos + REC_HEADER + len > got) { reason = 'incomplete record'; break; }
      const payload = buf.subarray(pos + REC_HEADER, pos + REC_HEADER + len);
      if (crc32Buffer(payload, crc32Range(buf, pos, pos + 4)) !== buf.readUInt32LE(pos + 4)) { reason = 'checksum mismatch'; break; }
      records.push(payload);
      pos += REC_HEADER + len;
    }
    if (pos < got) {
      this.logger.warn({ journal: p, offset: pos, droppedBytes: got - pos, keptRecords: records.length, reason },
        'store: torn or corrupt tail of the definitions journal cut off');
      ops.ftruncateSync(fd, pos);
    }
    const file = new AppendFile(this.ctx, p, pos, true, 64 * 1024);
    file.adoptFd(fd);
    // The cut (if any) becomes durable with the first sync batch (FileStore.open waits for one).
    this.ctx.dirty.add(file);
    return { gen, file, records, bytes: pos - Math.max(JOURNAL_HEADER, hdrLen), count: records.length };
  }

  /** Record bytes in the journals a restart would replay (what compaction would reclaim). */
  get journalBytes(): number {
    let n = 0;
    for (const j of this.journals) n += j.bytes;
    return n;
  }

  get records(): number {
    let n = 0;
    for (const j of this.journals) n += j.count;
    return n;
  }

  /** A snapshot from elsewhere is rewritten with GEN_MEMBER before anything new is journaled. */
  async adoptForeignSnapshot(): Promise<void> {
    if (!this.foreign || this.snapshot === undefined) return;
    this.foreign = false;
    const text = stringifyJson({ ...this.snapshot, [GEN_MEMBER]: this.gen });
    await writeFileAtomic(this.snapshotPath, text);
    this.snapshotBytes = Buffer.byteLength(text);
    this.logger.info({ snapshot: this.snapshotPath }, 'store: imported definitions.json adopted');
  }

  // ---------------------------------------------------------------- load

  /** Snapshot + every change journaled since; undefined when there is neither. */
  async load(): Promise<Definitions | undefined> {
    await this.chain; // a compaction in flight renames the snapshot and deletes journals
    let snapshot = this.snapshot;
    this.snapshot = undefined; // the copy parsed at open serves the first load only
    if (snapshot === undefined && this.ctx.ops.existsSync(this.snapshotPath)) {
      snapshot = parseDefinitions(readFileSync(this.snapshotPath, 'utf8'));
      delete snapshot[GEN_MEMBER];
    }
    if (snapshot === undefined && this.records === 0) {
      for (const j of this.journals) j.records = undefined;
      return undefined;
    }
    if (this.records === 0) {
      for (const j of this.journals) j.records = undefined;
      return snapshot; // nothing to replay: skip indexing the snapshot
    }
    const state = new DefinitionsState(snapshot);
    for (const j of this.journals) {
      const recs = j.records ?? this.readRecords(j);
      j.records = undefined;
      for (let i = 0; i < recs.length; i++) {
        let change;
        try {
          change = decodeDefinitionChange(recs[i]!);
        } catch (e) {
          // The CRC matched, so this is not a torn write: a bug or a foreign writer. Skip it loudly.
          this.logger.warn({ journal: j.file.path, record: i, err: e instanceof Error ? e.message : String(e) },
            'store: unreadable definitions journal record skipped');
          continue;
        }
        state.apply(change);
      }
    }
    return state.toDefinitions();
  }

  /** Re-read a journal's records (file bytes and still-pending bytes). */
  private readRecords(j: Journal): Buffer[] {
    const size = j.file.size;
    const buf = Buffer.allocUnsafe(size);
    j.file.readAt(0, buf, 0, size);
    const out: Buffer[] = [];
    let pos = JOURNAL_HEADER;
    while (pos + REC_HEADER <= size) {
      const len = buf.readUInt32LE(pos);
      if (pos + REC_HEADER + len > size) break;
      out.push(buf.subarray(pos + REC_HEADER, pos + REC_HEADER + len));
      pos += REC_HEADER + len;
    }
    return out;
  }

  // ---------------------------------------------------------------- append

  /** Append one encoded change to the current journal (the caller bumps the group commit). */
  append(payload: Buffer): void {
    let j = this.current;
    if (j === undefined) {
      const file = new AppendFile(this.ctx, this.journalPath(this.gen), 0, false, 64 * 1024);
      const o = file.reserve(JOURNAL_HEADER);
      const b = file.buf;
      b.writeUInt32LE(JOURNAL_MAGIC, o);
      b.writeUInt16LE(JOURNAL_VERSION, o + 4);
      b.writeUInt16LE(JOURNAL_HEADER, o + 6);
      b.writeUInt32LE(this.gen, o + 8);
      b.writeUInt32LE(crc32Range(b, o, o + 12), o + 12);
      j = { gen: this.gen, file, records: undefined, bytes: 0, count: 0 };
      this.journals.push(j);
      this.current = j;
    }
    const len = payload.length;
    const o = j.file.reserve(REC_HEADER + len);
    const b = j.file.buf;
    b.writeUInt32LE(len, o);
    payload.copy(b, o + REC_HEADER);
    b.writeUInt32LE(crc32Buffer(payload, crc32Range(b, o, o + 4)), o + 4);
    j.bytes += REC_HEADER + len;
    j.count++;
  }

  // ---------------------------------------------------------------- compaction

  /**
   * Replace the definitions by `defs`, which must contain every change appended so far: a new
   * journal generation starts now (synchronously, so later appends are kept), the snapshot is
   * written in the background, and the journals it covers are deleted once it is durable.
   * Resolves when the snapshot is durable; on failure the older journals stay and keep counting.
   */
  compact(defs: Definitions): Promise<void> {
    const covered = this.gen + 1;
    const doc: Record<string, unknown> = { ...defs };
    delete doc[GEN_MEMBER];
    doc[GEN_MEMBER] = covered;
    const text = stringifyJson(doc); // may throw: nothing has changed yet
    this.gen = covered;
    this.current = undefined;
    this.foreign = false;
    const next = this.chain.then(async () => {
      await writeFileAtomic(this.snapshotPath, text);
      this.snapshotBytes = Buffer.byteLength(text);
      for (let i = 0; i < this.journals.length;) {
        const j = this.journals[i]!;
        if (j.gen >= covered) { i++; continue; }
        this.journals.splice(i, 1);
        j.file.discard();
        this.ctx.unlinkAsync(j.file.path, (err) =>
          this.logger.warn({ journal: j.file.path, err: err.message }, 'store: could not delete a definitions journal'));
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Resolves once no compaction is in flight. */
  idle(): Promise<void> {
    return this.chain;
  }

  closeAll(): void {
    for (const j of this.journals) j.file.closeFd();
  }
}
