/**
 * One file written append-only at explicit positions, with a pending buffer of bytes not yet handed
 * to the OS. Mutations reserve room in the buffer (no allocation per record); `flush` writes the
 * whole buffer with one positional write (looping on short writes). A failed write keeps the unwritten
 * bytes pending: the retry writes the same bytes at the same position, so it is idempotent and a
 * partial record left by ENOSPC is overwritten (or cut by the checksum rule after a crash).
 * Invariant: file length as we know it == `written`; logical length == written + len.
 */
import path from 'node:path';
import type { FileOps } from './file-ops.js';

/** What the files of one store share: file ops, pending/dirty sets and the deferred-close list. */
export class FileContext {
  /** Files with pending (unwritten) bytes. */
  readonly pending = new Set<AppendFile>();
  /** Files written since the last sync started (need fdatasync). */
  readonly dirty = new Set<AppendFile>();
  /** Directories with created/removed entries since the last sync started. */
  readonly dirtyDirs = new Set<string>();
  /** fds to close once the sync in flight (which may be using them) is done. */
  readonly closeLater: number[] = [];
  syncing = false;
  /** Files with an open fd, least recently opened first (a long backlog must not pin one fd per file). */
  readonly open = new Set<AppendFile>();

  constructor(
    readonly ops: FileOps,
    readonly maxOpenFiles = 256,
  ) {}

  /** Track an open file; close idle ones (nothing pending, nothing to fsync) beyond the limit. */
  noteOpen(f: AppendFile): void {
    this.open.delete(f);
    this.open.add(f);
    if (this.open.size <= this.maxOpenFiles) return;
    const target = Math.floor(this.maxOpenFiles * 0.9);
    for (const g of this.open) {
      if (this.open.size <= target) break;
      if (g === f || g.len > 0 || this.dirty.has(g)) continue;
      g.closeFd();
    }
  }

  private unlinks = 0;
  private trashCounter = 0;
  private unlinkWaiters: Array<() => void> = [];

  /**
   * Delete a file without blocking the event loop: unlinking a file whose pages are under writeback
   * waits for that writeback (measured: up to tens of ms each under fsync load). The file is first
   * renamed to a unique `*.del` name (cheap, and the old name can be reused at once), then unlinked
   * on the thread pool. Recovery deletes leftover `*.del` files.
   */
  unlinkAsync(file: string, onError: (err: Error) => void): void {
    const trash = `${file}.${++this.trashCounter}.del`;
    let renamed: boolean;
    try {
      renamed = this.ops.renameSync(file, trash);
    } catch (e) {
      onError(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (!renamed) return; // never created (nothing was flushed)
    this.dirtyDirs.add(path.dirname(file));
    this.unlinks++;
    this.ops.unlink(trash, (err) => {
      if (err !== null) onError(err);
      if (--this.unlinks === 0 && this.unlinkWaiters.length > 0) for (const w of this.unlinkWaiters.splice(0)) w();
    });
  }

  /** Resolves once no asynchronous unlink is in flight. */
  unlinked(): Promise<void> {
    if (this.unlinks === 0) return Promise.resolve();
    return new Promise((resolve) => this.unlinkWaiters.push(resolve));
  }

  private readonly pins = new Map<number, number>();
  private readonly closeWhenUnpinned = new Set<number>();
  private pinned = 0;
  private pinWaiters: Array<() => void> = [];

  /** An asynchronous read uses fd: closing it is deferred until unpin. */
  pin(fd: number): void {
    this.pins.set(fd, (this.pins.get(fd) ?? 0) + 1);
    this.pinned++;
  }

  unpin(fd: number): void {
    const n = (this.pins.get(fd) ?? 1) - 1;
    if (n > 0) this.pins.set(fd, n);
    else {
      this.pins.delete(fd);
      if (this.closeWhenUnpinned.delete(fd)) this.closeFd(fd);
    }
    if (--this.pinned === 0 && this.pinWaiters.length > 0) for (const w of this.pinWaiters.splice(0)) w();
  }

  /** Resolves once no asynchronous read is in flight. */
  readsDone(): Promise<void> {
    if (this.pinned === 0) return Promise.resolve();
    return new Promise((resolve) => this.pinWaiters.push(resolve));
  }

  /** Close fd now, or once the sync or reads in flight that may use it are done. */
  closeFd(fd: number): void {
    if (fd < 0) return;
    if (this.pins.has(fd)) this.closeWhenUnpinned.add(fd);
    else if (this.syncing) this.closeLater.push(fd);
    else this.ops.closeSync(fd);
  }
}

const KEEP_CAPACITY = 1 << 20;
const EMPTY = Buffer.alloc(0);

export class AppendFile {
  fd = -1;
  buf: Buffer;
  /** Pending bytes in buf. */
  len = 0;
  private exists: boolean;

  constructor(
    readonly ctx: FileContext,
    readonly path: string,
    /** Bytes already in the file. */
    public written: number,
    exists: boolean,
    private readonly initialCapacity = 256,
  ) {
    this.exists = exists;
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  get size(): number {
    return this.written + this.len;
  }

  /** Reserve n bytes at the end; returns their offset in `buf` (valid until the next reserve/flush). */
  reserve(n: number): number {
    const need = this.len + n;
    if (need > this.buf.length) {
      let cap = Math.max(this.buf.length * 2, this.initialCapacity);
      while (cap < need) cap *= 2;
      const b = Buffer.allocUnsafe(cap);
      this.buf.copy(b, 0, 0, this.len);
      this.buf = b;
    }
    if (this.len === 0) this.ctx.pending.add(this);
    const off = this.len;
    this.len = need;
    return off;
  }

  /** Open the fd if needed (creating the file the first time). */
  open(): number {
    if (this.fd < 0) {
      this.fd = this.ctx.ops.openSync(this.path, this.exists ? 'r+' : 'w+');
      if (!this.exists) this.ctx.dirtyDirs.add(path.dirname(this.path));
      this.exists = true;
      this.ctx.noteOpen(this);
    }
    return this.fd;
  }

  /** Take over an fd opened by recovery. */
  adoptFd(fd: number): void {
    this.fd = fd;
    this.ctx.noteOpen(this);
  }

  /** Write all pending bytes; throws the write error with the unwritten rest still pending. */
  flush(): void {
    if (this.len === 0) {
      this.ctx.pending.delete(this);
      return;
    }
    const fd = this.open();
    let off = 0;
    try {
      while (off < this.len) {
        off += this.ctx.ops.writeSync(fd, this.buf, off, this.len - off, this.written + off);
      }
    } finally {
      if (off > 0) {
        if (off < this.len) this.buf.copy(this.buf, 0, off, this.len);
        this.len -= off;
        this.written += off;
        this.ctx.dirty.add(this);
      }
      if (this.len === 0) {
        this.ctx.pending.delete(this);
        if (this.buf.length > KEEP_CAPACITY) this.buf = Buffer.allocUnsafe(this.initialCapacity);
      }
    }
  }

  /**
   * Drop the pending buffer of a file that will not be written again (a closed segment): many
   * retained segments must not each pin their last buffer (up to 1 MiB). It comes back if needed.
   */
  releaseBuffer(): void {
    if (this.len === 0 && this.buf.length > 0) this.buf = EMPTY;
  }

  /** Copy `n` bytes at file position `pos` (file or pending part) into `into`. */
  readAt(pos: number, into: Buffer, intoOff: number, n: number): void {
    let done = 0;
    if (pos < this.written) {
      const fromFile = Math.min(n, this.written - pos);
      const fd = this.open();
      while (done < fromFile) {
        const r = this.ctx.ops.readSync(fd, into, intoOff + done, fromFile - done, pos + done);
        if (r === 0) break;
        done += r;
      }
      if (done < fromFile) throw new Error(`short read in ${this.path} at ${pos}`);
    }
    if (done < n) {
      const bufPos = pos + done - this.written;
      this.buf.copy(into, intoOff + done, bufPos, bufPos + (n - done));
    }
  }

  /** Forget pending bytes and close (the file is being deleted). */
  discard(): void {
    this.len = 0;
    this.ctx.pending.delete(this);
    this.ctx.dirty.delete(this);
    this.ctx.open.delete(this);
    const fd = this.fd;
    this.fd = -1;
    this.ctx.closeFd(fd);
  }

  /** Close the fd only (reads reopen it). Caller ensures nothing is pending. */
  closeFd(): void {
    const fd = this.fd;
    this.fd = -1;
    this.ctx.dirty.delete(this);
    this.ctx.open.delete(this);
    this.ctx.closeFd(fd);
  }
}
