/**
 * isWellFormedTable (the allocation-free check peekBasicProperties runs on a headers table) agrees
 * with the decoder: true exactly when decodeFieldTable succeeds, for valid tables and for tables
 * with flipped, dropped or inserted bytes; deep nesting needs no call stack.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWellFormedTable } from '../../../src/protocol/content-header.js';
import { decodeFieldTable, encodeFieldTable } from '../../../src/protocol/field-table.js';
import { fieldTableArb } from './arbitraries.js';

function decodes(b: Buffer): boolean {
  try {
    decodeFieldTable(b, 0, b.length);
    return true;
  } catch {
    return false;
  }
}

describe('isWellFormedTable (property)', () => {
  it('accepts every encoded table', () => {
    fc.assert(fc.property(fieldTableArb, (t) => {
      const b = encodeFieldTable(t).subarray(4);
      expect(isWellFormedTable(b, 0, b.length)).toBe(true);
    }));
  });

  it('agrees with the decoder on mutated tables', () => {
    fc.assert(fc.property(fieldTableArb, fc.array(fc.record({ at: fc.nat(), op: fc.nat(2), byte: fc.nat(255) }), { minLength: 1, maxLength: 4 }),
      (t, edits) => {
        let b = Buffer.from(encodeFieldTable(t).subarray(4));
        for (const { at, op, byte } of edits) {
          const i = b.length === 0 ? 0 : at % b.length;
          if (op === 0 && b.length > 0) b[i] = byte;
          else if (op === 1) b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
          else b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
        }
        expect(isWellFormedTable(b, 0, b.length)).toBe(decodes(b));
      }), { numRuns: 500 });
  });

  it('walks 100,000 levels of nested tables without recursion', () => {
    // Level k (0 = outermost) at offset 7k: key "k", type 'F', length of everything inside it.
    const n = 100_000;
    const inner = Buffer.alloc(7 * n);
    for (let k = 0; k < n; k++) {
      inner[7 * k] = 1; inner[7 * k + 1] = 0x6b; inner[7 * k + 2] = 0x46; inner.writeUInt32BE(7 * (n - k - 1), 7 * k + 3);
    }
    expect(isWellFormedTable(inner, 0, inner.length)).toBe(true);
    expect(isWellFormedTable(inner, 0, inner.length - 1)).toBe(false);
  });
});
