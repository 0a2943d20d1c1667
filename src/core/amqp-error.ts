/**
 * The one error type of Warren: an AMQP reply code, a RabbitMQ-shaped reply text and the
 * class/method that caused it. Thrown anywhere; mapped to channel.close or connection.close
 * in exactly one place (server/close-mapping). Invariant: `text` is at most 255 bytes
 * (a shortstr; longer ones end in "..." as RabbitMQ's do), formatted like RabbitMQ's
 * "NOT_FOUND - no queue 'x' in vhost '/'".
 */
import { isHardError, replyCodeName } from './reply-code.js';

export class AmqpError extends Error {
  readonly code: number;
  readonly text: string;
  classId: number;
  methodId: number;
  /** Force a connection-level close even for a soft code (e.g. errors on channel 0). */
  readonly connectionLevel: boolean;

  /**
   * classId/methodId -1 (the default) mean "the method being handled": the connection fills them
   * in from the last method received on that channel; 0/0 means "about no method".
   */
  constructor(code: number, detail: string, classId = -1, methodId = -1, connectionLevel = false) {
    const text = truncateShortstr(`${replyCodeName(code)} - ${detail}`);
    super(text);
    this.name = 'AmqpError';
    this.code = code;
    this.text = text;
    this.classId = classId;
    this.methodId = methodId;
    this.connectionLevel = connectionLevel || isHardError(code);
  }

  get hard(): boolean {
    return this.connectionLevel;
  }
}

/**
 * A reply text as RabbitMQ cuts it (rabbit_binary_generator:amqp_exception_explanation): over 255
 * bytes, the first 252 and "..." (never splitting a UTF-8 character).
 */
function truncateShortstr(s: string): string {
  if (Buffer.byteLength(s) <= 255) return s;
  let end = Math.min(s.length, 252);
  while (end > 0 && Buffer.byteLength(s.slice(0, end)) > 252) end--;
  if (end > 0 && end < s.length && /[\uD800-\uDBFF]/.test(s[end - 1]!)) end--;
  return `${s.slice(0, end)}...`;
}
