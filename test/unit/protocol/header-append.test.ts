/**
 * appendLongHeader by example (for any basic properties, header-append.prop.test.ts checks that
 * appending x-stream-offset gives the same properties with that header added last).
 */
import { describe, expect, it } from 'vitest';
import { newPropertyPeek, peekBasicProperties } from '../../../src/protocol/content-header.js';
import { decodeFieldTable } from '../../../src/protocol/field-table.js';
import { appendLongHeader, longHeaderEntry } from '../../../src/protocol/header-append.js';
import { decodeBasicProperties, encodeBasicProperties } from '../../../src/protocol/generated/properties.js';
import { fv, tableFrom } from '../../../src/core/field-value.js';

const ENTRY = longHeaderEntry('x-stream-offset');

function roundTrip(props: Parameters<typeof encodeBasicProperties>[0], offset: number): void {
  const raw = encodeBasicProperties(props);
  const peek = newPropertyPeek();
  peekBasicProperties(raw, 0, raw.length, peek);
  const out = appendLongHeader(raw, peek.headersStart, peek.headersEnd, ENTRY, offset);
  const decoded = decodeBasicProperties(out.properties, 0, out.properties.length);
  const headers = [...(props.headers ?? []), { key: 'x-stream-offset', value: fv.long(offset) }];
  expect({ ...decoded, headers: decoded.headers }).toEqual({ ...decodeBasicProperties(raw, 0, raw.length), headers });
  expect(decodeFieldTable(out.properties, out.headersStart, out.headersEnd)).toEqual(headers);
}

describe('appendLongHeader', () => {
  it('adds the header to properties with and without headers', () => {
    roundTrip({}, 0);
    roundTrip({ contentType: 'text/plain', contentEncoding: 'gzip', deliveryMode: 2, messageId: 'id' }, 42);
    roundTrip({ headers: tableFrom({ a: 1, b: 'two' }), priority: 3, timestamp: 1_700_000_000 }, 2 ** 40);
    roundTrip({ contentType: 'a', headers: [] }, 7);
  });

});
