/**
 * A real full disk: the file store on a 2 MiB tmpfs (needs root to mount; skipped otherwise).
 * Fill it until a sync reports ENOSPC, then check that every message confirmed before is still there
 * and readable, that the store reopens on the full file system, and that once space is released the
 * pending bytes are retried and become durable: after a restart each confirmed message is present
 * exactly once and in order, and nothing unreadable was invented.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../../src/store/file-store.js';
import type { Store } from '../../../src/store/store.js';

function tryMount(): string | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'warren-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmdirSync(dir);
    return undefined;
  }
}

const synced = (s: Store): Promise<Error | null> => new Promise((resolve) => s.afterSync(resolve));

function bodiesOf(s: Store, q: string): string[] {
  const out: string[] = [];
  const c = s.queue(q).cursor();
  while (c.next()) out.push(s.readSync(c.ref, c.size).subarray(0, 12).toString('latin1').trim());
  return out;
}

const mountPoint = tryMount();

describe.skipIf(mountPoint === undefined)('file store on a full disk (tmpfs)', () => {
  const dir = mountPoint === undefined ? '' : path.join(mountPoint, 'data');

  afterAll(() => {
    if (mountPoint === undefined) return;
    try {
      execFileSync('umount', [mountPoint], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' }); // fds still open after a failure
    }
    rmdirSync(mountPoint);
  });

  it('nacks on ENOSPC, keeps confirmed data, recovers on the full disk and retries once space is back', async () => {
    const opts = { dir, segmentSize: 128 * 1024, indexEntriesPerSegment: 512 };
    const s = await FileStore.open(opts);
    const confirmed: string[] = [];
    const seqs: number[] = [];
    const body = Buffer.alloc(4000, 0x2e);
    let failure: Error | null = null;
    let n = 0;
    while (failure === null && n < 2000) {
      const batch: string[] = [];
      for (let i = 0; i < 10; i++, n++) {
        const id = `m${String(n).padStart(5, '0')}`.padEnd(12);
        body.write(id, 0, 'latin1');
        seqs.push(s.queue('q').enqueue(s.append([body]), body.length));
        batch.push(id.trim());
      }
      failure = await synced(s);
      if (failure === null) confirmed.push(...batch);
    }
    expect((failure as NodeJS.ErrnoException | null)?.code).toBe('ENOSPC');
    expect(confirmed.length).toBeGreaterThan(100);
    // Everything is readable (the unconfirmed tail from the pending buffers).
    expect(bodiesOf(s, 'q').slice(0, confirmed.length)).toEqual(confirmed);

    // Stop on the still-full disk: close cannot flush the pending tail and says so, but it must
    // leave the files consistent and release its fds (in-process, an abandoned instance would keep
    // deleted segments alive through its fds; a killed process does not).
    await expect(s.close()).rejects.toMatchObject({ code: 'ENOSPC' });
    const s2 = await FileStore.open(opts);
    const recovered = bodiesOf(s2, 'q');
    expect(recovered.slice(0, confirmed.length)).toEqual(confirmed);
    expect(recovered.length).toBeLessThanOrEqual(n);

    // Consume the first 200 (acks release whole segments), then publishing works again.
    const c = s2.queue('q').cursor();
    for (let i = 0; i < 200 && c.next(); i++) s2.queue('q').settle(c.seq);
    let ok: Error | null = null;
    for (let tries = 0; tries < 5; tries++) {
      ok = await synced(s2);
      if (ok === null) break;
    }
    expect(ok).toBeNull();
    body.write('after'.padEnd(12), 0, 'latin1');
    s2.queue('q').enqueue(s2.append([body]), body.length);
    expect(await synced(s2)).toBeNull();
    await s2.close();

    const s3 = await FileStore.open(opts);
    const final = bodiesOf(s3, 'q');
    const expected = [...recovered.slice(200), 'after'];
    expect(final).toEqual(expected);
    expect(new Set(final).size).toBe(final.length);
    await s3.close();
  });
});
