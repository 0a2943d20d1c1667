/**
 * A small tmpfs for the full-disk test (needs root and Linux; `mountTmpfs` returns a reason to skip
 * otherwise). tmpfs can be grown in place (`mount -o remount,size=...`), which models an operator
 * freeing disk space without moving the broker's files.
 * Invariant: `unmount()` always leaves no mount behind (lazy unmount when files are still open).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Tmpfs {
  readonly dir: string;
  /** Change the size limit in place (grow it to "free" space). */
  resize(bytes: number): void;
  unmount(): void;
}

export function mountTmpfs(bytes: number): Tmpfs | { skip: string } {
  if (process.platform !== 'linux') return { skip: 'tmpfs needs Linux' };
  if (process.getuid?.() !== 0) return { skip: 'mounting a tmpfs needs root' };
  const dir = mkdtempSync(path.join(tmpdir(), 'warren-fulldisk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err: unknown) {
    rmdirSync(dir);
    return { skip: `mount -t tmpfs failed: ${(err as Error).message.split('\n')[0] ?? ''}` };
  }
  let mounted = true;
  return {
    dir,
    resize(n: number) {
      execFileSync('mount', ['-o', `remount,size=${n}`, dir], { stdio: 'pipe' });
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      }
      rmdirSync(dir);
    },
  };
}
