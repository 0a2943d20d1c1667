/**
 * What a publisher may put in a message's properties, checked before the message enters the
 * publish operation, whichever door it comes through (basic.publish, the management API's publish):
 * rabbit_channel:check_user_id_header (user_id must be the publisher's own user) and
 * rabbit_basic:parse_expiration, with RabbitMQ's texts byte for byte (checked against RabbitMQ 3.10):
 *
 * - The expiration is read as Erlang's string:to_integer reads it: an optional sign and ASCII
 *   digits, nothing before them (" 5" is no_integer); anything after them is a leftover_string
 *   ("12abc", "1.5", "1e3"); then the value must be within 0..315360000000 ms (10 years,
 *   rabbit_misc:check_expiry), else value_negative / value_too_large, with the exact integer.
 * - The reason is printed as Erlang's ~p prints it after "invalid expiration '<bytes>': ": a tuple
 *   that would end past column 78 breaks after its first element and indents the second one column
 *   past the opening brace; a leftover is a quoted string when every byte is printable Latin-1,
 *   else a list of byte values.
 */
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';
import { MAX_EXPIRY } from './queue-arguments.js';

/**
 * @param impersonator asked only when user_id names someone else: users tagged `impersonator` may
 *   (rabbit_channel:check_user_id_header).
 */
export function checkPublishedProperties(userId: string | undefined, expiration: string | undefined, user: string,
  impersonator?: () => boolean): void {
  if (userId !== undefined && userId !== user && impersonator?.() !== true) {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `user_id property set to '${userId}' but authenticated user was '${user}'`);
  }
  if (expiration !== undefined) parseExpiration(expiration);
}

/** The per-message expiration in ms; 406 PRECONDITION_FAILED with RabbitMQ's text when invalid. */
function parseExpiration(value: string): number {
  const bytes = Buffer.from(value, 'utf8');
  let digitsFrom = 0;
  if (bytes[0] === PLUS || bytes[0] === MINUS) digitsFrom = 1;
  let end = digitsFrom;
  while (end < bytes.length && bytes[end]! >= ZERO && bytes[end]! <= NINE) end++;
  if (end === digitsFrom) throw invalidExpiration(bytes, 'no_integer');
  if (end < bytes.length) throw invalidExpiration(bytes, tuple('leftover_string', erlangList(bytes.subarray(end)), bytes));
  const n = BigInt(bytes.toString('latin1', 0, end));
  if (n < 0n) throw invalidExpiration(bytes, tuple('value_negative', n.toString(), bytes));
  if (n > BigInt(MAX_EXPIRY)) throw invalidExpiration(bytes, tuple('value_too_large', n.toString(), bytes));
  return Number(n);
}

const PLUS = 0x2b;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const PREFIX = "invalid expiration '";
const SUFFIX = "': ";

function invalidExpiration(bytes: Buffer, reason: string): AmqpError {
  return new AmqpError(ReplyCode.PRECONDITION_FAILED, `${PREFIX}${bytes.toString('utf8')}${SUFFIX}${reason}`);
}

/** A {Tag,Value} tuple as ~p lays it out at the column where the expiration's reason starts. */
function tuple(tag: string, value: string, expiration: Buffer): string {
  const column = PREFIX.length + expiration.length + SUFFIX.length;
  const oneLine = `{${tag},${value}}`;
  if (column + Buffer.byteLength(oneLine) <= 78) return oneLine;
  return `{${tag},\n${' '.repeat(column + 1)}${value}}`;
}

/** An Erlang list of bytes as ~p prints it: a string when all are printable Latin-1, else integers. */
function erlangList(bytes: Buffer): string {
  let printable = true;
  for (const b of bytes) if (!(b >= 0x20 && b <= 0x7e) && !(b >= 0xa0) && ESCAPES[b] === undefined) printable = false;
  if (!printable) return `[${[...bytes].join(',')}]`;
  let s = '"';
  let from = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const esc = b === 0x22 ? '\\"' : b === 0x5c ? '\\\\' : ESCAPES[b];
    if (esc === undefined) continue;
    s += bytes.toString('utf8', from, i) + esc;
    from = i + 1;
  }
  // Printable bytes go out as they came (RabbitMQ echoes them): valid UTF-8 survives the round trip.
  return `${s}${bytes.toString('utf8', from)}"`;
}

const ESCAPES: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 27: '\\e' };
