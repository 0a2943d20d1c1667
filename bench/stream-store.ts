/**
 * Store-level stream benchmark (no broker, no sockets): what the stream log costs by itself.
 * Measured, never asserted.
 *
 *   node dist/bench/stream-store.js [--messages 1000000] [--size 100] [--batch 1000] [--readers 5]
 *
 * 1. append to a stream only (record + 16-byte entry), afterSync every `batch` messages
 * 2. fanout to a stream and a durable queue, the record shared (the design: the body written once)
 * 3. the alternative design for comparison: the stream keeps its own copy (two records per message)
 * 4. `readers` cursors replaying the whole stream from offset 0 side by side, payload read and
 *    checksummed, with peak RSS (bounded: one chunk buffer and one run buffer per reader)
 * 5. recovery of the stream after an unclean stop (open time)
 * Reports msg/s, bytes written per message (from the data directory) and RSS.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { FileStore } from '../src/store/file-store.js';
import type { Store } from '../src/store/store.js';

interface Options { messages: number; size: number; batch: number; readers: number }

function diskBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

function rssMiB(): number {
  return Math.round(process.memoryUsage.rss() / 1048576);
}

function synced(s: Store): Promise<void> {
  return new Promise((resolve, reject) => s.afterSync((e) => (e ? reject(e) : resolve())));
}

async function appendRun(dir: string, o: Options, mode: 'stream' | 'shared' | 'copy'): Promise<Record<string, number>> {
  const s = await FileStore.open({ dir });
  const st = s.stream('bench');
  const q = s.queue('q');
  const meta = Buffer.alloc(36, 1);
  const body = Buffer.alloc(o.size, 0x61);
  const t0 = performance.now();
  for (let i = 0; i < o.messages; i++) {
    const ref = s.append([meta, body]);
    const size = meta.length + body.length;
    st.append(ref, size, i % 4 === 0 ? 'even' : undefined);
    if (mode === 'shared') q.enqueue(ref, size);
    else if (mode === 'copy') q.enqueue(s.append([meta, body]), size);
    if (i % o.batch === o.batch - 1) await synced(s);
  }
  await synced(s);
  const secs = (performance.now() - t0) / 1000;
  const bytes = diskBytes(dir);
  const out = { msgPerSec: Math.round(o.messages / secs), bytesPerMsg: Math.round(bytes / o.messages), rssMiB: rssMiB() };
  await s.close();
  return out;
}

async function readRun(dir: string, o: Options): Promise<Record<string, number>> {
  const s = await FileStore.open({ dir });
  const st = s.stream('bench');
  const readers = Array.from({ length: o.readers }, () => st.reader(0));
  const counts = new Array<number>(o.readers).fill(0);
  let peak = rssMiB();
  let bytes = 0;
  const t0 = performance.now();
  let active = readers.length;
  while (active > 0) {
    active = 0;
    for (let k = 0; k < readers.length; k++) {
      const r = readers[k]!;
      r.credit = 1000; // a consumer's prefetch worth at a time, round robin: like consumers at one speed
      let n = 0;
      while (r.next()) {
        bytes += r.payload().length;
        n++;
      }
      counts[k]! += n;
      if (n > 0) active++;
    }
    const rss = rssMiB();
    if (rss > peak) peak = rss;
    await new Promise((r) => setImmediate(r));
  }
  const secs = (performance.now() - t0) / 1000;
  await s.close();
  return {
    totalMsgPerSec: Math.round(counts.reduce((a, b) => a + b, 0) / secs),
    perReaderMsgPerSec: Math.round(counts[0]! / secs),
    mibPerSec: Math.round(bytes / secs / 1048576),
    peakRssMiB: peak,
    messagesPerReader: counts[0]!,
  };
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--messages <n>', 'messages', (v) => Number(v), 1_000_000)
    .option('--size <n>', 'body bytes', (v) => Number(v), 100)
    .option('--batch <n>', 'messages per afterSync', (v) => Number(v), 1000)
    .option('--readers <n>', 'cursors replaying from 0', (v) => Number(v), 5)
    .parse().opts<Options>();
  const results: Record<string, Record<string, number>> = {};
  for (const mode of ['stream', 'shared', 'copy'] as const) {
    const dir = await mkdtemp(join(tmpdir(), 'warren-bench-stream-'));
    try {
      results[`append ${mode}`] = await appendRun(dir, o, mode);
      if (mode === 'stream') {
        results['replay'] = await readRun(dir, o);
        const t0 = performance.now();
        const s = await FileStore.open({ dir });
        results['recovery'] = { millis: Math.round(performance.now() - t0), messages: s.recovery.streamMessages, rssMiB: rssMiB() };
        await s.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  console.log(JSON.stringify({ options: o, results }, null, 2));
}

await main();
