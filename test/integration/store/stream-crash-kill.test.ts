/**
 * kill -9 at random moments, many rounds: a child process (stream-crash-child.ts) appends to a
 * stream whose records are shared with a queue that acks most of them, and prints only what
 * afterSync reported durable. After each kill the stream must hold every confirmed message at the
 * offset it was given, offsets must be dense and ids increasing (nothing lost in the middle, nothing
 * invented), and the tracked offset must be at least the last one reported durable.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../../src/store/file-store.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'stream-crash-child.ts');

interface Facts {
  confirmed: Map<number, number>;
  tracked: number;
}

function runAndKill(dir: string, round: number, facts: Facts): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, dir, String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | undefined;
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'READY') {
          killTimer = setTimeout(() => p.kill('SIGKILL'), 50 + Math.random() * 300);
          continue;
        }
        const [kind, a, b] = line.split(' ');
        if (kind === 'C') facts.confirmed.set(Number(a), Number(b));
        else if (kind === 'K') facts.tracked = Math.max(facts.tracked, Number(a));
      }
    });
    p.on('exit', (code, signal) => {
      if (killTimer) clearTimeout(killTimer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`child exited with ${code}: ${stderr}`));
    });
  });
}

describe('stream under kill -9', () => {
  it('keeps every confirmed message at its offset, densely, across random kills', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'warren-stream-crash-'));
    try {
      const facts: Facts = { confirmed: new Map(), tracked: -1 };
      for (let round = 1; round <= 6; round++) {
        await runAndKill(dir, round, facts);
        const s = await FileStore.open({ dir, segmentSize: 16 * 1024 });
        try {
          const st = s.stream('s');
          const r = st.reader(0);
          r.credit = 1e9;
          let expectOffset = 0;
          let lastId = -1;
          const seen = new Map<number, number>();
          while (r.next()) {
            expect(r.offset).toBe(expectOffset++);
            const id = r.payload().readUInt32LE(0);
            expect(id).toBeGreaterThan(lastId);
            expect(Math.floor(id / 1_000_000)).toBeLessThanOrEqual(round);
            lastId = id;
            seen.set(r.offset, id);
          }
          expect(expectOffset).toBe(st.nextOffset);
          for (const [offset, id] of facts.confirmed) expect(seen.get(offset), `confirmed offset ${offset}`).toBe(id);
          expect(st.trackedOffset('c') ?? -1).toBeGreaterThanOrEqual(facts.tracked);
          // offsets not confirmed may be reused by the next round: forget them
          for (const offset of facts.confirmed.keys()) if (!seen.has(offset)) facts.confirmed.delete(offset);
        } finally {
          await s.close();
        }
      }
      expect(facts.confirmed.size).toBeGreaterThan(0);
      console.log(`stream crash rounds: ${facts.confirmed.size} confirmed messages checked, tracked offset ${facts.tracked}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
