/**
 * Field-table codec (AMQP 0-9-1 §4.2.1 with RabbitMQ's type set, see rabbit_binary_parser/generator):
 * t b B s u I i l f d D S x A T F V. Decoding keeps type tags, entry order and duplicate keys so that
 * encode(decode(bytes)) reproduces the bytes exactly (except the two normalisations RabbitMQ also
 * makes: 'L' is read as 'l', and a 't' octet other than 0/1 is read as true).
 * Invariants: decoded 'S'/'x' values are copies, never views of the input (the input is a frame view
 * that dies with the read callback); 'l' and 'T' are numbers when safe integers, else bigints; 'T'
 * is unsigned as in RabbitMQ. Malformed input throws AmqpError FRAME_ERROR ("cannot decode <<...>>",
 * like rabbit_misc:frame_error/2); decodeMethod re-labels it with the method's class/method ids.
 * Nesting depth is limited only by the frame: decode, byte length and encode walk nested tables and
 * arrays with explicit stacks, never the call stack (RabbitMQ accepts 8,000 levels; so does Warren).
 */
import { AmqpError } from '../core/amqp-error.js';
import type { FieldEntry, FieldTable, FieldValue } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import { utf8 } from './buffer-text.js';
import { erlangBinaryW } from './erlang-format.js';

const TWO_32 = 4294967296;

/** Position after the last scalar read: decoding is synchronous and never re-entered from outside. */
let cursor = 0;

class TableDecodeError extends Error {}
const DECODE_ERROR = new TableDecodeError('malformed field table');

function fail(): never {
  throw DECODE_ERROR;
}

function frameError(buf: Buffer, start: number, end: number): AmqpError {
  return new AmqpError(ReplyCode.FRAME_ERROR, `cannot decode ${erlangBinaryW(buf, start, end)}`);
}

/** Decode a table body (WITHOUT its 4-byte length prefix) from buf[start..end). */
export function decodeFieldTable(buf: Buffer, start: number, end: number): FieldTable {
  try {
    return decodeBody(buf, start, end, true) as FieldEntry[];
  } catch (e) {
    stackOut.length = 0;
    if (e === DECODE_ERROR || e instanceof RangeError) throw frameError(buf, start, end);
    throw e;
  }
}

/** Decode an array body (WITHOUT its length prefix). Exported for property codecs and tests. */
export function decodeFieldArray(buf: Buffer, start: number, end: number): FieldValue[] {
  try {
    return decodeBody(buf, start, end, false) as FieldValue[];
  } catch (e) {
    stackOut.length = 0;
    if (e === DECODE_ERROR || e instanceof RangeError) throw frameError(buf, start, end);
    throw e;
  }
}

// The containers still being filled, outermost first (parallel arrays, reused between calls).
// Nesting is walked with this explicit stack, never with the call stack: a client may nest tables
// as deep as its frame allows (RabbitMQ accepts 8,000 levels and more), and the depth of a table
// must never decide whether the broker can decode, compare, store or encode it.
const stackOut: (FieldEntry[] | FieldValue[])[] = [];
const stackEnd: number[] = [];
const stackTable: boolean[] = [];

/**
 * Decode the body of a table (isTable) or array from buf[start..end), nested containers included,
 * in one loop. A container's value object is added to its parent before its own entries are read,
 * so entry order is wire order at every level.
 */
function decodeBody(buf: Buffer, start: number, end: number, isTable: boolean): FieldEntry[] | FieldValue[] {
  const root: FieldEntry[] | FieldValue[] = [];
  let out = root;
  let table = isTable;
  let limit = end;
  let depth = 0;
  let p = start;
  for (;;) {
    if (p >= limit) {
      // Nested lengths were checked against their parent's end, so p === limit here.
      if (depth === 0) {
        stackOut.length = 0;
        return root;
      }
      depth--;
      out = stackOut[depth]!;
      limit = stackEnd[depth]!;
      table = stackTable[depth]!;
      continue;
    }
    let key = '';
    if (table) {
      const klen = buf[p]!;
      p += 1;
      if (p + klen + 1 > limit) fail();
      key = utf8(buf, p, p + klen);
      p += klen;
    }
    const tag = buf[p]!;
    let value: FieldValue;
    if (tag === 0x46 /* F */ || tag === 0x41 /* A */) {
      p += 1;
      if (p + 4 > limit) fail();
      const len = buf.readUInt32BE(p);
      p += 4;
      if (p + len > limit) fail();
      const child: FieldEntry[] | FieldValue[] = [];
      value = tag === 0x46 ? { type: 'F', value: child as FieldEntry[] } : { type: 'A', value: child as FieldValue[] };
      if (table) (out as FieldEntry[]).push({ key, value });
      else (out as FieldValue[]).push(value);
      stackOut[depth] = out;
      stackEnd[depth] = limit;
      stackTable[depth] = table;
      depth++;
      out = child;
      limit = p + len;
      table = tag === 0x46;
      continue;
    }
    value = readScalar(buf, p, limit);
    p = cursor;
    if (table) (out as FieldEntry[]).push({ key, value });
    else (out as FieldValue[]).push(value);
  }
}

function copyBytes(buf: Buffer, start: number, end: number): Buffer {
  const b = Buffer.allocUnsafe(end - start);
  buf.copy(b, 0, start, end);
  return b;
}

/** Read tag + value at p (p < end guaranteed by the caller); sets cursor past it. Never 'F' or 'A'. */
function readScalar(buf: Buffer, p: number, end: number): FieldValue {
  const tag = buf[p]!;
  p += 1;
  switch (tag) {
    case 0x53: /* S */ case 0x78: /* x */ {
      if (p + 4 > end) fail();
      const len = buf.readUInt32BE(p);
      p += 4;
      if (p + len > end) fail();
      cursor = p + len;
      return { type: tag === 0x53 ? 'S' : 'x', value: copyBytes(buf, p, p + len) };
    }
    case 0x49: /* I */
      if (p + 4 > end) fail();
      cursor = p + 4;
      return { type: 'I', value: buf.readInt32BE(p) };
    case 0x74: /* t */
      if (p + 1 > end) fail();
      cursor = p + 1;
      return { type: 't', value: buf[p] !== 0 };
    case 0x6c: /* l */ case 0x4c: /* L: RabbitMQ reads it as a signed 64-bit 'l' too */ {
      if (p + 8 > end) fail();
      cursor = p + 8;
      const hi = buf.readInt32BE(p);
      const lo = buf.readUInt32BE(p + 4);
      const n = hi * TWO_32 + lo;
      return { type: 'l', value: Number.isSafeInteger(n) ? n : buf.readBigInt64BE(p) };
    }
    case 0x54: /* T: unsigned, as rabbit_binary_parser reads it */ {
      if (p + 8 > end) fail();
      cursor = p + 8;
      const hi = buf.readUInt32BE(p);
      const lo = buf.readUInt32BE(p + 4);
      const n = hi * TWO_32 + lo;
      return { type: 'T', value: Number.isSafeInteger(n) ? n : buf.readBigUInt64BE(p) };
    }
    case 0x62: /* b */
      if (p + 1 > end) fail();
      cursor = p + 1;
      return { type: 'b', value: buf.readInt8(p) };
    case 0x42: /* B */
      if (p + 1 > end) fail();
      cursor = p + 1;
      return { type: 'B', value: buf[p]! };
    case 0x73: /* s */
      if (p + 2 > end) fail();
      cursor = p + 2;
      return { type: 's', value: buf.readInt16BE(p) };
    case 0x75: /* u */
      if (p + 2 > end) fail();
      cursor = p + 2;
      return { type: 'u', value: buf.readUInt16BE(p) };
    case 0x69: /* i */
      if (p + 4 > end) fail();
      cursor = p + 4;
      return { type: 'i', value: buf.readUInt32BE(p) };
    case 0x66: /* f */
      if (p + 4 > end) fail();
      cursor = p + 4;
      return { type: 'f', value: buf.readFloatBE(p) };
    case 0x64: /* d */
      if (p + 8 > end) fail();
      cursor = p + 8;
      return { type: 'd', value: buf.readDoubleBE(p) };
    case 0x44: /* D: scale octet + unsigned 32-bit digits (rabbit_binary_parser) */
      if (p + 5 > end) fail();
      cursor = p + 5;
      return { type: 'D', scale: buf[p]!, value: buf.readUInt32BE(p + 1) };
    case 0x56: /* V */
      cursor = p;
      return { type: 'V' };
    default:
      return fail();
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

function encodeError(detail: string): AmqpError {
  return new AmqpError(ReplyCode.INTERNAL_ERROR, `cannot encode field table: ${detail}`);
}

/** Bytes of one non-container value including its tag octet ('F'/'A' add only their 5-byte head). */
function scalarByteLength(v: FieldValue): number {
  switch (v.type) {
    case 'S': case 'x': return 5 + v.value.length;
    case 't': case 'b': case 'B': return 2;
    case 's': case 'u': return 3;
    case 'I': case 'i': case 'f': return 5;
    case 'l': case 'T': case 'd': return 9;
    case 'D': return 6;
    case 'V': return 1;
    case 'F': case 'A': return 5;
    default:
      throw encodeError(`unknown type ${String((v as { type: unknown }).type)}`);
  }
}

/**
 * Byte length of the encoded table WITH its 4-byte length prefix. Nested containers are visited
 * with an explicit work list, not recursion: the total is a plain sum over every value, so the
 * visiting order does not matter.
 */
export function fieldTableByteLength(t: FieldTable): number {
  let n = 4;
  let pending: (FieldTable | readonly FieldValue[])[] | undefined;
  let tables: boolean[] | undefined;
  let cur: FieldTable | readonly FieldValue[] = t;
  let isTable = true;
  for (;;) {
    for (let i = 0; i < cur.length; i++) {
      let v: FieldValue;
      if (isTable) {
        const e = (cur as FieldTable)[i]!;
        n += 1 + Buffer.byteLength(e.key, 'utf8');
        v = e.value;
      } else {
        v = (cur as readonly FieldValue[])[i]!;
      }
      n += scalarByteLength(v);
      if ((v.type === 'F' || v.type === 'A') && v.value.length > 0) {
        (pending ??= []).push(v.value);
        (tables ??= []).push(v.type === 'F');
      }
    }
    if (pending === undefined || pending.length === 0) return n;
    cur = pending.pop()!;
    isTable = tables!.pop()!;
  }
}

/** Encode a table WITH its 4-byte length prefix into a new Buffer. */
export function encodeFieldTable(t: FieldTable): Buffer {
  const b = Buffer.allocUnsafe(fieldTableByteLength(t));
  writeFieldTable(b, 0, t);
  return b;
}

/**
 * Write a table WITH its 4-byte length prefix at offset; returns the offset after it.
 * The caller guarantees room for fieldTableByteLength(t) bytes. Nesting is walked with an explicit
 * stack (one level per open container: its items, the next index, and where its length goes,
 * back-patched when the container is done), never with the call stack.
 */
export function writeFieldTable(buf: Buffer, offset: number, t: FieldTable): number {
  let items: FieldTable | readonly FieldValue[] = t;
  let isTable = true;
  let i = 0;
  let lenAt = offset;
  let p = offset + 4;
  let stack: { items: FieldTable | readonly FieldValue[]; isTable: boolean; i: number; lenAt: number }[] | undefined;
  for (;;) {
    if (i >= items.length) {
      buf.writeUInt32BE(p - lenAt - 4, lenAt);
      const up = stack?.pop();
      if (up === undefined) return p;
      items = up.items;
      isTable = up.isTable;
      i = up.i;
      lenAt = up.lenAt;
      continue;
    }
    let v: FieldValue;
    if (isTable) {
      const e: FieldEntry = (items as FieldTable)[i]!;
      const klen = Buffer.byteLength(e.key, 'utf8');
      if (klen > 255) throw encodeError(`key longer than 255 bytes`);
      buf[p] = klen;
      buf.write(e.key, p + 1, klen, 'utf8');
      p += 1 + klen;
      v = e.value;
    } else {
      v = (items as readonly FieldValue[])[i]!;
    }
    i++;
    if (v.type === 'F' || v.type === 'A') {
      buf[p] = v.type === 'F' ? 0x46 : 0x41;
      (stack ??= []).push({ items, isTable, i, lenAt });
      items = v.value;
      isTable = v.type === 'F';
      i = 0;
      lenAt = p + 1;
      p += 5;
      continue;
    }
    p = writeScalar(buf, p, v);
  }
}

/** Write a 64-bit integer (number or bigint, signed or unsigned two's complement). */
function writeInt64(buf: Buffer, p: number, v: number | bigint): void {
  if (typeof v === 'bigint') {
    buf.writeBigUInt64BE(BigInt.asUintN(64, v), p);
    return;
  }
  if (!Number.isInteger(v)) throw encodeError(`64-bit integer expected, got ${v}`);
  const hi = Math.floor(v / TWO_32);
  const lo = v - hi * TWO_32;
  buf.writeUInt32BE(hi >>> 0, p);
  buf.writeUInt32BE(lo >>> 0, p + 4);
}

/** Write one non-container value (tag included); returns the offset after it. */
function writeScalar(buf: Buffer, p: number, v: FieldValue): number {
  switch (v.type) {
    case 'S': case 'x':
      buf[p] = v.type === 'S' ? 0x53 : 0x78;
      buf.writeUInt32BE(v.value.length, p + 1);
      v.value.copy(buf, p + 5);
      return p + 5 + v.value.length;
    case 't':
      buf[p] = 0x74;
      buf[p + 1] = v.value ? 1 : 0;
      return p + 2;
    case 'b':
      buf[p] = 0x62;
      buf.writeInt8(v.value, p + 1);
      return p + 2;
    case 'B':
      buf[p] = 0x42;
      buf.writeUInt8(v.value, p + 1);
      return p + 2;
    case 's':
      buf[p] = 0x73;
      buf.writeInt16BE(v.value, p + 1);
      return p + 3;
    case 'u':
      buf[p] = 0x75;
      buf.writeUInt16BE(v.value, p + 1);
      return p + 3;
    case 'I':
      buf[p] = 0x49;
      buf.writeInt32BE(v.value, p + 1);
      return p + 5;
    case 'i':
      buf[p] = 0x69;
      buf.writeUInt32BE(v.value, p + 1);
      return p + 5;
    case 'f':
      buf[p] = 0x66;
      buf.writeFloatBE(v.value, p + 1);
      return p + 5;
    case 'd':
      buf[p] = 0x64;
      buf.writeDoubleBE(v.value, p + 1);
      return p + 9;
    case 'l': case 'T':
      buf[p] = v.type === 'l' ? 0x6c : 0x54;
      writeInt64(buf, p + 1, v.value);
      return p + 9;
    case 'D':
      buf[p] = 0x44;
      buf.writeUInt8(v.scale, p + 1);
      buf.writeUInt32BE(v.value >>> 0, p + 2);
      return p + 6;
    case 'V':
      buf[p] = 0x56;
      return p + 1;
    default:
      throw encodeError(`unknown type ${String((v as { type: unknown }).type)}`);
  }
}
