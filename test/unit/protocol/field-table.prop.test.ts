/**
 * Field tables of any depth and size under mutation (issue 11): random tables built around a deep
 * spine (up to 5,000 levels of tables and arrays, random values and keys at every level) decode
 * and re-encode byte-exactly and compare equal to themselves; damaged encodings (bit flips, length
 * fields set to edge values up to 2^32-1, truncation) give a FRAME_ERROR AmqpError or a table that
 * re-encodes, never another exception, whatever the depth.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { fieldEquals, type FieldTable, type FieldValue } from '../../../src/core/field-value.js';
import { ReplyCode } from '../../../src/core/reply-code.js';
import { decodeFieldTable, encodeFieldTable, fieldTableByteLength } from '../../../src/protocol/field-table.js';
import { fieldTableArb, keyArb, scalarValueArb } from './arbitraries.js';

/** A table whose first entry nests `depth` levels (each level a table or an array, with siblings). */
const deepTableArb: fc.Arbitrary<FieldTable> = fc.record({
  depth: fc.integer({ min: 1, max: 5000 }),
  kinds: fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
  siblings: fc.array(fc.tuple(keyArb, scalarValueArb), { maxLength: 6 }),
  around: fieldTableArb,
}).map(({ depth, kinds, siblings, around }) => {
  let v: FieldValue = { type: 'V' };
  for (let i = 0; i < depth; i++) {
    const sib = siblings[i % (siblings.length || 1)];
    if (kinds[i % kinds.length]) {
      v = { type: 'F', value: sib === undefined ? [{ key: 'k', value: v }] : [{ key: `s${sib[0]}`.slice(0, 255), value: sib[1] }, { key: 'k', value: v }] };
    } else {
      v = { type: 'A', value: sib === undefined ? [v] : [v, sib[1]] };
    }
  }
  return [...around, { key: 'deep', value: v }];
});

function decodesOrFrameError(b: Buffer): void {
  let t: FieldTable;
  try {
    t = decodeFieldTable(b, 0, b.length);
  } catch (e) {
    expect(e).toBeInstanceOf(AmqpError);
    expect((e as AmqpError).code).toBe(ReplyCode.FRAME_ERROR);
    return;
  }
  // What decodes re-encodes, and that encoding is stable (the codec's two normalisations are applied
  // once). Bytes are compared, not objects: a deep structural expect() would itself recurse.
  const again = encodeFieldTable(t);
  const back = decodeFieldTable(again, 4, again.length);
  expect(encodeFieldTable(back).equals(again)).toBe(true);
}

describe('deep field tables', () => {
  it('round-trip byte-exactly, measure right and equal themselves', () => {
    fc.assert(fc.property(deepTableArb, (t) => {
      const bytes = encodeFieldTable(t);
      expect(bytes.length).toBe(fieldTableByteLength(t));
      const back = decodeFieldTable(bytes, 4, bytes.length);
      expect(encodeFieldTable(back).equals(bytes)).toBe(true);
      // The deep entry (the last one; `around` may repeat keys, and tables compare by first occurrence).
      expect(fieldEquals(back[back.length - 1]!.value, t[t.length - 1]!.value)).toBe(true);
    }), { numRuns: 150 });
  });

  it('damaged encodings: FRAME_ERROR or a table that re-encodes, nothing else', () => {
    const edit = fc.record({ op: fc.constantFrom('flip', 'u32', 'cut'), at: fc.nat(), v: fc.oneof(fc.nat(255), fc.constantFrom(0xffffffff, 0x80000000, 0x7fffffff, 0)) });
    fc.assert(fc.property(deepTableArb, fc.array(edit, { minLength: 1, maxLength: 4 }), (t, edits) => {
      let b = Buffer.from(encodeFieldTable(t).subarray(4));
      for (const e of edits) {
        if (b.length === 0) break;
        const i = e.at % b.length;
        if (e.op === 'flip') b[i]! ^= 1 << (e.v & 7);
        else if (e.op === 'u32' && i + 4 <= b.length) b.writeUInt32BE(e.v >>> 0, i);
        else if (e.op === 'cut') b = b.subarray(0, i);
      }
      decodesOrFrameError(b);
    }), { numRuns: 300 });
  });
});
