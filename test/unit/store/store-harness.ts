/**
 * The Store implementations the conformance suites run against (memory, file, file with most of the
 * index on disk; for streams: memory and file with small segments), each behind a Harness that
 * reopens the same location to model a restart; and the stream suites' small helpers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileStore } from '../../../src/store/file-store.js';
import { MemoryBackend, MemoryStore } from '../../../src/store/memory-store.js';
import type { Store } from '../../../src/store/store.js';
import type { StreamLog, StreamReader } from '../../../src/store/stream.js';

export interface Harness {
  /** Open the store on the harness's persistent location (a restart when called again). */
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

export type HarnessFactory = () => Promise<Harness>;

export const STORE_IMPLEMENTATIONS: Array<[string, HarnessFactory]> = [
  [
    'memory',
    async () => {
      const backend = new MemoryBackend();
      return { open: async () => MemoryStore.open({ backend, indexEntriesPerSegment: 8 }), cleanup: async () => {} };
    },
  ],
  [
    'file',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'warren-store-'));
      return {
        open: () => FileStore.open({ dir, segmentSize: 2048, indexEntriesPerSegment: 8 }),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
  [
    'file, index mostly on disk',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'warren-store-'));
      return {
        // 16 resident entries with 4 per chunk: most chunks are evicted and reloaded all the time
        open: () => FileStore.open({ dir, segmentSize: 2048, indexEntriesPerSegment: 4, indexMemoryEntries: 16 }),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
];

export function synced(store: Store): Promise<void> {
  return new Promise((resolve, reject) => store.afterSync((err) => (err ? reject(err) : resolve())));
}

export const STREAM_IMPLEMENTATIONS: Array<[string, HarnessFactory]> = [
  [
    'memory',
    async () => {
      const backend = new MemoryBackend();
      return { open: async () => MemoryStore.open({ backend }), cleanup: async () => {} };
    },
  ],
  [
    'file',
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'warren-stream-'));
      return {
        open: () => FileStore.open({ dir, segmentSize: 4096 }),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
];

export function pub(store: Store, st: StreamLog, body: string, filter?: string): number {
  const ref = store.append([Buffer.from(body)]);
  return st.append(ref, Buffer.byteLength(body), filter);
}

export function readAll(r: StreamReader): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  r.credit = 1_000_000;
  while (r.next()) out.push([r.offset, r.payload().toString()]);
  return out;
}

export function bodiesFrom(st: StreamLog, offset: number): string[] {
  const r = st.reader(offset);
  const out = readAll(r).map(([, b]) => b);
  r.close();
  return out;
}
