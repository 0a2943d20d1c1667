/**
 * A stream queue (x-queue-type=stream) over AMQP 0-9-1, as RabbitMQ defines it: an append-only log
 * (the store's StreamLog) that consumption never shrinks; each consumer is a cursor with its own
 * position and credit (its prefetch minus its unacked deliveries), starting where its x-stream-offset
 * says; every delivery carries its x-stream-offset header; acks only return credit. Retention drops
 * whole segments by size and age (x-max-length-bytes, x-max-age, or the policy's max-length-bytes /
 * max-age, which win over the arguments for streams). Rules and texts: stream-arguments.ts.
 *
 * Warren extensions: negative offsets ("the last n messages") and server-side offset tracking per
 * consumer tag (x-stream-automatic-offset-tracking, or x-stream-offset null, as LavinMQ): the stored
 * offset is the last one before the oldest delivery still unacked, so a consumer that resumes never
 * skips a message it did not ack.
 *
 * Storage: every message routed here is written to the message log (whatever its delivery mode:
 * streams keep everything) once, shared with any classic queue it is also routed to, and the stream
 * gets a 16-byte entry; the publisher's confirm waits for the fsync of both. Nothing of a stream is
 * held in memory: deliveries are read back through the consumer's cursor, a chunk and a run of records
 * at a time.
 *
 * Invariants: a consumer never has more than its prefetch unacked; deliveries to one consumer come in
 * offset order; nothing is delivered before it is durable (the store's committed end).
 */
import { LongTimer } from '../core/long-timer.js';
import { fieldString, tableGet } from '../core/field-value.js';
import type { StreamLog, StreamReader } from '../store/stream.js';
import type { Consumer } from './consumer.js';
import type { MemoryMeter } from './memory-meter.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence.js';
import { Queue, type QueueOptions } from './queue.js';
import { QueueEntry } from './queue-entry.js';
import {
  checkStreamConsume,
  parseStreamConsumerArguments,
  streamGetRefused,
  streamPurgeRefused,
  streamRejectRefused,
  streamSettings,
  type PolicyDefinition,
  type StreamArguments,
  type StreamConsumerArguments,
} from './stream-arguments.js';

/** The header every stream delivery carries, and the one publishers set for filtering. */
export const OFFSET_HEADER = 'x-stream-offset';
export const FILTER_VALUE_HEADER = 'x-stream-filter-value';
/** How often max-age retention is evaluated at most (RabbitMQ evaluates it when a segment rolls). */
const AGE_CHECK_MS = 60_000;

/** One consumer's cursor and its offset-tracking bookkeeping. */
class StreamCursor {
  /** Offsets delivered and not yet acked, in delivery order (bounded by the prefetch). */
  private readonly outstanding: number[] = [];
  private head = 0;
  private readonly acked = new Set<number>();

  constructor(readonly reader: StreamReader, readonly trackingName: string | undefined) {}

  delivered(offset: number): void {
    if (this.trackingName !== undefined) this.outstanding.push(offset);
  }

  /**
   * `offset` was acked (or released). Returns the offset that is now fully processed (every
   * delivery up to it acked), or -1 when that did not move.
   */
  settled(offset: number): number {
    if (this.trackingName === undefined) return -1;
    this.acked.add(offset);
    let done = -1;
    while (this.head < this.outstanding.length && this.acked.delete(this.outstanding[this.head]!)) done = this.outstanding[this.head++]!;
    if (this.head === this.outstanding.length) {
      this.outstanding.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.outstanding.splice(0, this.head);
      this.head = 0;
    }
    return done;
  }
}

export class StreamQueue extends Queue {
  readonly log: StreamLog;
  private readonly cursors = new Map<Consumer, StreamCursor>();
  private readonly ageTimer = new LongTimer(() => this.ageTick());
  private readonly persist: Persistence;

  constructor(
    name: string,
    vhost: string,
    options: QueueOptions,
    readonly streamArguments: StreamArguments,
    meter: MemoryMeter,
    persistence: Persistence,
    policy: PolicyDefinition | undefined,
  ) {
    super(name, vhost, options, meter, persistence);
    this.persist = persistence;
    this.log = persistence.store.stream(this.storeKey, this.storeSettings(policy));
    this.log.onCommit = () => this.dispatch();
    this.armAgeTimer();
  }

  private storeSettings(policy: PolicyDefinition | undefined): Parameters<StreamLog['configure']>[0] {
    const s = streamSettings(this.streamArguments, policy);
    return { maxBytes: s.maxBytes, maxAgeMs: s.maxAgeMs, maxSegmentBytes: s.maxSegmentBytes, filterBytes: s.filterBytes };
  }

  /** A policy changed (max-age, max-length-bytes, stream-max-segment-size-bytes win over arguments). */
  applyPolicy(policy: PolicyDefinition | undefined): void {
    if (this.deleted) return;
    this.log.configure(this.storeSettings(policy));
    this.armAgeTimer();
  }

  private armAgeTimer(): void {
    const age = this.log.settings.maxAgeMs;
    if (age === undefined) this.ageTimer.cancel();
    else this.ageTimer.fireIn(Math.min(age, AGE_CHECK_MS));
  }

  private ageTick(): void {
    if (this.deleted) return;
    this.log.applyRetention();
    this.armAgeTimer();
  }

  /** Retained messages (offsets firstOffset .. nextOffset-1). */
  override get messageCount(): number {
    return this.log.nextOffset - this.log.firstOffset;
  }

  /**
   * Up to `count` committed messages from `offset` places after the first retained one, in offset
   * order, through a reader of its own (no consumer, no credit, no tracking): peek's view.
   */
  peek(offset: number, count: number): { offset: number; msg: Message }[] {
    const out: { offset: number; msg: Message }[] = [];
    if (count <= 0) return out;
    const r = this.log.reader(this.log.firstOffset + offset);
    try {
      r.credit = count;
      while (out.length < count && r.next()) {
        let payload: Buffer;
        try {
          payload = r.payload();
        } catch {
          continue; // unreadable: consumers skip (and log) it too
        }
        out.push({ offset: r.offset, msg: this.persist.decodeStamped(payload, r.ref, r.size, OFFSET_HEADER, r.offset) });
      }
    } finally {
      r.close();
    }
    return out;
  }

  /** What management shows of the stream (RabbitMQ's committed_offset and segments, and ours). */
  streamInfo(): { committedOffset: number | undefined; firstOffset: number; segments: number; bytes: number } {
    const log = this.log;
    return {
      committedOffset: log.committedEnd > log.firstOffset ? log.committedEnd - 1 : undefined,
      firstOffset: log.firstOffset,
      segments: log.segmentCount,
      bytes: log.bytes,
    };
  }

  /** A consumer's next offset and how far it is behind the committed end (management). */
  consumerPosition(c: Consumer): { offset: number; lag: number } | undefined {
    const r = this.cursors.get(c)?.reader;
    if (r === undefined) return undefined;
    return { offset: r.position, lag: Math.max(0, this.log.committedEnd - r.position) };
  }

  // ------------------------------------------------------------------------------------------
  // Publish

  /** Append the message (its record written once, shared with other queues). Never refuses. */
  override enqueue(msg: Message): boolean {
    const ref = this.persist.record(msg);
    this.log.append(ref, msg.storeSize, filterValueOf(msg));
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Consumers

  override addConsumer(c: Consumer): void {
    const args = parseStreamConsumerArguments(c.args, this.name, this.vhost, Date.now());
    checkStreamConsume(this.name, this.vhost, c.noAck, c.prefetch, c.sink.globalPrefetch ?? 0);
    const reader = this.log.reader(this.startOffset(args, c.tag));
    if (args.filter !== undefined) reader.setFilter(args.filter, args.matchUnfiltered);
    this.cursors.set(c, new StreamCursor(reader, args.trackOffsets ? c.tag : undefined));
    // RabbitMQ gives stream consumers no exclusivity and no priority (x-priority is refused above).
    this.consumers.push(c);
    this.hadConsumer = true;
  }

  private startOffset(a: StreamConsumerArguments, tag: string): number {
    const log = this.log;
    if (a.trackOffsets) {
      const tracked = log.trackedOffset(tag);
      if (tracked !== undefined) return tracked + 1;
    }
    const o = a.offset;
    switch (o.kind) {
      case 'first': return log.firstOffset;
      case 'last': return log.lastChunkOffset;
      case 'next': return log.committedEnd;
      case 'offset': return o.offset; // beyond the end: delivered from that offset on, as RabbitMQ
      case 'tail': return Math.max(log.firstOffset, log.committedEnd - o.count);
      case 'timestamp': return log.offsetForTimestamp(o.ms);
    }
  }

  override removeConsumer(c: Consumer): void {
    const i = this.consumers.indexOf(c);
    if (i < 0) return;
    this.consumers.splice(i, 1);
    this.cursors.get(c)?.reader.close();
    this.cursors.delete(c);
  }

  // ------------------------------------------------------------------------------------------
  // Delivery

  override dispatch(): void {
    if (this.deleted) return;
    for (let i = 0; i < this.consumers.length; i++) this.pump(this.consumers[i]!);
  }

  /** Deliver to `c` while it has credit and the stream has committed entries for it. */
  private pump(c: Consumer): void {
    const cur = this.cursors.get(c);
    if (cur === undefined) return;
    const r = cur.reader;
    r.credit = c.prefetch - c.unacked;
    while (r.credit > 0 && c.sink.canDeliver(c) && r.next()) {
      let payload: Buffer;
      try {
        payload = r.payload();
      } catch (err: unknown) {
        // A record that fails its checksum (or was dropped with its segment) loses that message only.
        this.persist.unreadable(this.storeKey, r.offset, err);
        continue;
      }
      const msg = this.persist.decodeStamped(payload, r.ref, r.size, OFFSET_HEADER, r.offset);
      const e = new QueueEntry(this, msg, r.offset, 1, -1);
      e.consumer = c;
      c.unacked++;
      this.unackedCount++;
      cur.delivered(r.offset);
      c.sink.deliver(c, e);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Settlement: acks only return credit (and move a tracked offset).

  override settle(e: QueueEntry): void {
    const c = this.returnCredit(e);
    if (c === null || this.deleted) return;
    const cur = this.cursors.get(c);
    if (cur === undefined) return;
    const done = cur.settled(e.seq);
    if (done >= 0) this.log.trackOffset(cur.trackingName!, done);
    this.pump(c);
  }

  /** A channel closed or recovered with deliveries unacked: a stream never redelivers; credit returns. */
  override requeue(e: QueueEntry): void {
    this.returnCredit(e);
  }

  private returnCredit(e: QueueEntry): Consumer | null {
    const c = e.consumer;
    if (c !== null) {
      c.unacked--;
      e.consumer = null;
    }
    this.unackedCount--;
    return c;
  }

  override reject(): void {
    throw streamRejectRefused(this.name, this.vhost);
  }

  override get(): QueueEntry | undefined {
    throw streamGetRefused(this.name, this.vhost);
  }

  override purge(): number {
    throw streamPurgeRefused(this.name, this.vhost);
  }

  override messageFor(e: QueueEntry): Message {
    return e.msg;
  }

  override destroy(): number {
    this.deleted = true;
    this.ageTimer.cancel();
    for (const cur of this.cursors.values()) cur.reader.close();
    this.cursors.clear();
    this.persist.store.deleteStream(this.storeKey);
    const cs = this.consumers.splice(0);
    for (const c of cs) c.sink.cancelledByBroker(c);
    return 0;
  }
}

/** The key as it appears in an encoded table (shortstr): headers are decoded only when it may be there. */
const FILTER_VALUE_KEY = Buffer.from([FILTER_VALUE_HEADER.length, ...Buffer.from(FILTER_VALUE_HEADER)]);

/** x-stream-filter-value, decoding the headers only when their bytes may hold it. */
function filterValueOf(msg: Message): string | undefined {
  if (!msg.headersMayContain(FILTER_VALUE_KEY)) return undefined;
  return fieldString(tableGet(msg.headers(), FILTER_VALUE_HEADER));
}
