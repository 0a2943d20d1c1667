/**
 * Inbound frame splitter (AMQP 0-9-1 §4.2.3): turns socket chunks into frames handed to a sink as
 * views (type, channel, payload[start..end)).
 *
 * Invariants:
 * - A frame lying wholly inside a chunk is passed as a view of that chunk (zero-copy). A frame that
 *   straddles chunks is assembled in ONE reusable buffer (allocated on first need), grown only up
 *   to frameMax; no per-read Buffer.concat. Views are valid only during onFrame.
 * - Errors mirror rabbit_reader: the size is checked as soon as the 7-octet header is in (with
 *   RabbitMQ's tolerance: a payload of up to frameMax octets is accepted, because many clients are
 *   off by the 8 octets of overhead); then the frame-end octet; then the frame type (1, 2, 3, 8; a
 *   heartbeat must be empty). All are FRAME_ERROR with RabbitMQ's texts, e.g.
 *   "FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,140000,131064}".
 * - After an error (or a sink exception) the reader's state is undefined: abandon the connection.
 * - Opt-in (`bodyParts`): a body frame (type 3, channel > 0) of at least PART_MIN payload octets
 *   that straddles chunks is not assembled: its payload goes to the sink as it arrives, as views of
 *   the socket chunks, in pieces of type FRAME_BODY_PART followed by exactly one FRAME_BODY piece
 *   (possibly empty) delivered only after the frame-end octet was checked. The sink appends the
 *   pieces in order and must not act on the content before the FRAME_BODY piece, so a frame with a
 *   bad frame-end never completes a message. This saves one copy of every large body (a 1 MiB
 *   body in 128 KiB frames over 64 KiB socket reads was copied twice). All other frames are
 *   delivered whole, as before.
 */
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';
import { payloadSnippet } from './erlang-format.js';
import { FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, FRAME_MIN_SIZE, FRAME_OVERHEAD } from './frame-constants.js';

export interface FrameSink {
  onFrame(type: number, channel: number, payload: Buffer, start: number, end: number): void;
}

/** Not a wire type: a non-final piece of a body frame's payload (only with `bodyParts`). */
export const FRAME_BODY_PART = 0x103;

/** Body frames with fewer payload octets are assembled (a copy that small is cheaper than pieces). */
const PART_MIN = 4096;
/** rabbit_reader's payload snippet shows at most the first 16 octets. */
const SNIPPET = 16;

const NO_LIMIT = 4294967296;
const EMPTY = Buffer.alloc(0);

/** Between frames; `hdrLen` octets of the next header are buffered in `hdr`. */
const HEADER = 0;
/** Header parsed; `asmLen` of `size + 1` octets (payload + frame-end) are in `asm`. */
const PAYLOAD = 1;
/** Body frame passed on in pieces; `got` of `size` payload octets delivered, then the frame-end. */
const PART = 2;

export class FrameReader {
  /** Maximum total frame size incl. the 7-octet header and frame-end; 0 = no limit. Settable after tune. */
  frameMax: number;
  /** Deliver large straddling body frames in pieces (see the header); the sink must understand FRAME_BODY_PART. */
  bodyParts = false;

  private state = HEADER;
  private readonly hdr = Buffer.alloc(7);
  private hdrLen = 0;
  private asm: Buffer;
  private asmLen = 0;
  private type = 0;
  private channel = 0;
  private size = 0;
  /** PART: payload octets delivered so far, and the first SNIPPET of them (for error texts). */
  private got = 0;
  private readonly head = Buffer.alloc(SNIPPET + 1);

  constructor(frameMax: number, options: { bodyParts?: boolean } = {}) {
    this.frameMax = frameMax;
    this.bodyParts = options.bodyParts === true;
    // Allocated on the first straddling frame: many connections never have one (idle memory).
    this.asm = EMPTY;
  }

  /** Bytes of an incomplete frame currently buffered. */
  get buffered(): number {
    return this.state === HEADER ? this.hdrLen : this.state === PART ? 7 : 7 + this.asmLen;
  }

  push(chunk: Buffer, sink: FrameSink): void {
    const n = chunk.length;
    let p = 0;
    while (p < n) {
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
        this.checkSize(type, size);
        const payloadStart = p + 7;
        if (n - payloadStart > size) {
          const endAt = payloadStart + size;
          this.checkFrame(type, chunk, payloadStart, endAt, chunk[endAt]!);
          p = endAt + 1;
          sink.onFrame(type, channel, chunk, payloadStart, endAt);
          continue;
        }
        if (type === FRAME_BODY && size >= PART_MIN && channel !== 0 && this.bodyParts) {
          // Straddles: pass on what is here (all payload: the frame-end is in a later chunk).
          this.beginPart(channel, size);
          if (n > payloadStart) this.part(sink, chunk, payloadStart, n);
          return;
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
        this.checkSize(type, size);
        if (type === FRAME_BODY && size >= PART_MIN && channel !== 0 && this.bodyParts) this.beginPart(channel, size);
        else this.beginPayload(type, channel, size);
        continue;
      }
      if (this.state === PART) {
        const remaining = this.size - this.got;
        if (n - p <= remaining) {
          // Still no frame-end in this chunk: every octet here is payload.
          this.part(sink, chunk, p, n);
          return;
        }
        const endAt = p + remaining;
        const start = p;
        this.state = HEADER;
        if (this.got < SNIPPET) this.keepHead(chunk, p, endAt);
        this.checkPartEnd(chunk[endAt]!);
        p = endAt + 1;
        sink.onFrame(FRAME_BODY, this.channel, chunk, start, endAt);
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

  private beginPart(channel: number, size: number): void {
    this.type = FRAME_BODY;
    this.channel = channel;
    this.size = size;
    this.state = PART;
    this.got = 0;
  }

  /** A non-final piece: payload octets chunk[start..end), the frame-end still to come. */
  private part(sink: FrameSink, chunk: Buffer, start: number, end: number): void {
    if (this.got < SNIPPET) this.keepHead(chunk, start, end);
    this.got += end - start;
    sink.onFrame(FRAME_BODY_PART, this.channel, chunk, start, end);
  }

  private keepHead(chunk: Buffer, start: number, end: number): void {
    const n = Math.min(SNIPPET - this.got, end - start);
    // head tracks payload[0..got) while got < SNIPPET; called before `got` advances.
    chunk.copy(this.head, this.got, start, start + n);
  }

  /** The frame-end check of a frame passed in pieces (payload > SNIPPET octets: "first 16 octets"). */
  private checkPartEnd(endMarker: number): void {
    if (endMarker !== FRAME_END) {
      throw new AmqpError(ReplyCode.FRAME_ERROR,
        `type ${FRAME_BODY}, ${payloadSnippet(this.head, 0, SNIPPET + 1)}: {invalid_frame_end_marker,${endMarker}}`, 0, 0, true);
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
      const cap = Math.min(Math.max(size + 1, this.asm.length * 2, FRAME_MIN_SIZE + FRAME_OVERHEAD), this.limit() + 1);
      this.asm = Buffer.allocUnsafe(Math.max(cap, size + 1));
    }
  }

  /** rabbit_reader: PayloadSize > FrameMax - 8 + FRAME_SIZE_FUDGE(8) is fatal. */
  private checkSize(type: number, size: number): void {
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
