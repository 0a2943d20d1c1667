/**
 * Field tables: every RabbitMQ type decodes and re-encodes byte-exactly (tags, order, duplicate keys
 * kept), fixed vectors per type, 64-bit number/bigint split, and malformed input -> FRAME_ERROR
 * (random tables: field-table-roundtrip.prop.test.ts, field-table.prop.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import type { FieldTable } from '../../../src/core/field-value.js';
import { ReplyCode } from '../../../src/core/reply-code.js';
import { decodeFieldTable, encodeFieldTable, fieldTableByteLength } from '../../../src/protocol/field-table.js';

const body = (b: Buffer): Buffer => b.subarray(4);
const entry = (key: string, bytes: number[]): number[] => [key.length, ...Buffer.from(key), ...bytes];
const tableBytes = (...entries: number[][]): Buffer => Buffer.from(entries.flat());

describe('field table codec', () => {

  it('decodes every type from fixed bytes', () => {
    const bytes = tableBytes(
      entry('t', [0x74, 1]),
      entry('b', [0x62, 0xff]),
      entry('B', [0x42, 0xff]),
      entry('s', [0x73, 0xff, 0xfe]),
      entry('u', [0x75, 0xff, 0xfe]),
      entry('I', [0x49, 0xff, 0xff, 0xff, 0xfe]),
      entry('i', [0x69, 0xff, 0xff, 0xff, 0xfe]),
      entry('l', [0x6c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]),
      entry('L', [0x6c, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      entry('T', [0x54, 0, 0, 0, 0, 0x5f, 0x5e, 0x10, 0x00]),
      entry('U', [0x54, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      entry('f', [0x66, 0x3f, 0xc0, 0, 0]),
      entry('d', [0x64, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]),
      entry('D', [0x44, 2, 0, 0, 0x30, 0x39]),
      entry('S', [0x53, 0, 0, 0, 2, 0x68, 0x69]),
      entry('x', [0x78, 0, 0, 0, 1, 0x00]),
      entry('A', [0x41, 0, 0, 0, 4, 0x62, 1, 0x56, 0x56]),
      entry('F', [0x46, 0, 0, 0, 4, 1, 0x6b, 0x74, 0]),
      entry('V', [0x56]),
      entry('t', [0x74, 0]),
    );
    const t = decodeFieldTable(bytes, 0, bytes.length);
    expect(t).toEqual([
      { key: 't', value: { type: 't', value: true } },
      { key: 'b', value: { type: 'b', value: -1 } },
      { key: 'B', value: { type: 'B', value: 255 } },
      { key: 's', value: { type: 's', value: -2 } },
      { key: 'u', value: { type: 'u', value: 65534 } },
      { key: 'I', value: { type: 'I', value: -2 } },
      { key: 'i', value: { type: 'i', value: 4294967294 } },
      { key: 'l', value: { type: 'l', value: -2 } },
      { key: 'L', value: { type: 'l', value: 2n ** 63n - 1n } },
      { key: 'T', value: { type: 'T', value: 1600000000 } },
      { key: 'U', value: { type: 'T', value: 2n ** 64n - 1n } },
      { key: 'f', value: { type: 'f', value: 1.5 } },
      { key: 'd', value: { type: 'd', value: Math.PI } },
      { key: 'D', value: { type: 'D', scale: 2, value: 12345 } },
      { key: 'S', value: { type: 'S', value: Buffer.from('hi') } },
      { key: 'x', value: { type: 'x', value: Buffer.from([0]) } },
      { key: 'A', value: { type: 'A', value: [{ type: 'b', value: 1 }, { type: 'V' }, { type: 'V' }] } },
      { key: 'F', value: { type: 'F', value: [{ key: 'k', value: { type: 't', value: false } }] } },
      { key: 'V', value: { type: 'V' } },
      { key: 't', value: { type: 't', value: false } },
    ]);
    // duplicate keys and order survive; byte-exact re-encoding
    expect(body(encodeFieldTable(t)).equals(bytes)).toBe(true);
  });

  it("reads 'L' as 'l' (as RabbitMQ does) and decoded long strings are copies", () => {
    const bytes = tableBytes(entry('k', [0x4c, 0, 0, 0, 0, 0, 0, 0, 7]), entry('s', [0x53, 0, 0, 0, 1, 0x41]));
    const t = decodeFieldTable(bytes, 0, bytes.length);
    expect(t[0]!.value).toEqual({ type: 'l', value: 7 });
    bytes.fill(0);
    expect(t[1]!.value).toEqual({ type: 'S', value: Buffer.from('A') });
  });

  it('encodes numbers and bigints for 64-bit types', () => {
    const t: FieldTable = [
      { key: 'a', value: { type: 'l', value: -(2 ** 53) + 1 } },
      { key: 'b', value: { type: 'l', value: -(2n ** 63n) } },
      { key: 'c', value: { type: 'T', value: 2n ** 64n - 1n } },
    ];
    const b = encodeFieldTable(t);
    expect(decodeFieldTable(b, 4, b.length)).toEqual(t);
  });

  it('malformed tables throw FRAME_ERROR', () => {
    const cases = [
      [1, 0x6b, 0x5a, 0], // unknown tag Z
      [1, 0x6b, 0x49, 0, 0], // truncated I
      [5, 0x6b], // key longer than the table
      [1, 0x6b, 0x53, 0, 0, 0, 9, 1], // long string past the end
      [1, 0x6b, 0x46, 0, 0, 0, 2, 9, 9], // nested table: bad entry
      [1, 0x6b], // key without a value
    ];
    for (const c of cases) {
      const b = Buffer.from(c);
      let err: unknown;
      try {
        decodeFieldTable(b, 0, b.length);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AmqpError);
      expect((err as AmqpError).code).toBe(ReplyCode.FRAME_ERROR);
    }
  });
});

describe('field table nesting', () => {
  /** 6 bytes per level: key length 0, 'F' or 'A', a 4-byte length; the innermost container is empty. */
  function nested(depth: number, tag: 'F' | 'A'): Buffer {
    const step = tag === 'F' ? 6 : 5;
    const b = Buffer.alloc(depth * step);
    for (let i = 0; i < depth; i++) {
      const at = i * step;
      if (tag === 'F') b[at] = 0;
      b[at + step - 5] = tag.charCodeAt(0);
      b.writeUInt32BE(b.length - at - step, at + step - 4);
    }
    return b;
  }

  it('tables nested 100,000 levels deep decode and re-encode byte-exactly (no call-stack limit)', () => {
    const bytes = nested(100_000, 'F');
    const t = decodeFieldTable(bytes, 0, bytes.length);
    let depth = 0;
    let cur: FieldTable = t;
    while (cur.length > 0) {
      const v = cur[0]!.value;
      if (v.type !== 'F') throw new Error('not a table');
      cur = v.value;
      depth++;
    }
    expect(depth).toBe(100_000);
    expect(fieldTableByteLength(t)).toBe(bytes.length + 4);
    expect(body(encodeFieldTable(t)).equals(bytes)).toBe(true);
  });

  it('arrays nested 100,000 levels deep inside a table round-trip too', () => {
    const arrays = nested(100_000, 'A');
    const bytes = Buffer.concat([Buffer.from([1, 0x6b]), arrays]);
    const t = decodeFieldTable(bytes, 0, bytes.length);
    expect(body(encodeFieldTable(t)).equals(bytes)).toBe(true);
  });

  it('a malformed value deep inside is FRAME_ERROR', () => {
    const bytes = nested(20_000, 'F');
    bytes[bytes.length - 5] = 0x5a; // the innermost tag becomes 'Z'
    expect(() => decodeFieldTable(bytes, 0, bytes.length)).toThrow(/^FRAME_ERROR|cannot decode/);
    // and the decoder is not left in a bad state
    const ok = nested(3, 'F');
    expect(decodeFieldTable(ok, 0, ok.length)).toHaveLength(1);
  });

  it('a deep value after other entries keeps every level in wire order', () => {
    const deep = nested(5_000, 'F');
    const bytes = Buffer.concat([Buffer.from([1, 0x61, 0x74, 1]), Buffer.from([1, 0x62]), deep.subarray(1), Buffer.from([1, 0x63, 0x56])]);
    const t = decodeFieldTable(bytes, 0, bytes.length);
    expect(t.map((e) => e.key)).toEqual(['a', 'b', 'c']);
    expect(body(encodeFieldTable(t)).equals(bytes)).toBe(true);
  });
});
