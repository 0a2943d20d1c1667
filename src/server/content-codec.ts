/**
 * The ContentCodec the broker uses to decode headers lazily and to rewrite properties when it
 * must change a message (dead-lettering's x-death, stripping BCC, direct reply-to's reply_to).
 * Rewriting decodes and re-encodes the whole property list: it is off the common path.
 */
import type { ContentCodec, PropertyChanges, RewrittenProperties } from '../broker/message.js';
import { newPropertyPeek, peekBasicProperties } from '../protocol/content-header.js';
import { decodeFieldTable } from '../protocol/field-table.js';
import { appendLongHeader, longHeaderEntry } from '../protocol/header-append.js';
import { decodeBasicProperties, encodeBasicProperties } from '../protocol/generated/properties.js';

/** Encoded header entries by key (a handful of keys: x-stream-offset). */
const ENTRIES = new Map<string, Buffer>();

export const CONTENT_CODEC: ContentCodec = {
  decodeTable: decodeFieldTable,
  identity(properties: Buffer) {
    const p = decodeBasicProperties(properties, 0, properties.length);
    return { messageId: p.messageId, replyTo: p.replyTo };
  },
  appendLongHeader(properties, headersStart, headersEnd, key, value) {
    let entry = ENTRIES.get(key);
    if (entry === undefined) ENTRIES.set(key, (entry = longHeaderEntry(key)));
    return appendLongHeader(properties, headersStart, headersEnd, entry, value);
  },
  rewrite(properties: Buffer, changes: PropertyChanges): RewrittenProperties {
    const p = decodeBasicProperties(properties, 0, properties.length);
    if (changes.headers !== undefined) p.headers = changes.headers;
    if (changes.dropExpiration === true) p.expiration = undefined;
    if (changes.replyTo !== undefined) p.replyTo = changes.replyTo;
    const out = encodeBasicProperties(p);
    const peek = newPropertyPeek();
    peekBasicProperties(out, 0, out.length, peek);
    return { properties: out, headersStart: peek.headersStart, headersEnd: peek.headersEnd };
  },
};
