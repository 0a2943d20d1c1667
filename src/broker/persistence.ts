/**
 * The broker's bridge to the storage engine: encodes messages into store records, decodes them
 * when queues page them back in, keeps the durability barrier (publisher confirms and tx.commit
 * wait for the fsync, which also covers the definition changes that made their queues durable),
 * and journals every durable definition change (definitionsChanged), compacting the journal into
 * the definitions.json snapshot in the background when it outgrows the snapshot.
 *
 * Definition changes: the caller describes the change (a DefinitionChange record) and calls
 * definitionsChanged BEFORE applying it; the record is encoded first, so a change that cannot be
 * stored throws (406) and is never applied. The record is appended to the store's journal in the
 * same turn and made durable by the store's group commit: one fsync covers every change (and every
 * message write) that arrived meanwhile; -ok replies wait for it (afterDefinitionsSaved). A failed
 * write or fsync fails only the waiters of that batch; nothing here can stay stuck.
 *
 * Record layout (the store's record is opaque bytes; this is the broker's part of it):
 *
 *   offset size  field
 *   0      1     version = 1
 *   1      1     flags: bit 0 = persistent (delivery_mode 2)
 *   2      4     boot id (u32 BE) of the process that wrote it: transient records paged out by an
 *                earlier run are dropped when read back after a restart
 *   6      1     priority (0-255)
 *   7      4     headers table start inside the property bytes (i32 BE, -1 when absent)
 *   11     4     headers table end (i32 BE, -1 when absent)
 *   15     4     property bytes length P (u32 BE)
 *   19     8     publish time, ms since the epoch (f64 BE): delayed messages are due at this + x-delay
 *   27     1     exchange length E, then E bytes (UTF-8)
 *   ..     1     routing key length R, then R bytes
 *   ..     1     expiration length X (255 = absent), then X bytes
 *   then P property bytes (flags + list, verbatim from the publisher), then the body.
 *
 * The store checksums the whole record; a torn or corrupt record is cut off by the store's
 * recovery, never parsed here.
 */
import { randomInt } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';
import { encodeDefinitionChange, type DefinitionChange } from '../store/definition-changes.js';
import type { Definitions } from '../store/definitions.js';
import type { Store } from '../store/store.js';
import { Message, type ContentCodec } from './message.js';

/** The journal is compacted once it holds more than this many bytes and more than the snapshot. */
const COMPACT_MIN_BYTES = 1024 * 1024;

export interface DurableWaiter {
  /** Everything written up to `writeSeq` is durable (err set when the write or fsync failed). */
  onDurable(writeSeq: number, err: Error | null): void;
}

export interface PersistenceOptions {
  /** Bytes of message bodies held in memory above which queues page new messages to disk. */
  pagingThreshold: number;
}

export interface DecodedRecord {
  msg: Message;
  persistent: boolean;
  bootId: number;
}

export class Persistence {
  readonly bootId = randomInt(1, 0xffffffff);
  private readonly waiters = new Set<DurableWaiter>();
  private barrierScheduled = false;
  /** Store write seq of the last journaled definition change. */
  private defsSeq = 0;
  /** Importing saved definitions: the changes this causes are not journaled again. */
  private loading = false;
  private compacting = false;
  /** After a failed compaction, wait for the journal to grow past this before trying again. */
  private compactAfter = 0;
  /** Builds the definitions document (the whole durable model); set by the broker. */
  exportDefinitions: (() => Definitions) | undefined;
  private closed = false;

  constructor(
    readonly store: Store,
    readonly options: PersistenceOptions,
    private readonly decoder: ContentCodec,
    private readonly logger: Logger,
  ) {}

  // ---- records ----------------------------------------------------------------------------

  /** Append `msg` once (fanout to N queues shares the record); returns its ref. */
  record(msg: Message): number {
    if (msg.storeRef >= 0) return msg.storeRef;
    const meta = encodeMeta(msg, this.bootId);
    msg.storeRef = this.store.append([meta, msg.properties, msg.body]);
    msg.storeSize = meta.length + msg.properties.length + msg.body.length;
    return msg.storeRef;
  }

  /** Read a record back as a Message (a fresh object; body and properties are views of one buffer). */
  load(ref: number, size: number): DecodedRecord {
    const buf = this.store.readSync(ref, size);
    return decodeRecord(buf, ref, size, this.decoder);
  }

  /** Decode a record read by a stream cursor, stamping header `key` = `value` (x-stream-offset). */
  decodeStamped(buf: Buffer, ref: number, size: number, key: string, value: number): Message {
    return decodeRecord(buf, ref, size, this.decoder, key, value).msg;
  }

  /** A stored message could not be read back (checksum, missing segment): log it; the caller drops it. */
  unreadable(queueKey: string, seq: number, err: unknown): void {
    this.logger.warn({ err, queue: queueKey.replace('\u0000', ' '), seq }, 'stored message unreadable, dropped');
  }

  // ---- transient paging marker ------------------------------------------------------------

  /**
   * Queues whose store index received transient (paged-out) messages. The set is kept in a small
   * file (written synchronously the first time a queue pages a transient message) so recovery
   * knows which indexes to scan for transient entries instead of reading every record.
   */
  private transientPaged: Set<string> | undefined;
  markerFile: string | undefined;

  pagedTransient(queueKey: string): void {
    const set = (this.transientPaged ??= new Set());
    if (set.has(queueKey)) return;
    set.add(queueKey);
    if (this.markerFile !== undefined) writeMarker(this.markerFile, set);
  }

  /** Queues that paged transient messages before this start (read once at recovery, then reset). */
  takeTransientPaged(): Set<string> {
    let found = new Set<string>();
    if (this.markerFile !== undefined && existsSync(this.markerFile)) {
      try {
        found = new Set(JSON.parse(readFileSync(this.markerFile, 'utf8')) as string[]);
      } catch {
        found = new Set();
      }
    }
    this.transientPaged = new Set();
    if (this.markerFile !== undefined) writeMarker(this.markerFile, this.transientPaged);
    return found;
  }

  // ---- durability barrier -----------------------------------------------------------------

  /**
   * The position of the last store write: a publish that moved it must be durable up to here
   * before it is confirmed (whenDurable reports positions on this scale).
   */
  get writePosition(): number {
    return this.store.writeSeq;
  }

  /**
   * Ask to be told when everything written so far (messages and definitions) is durable. Waiters
   * registered in one turn share one fsync (group commit).
   */
  whenDurable(w: DurableWaiter): void {
    this.waiters.add(w);
    if (this.barrierScheduled) return;
    this.barrierScheduled = true;
    process.nextTick(() => this.runBarrier());
  }

  private runBarrier(): void {
    this.barrierScheduled = false;
    const waiters = [...this.waiters];
    this.waiters.clear();
    const writeSeq = this.store.writeSeq;
    // Definition changes are store writes too: this one sync covers them.
    this.store.afterSync((err) => {
      for (const w of waiters) w.onDurable(writeSeq, err);
    });
  }

  // ---- definitions ------------------------------------------------------------------------

  /**
   * A durable definition is about to change: journal `change`. Call it before applying the change:
   * it throws (406 PRECONDITION_FAILED) when the change cannot be stored, and the caller must then
   * leave the model as it was. Durable once the next sync completes (afterDefinitionsSaved).
   */
  definitionsChanged(change: DefinitionChange): void {
    // Shutting down: a timer (x-expires) may still change the model; nothing more is journaled.
    if (this.loading || this.closed) return;
    let record: Buffer;
    try {
      record = encodeDefinitionChange(change);
    } catch (e: unknown) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
        `cannot store ${describeChange(change)}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.defsSeq = this.store.appendDefinitionChange(record);
    this.maybeCompact();
  }

  /** Call `cb` once every definition change made so far is durable (declare-ok waits for this). */
  afterDefinitionsSaved(cb: (err: Error | null) => void): void {
    if (!this.definitionsPending) {
      process.nextTick(cb, null);
      return;
    }
    this.store.afterSync(cb);
  }

  get definitionsPending(): boolean {
    return this.defsSeq > this.store.durableSeq;
  }

  /** Saved definitions are being imported into the model: do not journal them again. */
  definitionsLoading(): void {
    this.loading = true;
  }

  /** The model was just rebuilt from the saved definitions: journal what changes from now on. */
  definitionsLoaded(): void {
    this.loading = false;
  }

  /** Compact when the journal outgrows both COMPACT_MIN_BYTES and the snapshot (amortised O(1) per change). */
  private maybeCompact(): void {
    if (this.compacting || this.closed || this.exportDefinitions === undefined) return;
    const bytes = this.store.definitionsJournalBytes;
    if (bytes < COMPACT_MIN_BYTES || bytes < this.store.definitionsSnapshotBytes || bytes < this.compactAfter) return;
    this.compacting = true;
    setImmediate(() => this.compact());
  }

  private compact(): void {
    const failed = (err: unknown): void => {
      this.compacting = false;
      // Retry only once the journal has grown again: a full disk must not turn this into a loop.
      this.compactAfter = this.store.definitionsJournalBytes * 2;
      this.logger.warn({ err }, 'definitions journal compaction failed; the journal keeps every change');
    };
    if (this.closed || this.exportDefinitions === undefined) {
      this.compacting = false;
      return;
    }
    let saved: Promise<void>;
    try {
      saved = this.store.saveDefinitions(this.exportDefinitions());
    } catch (e: unknown) {
      failed(e);
      return;
    }
    saved.then(() => {
      this.compacting = false;
      this.compactAfter = 0;
    }, failed);
  }

  /**
   * Compact the journal (so the next start reads only the snapshot) and close the store (which
   * syncs what is pending). Reports whether a definitions snapshot was written.
   */
  async close(): Promise<{ definitionsSnapshot: boolean }> {
    this.closed = true;
    let definitionsSnapshot = false;
    if (this.exportDefinitions !== undefined && this.store.definitionsJournalBytes > 0) {
      try {
        await this.store.saveDefinitions(this.exportDefinitions());
        definitionsSnapshot = true;
      } catch (err: unknown) {
        this.logger.warn({ err }, 'definitions snapshot at shutdown failed; the journal keeps every change');
      }
    }
    await this.store.close();
    return { definitionsSnapshot };
  }
}

/** "queue 'q' in vhost '/'", for errors about a change. */
function describeChange(c: DefinitionChange): string {
  const v = c.value as { name?: unknown; vhost?: unknown; source?: unknown; destination?: unknown };
  const where = typeof v.vhost === 'string' ? ` in vhost '${v.vhost}'` : '';
  switch (c.kind) {
    case 'queues': return `queue '${String(v.name)}'${where}`;
    case 'exchanges': return `exchange '${String(v.name)}'${where}`;
    case 'bindings': return `binding of '${String(v.destination)}' to '${String(v.source)}'${where}`;
    default: return `${c.kind} entry${typeof v.name === 'string' ? ` '${v.name}'` : ''}${where}`;
  }
}

function encodeMeta(msg: Message, bootId: number): Buffer {
  const ex = Buffer.from(msg.exchange, 'utf8');
  const rk = Buffer.from(msg.routingKey, 'utf8');
  const exp = msg.expiration === undefined ? undefined : Buffer.from(msg.expiration, 'utf8');
  const meta = Buffer.allocUnsafe(27 + 1 + ex.length + 1 + rk.length + 1 + (exp?.length ?? 0));
  meta[0] = 1;
  meta[1] = msg.persistent ? 1 : 0;
  meta.writeUInt32BE(bootId, 2);
  meta[6] = Math.min(255, Math.max(0, msg.priority));
  meta.writeInt32BE(msg.headersStart, 7);
  meta.writeInt32BE(msg.headersEnd, 11);
  meta.writeUInt32BE(msg.properties.length, 15);
  meta.writeDoubleBE(msg.publishedAt, 19);
  let p = 27;
  meta[p++] = ex.length;
  p += ex.copy(meta, p);
  meta[p++] = rk.length;
  p += rk.copy(meta, p);
  if (exp === undefined) meta[p++] = 255;
  else {
    meta[p++] = exp.length;
    exp.copy(meta, p);
  }
  return meta;
}

/**
 * Decode a record. With `stampKey`, a signed 64-bit header `stampKey` = `stampValue` is added to the
 * properties on the way (stream deliveries carry x-stream-offset): one Message, no re-decoding.
 */
function decodeRecord(buf: Buffer, ref: number, size: number, decoder: ContentCodec,
  stampKey?: string, stampValue = 0): DecodedRecord {
  if (buf[0] !== 1) throw new Error(`unknown message record version ${buf[0]}`);
  const persistent = (buf[1]! & 1) === 1;
  const bootId = buf.readUInt32BE(2);
  const priority = buf[6]!;
  const headersStart = buf.readInt32BE(7);
  const headersEnd = buf.readInt32BE(11);
  const propsLen = buf.readUInt32BE(15);
  const publishedAt = buf.readDoubleBE(19);
  let p = 27;
  const exLen = buf[p++]!;
  const exchange = buf.toString('utf8', p, p + exLen);
  p += exLen;
  const rkLen = buf[p++]!;
  const routingKey = buf.toString('utf8', p, p + rkLen);
  p += rkLen;
  const expLen = buf[p++]!;
  let expiration: string | undefined;
  if (expLen !== 255) {
    expiration = buf.toString('utf8', p, p + expLen);
    p += expLen;
  }
  let props = buf.subarray(p, p + propsLen);
  let hs = headersStart;
  let he = headersEnd;
  if (stampKey !== undefined && decoder.appendLongHeader !== undefined) {
    const r = decoder.appendLongHeader(props, headersStart, headersEnd, stampKey, stampValue);
    props = r.properties;
    hs = r.headersStart;
    he = r.headersEnd;
  }
  const body = buf.subarray(p + propsLen);
  const msg = new Message(exchange, routingKey, props, body, persistent ? 2 : 1, priority, expiration,
    hs, he, decoder, publishedAt);
  msg.storeRef = ref;
  msg.storeSize = size;
  return { msg, persistent, bootId };
}

function writeMarker(file: string, set: ReadonlySet<string>): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify([...set]));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
