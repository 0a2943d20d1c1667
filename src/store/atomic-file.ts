/**
 * Replace a small file atomically and durably: write `<file>.tmp`, fsync it, rename over the target,
 * fsync the directory (POSIX rename is atomic; the directory fsync makes the new name durable).
 * A crash leaves either the old or the new content, never a mix; a stale .tmp is ignored on read.
 */
import { open, rename } from 'node:fs/promises';
import path from 'node:path';

export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
