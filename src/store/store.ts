/**
 * The storage contract the broker uses: durable definitions, a shared message log and one queue
 * index per durable queue, with a group-commit durability barrier. Knows nothing of AMQP: messages
 * are opaque byte records, queues are opaque string keys (the broker picks e.g. `vhost + '\0' + name`).
 *
 * Two implementations honour it (MemoryStore, FileStore) and one conformance suite checks both.
 *
 * Invariants every implementation keeps:
 * - A message record is written once whatever the number of queues that reference it (fanout to N
 *   durable queues = 1 append + N enqueues). Its space is released when no live queue entry
 *   references it any more (file store: per segment, see message-log.ts).
 * - Queue entries keep their enqueue order (seq grows by 1 per enqueue within a queue).
 * - Every mutating call (append, enqueue, markDelivered, settle) takes the next write sequence number
 *   (`writeSeq`); `durableSeq` is the highest one known to be on disk. `afterSync(cb)` calls back once
 *   every write made before the call is durable (or failed). The hot path needs no Promise per message.
 * - A failed write (ENOSPC, EIO) never corrupts what is stored: the error goes to the sync waiters,
 *   the pending bytes are kept and retried at the next flush, and what was stored stays readable.
 */
import type { Definitions } from './definitions.js';
import type { StreamLog, StreamSettings } from './stream.js';

/**
 * Where a message record lives. Opaque to the broker: a non-negative safe integer
 * (file store: segmentId * 2^32 + byte offset; memory store: a counter).
 */
export type MsgRef = number;

const TWO_32 = 4294967296;

/** A MsgRef in the 8 bytes of an index or stream entry: its high then low 32 bits, little-endian. */
export function writeRef(b: Buffer, pos: number, ref: MsgRef): void {
  const hi = Math.floor(ref / TWO_32);
  b.writeUInt32LE(hi, pos);
  b.writeUInt32LE(ref - hi * TWO_32, pos + 4);
}

/** The MsgRef written by writeRef at `pos`. */
export function readRef(b: Buffer, pos: number): MsgRef {
  return b.readUInt32LE(pos) * TWO_32 + b.readUInt32LE(pos + 4);
}

/** pino-compatible subset. */
export interface StoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const SILENT_LOGGER: StoreLogger = { info() {}, warn() {} };

/** Called once all writes made before afterSync() are durable; err set when a write or fsync failed. */
export type SyncCallback = (err: Error | null) => void;

/**
 * Watermark listener, called once per completed sync batch: everything with writeSeq <= durableSeq
 * is on disk. On failure `error` is set and every write with seq in (durableSeq, failedUpTo] must be
 * treated as not durable (nack the publishes). Some of them may still become durable later (the bytes
 * stay pending and are retried): a nack never promises that a message is gone, as in RabbitMQ.
 */
export type SyncListener = (durableSeq: number, error: Error | null, failedUpTo: number) => void;

/**
 * A forward cursor over a queue's live (unsettled) entries in enqueue order, starting at the head.
 * One object reused for every step (no allocation per entry). Tolerates enqueues and settles
 * between steps: it always moves to the next live entry with a larger seq.
 */
export interface QueueCursor {
  /** Move to the next live entry; false when there is none (yet). */
  next(): boolean;
  readonly seq: number;
  readonly ref: MsgRef;
  /** Payload byte length (sum of the parts given to append). */
  readonly size: number;
  /** True if markDelivered was recorded: after a restart the broker sets redelivered=true. */
  readonly delivered: boolean;
  /** What enqueue() was given (defaults: Infinity, 0, size); kept across restarts. */
  readonly expiresAt: number;
  readonly tag: number;
  readonly weight: number;
}

/** One durable queue's index: the ordered list of message references still owned by the queue. */
export interface QueueIndex {
  readonly name: string;
  /** Live (unsettled) entries. */
  readonly count: number;
  /** Sum of the weights of live entries (a weight defaults to the payload size). */
  readonly bytes: number;
  /**
   * Add `ref` (from Store.append; `size` = its payload length) at the tail. Returns the entry seq.
   * The broker may attach, per entry and without reading the record back later: `expiresAt` (a time
   * in ms, e.g. when a TTL runs out; Infinity = never), an opaque 32-bit `tag` (e.g. a delivery
   * count) and a `weight` (what `bytes` sums, e.g. the body size). All three survive restarts.
   */
  enqueue(ref: MsgRef, size: number, expiresAt?: number, tag?: number, weight?: number): number;
  /** Record that the entry was handed to a consumer (first time only; later calls are free no-ops). */
  markDelivered(seq: number): void;
  /** Ack, reject, purge, expiry, queue-delete: the entry is gone for good. No-op if not live. */
  settle(seq: number): void;
  /** Is the entry still live? */
  has(seq: number): boolean;
  /** Cursor over live entries with seq >= fromSeq (default: the head). */
  cursor(fromSeq?: number): QueueCursor;
}

export interface StoreStats {
  /** Live message records (memory) or live segments (file). */
  readonly messageSegments: number;
  readonly messageBytesOnDisk: number;
  readonly queues: number;
  readonly writeSeq: number;
  readonly durableSeq: number;
  readonly syncs: number;
  /**
   * Memory the queue indexes hold in their resident entries (stored and paged messages alike) and
   * the read-ahead buffer: what paging still costs in memory, counted by the broker's memory alarm.
   */
  readonly indexMemoryBytes: number;
}

export interface DiskSpace {
  /** Bytes available to an unprivileged user (statfs bavail * bsize). */
  readonly free: number;
  readonly total: number;
}

export interface Store {
  readonly kind: 'memory' | 'file';

  // ---- definitions (snapshot + journal of changes) ----
  /**
   * The definitions: the last snapshot with every change appended since replayed on it; undefined
   * when nothing was ever saved or appended.
   */
  loadDefinitions(): Promise<Definitions | undefined>;
  /**
   * Append one definition change (bytes from encodeDefinitionChange) to the definitions journal.
   * Synchronous and cheap: it is durable once the group commit syncs (afterSync, or durableSeq >=
   * the returned write seq), together with every message write and change made meanwhile.
   */
  appendDefinitionChange(record: Buffer): number;
  /**
   * Replace the definitions by `defs` (compaction): `defs` must contain every change appended so
   * far; changes appended after the call are kept on top. The snapshot is written in the background
   * (temp file, fsync, rename, fsync dir) and the journal it covers is dropped; durable on resolve.
   */
  saveDefinitions(defs: Definitions): Promise<void>;
  /** Bytes of journaled changes a restart would replay (compact when this outgrows the snapshot). */
  readonly definitionsJournalBytes: number;
  /** Size of the last snapshot written or found. */
  readonly definitionsSnapshotBytes: number;

  // ---- messages ----
  /**
   * Append one message record made of `parts` (written back to back, not concatenated in JS).
   * Enqueue the ref in the same synchronous turn: a record no entry references may be collected
   * when its segment rolls over. (Re-enqueueing a ref that is still live elsewhere, e.g. for
   * dead-lettering into another durable queue, needs no new append.)
   */
  append(parts: readonly Buffer[]): MsgRef;
  /** The payload of a record (all parts concatenated). `size` (from the queue entry) saves a read. */
  readSync(ref: MsgRef, size?: number): Buffer;
  /** Same, without blocking the event loop on a cold disk (thread-pool pread); cb always async. */
  read(ref: MsgRef, size: number, cb: (err: Error | null, payload: Buffer | undefined) => void): void;

  // ---- queue indexes ----
  /** The index of queue `name`, created empty when missing. */
  queue(name: string): QueueIndex;
  /** Names of the queues that have an index (recovered from disk or created since open). */
  queueNames(): string[];
  /** Drop a queue's index and release its references (queue.delete; exclusive queue at start). */
  deleteQueue(name: string): void;

  // ---- streams (stream.ts: offsets, chunks, retention, readers) ----
  /** The stream `name`, created empty when missing; `settings`, when given, replace its settings. */
  stream(name: string, settings?: StreamSettings): StreamLog;
  /** Names of the streams that exist (recovered from disk or created since open). */
  streamNames(): string[];
  /** Drop a stream and release its references (queue.delete). */
  deleteStream(name: string): void;

  // ---- durability (group commit) ----
  readonly writeSeq: number;
  readonly durableSeq: number;
  /** Call `cb` once every write made so far is durable. Call once per input turn, not per message. */
  afterSync(cb: SyncCallback): void;
  /** Ask for a sync without a callback (watermark style; pair with addSyncListener). */
  requestSync(): void;
  addSyncListener(listener: SyncListener): void;
  removeSyncListener(listener: SyncListener): void;
  /** Hand pending bytes to the OS now (also done automatically at the end of the turn). */
  flush(): void;

  stats(): StoreStats;
  /** Free space of the file system holding the data directory (for the disk alarm). */
  diskFree(): Promise<DiskSpace>;
  /** Flush, fsync, seal and close. The store is unusable afterwards. */
  close(): Promise<void>;
}

/** Errors the store raises itself (corrupt record, missing segment, closed store). */
export class StoreError extends Error {
  readonly code: 'CORRUPT' | 'MISSING' | 'CLOSED' | 'INVALID';
  constructor(code: StoreError['code'], message: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
  }
}
