/**
 * The file implementation of Store. Layout of the data directory:
 *
 *   LOCK                      pid of the process that has the store open
 *   definitions.json          the definitions snapshot (replaced atomically, see atomic-file.ts)
 *   definitions.<gen>.journal definition changes since the snapshot (format: definitions-journal.ts)
 *   msgs/<id>.seg             message segments (format: message-log.ts)
 *   queues/<sha1(key)>/       one directory per queue index (format: queue-log.ts)
 *   streams/<sha1(key)>/      one directory per stream (format: stream-log.ts); entries reference
 *                             message records, so a message fanned out to streams and queues is
 *                             written once
 *
 * Writes go to per-file pending buffers and reach the OS with one positional write per file at the
 * end of the turn (or when afterSync/flush is called); one sync batch = one fdatasync per file written
 * since the previous batch started, run in parallel, plus an fsync of directories that gained or lost
 * entries (group-commit.ts). Recovery reads segment headers, scans only unsealed message segments, and
 * reads index/mark files (24 bytes per entry): never message bodies.
 */
import { createHash } from 'node:crypto';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { FileContext } from './append-file.js';
import type { Definitions } from './definitions.js';
import { DefinitionsJournal } from './definitions-journal.js';
import { nodeFileOps, type FileOps } from './file-ops.js';
import { GroupCommit } from './group-commit.js';
import { GroupCommitStore } from './group-commit-store.js';
import { MessageLog } from './message-log.js';
import { QueueLog } from './queue-log.js';
import { residentIndexBytes } from './queue-entries.js';
import { SegmentedStream } from './stream-log.js';
import { StreamSet } from './stream-set.js';
import {
  SILENT_LOGGER,
  StoreError,
  type DiskSpace,
  type MsgRef,
  type QueueIndex,
  type Store,
  type StoreLogger,
  type StoreStats,
} from './store.js';

export interface FileStoreOptions {
  /** Data directory (created if missing). */
  readonly dir: string;
  /** Target size of a message segment file in bytes (default 8 MiB; tests use a few KiB). */
  readonly segmentSize?: number;
  /** Entries per queue index segment for new queues (default 16384 = 256 KiB files). */
  readonly indexEntriesPerSegment?: number;
  readonly logger?: StoreLogger;
  /** Injectable file system calls (tests inject ENOSPC). */
  readonly fileOps?: FileOps;
  /**
   * Start empty: delete whatever the directory holds first. For a paging store that holds transient
   * messages pushed out of memory (they must not survive a restart).
   */
  readonly wipe?: boolean;
  /**
   * Queue index entries kept in memory per queue (13 bytes each); beyond it, index chunks other than
   * the head and the tail are dropped and reloaded from disk on access. Default 262144 (~3.4 MB).
   */
  readonly indexMemoryEntries?: number;
  /** Open fds kept at most (idle segment files are closed and reopened on demand). Default 256. */
  readonly maxOpenFiles?: number;
}

export const DEFAULT_SEGMENT_SIZE = 8 * 1024 * 1024;
export const DEFAULT_INDEX_ENTRIES = 16384;

export interface RecoveryReport {
  readonly queues: number;
  readonly entries: number;
  readonly droppedEntries: number;
  readonly messageSegments: number;
  readonly streams: number;
  readonly streamMessages: number;
  readonly millis: number;
}

export class FileStore extends GroupCommitStore implements Store {
  readonly kind = 'file' as const;
  private readonly ctx: FileContext;
  protected readonly gc: GroupCommit;
  private readonly msgs: MessageLog;
  private readonly queues = new Map<string, QueueLog>();
  private readonly queuesDir: string;
  protected readonly streams: StreamSet;
  private readonly perSegment: number;
  private readonly indexMemory: number;
  private readonly logger: StoreLogger;
  private writesFailing = false;
  private readonly defs: DefinitionsJournal;
  /** What open() found. */
  recovery: RecoveryReport = { queues: 0, entries: 0, droppedEntries: 0, messageSegments: 0, streams: 0, streamMessages: 0, millis: 0 };

  private constructor(private readonly opts: FileStoreOptions) {
    super();
    this.ctx = new FileContext(opts.fileOps ?? nodeFileOps, opts.maxOpenFiles ?? 256);
    this.logger = opts.logger ?? SILENT_LOGGER;
    this.perSegment = opts.indexEntriesPerSegment ?? DEFAULT_INDEX_ENTRIES;
    this.indexMemory = opts.indexMemoryEntries ?? 262144;
    if (this.perSegment < 1 || this.perSegment > 0x0fffffff) throw new RangeError('indexEntriesPerSegment out of range');
    const segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    // Record offsets are u32 (MsgRef = id * 2^32 + offset).
    if (!Number.isInteger(segmentSize) || segmentSize < 64 || segmentSize > 0xffffffff) throw new RangeError('segmentSize out of range');
    this.msgs = new MessageLog(this.ctx, path.join(opts.dir, 'msgs'), segmentSize, this.logger);
    this.queuesDir = path.join(opts.dir, 'queues');
    this.defs = new DefinitionsJournal(this.ctx, opts.dir, this.logger);
    this.streams = new StreamSet(this.ctx, path.join(opts.dir, 'streams'), (name, dir, settings) =>
      new SegmentedStream(this.ctx, this.hostFor(), this.msgs, this.logger, name, dir, settings));
    this.gc = new GroupCommit({
      flush: () => this.flushFiles(),
      sync: (cb) => this.syncFiles(cb),
      needsSync: () => this.streams.syncWanted,
    });
    // Stream chunks become visible to readers once a sync covered them.
    this.gc.addListener((durable) => this.streams.onDurable(durable));
  }

  /** Open (and recover) the store in `opts.dir`. Works after an unclean shutdown. */
  static async open(opts: FileStoreOptions): Promise<FileStore> {
    const s = new FileStore(opts);
    s.recover();
    await s.ctx.unlinked();
    await s.defs.adoptForeignSnapshot();
    // Make recovery's cuts and deletions durable before anything new is confirmed.
    await new Promise<void>((resolve) => s.gc.afterSync(() => resolve()));
    return s;
  }

  private recover(): void {
    const t0 = performance.now();
    const ops = this.ctx.ops;
    if (this.opts.wipe === true) ops.rmSync(this.opts.dir);
    ops.mkdirSync(this.opts.dir);
    this.lock();
    this.defs.recover();
    ops.mkdirSync(this.queuesDir);
    this.msgs.recover();
    let entries = 0;
    let dropped = 0;
    for (const d of ops.readdirSync(this.queuesDir)) {
      const dir = path.join(this.queuesDir, d);
      const found = QueueLog.recoverName(this.ctx, dir);
      if (found === undefined) {
        const files = ops.readdirSync(dir).filter((f) => f.endsWith('.idx'));
        if (files.length > 0) {
          this.logger.warn({ dir, files: files.length }, 'store: queue index directory without a readable header deleted');
        }
        ops.rmSync(dir); // no index segment left: the queue index is empty
        continue;
      }
      const q = new QueueLog(this.ctx, this.hostFor(), this.msgs, this.logger, found.name, dir, found.perSegment, this.indexMemory);
      const r = q.recover();
      entries += r.entries;
      dropped += r.dropped;
      this.queues.set(found.name, q);
    }
    const streamMessages = this.streams.recover();
    this.msgs.dropUnreferenced();
    this.recovery = {
      queues: this.queues.size,
      entries,
      droppedEntries: dropped,
      messageSegments: this.msgs.segmentCount,
      streams: this.streams.size,
      streamMessages,
      millis: Math.round(performance.now() - t0),
    };
    this.logger.info({ ...this.recovery, dir: this.opts.dir }, 'store: recovered');
  }

  /**
   * One process per data directory: <dir>/LOCK holds the owner's pid. A lock left by a dead process
   * (kill -9, crash) is taken over; one held by a live other process refuses to open.
   */
  private lock(): void {
    const file = path.join(this.opts.dir, 'LOCK');
    let owner = NaN;
    try {
      owner = Number(readFileSync(file, 'utf8').trim());
    } catch {
      // no lock
    }
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
      throw new StoreError('INVALID', `store: ${this.opts.dir} is in use by process ${owner} (remove ${file} if that is wrong)`);
    }
    writeFileSync(file, `${process.pid}\n`);
  }

  private hostFor(): { bump(): number; assertOpen(): void } {
    return { bump: () => this.gc.bump(), assertOpen: () => this.assertOpen() };
  }

  // ---------------------------------------------------------------- definitions

  loadDefinitions(): Promise<Definitions | undefined> {
    if (this.closed) return Promise.reject(new StoreError('CLOSED', 'store: closed'));
    return this.defs.load();
  }

  saveDefinitions(defs: Definitions): Promise<void> {
    if (this.closed) return Promise.reject(new StoreError('CLOSED', 'store: closed'));
    try {
      return this.defs.compact(defs);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  appendDefinitionChange(record: Buffer): number {
    this.assertOpen();
    this.defs.append(record);
    return this.gc.bump();
  }

  get definitionsJournalBytes(): number {
    return this.defs.journalBytes;
  }

  get definitionsSnapshotBytes(): number {
    return this.defs.snapshotBytes;
  }

  // ---------------------------------------------------------------- messages

  append(parts: readonly Buffer[]): MsgRef {
    this.assertOpen();
    const ref = this.msgs.append(parts);
    this.gc.bump();
    return ref;
  }

  readSync(ref: MsgRef, size = -1): Buffer {
    this.assertOpen();
    return this.msgs.readSync(ref, size);
  }

  read(ref: MsgRef, size: number, cb: (err: Error | null, payload: Buffer | undefined) => void): void {
    if (this.closed) {
      process.nextTick(cb, new StoreError('CLOSED', 'store: closed'), undefined);
      return;
    }
    this.msgs.read(ref, size, cb);
  }

  // ---------------------------------------------------------------- queues

  queue(name: string): QueueIndex {
    this.assertOpen();
    let q = this.queues.get(name);
    if (q === undefined) {
      const dir = path.join(this.queuesDir, createHash('sha1').update(name).digest('hex'));
      q = new QueueLog(this.ctx, this.hostFor(), this.msgs, this.logger, name, dir, this.perSegment, this.indexMemory);
      this.queues.set(name, q);
    }
    return q;
  }

  queueNames(): string[] {
    return [...this.queues.keys()];
  }

  deleteQueue(name: string): void {
    this.assertOpen();
    const q = this.queues.get(name);
    if (q === undefined) return;
    this.queues.delete(name);
    q.destroy();
    this.gc.bump();
  }

  // streams and durability: GroupCommitStore

  private flushFiles(): Error | null {
    this.streams.beforeFlush();
    let first: Error | null = null;
    let firstPath = '';
    for (const f of this.ctx.pending) {
      try {
        f.flush();
      } catch (e) {
        if (first === null) {
          first = e instanceof Error ? e : new Error(String(e));
          firstPath = f.path;
        }
      }
    }
    // Log transitions only: a full disk must not flood the log once per turn.
    if (first !== null && !this.writesFailing) {
      this.writesFailing = true;
      this.logger.warn({ file: firstPath, err: first.message }, 'store: write failed; bytes kept pending and retried at each flush');
    } else if (first === null && this.writesFailing) {
      this.writesFailing = false;
      this.logger.info({}, 'store: writes succeed again');
    }
    return first;
  }

  private syncFiles(cb: (err: Error | null) => void): void {
    const ctx = this.ctx;
    const files = [...ctx.dirty];
    const dirs = [...ctx.dirtyDirs];
    ctx.dirty.clear();
    ctx.dirtyDirs.clear();
    this.streams.syncStarted();
    let left = files.length + dirs.length;
    let first: Error | null = null;
    ctx.syncing = true;
    const done = (err: Error | null): void => {
      if (err !== null && first === null) first = err;
      if (--left > 0) return;
      ctx.syncing = false;
      for (const fd of ctx.closeLater.splice(0)) ctx.closeFd(fd);
      if (first === null) {
        this.msgs.sealSynced(false);
        this.streams.afterSync();
      }
      cb(first);
    };
    if (left === 0) {
      left = 1;
      setImmediate(done, null);
      return;
    }
    for (const f of files) {
      if (f.fd < 0) done(null);
      else ctx.ops.fdatasync(f.fd, done);
    }
    for (const d of dirs) {
      ctx.ops.fsyncDir(d, (err) => done(err !== null && (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : err));
    }
  }

  // ---------------------------------------------------------------- misc

  stats(): StoreStats {
    return {
      messageSegments: this.msgs.segmentCount,
      messageBytesOnDisk: this.msgs.bytesOnDisk,
      queues: this.queues.size,
      writeSeq: this.gc.writeSeq,
      durableSeq: this.gc.durableSeq,
      syncs: this.gc.syncs,
      indexMemoryBytes: residentIndexBytes(Array.from(this.queues.values(), (q) => q.entries)) + this.msgs.readBufferBytes,
    };
  }

  async diskFree(): Promise<DiskSpace> {
    return diskFree(this.opts.dir);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.defs.idle();
    const syncOnce = (): Promise<Error | null> => new Promise((resolve) => this.gc.afterSync(resolve));
    let err = await syncOnce();
    if (err === null) {
      this.msgs.sealSynced(true);
      err = await syncOnce();
    }
    await this.gc.idle();
    await this.ctx.unlinked();
    await this.ctx.readsDone();
    this.closed = true;
    try {
      unlinkSync(path.join(this.opts.dir, 'LOCK'));
    } catch {
      // already gone
    }
    this.msgs.closeAll();
    this.defs.closeAll();
    for (const q of this.queues.values()) q.closeAll();
    this.streams.closeAll();
    for (const fd of this.ctx.closeLater.splice(0)) this.ctx.ops.closeSync(fd);
    if (err !== null) {
      this.logger.warn({ err: err.message }, 'store: close could not flush everything');
      throw err;
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Free space of the file system holding `dir` (fs.statfs), for the broker's disk alarm. */
export async function diskFree(dir: string): Promise<DiskSpace> {
  const s = await statfs(dir);
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
}
