/**
 * Property tests (fast-check) of the basic property peek and content header: round trips and
 * agreement with the generated codec.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { decodeFieldTable } from '../../../src/protocol/field-table.js';
import {
  BasicFlag, newContentHeaderView, newPropertyPeek, peekBasicProperties, readContentHeader,
} from '../../../src/protocol/content-header.js';
import { decodeBasicProperties, encodeBasicProperties } from '../../../src/protocol/generated/methods.js';
import { basicPropertiesArb, fullProperties } from './arbitraries.js';

function thrown(fn: () => void): AmqpError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AmqpError);
    return e as AmqpError;
  }
  throw new Error('expected an AmqpError');
}

describe('basic properties (property)', () => {
  it('round-trip (decode(encode(p)) has all 14 keys, absent = undefined)', () => {
    fc.assert(fc.property(basicPropertiesArb, (p) => {
      const b = encodeBasicProperties(p);
      const d = decodeBasicProperties(b, 0, b.length);
      expect(d).toEqual(fullProperties(p));
      expect(Object.keys(d)).toHaveLength(14);
      expect(encodeBasicProperties(d).equals(b)).toBe(true);
    }), { numRuns: 300 });
  });
});

describe('peekBasicProperties (property)', () => {
  it('agrees with decodeBasicProperties', () => {
    const peek = newPropertyPeek();
    fc.assert(fc.property(basicPropertiesArb, fc.nat(5), (p, pad) => {
      const raw = encodeBasicProperties(p);
      const b = Buffer.concat([Buffer.alloc(pad, 0xee), raw, Buffer.alloc(3, 0xee)]);
      peekBasicProperties(b, pad, pad + raw.length, peek);
      const d = decodeBasicProperties(b, pad, pad + raw.length);
      expect(peek.flags).toBe(raw.readUInt16BE(0));
      expect(peek.deliveryMode).toBe(d.deliveryMode ?? 0);
      expect(peek.priority).toBe(d.priority ?? 0);
      expect(peek.expiration).toBe(d.expiration);
      expect(peek.userId).toBe(d.userId);
      if (d.headers === undefined) {
        expect([peek.headersStart, peek.headersEnd]).toEqual([-1, -1]);
      } else {
        expect(decodeFieldTable(b, peek.headersStart, peek.headersEnd)).toEqual(d.headers);
      }
    }), { numRuns: 300 });
  });
});
