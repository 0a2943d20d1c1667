/**
 * The broker's bridge to the storage engine: encodes messages into store records, decodes them
 * when queues page them back in, keeps the durability barrier (publisher confirms and tx.commit
 * wait for the fsync *and* for the definitions save that made their queues durable), and saves
 * definitions atomically whenever something durable changes.
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
import type { Store } from '../store/store.js';
import { Message, type ContentCodec } from './message.js';

const SAVE_INTERVAL_MS = 5;

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
  private defsGen = 0;
  private defsSavedGen = 0;
  private defsSaving = false;
  private lastSaveAt = 0;
  private readonly defsWaiters: { gen: number; cb: (err: Error | null) => void }[] = [];
  /** Builds the definitions document; set by the broker. */
  exportDefinitions: (() => unknown) | undefined;
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
    const gen = this.defsGen;
    const done = (err: Error | null) => {
      for (const w of waiters) w.onDurable(writeSeq, err);
    };
    this.store.afterSync((err) => {
      if (err !== null || this.defsSavedGen >= gen) return done(err);
      this.defsWaiters.push({ gen, cb: done });
    });
  }

  // ---- definitions ------------------------------------------------------------------------

  /** Call `cb` once every definition change made so far is saved (declare-ok waits for this). */
  afterDefinitionsSaved(cb: (err: Error | null) => void): void {
    const gen = this.defsGen;
    if (this.defsSavedGen >= gen) {
      process.nextTick(cb, null);
      return;
    }
    this.defsWaiters.push({ gen, cb });
  }

  /** The model was just rebuilt from the saved definitions: nothing new to save. */
  definitionsLoaded(): void {
    this.defsSavedGen = this.defsGen;
  }

  get definitionsPending(): boolean {
    return this.defsSavedGen < this.defsGen;
  }

  /** Something durable changed: save the definitions soon (coalesced). */
  definitionsChanged(): void {
    this.defsGen++;
    if (!this.defsSaving) {
      this.defsSaving = true;
      setImmediate(() => void this.saveLoop());
    }
  }

  private async saveLoop(): Promise<void> {
    while (this.defsSavedGen < this.defsGen && !this.closed) {
      // Each save rewrites the whole document: under a stream of declarations, save at most every
      // SAVE_INTERVAL_MS so the cost stays linear in the number of definitions.
      const wait = this.lastSaveAt + SAVE_INTERVAL_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.lastSaveAt = Date.now();
      const gen = this.defsGen;
      let err: Error | null = null;
      try {
        const defs = this.exportDefinitions?.();
        if (defs !== undefined) await this.store.saveDefinitions(defs as never);
        this.defsSavedGen = gen;
      } catch (e: unknown) {
        err = e instanceof Error ? e : new Error(String(e));
        this.logger.error({ err }, 'saving definitions failed');
      }
      const ready = this.defsWaiters.filter((w) => err !== null || w.gen <= this.defsSavedGen);
      for (const w of ready) {
        this.defsWaiters.splice(this.defsWaiters.indexOf(w), 1);
        w.cb(err);
      }
      if (err !== null) break;
    }
    this.defsSaving = false;
  }

  /** Save pending definitions and close the store (graceful shutdown). */
  async close(): Promise<void> {
    if (this.defsSavedGen < this.defsGen) {
      const defs = this.exportDefinitions?.();
      if (defs !== undefined) await this.store.saveDefinitions(defs as never);
      this.defsSavedGen = this.defsGen;
    }
    this.closed = true;
    await this.store.close();
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

export function decodeRecord(buf: Buffer, ref: number, size: number, decoder: ContentCodec): DecodedRecord {
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
  const props = buf.subarray(p, p + propsLen);
  const body = buf.subarray(p + propsLen);
  const msg = new Message(exchange, routingKey, props, body, persistent ? 2 : 1, priority, expiration,
    headersStart, headersEnd, decoder, publishedAt);
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
