/**
 * One published message, shared by reference by every queue it is routed to (never copied per
 * queue). The content properties are kept as the raw bytes the publisher sent (flags + list) and
 * copied verbatim into every delivery; the few properties routing needs are peeked once by the
 * publishing channel. `headers` is decoded lazily, only when a headers binding asks for it.
 * Invariants: `properties` and `body` are owned buffers (never views into a socket chunk).
 */
import type { FieldTable } from '../core/field-value.js';

/** Decodes a field table; supplied by the server (the broker never imports protocol). */
export interface TableDecoder {
  decodeTable(buf: Buffer, start: number, end: number): FieldTable;
}

/** Changes the broker makes to a message's properties (dead-lettering, BCC, direct reply-to). */
export interface PropertyChanges {
  /** Replace the headers table (undefined keeps it). */
  headers?: FieldTable | undefined;
  /** Remove the expiration property (dead-lettering moves it into x-death). */
  dropExpiration?: boolean;
  replyTo?: string | undefined;
}

export interface RewrittenProperties {
  properties: Buffer;
  headersStart: number;
  headersEnd: number;
}

/** The string properties half messages read (message_id is the transaction id). */
export interface MessageIdentity {
  messageId: string | undefined;
  replyTo: string | undefined;
}

/** Re-encodes property bytes; supplied by the server with the decoder. */
export interface ContentCodec extends TableDecoder {
  /** message_id and reply_to of the property bytes (decodes them: off the common path). */
  identity(properties: Buffer): MessageIdentity;
  rewrite(properties: Buffer, changes: PropertyChanges): RewrittenProperties;
  /** The properties with a signed 64-bit header added last, without decoding them (stream offsets). */
  appendLongHeader?(properties: Buffer, headersStart: number, headersEnd: number, key: string, value: number): RewrittenProperties;
}

export class Message {
  exchange: string;
  routingKey: string;
  /** Raw content-header property bytes: property flags + property list. */
  properties: Buffer;
  body: Buffer;
  deliveryMode: number;
  priority: number;
  expiration: string | undefined;
  /** Offsets of the headers table body inside `properties`, -1 when absent. */
  headersStart: number;
  headersEnd: number;
  /** Store record ref once written (-1 otherwise) and the record's byte size. */
  storeRef: number;
  storeSize: number;
  /** Milliseconds since the epoch when published (coarse clock). */
  publishedAt: number;
  private decodedHeaders: FieldTable | undefined | null;
  readonly codec: ContentCodec;

  constructor(
    exchange: string,
    routingKey: string,
    properties: Buffer,
    body: Buffer,
    deliveryMode: number,
    priority: number,
    expiration: string | undefined,
    headersStart: number,
    headersEnd: number,
    codec: ContentCodec,
    publishedAt = 0,
  ) {
    this.exchange = exchange;
    this.routingKey = routingKey;
    this.properties = properties;
    this.body = body;
    this.deliveryMode = deliveryMode;
    this.priority = priority;
    this.expiration = expiration;
    this.headersStart = headersStart;
    this.headersEnd = headersEnd;
    this.storeRef = -1;
    this.storeSize = 0;
    this.decodedHeaders = null;
    this.codec = codec;
    this.publishedAt = publishedAt;
  }

  get persistent(): boolean {
    return this.deliveryMode === 2;
  }

  /**
   * Whether the raw headers table may hold the key whose table encoding (length octet + name) is
   * `key`: a byte search, no decoding. False positives only cost a decode; false negatives cannot
   * happen (a key is always stored as its length octet then its bytes).
   */
  headersMayContain(key: Buffer): boolean {
    if (this.headersStart < 0) return false;
    const i = this.properties.indexOf(key, this.headersStart);
    return i >= 0 && i + key.length <= this.headersEnd;
  }

  /** The headers table, decoded on first use and cached. */
  headers(): FieldTable | undefined {
    if (this.decodedHeaders === null) {
      this.decodedHeaders = this.headersStart < 0
        ? undefined
        : this.codec.decodeTable(this.properties, this.headersStart, this.headersEnd);
    }
    return this.decodedHeaders;
  }

  /** A copy of this message with rewritten properties (same body buffer, not persisted yet). */
  withChanges(changes: PropertyChanges, exchange = this.exchange, routingKey = this.routingKey): Message {
    const r = this.codec.rewrite(this.properties, changes);
    const m = new Message(exchange, routingKey, r.properties, this.body, this.deliveryMode, this.priority,
      changes.dropExpiration === true ? undefined : this.expiration, r.headersStart, r.headersEnd, this.codec, this.publishedAt);
    return m;
  }

  /**
   * Bytes this message costs in memory, for the watermark and the paging budget: its buffers plus
   * the overhead of the Message, its two Buffer views and its QueueEntry, measured at ~700 bytes
   * (RSS growth of a 200k x 16 B backlog held in memory: bench/recovery.ts).
   */
  get memorySize(): number {
    return this.body.length + this.properties.length + 700;
  }
}
