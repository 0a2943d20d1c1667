/**
 * Add one signed 64-bit header to raw basic properties without decoding them: the stream queue
 * stamps x-stream-offset on every delivery, and decoding + re-encoding the whole property list per
 * delivery would cost more than the rest of the delivery. The new entry goes at the end of the
 * headers table (one is created after content-type/content-encoding when there is none); an entry
 * with the same key the publisher put there stays (the one added last wins in every client's
 * decoder, which keeps the last duplicate).
 * Input invariants: `props` are valid basic properties (flags word(s) + list) as accepted from a
 * publisher; headersStart/headersEnd are the table body bounds from peekBasicProperties (-1: none).
 */
import { BasicFlag } from './content-header.js';

export interface AppendedProperties {
  properties: Buffer;
  headersStart: number;
  headersEnd: number;
}

/** The encoded table entry for `key` (shortstr) + 'l' + 8 bytes, with the value left to fill. */
export function longHeaderEntry(key: string): Buffer {
  const k = Buffer.from(key, 'utf8');
  const e = Buffer.alloc(1 + k.length + 1 + 8);
  e[0] = k.length;
  k.copy(e, 1);
  e[1 + k.length] = 0x6c; // 'l'
  return e;
}

/**
 * Properties with `entry` (from longHeaderEntry, its value set to `value`) appended to the headers.
 * Allocates one buffer of the new size.
 */
export function appendLongHeader(props: Buffer, headersStart: number, headersEnd: number, entry: Buffer, value: number): AppendedProperties {
  const n = entry.length;
  const hi = Math.floor(value / 4294967296); // offsets are non-negative safe integers: no BigInt per delivery
  entry.writeInt32BE(hi, n - 8);
  entry.writeUInt32BE(value - hi * 4294967296, n - 4);
  if (headersStart >= 0) {
    const out = Buffer.allocUnsafe(props.length + n);
    props.copy(out, 0, 0, headersEnd);
    entry.copy(out, headersEnd);
    props.copy(out, headersEnd + n, headersEnd);
    out.writeUInt32BE(headersEnd - headersStart + n, headersStart - 4);
    return { properties: out, headersStart, headersEnd: headersEnd + n };
  }
  // No headers: set the flag and insert a table after content-type and content-encoding.
  let flagsEnd = 0;
  do flagsEnd += 2; while ((props.readUInt16BE(flagsEnd - 2) & 1) !== 0 && flagsEnd < props.length);
  const flags = props.readUInt16BE(0);
  let at = flagsEnd;
  if ((flags & BasicFlag.contentType) !== 0) at += 1 + props[at]!;
  if ((flags & BasicFlag.contentEncoding) !== 0) at += 1 + props[at]!;
  const out = Buffer.allocUnsafe(props.length + 4 + n);
  props.copy(out, 0, 0, at);
  out.writeUInt16BE(flags | BasicFlag.headers, 0);
  out.writeUInt32BE(n, at);
  entry.copy(out, at + 4);
  props.copy(out, at + 4 + n, at);
  return { properties: out, headersStart: at + 4, headersEnd: at + 4 + n };
}
