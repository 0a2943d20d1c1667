/**
 * The in-memory implementation of Store: same contract, nothing on disk. "Durable" state lives in a
 * MemoryBackend object; opening a second MemoryStore on the same backend models a restart (closed
 * or not), so the conformance suite can run its recovery cases against both implementations.
 * Messages are reference counted per record and dropped when the count reaches 0.
 * Every write is immediately "durable": afterSync calls back at the next turn (one setImmediate per
 * batch of waiters), like a disk that syncs instantly.
 * Streams run the file implementation (stream-log.ts) over in-memory files kept in the backend
 * (memory-file-ops.ts); their references to records are counted per store instance (rebuilt when a
 * store is opened on the backend) and a record goes when neither queues nor streams reference it.
 */
import { stringifyJson } from '../core/json-text.js';
import { FileContext } from './append-file.js';
import { decodeDefinitionChange, DefinitionsState } from './definition-changes.js';
import { parseDefinitions, type Definitions } from './definitions.js';
import { diskFree } from './file-store.js';
import { GroupCommit } from './group-commit.js';
import { GroupCommitStore } from './group-commit-store.js';
import { MemoryFileOps } from './memory-file-ops.js';
import { residentIndexBytes, QueueEntries } from './queue-entries.js';
import type { StreamRecordSource } from './stream.js';
import { SegmentedStream } from './stream-log.js';
import { StreamSet } from './stream-set.js';
import {
  SILENT_LOGGER,
  StoreError,
  type DiskSpace,
  type MsgRef,
  type QueueCursor,
  type QueueIndex,
  type Store,
  type StoreStats,
} from './store.js';

export class MemoryBackend {
  /** The definitions snapshot (JSON text) and the journaled changes since. */
  definitions: string | undefined;
  readonly journal: Buffer[] = [];
  journalBytes = 0;
  readonly messages = new Map<MsgRef, Buffer>();
  readonly refs = new Map<MsgRef, number>();
  readonly queues = new Map<string, QueueEntries>();
  /** Stream files (segments, summaries, offset tracking). */
  readonly files = new MemoryFileOps();
  nextRef = 1;
}

const STREAMS_DIR = '/streams';

/** Records as streams see them: one "segment" per record, no runs (each record is its own buffer). */
class MemoryRecords implements StreamRecordSource {
  readonly recordOverhead = 0;
  /** References held by streams, per record (rebuilt when a store opens the backend). */
  readonly streamRefs = new Map<MsgRef, number>();

  constructor(private readonly backend: MemoryBackend) {}

  segmentOf(ref: MsgRef): number {
    return ref;
  }

  addRefs(ref: number, n: number): void {
    this.streamRefs.set(ref, (this.streamRefs.get(ref) ?? 0) + n);
  }

  releaseRefs(ref: number, n: number): void {
    const left = (this.streamRefs.get(ref) ?? 0) - n;
    if (left > 0) {
      this.streamRefs.set(ref, left);
      return;
    }
    this.streamRefs.delete(ref);
    if ((this.backend.refs.get(ref) ?? 0) <= 0) {
      this.backend.refs.delete(ref);
      this.backend.messages.delete(ref);
    }
  }

  validate(ref: MsgRef): boolean {
    return this.backend.messages.has(ref);
  }

  adjacent(): boolean {
    return false;
  }

  readRun(ref: MsgRef): Buffer {
    const m = this.backend.messages.get(ref);
    if (m === undefined) throw new StoreError('MISSING', `store: message ${ref} is not stored`);
    return m;
  }

  payloadIn(run: Buffer): Buffer {
    return run;
  }
}

export interface MemoryStoreOptions {
  readonly backend?: MemoryBackend;
  readonly indexEntriesPerSegment?: number;
}

class MemoryQueue implements QueueIndex {
  constructor(
    private readonly store: MemoryStore,
    readonly name: string,
    readonly entries: QueueEntries,
  ) {}

  get count(): number {
    return this.entries.count;
  }

  get bytes(): number {
    return this.entries.bytes;
  }

  enqueue(ref: MsgRef, size: number, expiresAt = Infinity, tag = 0, weight = size): number {
    this.store.assertOpen();
    const seq = this.entries.add(ref, size, expiresAt, tag, weight);
    this.store.addRef(ref);
    this.store.bump();
    return seq;
  }

  markDelivered(seq: number): void {
    this.store.assertOpen();
    if (this.entries.markDelivered(seq)) this.store.bump();
  }

  settle(seq: number): void {
    this.store.assertOpen();
    const ref = this.entries.settle(seq);
    if (ref < 0) return;
    this.store.release(ref);
    this.store.bump();
  }

  has(seq: number): boolean {
    return this.entries.isLive(seq);
  }

  cursor(fromSeq?: number): QueueCursor {
    return this.entries.cursor(fromSeq);
  }
}

export class MemoryStore extends GroupCommitStore implements Store {
  readonly kind = 'memory' as const;
  readonly backend: MemoryBackend;
  protected readonly gc: GroupCommit;
  private readonly views = new Map<string, MemoryQueue>();
  private readonly perSegment: number;
  private readonly ctx: FileContext;
  private readonly records: MemoryRecords;
  protected readonly streams: StreamSet;

  constructor(opts: MemoryStoreOptions = {}) {
    super();
    this.backend = opts.backend ?? new MemoryBackend();
    this.perSegment = opts.indexEntriesPerSegment ?? 4096;
    this.ctx = new FileContext(this.backend.files, Number.MAX_SAFE_INTEGER);
    this.records = new MemoryRecords(this.backend);
    this.streams = new StreamSet(this.ctx, STREAMS_DIR, (name, dir, settings) => new SegmentedStream(this.ctx,
      { bump: () => this.bump(), assertOpen: () => this.assertOpen() }, this.records, SILENT_LOGGER, name, dir, settings));
    this.gc = new GroupCommit({
      flush: () => {
        this.streams.beforeFlush();
        for (const f of this.ctx.pending) f.flush();
        return null;
      },
      sync: (cb) => {
        this.ctx.dirty.clear();
        this.ctx.dirtyDirs.clear();
        this.streams.syncStarted();
        setImmediate(() => {
          this.streams.afterSync();
          cb(null);
        });
      },
      needsSync: () => this.streams.syncWanted,
    });
    this.gc.addListener((durable) => this.streams.onDurable(durable));
    this.streams.recover();
  }

  static async open(opts: MemoryStoreOptions = {}): Promise<MemoryStore> {
    return new MemoryStore(opts);
  }

  bump(): number {
    return this.gc.bump();
  }

  addRef(ref: MsgRef): void {
    const b = this.backend;
    const n = b.refs.get(ref);
    if (n !== undefined) b.refs.set(ref, n + 1);
  }

  release(ref: MsgRef): void {
    const b = this.backend;
    const n = b.refs.get(ref);
    if (n === undefined) return;
    if (n <= 1) {
      if (this.records.streamRefs.has(ref)) {
        b.refs.set(ref, 0); // a stream still references it
        return;
      }
      b.refs.delete(ref);
      b.messages.delete(ref);
    } else {
      b.refs.set(ref, n - 1);
    }
  }

  async loadDefinitions(): Promise<Definitions | undefined> {
    const b = this.backend;
    if (b.definitions === undefined && b.journal.length === 0) return undefined;
    const state = new DefinitionsState(b.definitions === undefined ? undefined : parseDefinitions(b.definitions));
    for (const r of b.journal) state.apply(decodeDefinitionChange(r));
    return state.toDefinitions();
  }

  async saveDefinitions(defs: Definitions): Promise<void> {
    this.assertOpen();
    this.backend.definitions = stringifyJson(defs);
    this.backend.journal.length = 0;
    this.backend.journalBytes = 0;
  }

  appendDefinitionChange(record: Buffer): number {
    this.assertOpen();
    this.backend.journal.push(Buffer.from(record));
    this.backend.journalBytes += record.length + 8;
    return this.gc.bump();
  }

  get definitionsJournalBytes(): number {
    return this.backend.journalBytes;
  }

  get definitionsSnapshotBytes(): number {
    return this.backend.definitions?.length ?? 0;
  }

  append(parts: readonly Buffer[]): MsgRef {
    this.assertOpen();
    const b = this.backend;
    const ref = b.nextRef++;
    b.messages.set(ref, parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts as Buffer[]));
    b.refs.set(ref, 0);
    this.gc.bump();
    return ref;
  }

  readSync(ref: MsgRef): Buffer {
    this.assertOpen();
    const m = this.backend.messages.get(ref);
    if (m === undefined) throw new StoreError('MISSING', `store: message ${ref} is not stored`);
    return m;
  }

  read(ref: MsgRef, _size: number, cb: (err: Error | null, payload: Buffer | undefined) => void): void {
    let payload: Buffer | undefined;
    let err: Error | null = null;
    try {
      payload = this.readSync(ref);
    } catch (e) {
      err = e instanceof Error ? e : new Error(String(e));
    }
    process.nextTick(cb, err, payload);
  }

  queue(name: string): QueueIndex {
    this.assertOpen();
    let v = this.views.get(name);
    if (v === undefined) {
      let entries = this.backend.queues.get(name);
      if (entries === undefined) {
        entries = new QueueEntries(this.perSegment);
        this.backend.queues.set(name, entries);
      }
      v = new MemoryQueue(this, name, entries);
      this.views.set(name, v);
    }
    return v;
  }

  queueNames(): string[] {
    const names: string[] = [];
    for (const [name, q] of this.backend.queues) if (q.count > 0 || this.views.has(name)) names.push(name);
    return names;
  }

  deleteQueue(name: string): void {
    this.assertOpen();
    const entries = this.backend.queues.get(name);
    if (entries === undefined) return;
    entries.forEachLive((ref) => this.release(ref));
    this.backend.queues.delete(name);
    this.views.delete(name);
    this.gc.bump();
  }

  stats(): StoreStats {
    return {
      messageSegments: this.backend.messages.size,
      messageBytesOnDisk: 0,
      queues: this.backend.queues.size,
      writeSeq: this.gc.writeSeq,
      durableSeq: this.gc.durableSeq,
      syncs: this.gc.syncs,
      indexMemoryBytes: residentIndexBytes(this.backend.queues.values()),
    };
  }

  async diskFree(): Promise<DiskSpace> {
    return diskFree(process.cwd());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<Error | null>((resolve) => this.gc.afterSync(resolve));
    await this.gc.idle();
    this.closed = true;
  }
}
