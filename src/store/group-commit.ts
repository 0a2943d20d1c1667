/**
 * Group commit: write sequence numbers, the durable watermark and the sync waiters.
 * Mutations only bump `writeSeq` and schedule one flush at the end of the turn (setImmediate).
 * A sync batch = flush pending bytes to the OS, then one fdatasync per dirty file in parallel.
 * The next batch starts only when the previous one finished, so under load a batch grows by
 * itself (everything that arrived during the previous fsync) without any fixed sleep.
 * Waiters are two parallel arrays (seq, callback): no object and no Promise per message.
 */
import type { SyncCallback, SyncListener } from './store.js';

export interface SyncIo {
  /** Write pending bytes to the OS; return the first error (the bytes stay pending) or null. */
  flush(): Error | null;
  /** fdatasync everything written so far; cb once done (async). */
  sync(cb: (err: Error | null) => void): void;
  /**
   * After the end-of-turn flush: does something flushed need a sync even if nobody waits for it?
   * (Stream chunks become visible to readers only once synced.)
   */
  needsSync?(): boolean;
}

export class GroupCommit {
  writeSeq = 0;
  durableSeq = 0;
  /** writeSeq as of the last flush that succeeded: what a sync can make durable. */
  private flushedSeq = 0;
  syncs = 0;
  private readonly waitSeqs: number[] = [];
  private readonly waitCbs: SyncCallback[] = [];
  private waitHead = 0;
  private readonly listeners: SyncListener[] = [];
  private syncing = false;
  private wanted = false;
  private flushScheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly io: SyncIo) {}

  /** One mutation happened: take a sequence number and make sure a flush runs this turn. */
  bump(): number {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.onImmediate);
    }
    return ++this.writeSeq;
  }

  private readonly onImmediate = (): void => {
    this.flushScheduled = false;
    this.flushNow();
    if (this.io.needsSync?.() === true) this.requestSync();
  };

  /**
   * Flush now. On failure the waiters whose writes were not handed to the OS (seq > flushedSeq)
   * get the error; those already flushed keep waiting for their fsync. Returns the error.
   */
  flushNow(): Error | null {
    const err = this.io.flush();
    if (err === null) this.flushedSeq = this.writeSeq;
    else this.fail(err, this.flushedSeq, this.writeSeq);
    return err;
  }

  afterSync(cb: SyncCallback): void {
    this.waitSeqs.push(this.writeSeq);
    this.waitCbs.push(cb);
    this.requestSync();
  }

  requestSync(): void {
    if (this.syncing) {
      this.wanted = true;
      return;
    }
    this.flushNow();
    this.maybeStartSync();
  }

  /** Start a batch if something flushed is not yet durable or a waiter is covered by what was flushed. */
  private maybeStartSync(): void {
    if (this.syncing) return;
    const head = this.waitHead < this.waitSeqs.length ? this.waitSeqs[this.waitHead]! : Infinity;
    if (this.flushedSeq > this.durableSeq || head <= this.flushedSeq) this.startSync();
  }

  addListener(l: SyncListener): void {
    this.listeners.push(l);
  }

  removeListener(l: SyncListener): void {
    const i = this.listeners.indexOf(l);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  get busy(): boolean {
    return this.syncing;
  }

  /** Resolves once no sync is in flight. */
  idle(): Promise<void> {
    if (!this.syncing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private startSync(): void {
    this.syncing = true;
    this.wanted = false;
    const target = this.flushedSeq;
    this.io.sync((err) => {
      this.syncing = false;
      this.syncs++;
      if (err !== null) this.fail(err, -1, target);
      else this.succeed(target);
      if (this.idleWaiters.length > 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of w) f();
      }
      if (this.syncing) return; // a callback started one
      if (this.wanted || this.waitHead < this.waitSeqs.length) {
        this.wanted = false;
        this.flushNow();
        this.maybeStartSync();
      }
    });
  }

  private succeed(target: number): void {
    if (target > this.durableSeq) this.durableSeq = target;
    const seqs = this.waitSeqs;
    let i = this.waitHead;
    while (i < seqs.length && seqs[i]! <= target) i++;
    // Detach before calling: a callback may register or fail waiters (one small array per batch).
    const ready = this.waitCbs.slice(this.waitHead, i);
    this.waitHead = i;
    this.compact();
    for (let j = 0; j < ready.length; j++) ready[j]!(null);
    for (const l of this.listeners) l(this.durableSeq, null, this.durableSeq);
  }

  /** Fail the waiters with after < seq <= upTo (a rare path: splice is fine). */
  private fail(err: Error, after: number, upTo: number): void {
    const seqs = this.waitSeqs;
    let i0 = this.waitHead;
    while (i0 < seqs.length && seqs[i0]! <= after) i0++;
    let i1 = i0;
    while (i1 < seqs.length && seqs[i1]! <= upTo) i1++;
    const failed = this.waitCbs.splice(i0, i1 - i0);
    seqs.splice(i0, i1 - i0);
    for (const cb of failed) cb(err);
    this.compact();
    for (const l of this.listeners) l(this.durableSeq, err, upTo);
  }

  private compact(): void {
    if (this.waitHead === this.waitSeqs.length) {
      this.waitSeqs.length = 0;
      this.waitCbs.length = 0;
      this.waitHead = 0;
    } else if (this.waitHead > 1024 && this.waitHead * 2 > this.waitSeqs.length) {
      this.waitSeqs.splice(0, this.waitHead);
      this.waitCbs.splice(0, this.waitHead);
      this.waitHead = 0;
    }
  }
}
