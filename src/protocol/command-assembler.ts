/**
 * The command assembler of one channel (AMQP 0-9-1 §4.2.6; RabbitMQ's rabbit_command_assembler):
 * turns the channel's frames into commands. A method without content is a command by itself; a
 * content-bearing method (basic.publish) is followed by exactly one content header frame and then
 * body frames until the header's body-size is reached.
 *
 * Kept as data, not closures: `push()` is a small state machine (expecting a method, a content
 * header or body frames) that reports what the frame completed; the caller reads `method`,
 * `properties`, `peek` and `body`, then `take()`s the content.
 *
 * Invariants:
 * - The property bytes and the body are owned buffers, copied out of the frame views exactly once
 *   (a socket-chunk view must not outlive the read callback: it would pin the whole chunk). A body
 *   frame that straddles socket reads arrives as FRAME_BODY_PART pieces (FrameReader `bodyParts`)
 *   that are copied straight from the socket chunks into the body: one copy, never two.
 * - Nothing completes a body that overruns its announced size: like RabbitMQ, the assembler keeps
 *   waiting for body frames and the next method frame is then an UNEXPECTED_FRAME error.
 * - Errors are AmqpErrors with RabbitMQ's texts; after one, the caller abandons the channel (or the
 *   connection) and must `reset()` before reusing the assembler.
 */
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';
import { newContentHeaderView, newPropertyPeek, peekBasicProperties, readContentHeader, type PropertyPeek } from './content-header.js';
import { FRAME_BODY_PART } from './frame-reader.js';
import { FRAME_BODY, FRAME_HEADER, FRAME_METHOD } from './generated/constants.js';
import { decodeMethod, methodHasContent, type Method } from './generated/methods.js';

/** push() results. */
export const ASSEMBLING = 0;
/** `method` is a complete command without content. */
export const METHOD = 1;
/** `method` announces content (header and body frames follow): the caller may refuse it now. */
export const CONTENT_METHOD = 2;
/** The content of `method` is complete: `properties`, `peek` and `body` are ready to take(). */
export const CONTENT = 3;

export type AssemblerResult = typeof ASSEMBLING | typeof METHOD | typeof CONTENT_METHOD | typeof CONTENT;

const EXPECT_METHOD = 0;
const EXPECT_HEADER = 1;
const EXPECT_BODY = 2;

const EMPTY = Buffer.alloc(0);

export class CommandAssembler {
  /** The last method decoded (the content-bearing one while its content is assembled). */
  method: Method | undefined;
  /** Raw content-header property bytes (flags + list), owned. */
  properties: Buffer = EMPTY;
  /** The few properties routing needs, peeked from `properties` without decoding tables. */
  readonly peek: PropertyPeek = newPropertyPeek();
  /** The body being filled (its length is the announced body-size), owned. */
  body: Buffer = EMPTY;

  private state = EXPECT_METHOD;
  private filled = 0;
  private readonly header = newContentHeaderView();

  /** @param maxBodySize largest body-size accepted in a content header (RabbitMQ's max_message_size). */
  constructor(public maxBodySize: number) {}

  /** Feed one frame of this channel: payload[start..end) is a view valid only during this call. */
  push(type: number, payload: Buffer, start: number, end: number): AssemblerResult {
    // A piece of a body frame that straddles socket reads arrives before its frame-end octet is
    // checked: outside a body it is judged on the frame's last piece (FRAME_BODY), so a bad frame end
    // is the connection's 501 whatever the chunking, as on RabbitMQ, which reads whole frames.
    if (type === FRAME_BODY_PART && this.state !== EXPECT_BODY) return ASSEMBLING;
    if (this.state === EXPECT_METHOD) {
      if (type !== FRAME_METHOD) {
        throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, 'expected method frame, got non method frame instead', 0, 0, true);
      }
      const m = decodeMethod(payload, start, end);
      this.method = m;
      if (!methodHasContent(m.classId, m.methodId)) return METHOD;
      this.state = EXPECT_HEADER;
      return CONTENT_METHOD;
    }
    const m = this.method!;
    if (this.state === EXPECT_HEADER) {
      if (type !== FRAME_HEADER) {
        throw new AmqpError(ReplyCode.UNEXPECTED_FRAME,
          `expected content header for class ${m.classId}, got non content header frame instead`, m.classId, m.methodId, true);
      }
      return this.onHeader(m, payload, start, end);
    }
    if (type !== FRAME_BODY && type !== FRAME_BODY_PART) {
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME,
        'expected content body, got non content body frame instead', m.classId, m.methodId, true);
    }
    const n = end - start;
    const body = this.body;
    if (this.filled + n > body.length) {
      // An overrun: never completes (see the header comment).
      this.filled = body.length + 1;
      return ASSEMBLING;
    }
    payload.copy(body, this.filled, start, end);
    this.filled += n;
    // A FRAME_BODY_PART is never the last piece of its frame: only the final FRAME_BODY piece, which
    // comes after the frame-end octet was checked, may complete the content.
    if (type === FRAME_BODY && this.filled === body.length) {
      this.state = EXPECT_METHOD;
      return CONTENT;
    }
    return ASSEMBLING;
  }

  private onHeader(m: Method, payload: Buffer, start: number, end: number): AssemblerResult {
    const h = this.header;
    readContentHeader(payload, start, end, h);
    if (h.classId !== m.classId) {
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME,
        `expected content header for class ${m.classId}, got one for class ${h.classId} instead`, m.classId, m.methodId, true);
    }
    if (h.bodySize > this.maxBodySize) {
      // rabbit_channel:check_msg_size: a channel error; the content that follows is never read.
      this.state = EXPECT_METHOD;
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
        `message size ${h.bodySize} is larger than configured max size ${this.maxBodySize}`, m.classId, m.methodId);
    }
    const len = h.propsEnd - h.propsStart;
    const props = Buffer.allocUnsafe(len);
    payload.copy(props, 0, h.propsStart, h.propsEnd);
    this.properties = props;
    peekBasicProperties(props, 0, len, this.peek);
    this.filled = 0;
    if (h.bodySize === 0) {
      this.body = EMPTY;
      this.state = EXPECT_METHOD;
      return CONTENT;
    }
    this.body = Buffer.allocUnsafe(h.bodySize);
    this.state = EXPECT_BODY;
    return ASSEMBLING;
  }

  /** Forget the assembled (or half-assembled) content: the caller now owns `properties` and `body`. */
  take(): void {
    this.properties = EMPTY;
    this.body = EMPTY;
  }

  /** Drop any half-assembled command (the channel closes). */
  reset(): void {
    this.state = EXPECT_METHOD;
    this.method = undefined;
    this.filled = 0;
    this.take();
  }
}
