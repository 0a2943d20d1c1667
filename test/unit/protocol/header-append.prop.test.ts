/**
 * Property tests (fast-check) of appendLongHeader against the generated property codec.
 */
import fc from 'fast-check';
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

describe('appendLongHeader (property)', () => {
  it('matches the codec for any property combination', () => {
    fc.assert(fc.property(
      fc.record({
        contentType: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
        contentEncoding: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
        headers: fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.integer()), { nil: undefined }),
        deliveryMode: fc.option(fc.integer({ min: 1, max: 2 }), { nil: undefined }),
        correlationId: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
        appId: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
      }),
      fc.nat(),
      (p, offset) => {
        const props: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(p)) if (v !== undefined) props[k] = k === 'headers' ? tableFrom(v as Record<string, number>) : v;
        roundTrip(props as Parameters<typeof encodeBasicProperties>[0], offset);
      },
    ));
  });
});
