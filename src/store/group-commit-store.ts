/**
 * What both Store implementations (file-store.ts, memory-store.ts) share: streams kept by a
 * StreamSet, durability by a GroupCommit, reached through the same Store methods, and the closed
 * check. Each implementation builds its own StreamSet and GroupCommit (files on disk or in memory).
 *
 * Invariants: once closed, afterSync still calls back (with StoreError CLOSED, on the next tick),
 * requestSync and flush do nothing, and stream operations throw CLOSED.
 */
import type { GroupCommit } from './group-commit.js';
import type { StreamLog, StreamSettings } from './stream.js';
import type { StreamSet } from './stream-set.js';
import { StoreError, type SyncCallback, type SyncListener } from './store.js';

export abstract class GroupCommitStore {
  protected abstract readonly gc: GroupCommit;
  protected abstract readonly streams: StreamSet;
  protected closed = false;

  assertOpen(): void {
    if (this.closed) throw new StoreError('CLOSED', 'store: closed');
  }

  // ---------------------------------------------------------------- streams

  stream(name: string, settings?: StreamSettings): StreamLog {
    this.assertOpen();
    return this.streams.get(name, settings);
  }

  streamNames(): string[] {
    return this.streams.names();
  }

  deleteStream(name: string): void {
    this.assertOpen();
    if (this.streams.delete(name)) this.gc.bump();
  }

  // ---------------------------------------------------------------- durability

  get writeSeq(): number {
    return this.gc.writeSeq;
  }

  get durableSeq(): number {
    return this.gc.durableSeq;
  }

  afterSync(cb: SyncCallback): void {
    if (this.closed) {
      process.nextTick(cb, new StoreError('CLOSED', 'store: closed'));
      return;
    }
    this.gc.afterSync(cb);
  }

  requestSync(): void {
    if (!this.closed) this.gc.requestSync();
  }

  addSyncListener(l: SyncListener): void {
    this.gc.addListener(l);
  }

  removeSyncListener(l: SyncListener): void {
    this.gc.removeListener(l);
  }

  flush(): void {
    if (!this.closed) this.gc.flushNow();
  }
}
