/**
 * Content header frames (AMQP 0-9-1 §4.2.6.1): class-id (short), weight (short, must be 0),
 * body-size (longlong), property flags + property list. The property bytes stay raw: the broker
 * copies them verbatim to consumers and peeks only at the few properties it needs
 * (delivery-mode, priority, expiration, headers, user-id) without decoding any table.
 * Both functions fill a caller-owned object, so the per-message path allocates nothing here except
 * the peeked expiration/user-id strings when present. The headers table is checked (a walk over its
 * bytes, nothing built) so that a message whose table could not be decoded is refused at publish,
 * as RabbitMQ refuses it, instead of being stored and handed to consumers that cannot read it.
 */
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';
import { utf8 } from './buffer-text.js';
import { erlangBinaryW, payloadSnippet } from './erlang-format.js';
import { CONTENT_HEADER_PREFIX, FRAME_HEADER } from './frame-constants.js';

export interface ContentHeaderView {
  classId: number;
  bodySize: number;
  propsStart: number;
  propsEnd: number;
}

export function newContentHeaderView(): ContentHeaderView {
  return { classId: 0, bodySize: 0, propsStart: 0, propsEnd: 0 };
}

const TWO_32 = 4294967296;

/** Parse a content header payload[start..end) into out. */
export function readContentHeader(payload: Buffer, start: number, end: number, out: ContentHeaderView): void {
  if (end - start < CONTENT_HEADER_PREFIX) {
    // rabbit_command_assembler:analyze_frame/2 does not match -> rabbit_reader "unknown_frame".
    throw new AmqpError(ReplyCode.FRAME_ERROR, `type ${FRAME_HEADER}, ${payloadSnippet(payload, start, end)}: unknown_frame`);
  }
  const classId = (payload[start]! << 8) | payload[start + 1]!;
  const weight = (payload[start + 2]! << 8) | payload[start + 3]!;
  if (weight !== 0) {
    // Spec: "weight ... MUST be zero"; RabbitMQ's assembler treats it as not a content header.
    throw new AmqpError(ReplyCode.UNEXPECTED_FRAME,
      `expected content header for class ${classId}, got non content header frame instead`, classId, 0);
  }
  const hi = payload.readUInt32BE(start + 4);
  const bodySize = hi * TWO_32 + payload.readUInt32BE(start + 8);
  if (!Number.isSafeInteger(bodySize)) {
    throw new AmqpError(ReplyCode.FRAME_ERROR,
      `content body size ${payload.readBigUInt64BE(start + 4)} exceeds maximum allowed size ${Number.MAX_SAFE_INTEGER}`);
  }
  out.classId = classId;
  out.bodySize = bodySize;
  out.propsStart = start + CONTENT_HEADER_PREFIX;
  out.propsEnd = end;
}

export interface PropertyPeek {
  /** The first property-flags word (bit 15 = content-type ... bit 2 = cluster-id, bit 0 = continuation). */
  flags: number;
  /** 0 when absent. */
  deliveryMode: number;
  /** 0 when absent. */
  priority: number;
  expiration: string | undefined;
  /** The headers table BODY (without its 4-byte length), ready for decodeFieldTable; -1 when absent. */
  headersStart: number;
  headersEnd: number;
  userId: string | undefined;
}

export function newPropertyPeek(): PropertyPeek {
  return { flags: 0, deliveryMode: 0, priority: 0, expiration: undefined, headersStart: -1, headersEnd: -1, userId: undefined };
}

/** Basic property flag bits (spec order, first property = bit 15). */
export const BasicFlag = {
  contentType: 1 << 15,
  contentEncoding: 1 << 14,
  headers: 1 << 13,
  deliveryMode: 1 << 12,
  priority: 1 << 11,
  correlationId: 1 << 10,
  replyTo: 1 << 9,
  expiration: 1 << 8,
  messageId: 1 << 7,
  timestamp: 1 << 6,
  type: 1 << 5,
  userId: 1 << 4,
  appId: 1 << 3,
  clusterId: 1 << 2,
} as const;

function malformed(buf: Buffer, start: number, end: number): never {
  throw new AmqpError(ReplyCode.FRAME_ERROR, `cannot decode ${erlangBinaryW(buf, start, end)}`);
}

/** Scan raw basic property bytes buf[start..end) (flags + list) into out; decodes no table. */
export function peekBasicProperties(buf: Buffer, start: number, end: number, out: PropertyPeek): void {
  if (end - start < 2) malformed(buf, start, end);
  const flags = (buf[start]! << 8) | buf[start + 1]!;
  let p = start + 2;
  let word = flags;
  while ((word & 1) !== 0) {
    // Continuation words carry no basic properties (there are only 14) but must be skipped.
    if (p + 2 > end) malformed(buf, start, end);
    word = (buf[p]! << 8) | buf[p + 1]!;
    p += 2;
  }
  out.flags = flags;
  out.deliveryMode = 0;
  out.priority = 0;
  out.expiration = undefined;
  out.headersStart = -1;
  out.headersEnd = -1;
  out.userId = undefined;
  if (flags === 0 || flags === 1) {
    if (p !== end) malformed(buf, start, end);
    return;
  }
  for (let bit = 15; bit >= 2; bit--) {
    if ((flags & (1 << bit)) === 0) continue;
    switch (bit) {
      case 13: { // headers: table
        if (p + 4 > end) malformed(buf, start, end);
        const len = buf.readUInt32BE(p);
        p += 4;
        if (p + len > end) malformed(buf, start, end);
        if (!isWellFormedTable(buf, p, p + len)) malformed(buf, start, end);
        out.headersStart = p;
        out.headersEnd = p + len;
        p += len;
        break;
      }
      case 12: // delivery-mode: octet
        if (p + 1 > end) malformed(buf, start, end);
        out.deliveryMode = buf[p]!;
        p += 1;
        break;
      case 11: // priority: octet
        if (p + 1 > end) malformed(buf, start, end);
        out.priority = buf[p]!;
        p += 1;
        break;
      case 6: // timestamp: 64-bit
        if (p + 8 > end) malformed(buf, start, end);
        p += 8;
        break;
      default: { // every other basic property is a shortstr
        if (p + 1 > end) malformed(buf, start, end);
        const len = buf[p]!;
        p += 1;
        if (p + len > end) malformed(buf, start, end);
        if (bit === 8) out.expiration = utf8(buf, p, p + len);
        else if (bit === 4) out.userId = utf8(buf, p, p + len);
        p += len;
      }
    }
  }
  if (p !== end) malformed(buf, start, end);
}

/** Octets of a field value by type tag, for the fixed-size types; -1 otherwise (RabbitMQ's set, 'L' read as 'l'). */
const FIXED_SIZE = new Int8Array(256).fill(-1);
for (const [tag, size] of [['t', 1], ['b', 1], ['B', 1], ['s', 2], ['u', 2], ['I', 4], ['i', 4], ['l', 8], ['L', 8],
  ['f', 4], ['d', 8], ['D', 5], ['T', 8], ['V', 0]] as const) FIXED_SIZE[tag.charCodeAt(0)] = size;
const TAG_S = 0x53;
const TAG_X = 0x78;
const TAG_A = 0x41;
const TAG_F = 0x46;

/** Enclosing containers of the walk (limit, is-a-table), reused: depth costs no call stack. */
const outerLimit: number[] = [];
const outerIsTable: boolean[] = [];

/**
 * Whether buf[start..end) is a field-table body the codec can decode (every tag known, every
 * length inside its container), checked without building anything and without recursion.
 */
export function isWellFormedTable(buf: Buffer, start: number, end: number): boolean {
  outerLimit.length = outerIsTable.length = 0;
  let p = start;
  let limit = end;
  let table = true;
  for (;;) {
    if (p === limit) {
      if (outerLimit.length === 0) return true;
      limit = outerLimit.pop()!;
      table = outerIsTable.pop()!;
      continue;
    }
    if (table) {
      // Key (shortstr), then at least the type tag.
      p += 1 + buf[p]!;
      if (p >= limit) return false;
    }
    const tag = buf[p++]!;
    const size = FIXED_SIZE[tag]!;
    if (size >= 0) {
      p += size;
      if (p > limit) return false;
      continue;
    }
    if (tag !== TAG_S && tag !== TAG_X && tag !== TAG_A && tag !== TAG_F) return false;
    if (p + 4 > limit) return false;
    const len = buf.readUInt32BE(p);
    p += 4;
    if (p + len > limit) return false;
    if (tag === TAG_S || tag === TAG_X) {
      p += len;
      continue;
    }
    outerLimit.push(limit);
    outerIsTable.push(table);
    limit = p + len;
    table = tag === TAG_F;
  }
}
