/**
 * Inbound frame splitter (AMQP 0-9-1 §4.2.3): turns socket chunks into frames handed to a sink as
 * views (type, channel, payload[start..end)).
 *
 * Invariants:
 * - A frame lying wholly inside a chunk is passed as a view of that chunk (zero-copy). A frame that
 *   straddles chunks is assembled in ONE reusable buffer, grown only up to frameMax; no per-read
 *   Buffer.concat. Views are valid only during onFrame.
 * - Errors mirror rabbit_reader: the size is checked as soon as the 7-octet header is in (with
 *   RabbitMQ's tolerance: a payload of up to frameMax octets is accepted, because many clients are
 *   off by the 8 octets of overhead); then the frame-end octet; then the frame type (1, 2, 3, 8; a
 *   heartbeat must be empty). All are FRAME_ERROR with RabbitMQ's texts, e.g.
 *   "FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,140000,131064}".
 * - After an error (or a sink exception) the reader's state is undefined: abandon the connection.
 */
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';
import { payloadSnippet } from './erlang-format.js';
import { FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, FRAME_MIN_SIZE, FRAME_OVERHEAD } from './frame-constants.js';

export interface FrameSink {
  onFrame(type: number, channel: number, payload: Buffer, start: number, end: number): void;
}

const NO_LIMIT = 4294967296;

/** Between frames; `hdrLen` octets of the next header are buffered in `hdr`. */
const HEADER = 0;
/** Header parsed; `asmLen` of `size + 1` octets (payload + frame-end) are in `asm`. */
const PAYLOAD = 1;

export class FrameReader {
  /** Maximum total frame size incl. the 7-octet header and frame-end; 0 = no limit. Settable after tune. */
  frameMax: number;

  private state = HEADER;
  private readonly hdr = Buffer.alloc(7);
  private hdrLen = 0;
  private asm: Buffer;
  private asmLen = 0;
  private type = 0;
  private channel = 0;
  private size = 0;
  private stopped = false;

  constructor(frameMax: number) {
    this.frameMax = frameMax;
    this.asm = Buffer.allocUnsafe(Math.min(this.limit() + 1, FRAME_MIN_SIZE + FRAME_OVERHEAD));
  }

  /**
   * Make the current push() return right after the frame being delivered, discarding the rest of
   * the chunk; later pushes are ignored too until resume() (e.g. the socket is being destroyed).
   */
  stop(): void {
    this.stopped = true;
  }

  resume(): void {
    this.stopped = false;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Bytes of an incomplete frame currently buffered. */
  get buffered(): number {
    return this.state === HEADER ? this.hdrLen : 7 + this.asmLen;
  }

  push(chunk: Buffer, sink: FrameSink): void {
    const n = chunk.length;
    let p = 0;
    while (p < n && !this.stopped) {
      if (this.state === HEADER && this.hdrLen === 0) {
        // Fast path: the frame starts at a chunk position.
        if (n - p < 7) {
          chunk.copy(this.hdr, 0, p, n);
          this.hdrLen = n - p;
          return;
        }
        const type = chunk[p]!;
        const channel = (chunk[p + 1]! << 8) | chunk[p + 2]!;
        const size = chunk.readUInt32BE(p + 3);
        this.checkSize(type, channel, size);
        const payloadStart = p + 7;
        if (n - payloadStart > size) {
          const endAt = payloadStart + size;
          this.checkFrame(type, chunk, payloadStart, endAt, chunk[endAt]!);
          p = endAt + 1;
          sink.onFrame(type, channel, chunk, payloadStart, endAt);
          continue;
        }
        // Straddles: buffer what is here.
        this.beginPayload(type, channel, size);
        const have = n - payloadStart;
        chunk.copy(this.asm, 0, payloadStart, n);
        this.asmLen = have;
        return;
      }
      if (this.state === HEADER) {
        const take = Math.min(7 - this.hdrLen, n - p);
        chunk.copy(this.hdr, this.hdrLen, p, p + take);
        this.hdrLen += take;
        p += take;
        if (this.hdrLen < 7) return;
        const h = this.hdr;
        const type = h[0]!;
        const channel = (h[1]! << 8) | h[2]!;
        const size = h.readUInt32BE(3);
        this.hdrLen = 0;
        this.checkSize(type, channel, size);
        this.beginPayload(type, channel, size);
        continue;
      }
      // PAYLOAD
      const need = this.size + 1 - this.asmLen;
      const take = Math.min(need, n - p);
      chunk.copy(this.asm, this.asmLen, p, p + take);
      this.asmLen += take;
      p += take;
      if (take < need) return;
      const size = this.size;
      this.state = HEADER;
      this.asmLen = 0;
      this.checkFrame(this.type, this.asm, 0, size, this.asm[size]!);
      sink.onFrame(this.type, this.channel, this.asm, 0, size);
    }
  }

  private limit(): number {
    return this.frameMax === 0 ? NO_LIMIT : this.frameMax;
  }

  private beginPayload(type: number, channel: number, size: number): void {
    this.type = type;
    this.channel = channel;
    this.size = size;
    this.state = PAYLOAD;
    this.asmLen = 0;
    if (this.asm.length < size + 1) {
      // Grow geometrically, but never beyond what the frame limit allows (+1 for frame-end).
      const cap = Math.min(Math.max(size + 1, this.asm.length * 2), this.limit() + 1);
      this.asm = Buffer.allocUnsafe(Math.max(cap, size + 1));
    }
  }

  /** rabbit_reader: PayloadSize > FrameMax - 8 + FRAME_SIZE_FUDGE(8) is fatal. */
  private checkSize(type: number, _channel: number, size: number): void {
    if (this.frameMax !== 0 && size > this.frameMax) {
      throw new AmqpError(ReplyCode.FRAME_ERROR,
        `type ${type}, all octets = <<>>: {frame_too_large,${size},${this.frameMax - FRAME_OVERHEAD}}`, 0, 0, true);
    }
  }

  private checkFrame(type: number, buf: Buffer, start: number, end: number, endMarker: number): void {
    if (endMarker !== FRAME_END) {
      throw new AmqpError(ReplyCode.FRAME_ERROR,
        `type ${type}, ${payloadSnippet(buf, start, end)}: {invalid_frame_end_marker,${endMarker}}`, 0, 0, true);
    }
    if (type === FRAME_METHOD || type === FRAME_HEADER || type === FRAME_BODY) return;
    if (type === FRAME_HEARTBEAT && end === start) return;
    // Framing errors concern no method: class/method 0/0.
    throw new AmqpError(ReplyCode.FRAME_ERROR, `type ${type}, ${payloadSnippet(buf, start, end)}: unknown_frame`, 0, 0, true);
  }
}
