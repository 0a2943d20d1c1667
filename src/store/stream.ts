/**
 * The stream contract: an append-only log of message references per stream, addressed by offset.
 * Knows nothing of AMQP: a stream entry is a message record of the shared message log (MsgRef +
 * size, see store.ts), an optional filter value and the timestamp of its chunk.
 *
 * Why streams reference message-log records instead of storing their own copy: a message routed to
 * a stream and to durable classic queues is then written once (one record, N+1 references), as
 * DESIGN.md requires for every fanout, and the stream's own files stay small (16 bytes per message
 * plus a chunk header), so recovery reads index bytes, never bodies. Measured with
 * bench/stream-store.ts (figures in src/store/README.md): sharing halves the bytes written for a
 * stream + queue fanout of 1 KiB messages and triples its append rate against a private copy.
 *
 * Invariants every implementation keeps:
 * - Offsets are dense: the n-th message ever appended gets offset n-1, across restarts; retention
 *   only moves `firstOffset` forward (whole segments at a time, never the segment being written).
 * - Messages appended in one turn form one chunk (at most MAX_CHUNK_ENTRIES), closed when the store
 *   flushes; a chunk carries one timestamp and a small Bloom filter of its entries' filter values.
 * - Readers only see committed chunks: closed *and* fsynced (`committedEnd`). An offset handed to a
 *   consumer is therefore never reused by another message after a crash.
 * - Appends take a write sequence number like every store mutation (group commit): a publisher
 *   confirm waits for `afterSync`, which covers the record, the stream entry and its chunk.
 * - Readers are cursors (position + credit): bounded memory whatever the backlog, reading chunks
 *   sequentially and records in runs.
 */
import type { MsgRef } from './store.js';

/** Per-stream settings (RabbitMQ's x-max-length-bytes, x-max-age, x-stream-max-segment-size-bytes, x-stream-filter-size-bytes). */
export interface StreamSettings {
  /** Retention by size: the oldest segments are dropped while the stream is larger. */
  readonly maxBytes?: number | undefined;
  /** Retention by age (ms): a segment whose newest chunk is older is dropped. */
  readonly maxAgeMs?: number | undefined;
  /** A segment is closed once it covers this many bytes (default 500,000,000 as RabbitMQ). */
  readonly maxSegmentBytes?: number | undefined;
  /** Bloom filter bytes per chunk, 16..255 (default 16 as RabbitMQ). */
  readonly filterBytes?: number | undefined;
}

/** Settings in effect (defaults filled in). */
export interface EffectiveStreamSettings {
  readonly maxBytes: number | undefined;
  readonly maxAgeMs: number | undefined;
  readonly maxSegmentBytes: number;
  readonly filterBytes: number;
}

export const DEFAULT_MAX_SEGMENT_BYTES = 500_000_000;
export const DEFAULT_FILTER_BYTES = 16;
export const MIN_FILTER_BYTES = 16;
export const MAX_FILTER_BYTES = 255;
/** Entries per chunk at most (a chunk is read whole by a reader: 16 bytes each). */
export const MAX_CHUNK_ENTRIES = 4096;

export interface StreamStats {
  readonly firstOffset: number;
  readonly nextOffset: number;
  readonly committedEnd: number;
  readonly messages: number;
  readonly bytes: number;
  readonly segments: number;
  readonly chunks: number;
}

/**
 * One stream. `firstOffset <= committedEnd <= nextOffset`; messages = nextOffset - firstOffset.
 */
export interface StreamLog {
  readonly name: string;
  /** Oldest retained offset (equals nextOffset when the stream is empty). */
  readonly firstOffset: number;
  /** Offset the next append gets. */
  readonly nextOffset: number;
  /** Offsets below this are durable and visible to readers. */
  readonly committedEnd: number;
  /** First offset of the last committed chunk (RabbitMQ's `last`), committedEnd when there is none. */
  readonly lastChunkOffset: number;
  /** Bytes retained: record bytes referenced plus the stream's own index bytes. */
  readonly bytes: number;
  readonly segmentCount: number;
  readonly settings: EffectiveStreamSettings;

  /** Change retention or segment settings (policies); retention is applied at once. */
  configure(settings: StreamSettings): void;
  /**
   * Add a reference to message record `ref` (payload `size` bytes, from Store.append in the same
   * turn). Returns its offset. `filterValue` is the publisher's x-stream-filter-value, if any.
   */
  append(ref: MsgRef, size: number, filterValue?: string): number;
  /** Drop whole segments beyond the retention limits (never the one being written). Returns messages dropped. */
  applyRetention(now?: number): number;
  /** First committed offset whose chunk is not older than `ms` (epoch ms); committedEnd if none. */
  offsetForTimestamp(ms: number): number;
  /** A cursor at `offset` (at least firstOffset; beyond the end it waits for that offset) with no credit. */
  reader(offset: number): StreamReader;

  /** Server-side offset tracking: remember `offset` for `name` (durable with the next sync). */
  trackOffset(name: string, offset: number): void;
  /** The last offset tracked for `name`. */
  trackedOffset(name: string): number | undefined;
  /** Forget `name`'s tracked offset. */
  untrack(name: string): void;
  trackedNames(): string[];

  /** Called after a sync made more chunks visible (committedEnd grew). One call per sync batch. */
  onCommit: ((committedEnd: number) => void) | undefined;
  stats(): StreamStats;
}

/**
 * A cursor over committed entries. `next()` moves to the next entry at or after `position` that
 * passes the filter, consuming one credit; it returns false when credit is 0 or the committed end is
 * reached (call again after `onCommit`). Entries dropped by retention are skipped: the cursor jumps to
 * `firstOffset`. One object is reused for every step.
 */
export interface StreamReader {
  /** Offset the next call to next() starts from. */
  readonly position: number;
  /** Entries next() may still return (a consumer's prefetch minus its unacked deliveries). */
  credit: number;
  /**
   * Deliver only entries whose filter value is one of `values` (and, with `matchUnfiltered`,
   * entries without a value). Whole chunks are skipped with their Bloom filter; entries are checked
   * by a 32-bit hash of the value, so a rare false positive is possible: clients re-check, as with
   * RabbitMQ. `undefined` removes the filter.
   */
  setFilter(values: readonly string[] | undefined, matchUnfiltered: boolean): void;
  next(): boolean;
  readonly offset: number;
  readonly ref: MsgRef;
  readonly size: number;
  /** Timestamp (epoch ms) of the entry's chunk. */
  readonly timestamp: number;
  /** The current entry's record payload (checksummed); adjacent records are read in one run. */
  payload(): Buffer;
  /** Release buffers; the reader is unusable afterwards. */
  close(): void;
}

/**
 * What a stream needs from the message records it references (the message log, or the memory
 * store's record map): reference counting by "segment" and reads.
 */
export interface StreamRecordSource {
  /** The unit references are counted in (file store: the message segment id; memory: the ref). */
  segmentOf(ref: MsgRef): number;
  addRefs(segment: number, n: number): void;
  releaseRefs(segment: number, n: number): void;
  /** Is the record present and complete? (Recovery check of unsealed stream segments.) */
  validate(ref: MsgRef, size: number): boolean;
  /** Do records a and b lie back to back (b right after a's payload) so one read can get both? */
  adjacent(refA: MsgRef, sizeA: number, refB: MsgRef): boolean;
  /** Raw bytes of `count` adjacent records starting at `ref`, `len` bytes in all (headers included). */
  readRun(ref: MsgRef, len: number): Buffer;
  /** Payload of the record at `at` in a run buffer (checksum verified), or of a single record. */
  payloadIn(run: Buffer, at: number, size: number, ref: MsgRef): Buffer;
  /** Bytes one record takes in a run besides its payload (the record header). */
  readonly recordOverhead: number;
}
