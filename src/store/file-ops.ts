/**
 * The file-system calls the file store makes, behind an interface so tests can inject failures
 * (ENOSPC on the n-th write, EIO on fsync) without a full disk. Writes and reads are synchronous
 * (page-cache speed, and the error is known in the same turn); fsyncs are asynchronous (thread pool).
 */
import fs from 'node:fs';

export interface FileOps {
  openSync(path: string, flags: string): number;
  closeSync(fd: number): void;
  /** Positional write; returns bytes written (may be short). */
  writeSync(fd: number, buf: Buffer, off: number, len: number, pos: number): number;
  readSync(fd: number, buf: Buffer, off: number, len: number, pos: number): number;
  /** Positional read on the thread pool. */
  read(fd: number, buf: Buffer, off: number, len: number, pos: number, cb: (err: Error | null, bytesRead: number) => void): void;
  fstatSize(fd: number): number;
  ftruncateSync(fd: number, len: number): void;
  fdatasync(fd: number, cb: (err: Error | null) => void): void;
  /** fsync a directory so created/renamed/unlinked entries are durable. */
  fsyncDir(path: string, cb: (err: Error | null) => void): void;
  unlinkSync(path: string): void;
  /** Asynchronous unlink (freeing a large file's extents can take tens of ms); ENOENT is not an error. */
  unlink(path: string, cb: (err: Error | null) => void): void;
  /** rename; ENOENT is not an error (returns false). */
  renameSync(from: string, to: string): boolean;
  readdirSync(path: string): string[];
  mkdirSync(path: string): void;
  rmSync(path: string): void;
  existsSync(path: string): boolean;
}

export const nodeFileOps: FileOps = {
  openSync: (p, f) => fs.openSync(p, f),
  closeSync: (fd) => fs.closeSync(fd),
  writeSync: (fd, b, o, l, p) => fs.writeSync(fd, b, o, l, p),
  readSync: (fd, b, o, l, p) => fs.readSync(fd, b, o, l, p),
  read: (fd, b, o, l, p, cb) => fs.read(fd, b, o, l, p, (e, n) => cb(e, n)),
  fstatSize: (fd) => fs.fstatSync(fd).size,
  ftruncateSync: (fd, l) => fs.ftruncateSync(fd, l),
  fdatasync: (fd, cb) => fs.fdatasync(fd, (e) => cb(e)),
  fsyncDir: (p, cb) => {
    fs.open(p, 'r', (err, fd) => {
      if (err) { cb(err); return; }
      fs.fsync(fd, (e) => fs.close(fd, () => cb(e)));
    });
  },
  unlinkSync: (p) => { try { fs.unlinkSync(p); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; } },
  unlink: (p, cb) => fs.unlink(p, (e) => cb(e !== null && e.code !== 'ENOENT' ? e : null)),
  renameSync: (a, b) => {
    try {
      fs.renameSync(a, b);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  },
  readdirSync: (p) => { try { return fs.readdirSync(p); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []; throw e; } },
  mkdirSync: (p) => { fs.mkdirSync(p, { recursive: true }); },
  rmSync: (p) => fs.rmSync(p, { recursive: true, force: true }),
  existsSync: (p) => fs.existsSync(p),
};

/** The content of an open file from offset 0 to its size (shorter if it shrank meanwhile). */
export function readWhole(ops: FileOps, fd: number): Buffer {
  const size = ops.fstatSize(fd);
  const buf = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const r = ops.readSync(fd, buf, got, size - got, got);
    if (r === 0) break;
    got += r;
  }
  return got === size ? buf : buf.subarray(0, got);
}
