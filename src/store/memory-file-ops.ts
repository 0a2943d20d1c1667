/**
 * FileOps over memory: files are growable buffers in a map, so code written for files (the stream
 * log) runs unchanged in the memory store. The files live as long as the object, which the memory
 * store keeps in its MemoryBackend: reopening a store on the same backend models a restart, and
 * whatever was not flushed (pending buffers) is lost as in a crash. Syncs complete at once.
 */
import path from 'node:path';
import type { FileOps } from './file-ops.js';

interface MemFile {
  data: Buffer;
  size: number;
}

function enoent(p: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`ENOENT: no such file or directory, '${p}'`);
  e.code = 'ENOENT';
  return e;
}

export class MemoryFileOps implements FileOps {
  private readonly files = new Map<string, MemFile>();
  private readonly dirs = new Set<string>();
  private readonly fds = new Map<number, MemFile>();
  private nextFd = 3;

  /** Bytes held by all files (for stats). */
  get bytes(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.size;
    return n;
  }

  private file(fd: number): MemFile {
    const f = this.fds.get(fd);
    if (f === undefined) throw new Error(`EBADF: bad file descriptor ${fd}`);
    return f;
  }

  openSync(p: string, flags: string): number {
    let f = this.files.get(p);
    if (f === undefined) {
      if (flags === 'r' || flags === 'r+') throw enoent(p);
      f = { data: Buffer.alloc(256), size: 0 };
      this.files.set(p, f);
    } else if (flags.startsWith('w')) {
      f.size = 0;
    }
    const fd = this.nextFd++;
    this.fds.set(fd, f);
    return fd;
  }

  closeSync(fd: number): void {
    this.fds.delete(fd);
  }

  writeSync(fd: number, buf: Buffer, off: number, len: number, pos: number): number {
    const f = this.file(fd);
    const end = pos + len;
    if (end > f.data.length) {
      let cap = f.data.length * 2;
      while (cap < end) cap *= 2;
      const d = Buffer.alloc(cap);
      f.data.copy(d, 0, 0, f.size);
      f.data = d;
    }
    buf.copy(f.data, pos, off, off + len);
    if (end > f.size) f.size = end;
    return len;
  }

  readSync(fd: number, buf: Buffer, off: number, len: number, pos: number): number {
    const f = this.file(fd);
    const n = Math.max(0, Math.min(len, f.size - pos));
    f.data.copy(buf, off, pos, pos + n);
    return n;
  }

  read(fd: number, buf: Buffer, off: number, len: number, pos: number, cb: (err: Error | null, bytesRead: number) => void): void {
    let n = 0;
    let err: Error | null = null;
    try {
      n = this.readSync(fd, buf, off, len, pos);
    } catch (e) {
      err = e as Error;
    }
    setImmediate(cb, err, n);
  }

  fstatSize(fd: number): number {
    return this.file(fd).size;
  }

  ftruncateSync(fd: number, len: number): void {
    const f = this.file(fd);
    if (len < f.size) f.data.fill(0, len, f.size);
    f.size = len;
  }

  fdatasync(_fd: number, cb: (err: Error | null) => void): void {
    setImmediate(cb, null);
  }

  fsyncDir(_p: string, cb: (err: Error | null) => void): void {
    setImmediate(cb, null);
  }

  unlinkSync(p: string): void {
    this.files.delete(p);
  }

  unlink(p: string, cb: (err: Error | null) => void): void {
    this.files.delete(p);
    setImmediate(cb, null);
  }

  renameSync(from: string, to: string): boolean {
    const f = this.files.get(from);
    if (f === undefined) return false;
    this.files.delete(from);
    this.files.set(to, f);
    return true;
  }

  readdirSync(p: string): string[] {
    const out = new Set<string>();
    const prefix = p.endsWith('/') ? p : `${p}/`;
    for (const k of [...this.files.keys(), ...this.dirs]) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      if (rest.length > 0) out.add(rest.split('/')[0]!);
    }
    return [...out];
  }

  mkdirSync(p: string): void {
    for (let d = p; d !== path.dirname(d); d = path.dirname(d)) this.dirs.add(d);
  }

  rmSync(p: string): void {
    const prefix = `${p}/`;
    for (const k of [...this.files.keys()]) if (k === p || k.startsWith(prefix)) this.files.delete(k);
    for (const d of [...this.dirs]) if (d === p || d.startsWith(prefix)) this.dirs.delete(d);
  }

  existsSync(p: string): boolean {
    return this.files.has(p) || this.dirs.has(p);
  }
}
