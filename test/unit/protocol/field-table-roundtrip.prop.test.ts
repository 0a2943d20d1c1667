/**
 * Field-table codec (property): random tables round-trip byte-exactly; encodeFieldTable, writeFieldTable
 * and fieldTableByteLength agree.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFieldTable, encodeFieldTable, fieldTableByteLength, writeFieldTable } from '../../../src/protocol/field-table.js';
import { fieldTableArb } from './arbitraries.js';

const body = (b: Buffer): Buffer => b.subarray(4);
const entry = (key: string, bytes: number[]): number[] => [key.length, ...Buffer.from(key), ...bytes];
const tableBytes = (...entries: number[][]): Buffer => Buffer.from(entries.flat());

describe('field table codec (property)', () => {
  it('decode(encode(t)) deep-equals t and encode(decode(bytes)) reproduces the bytes', () => {
    fc.assert(fc.property(fieldTableArb, (t) => {
      const bytes = encodeFieldTable(t);
      expect(bytes.length).toBe(fieldTableByteLength(t));
      expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
      const decoded = decodeFieldTable(bytes, 4, bytes.length);
      expect(decoded).toEqual(t);
      expect(encodeFieldTable(decoded).equals(bytes)).toBe(true);
    }), { numRuns: 300 });
  });

  it('writeFieldTable writes at an offset and returns the end', () => {
    fc.assert(fc.property(fieldTableArb, fc.nat(20), (t, off) => {
      const n = fieldTableByteLength(t);
      const buf = Buffer.alloc(off + n + 3, 0xaa);
      expect(writeFieldTable(buf, off, t)).toBe(off + n);
      expect(buf.subarray(off, off + n).equals(encodeFieldTable(t))).toBe(true);
      expect(buf[off + n]).toBe(0xaa);
    }), { numRuns: 100 });
  });
});
